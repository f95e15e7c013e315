"""Temporal splits (timechop semantics): which as-of dates train a model and which ones test it.

Given a :class:`~eis_core.config.TemporalConfig`:

* **split dates** step back from ``label_end_time`` by ``model_update_frequency`` while
  ``split_date >= label_start_time + label_window`` and, when set, ``>= test_start_time`` (each step is
  counted from ``label_end_time``, so month ends stay month ends: 2015-03-31 − 1 month = 2015-02-28,
  − 2 months = 2015-01-31);
* **test as-of dates** run from the split date every ``test_as_of_frequency`` through
  ``split_date + test_duration`` (``0 days`` = the split date alone), never past ``label_end_time``;
* **training as-of dates** step back from ``split_date − label_window`` by
  ``training_as_of_frequency`` while ``>= max(label_start_time, split_date − label_window −
  max_training_history)``.

The invariant, asserted for every split: a training as-of date ``t`` has
``t + label_window <= min(test as-of dates)``: no training label looks at anything that happens on
or after the first test as-of date.  Splits left without a training date are dropped with a warning;
when no split is left at all :func:`make_splits` raises :class:`SplitError` saying why.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

from eis_core.config import Duration, TemporalConfig, times


class SplitError(ValueError):
    """The temporal configuration yields no usable split."""


@dataclass(frozen=True)
class Split:
    split_id: str
    train_as_of_dates: tuple[date, ...]
    test_as_of_dates: tuple[date, ...]
    label_window: str
    train_label_end: date

    @property
    def split_date(self) -> date:
        return self.test_as_of_dates[0]

    def to_dict(self) -> dict:
        d = asdict(self)
        d["train_as_of_dates"] = [x.isoformat() for x in self.train_as_of_dates]
        d["test_as_of_dates"] = [x.isoformat() for x in self.test_as_of_dates]
        d["train_label_end"] = self.train_label_end.isoformat()
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Split:
        return cls(
            split_id=d["split_id"],
            train_as_of_dates=tuple(date.fromisoformat(x) for x in d["train_as_of_dates"]),
            test_as_of_dates=tuple(date.fromisoformat(x) for x in d["test_as_of_dates"]),
            label_window=str(d.get("label_window", d.get("label_timespan"))),
            train_label_end=date.fromisoformat(d["train_label_end"]),
        )


def _back(anchor: date, d: Duration, k: int) -> date:
    return anchor - times(d, k) if d.n else anchor


def _fwd(anchor: date, d: Duration, k: int) -> date:
    return anchor + times(d, k) if d.n else anchor


def split_dates(tc: TemporalConfig) -> list[date]:
    """The split dates, oldest first."""
    first_allowed = tc.label_start_time + tc.label_window.delta()
    if tc.test_start_time is not None:
        first_allowed = max(first_allowed, tc.test_start_time)
    out, k = [], 0
    while True:
        s = _back(tc.label_end_time, tc.model_update_frequency, k)
        if s < first_allowed:
            break
        out.append(s)
        k += 1
    return sorted(out)


def test_dates(tc: TemporalConfig, split_date: date) -> list[date]:
    end = min(_fwd(split_date, tc.test_duration, 1), tc.label_end_time) if tc.test_duration.n else split_date
    out, k = [], 0
    while True:
        d = _fwd(split_date, tc.test_as_of_frequency, k)
        if d > end:
            return out
        out.append(d)
        k += 1


def train_dates(tc: TemporalConfig, split_date: date) -> list[date]:
    """Training as-of dates of the split on *split_date*, oldest first."""
    anchor = split_date - tc.label_window.delta()
    floor = max(tc.label_start_time, anchor - tc.max_training_history.delta())
    out, k = [], 0
    while True:
        t = _back(anchor, tc.training_as_of_frequency, k)
        if t < floor:
            return sorted(out)
        out.append(t)
        k += 1


def make_splits(tc: TemporalConfig) -> list[Split]:
    """All temporal splits of *tc*, oldest split date first (pure: no I/O)."""
    dates = split_dates(tc)
    if not dates:
        raise SplitError(
            f"no temporal split: the first split date must be >= label_start_time + label_window = "
            f"{tc.label_start_time} + {tc.label_window} = {tc.label_start_time + tc.label_window.delta()}, "
            f"but label_end_time is {tc.label_end_time}; the label window is longer than the labelled "
            "history - move label_start_time earlier, label_end_time later or shorten label_window"
        )
    splits = []
    for s in dates:
        test = test_dates(tc, s)
        train = train_dates(tc, s)
        if not train:
            warnings.warn(
                f"split {s}: no training as-of date between label_start_time {tc.label_start_time} "
                f"and {s} - {tc.label_window}; split dropped",
                stacklevel=2,
            )
            continue
        first_test = min(test)
        for t in train:
            assert t + tc.label_window.delta() <= first_test, (
                f"leak: training as-of date {t} + {tc.label_window} reaches past the first test date {first_test}"
            )
        splits.append(
            Split(
                split_id=f"split_{s.isoformat()}",
                train_as_of_dates=tuple(train),
                test_as_of_dates=tuple(test),
                label_window=tc.label_window.text,
                train_label_end=max(t + tc.label_window.delta() for t in train),
            )
        )
    if not splits:
        raise SplitError(
            "no temporal split has a training as-of date: every split date minus label_window "
            f"({tc.label_window}) is before label_start_time {tc.label_start_time}"
        )
    return splits


def describe(splits: list[Split]) -> str:
    """A plain-text table of the splits."""
    lines = []
    for sp in splits:
        lines.append(
            f"{sp.split_id}: train {len(sp.train_as_of_dates)} as-of date(s) "
            f"{sp.train_as_of_dates[0]} … {sp.train_as_of_dates[-1]} (labels end {sp.train_label_end}); "
            f"test {', '.join(d.isoformat() for d in sp.test_as_of_dates)}; label {sp.label_window}"
        )
    return "\n".join(lines)


def plot_splits(splits: list[Split], path: Path | str, title: str | None = None) -> Path:
    """Draw the splits as a timeline PNG: one row per split; each training as-of date is a dot with its
    label window as a bar, each test as-of date a marker with its (lighter) label window."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not splits:
        raise SplitError("nothing to plot: no splits")
    span = Duration.parse(splits[0].label_window).delta()
    fig_h = 1.0 + 0.28 * sum(len(sp.train_as_of_dates) + len(sp.test_as_of_dates) + 1 for sp in splits)
    fig, ax = plt.subplots(figsize=(10, max(3.0, min(fig_h, 30))))
    y, yticks, ylabels = 0.0, [], []
    for sp in reversed(splits):
        n = len(sp.train_as_of_dates) + len(sp.test_as_of_dates)
        step = 0.8 / max(n, 1)
        yy = y
        for t in sp.train_as_of_dates:
            ax.barh(
                yy,
                mdates.date2num(t + span) - mdates.date2num(t),
                left=mdates.date2num(t),
                height=step * 0.7,
                color="tab:blue",
                alpha=0.45,
                edgecolor="none",
            )
            ax.plot(mdates.date2num(t), yy, "o", color="tab:blue", ms=4)
            yy += step
        for t in sp.test_as_of_dates:
            ax.barh(
                yy,
                mdates.date2num(t + span) - mdates.date2num(t),
                left=mdates.date2num(t),
                height=step * 0.7,
                color="tab:orange",
                alpha=0.3,
                edgecolor="none",
            )
            ax.plot(mdates.date2num(t), yy, "D", color="tab:orange", ms=6)
            yy += step
        ax.axvline(mdates.date2num(sp.split_date), ymin=0, ymax=1, color="grey", lw=0.5, ls=":")
        yticks.append(y + 0.4 - step / 2)
        ylabels.append(sp.split_id)
        y += 1.0
    ax.set_yticks(yticks, ylabels)
    ax.xaxis.set_major_locator(mdates.YearLocator())
    ax.xaxis.set_minor_locator(mdates.MonthLocator(bymonth=(1, 4, 7, 10)))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y"))
    ax.grid(axis="x", which="major", alpha=0.3)
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    ax.legend(
        handles=[
            Line2D([], [], marker="o", ls="", color="tab:blue", label="train as-of date"),
            Patch(color="tab:blue", alpha=0.45, label=f"its label window ({splits[0].label_window})"),
            Line2D([], [], marker="D", ls="", color="tab:orange", label="test as-of date"),
            Patch(color="tab:orange", alpha=0.3, label="its label window"),
        ],
        loc="upper center",
        bbox_to_anchor=(0.5, -0.07),
        ncol=4,
        fontsize=8,
        frameon=False,
    )
    lo = min(min(sp.train_as_of_dates) for sp in splits)
    hi = max(max(sp.test_as_of_dates) for sp in splits) + span
    pad = max((hi - lo).days * 0.02, 10)
    ax.set_xlim(mdates.date2num(lo) - pad, mdates.date2num(hi) + pad)
    ax.set_ylim(-0.3, y - 0.1)
    ax.set_title(
        title or f"{len(splits)} temporal split(s): training labels end on or before the first test date", fontsize=10
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


__all__ = ["Split", "SplitError", "describe", "make_splits", "plot_splits", "split_dates", "test_dates", "train_dates"]
