"""Train one severity model on a knowledge-time split and register it.

The split at cut-off ``C``: the model trains on the reports whose severity was known by ``C`` (and,
with a rolling window, became known after ``C - window``); it is scored - with both baselines - on the
reports whose severity became known in ``(C, as_of]``, the later period it never saw.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from eis_core.severity.features import (
    DEFAULT_ASSESSMENT_LAG_DAYS,
    FEATURE_VERSION,
    FEATURES,
    data_end,
    data_hash,
    labelled,
    load_frame,
)
from eis_core.severity.monitoring import reference_distributions

Progress = Callable[[str], object]


def _py(v):
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return float(v)
    if isinstance(v, np.bool_):
        return bool(v)
    return v


def split_frames(
    frame: pd.DataFrame,
    as_of,
    test_days: int,
    window_days: int | None,
    assessment_lag_days: int = DEFAULT_ASSESSMENT_LAG_DAYS,
):
    as_of = pd.Timestamp(as_of)
    cutoff = as_of - pd.Timedelta(days=test_days)
    start = cutoff - pd.Timedelta(days=window_days) if window_days else None
    train = labelled(frame, start, cutoff, assessment_lag_days)
    test = labelled(frame, cutoff, as_of, assessment_lag_days)
    return train, test, cutoff


def train_model(
    frame: pd.DataFrame | None = None,
    *,
    as_of=None,
    test_days: int = 60,
    window_days: int | None = None,
    assessment_lag_days: int = DEFAULT_ASSESSMENT_LAG_DAYS,
    C: float = 1.0,
    source=None,
    status: str = "challenger",
    register: bool = True,
    progress: Progress | None = None,
) -> dict:
    """Fit the pipeline on the training window, score it and the baselines on the later period, save it.

    Returns ``{"version", "metrics", "pipeline", "metadata", "train", "test", "registered"}``.
    """
    from eis_core.severity.model import FastScorer, evaluate, fit
    from eis_core.severity.registry import library_versions, make_version, save_model

    say = progress or (lambda m: None)
    t0 = time.perf_counter()
    if frame is None:
        say("reading crime reports from the warehouse ...")
        frame = load_frame(source)
    if frame.empty:
        raise ValueError("the crime-report table is empty: load a drop first (`eis load DIR`)")
    as_of = pd.Timestamp(as_of) if as_of is not None else data_end(frame)
    train, test, cutoff = split_frames(frame, as_of, test_days, window_days, assessment_lag_days)
    if len(train) < 50:
        raise ValueError(
            f"only {len(train)} reports with a known severity before {cutoff:%Y-%m-%d %H:%M} "
            "(need at least 50): use a later --as-of or a longer window"
        )
    say(
        f"training on {len(train):,} reports known by {cutoff:%Y-%m-%d}, testing on {len(test):,} known in "
        f"({cutoff:%Y-%m-%d}, {as_of:%Y-%m-%d}] ..."
    )
    pipe = fit(train, C=C)
    metrics = evaluate(pipe, train, test)
    metrics.update(
        {
            "train_cutoff": cutoff.isoformat(),
            "as_of": as_of.isoformat(),
            "test_start": cutoff.isoformat(),
            "test_end": as_of.isoformat(),
            "n_train": int(len(train)),
            "n_test": int(len(test)),
        }
    )
    params = {
        "C": C,
        "test_days": test_days,
        "window_days": window_days,
        "assessment_lag_days": assessment_lag_days,
        "estimator": "LogisticRegression(balanced)",
    }
    dhash = data_hash(train)
    version = make_version(cutoff.date(), dhash, params)
    check = train.sample(min(50, len(train)), random_state=0)[FEATURES]
    check_rows = [{k: _py(v) for k, v in r.items()} for r in check.to_dict("records")]
    FastScorer(pipe).check(pipe, pd.DataFrame(check_rows))
    train_start = train["known_at"].min()
    metadata = {
        "version": version,
        "created_at": dt.datetime.now(dt.UTC).isoformat(),
        "train_start": str(train_start.date()),
        "train_end": str(cutoff.date()),
        "data_hash": dhash,
        "library_versions": library_versions(),
        "metrics": metrics,
        "feature_version": FEATURE_VERSION,
        "features": list(FEATURES),
        "n_train": int(len(train)),
        "params": params,
        "reference": reference_distributions(train),
        "check_rows": check_rows,
    }
    reg = save_model(pipe, metadata, status=status) if register else {"created": False}
    say(
        f"model {version}: macro-F1 {metrics['model']['macro_f1']:.3f} on {len(test):,} later reports "
        f"({time.perf_counter() - t0:.1f} s)"
    )
    return {
        "version": version,
        "metrics": metrics,
        "pipeline": pipe,
        "metadata": metadata,
        "train": train,
        "test": test,
        "registered": reg,
    }


def format_metrics(metrics: dict) -> str:
    """The model against both baselines on the test period, as a small table."""
    lines = [f"{'':14}{'macro-F1':>9}{'accuracy':>10}{'rec HIGH':>10}{'rec MED':>9}{'rec LOW':>9}"]
    for name in ("model", "offense_rule", "majority"):
        m = metrics[name]
        if m["n"] == 0:
            lines.append(f"{name:14}{'-':>9}")
            continue
        r = m["recall"]
        lines.append(
            f"{name:14}{m['macro_f1']:9.3f}{m['accuracy']:10.3f}{r['HIGH']:10.3f}{r['MEDIUM']:9.3f}{r['LOW']:9.3f}"
        )
    lines.append(
        f"test period ({metrics['test_start'][:10]}, {metrics['test_end'][:10]}]: {metrics['n_test']:,} "
        f"reports; trained on {metrics['n_train']:,}"
    )
    return "\n".join(lines)


__all__ = ["format_metrics", "load_frame", "split_frames", "train_model"]
