"""Peak times: the busiest expected hours of each weekday, from a stored hourly forecast."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def peak_hours(fc: pd.DataFrame, top: int = 3) -> pd.DataFrame:
    """For each weekday, the *top* hours by expected calls (mean over the forecast days of that
    weekday), with the 80 % and 95 % forecast ranges.  *fc*: one model's hourly forecast."""
    f = fc.copy()
    f["ts"] = pd.to_datetime(f["ts"])
    f["weekday"] = f["ts"].dt.day_of_week
    f["hour"] = f["ts"].dt.hour
    g = f.groupby(["weekday", "hour"])[["yhat", "lo_80", "hi_80", "lo_95", "hi_95"]].mean().reset_index()
    g = g.sort_values(["weekday", "yhat"], ascending=[True, False]).groupby("weekday").head(top)
    g["rank"] = g.groupby("weekday").cumcount() + 1
    g["weekday"] = g["weekday"].map(dict(enumerate(WEEKDAYS)))
    return g[["weekday", "rank", "hour", "yhat", "lo_80", "hi_80", "lo_95", "hi_95"]].reset_index(drop=True)


def observed_peaks(obs: pd.DataFrame, top: int = 3) -> pd.DataFrame:
    """For each weekday, the *top* hours by observed calls (mean over the days of that weekday in the
    history), with the lowest and highest count and the number of days.  *obs*: ts, yhat (= count)."""
    f = obs.copy()
    f["ts"] = pd.to_datetime(f["ts"])
    f["weekday"] = f["ts"].dt.day_of_week
    f["hour"] = f["ts"].dt.hour
    g = f.groupby(["weekday", "hour"])["yhat"].agg(yhat="mean", lo="min", hi="max", days="size").reset_index()
    g = g.sort_values(["weekday", "yhat"], ascending=[True, False]).groupby("weekday").head(top)
    g["rank"] = g.groupby("weekday").cumcount() + 1
    g["weekday"] = g["weekday"].map(dict(enumerate(WEEKDAYS)))
    return g[["weekday", "rank", "hour", "yhat", "lo", "hi", "days"]].reset_index(drop=True)


def heatmap(fc: pd.DataFrame, out_png: str | Path, title: str = "Expected calls per hour") -> Path:
    """Weekday × hour heat map of the expected calls (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    f = fc.copy()
    f["ts"] = pd.to_datetime(f["ts"])
    grid = f.pivot_table(index=f["ts"].dt.day_of_week, columns=f["ts"].dt.hour, values="yhat", aggfunc="mean")
    grid = grid.reindex(index=range(7), columns=range(24))
    fig, ax = plt.subplots(figsize=(10, 3.6))
    im = ax.imshow(grid.to_numpy(), aspect="auto", cmap="magma_r")
    ax.set_yticks(range(7), WEEKDAYS)
    ax.set_xticks(range(0, 24, 2), [f"{h:02d}" for h in range(0, 24, 2)])
    ax.set_xlabel("hour of day")
    ax.set_title(title)
    fig.colorbar(im, ax=ax, label="calls / hour")
    fig.tight_layout()
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png, dpi=110)
    plt.close(fig)
    return out_png
