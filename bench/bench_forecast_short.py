"""Short-history forecast benchmark: the project's models vs statsforecast on the 20-day San Diego fixture.

Two engines on the same hourly city-wide series (``ALL``) and the same rolling origins:

* ``--engine project`` (the project's .venv, pandas 3): ``eis_core.forecast`` models, layouts as
  ``eis forecast run`` chooses them;
* ``--engine statsforecast`` (a throwaway venv with pandas < 3 and ``statsforecast``, since
  statsforecast/mlforecast/utilsforecast do not support pandas 3): SeasonalNaive(168), MSTL(24, 168)
  with an AutoETS trend, AutoETS(season 24), run on the same origins.

Usage::

    .venv/bin/python bench/bench_forecast_short.py --engine project --out /tmp/bench_short
    /tmp/sfvenv/bin/python bench/bench_forecast_short.py --engine statsforecast --out /tmp/bench_short

Both print a table (RMSE, MAE, seconds for all fits) per layout and write ``<out>/<engine>.json``.
The figures are in docs/forecasting.md ("Short histories").
"""

from __future__ import annotations

import argparse
import gzip
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "sd_calls_20days.csv.gz"
# (name, horizon h, origins): the default layout `eis forecast run` picks on 20 days (48 h, 4 origins)
# and the 1-day layout (`--horizon-days 1`), the longest one that leaves MSTL its two weeks of history
LAYOUTS = [("default 48 h x 4", 48, 4), ("1 day x 4", 24, 4)]


def hourly_all() -> pd.Series:
    """City-wide hourly calls of the fixture, as the importer and `eis forecast` count them: information-log
    rows (beat -1) left out, a complete hourly grid, counts 0 where no call came in."""
    with gzip.open(FIXTURE, "rt") as fh:
        df = pd.read_csv(fh, usecols=["date_time", "beat"], dtype={"beat": str})
    df = df[df["beat"] != "-1"]
    ts = pd.to_datetime(df["date_time"]).dt.floor("h")
    counts = ts.value_counts().sort_index()
    grid = pd.date_range(counts.index.min().normalize(), counts.index.max().normalize() + pd.Timedelta(days=1),
                         freq="h", inclusive="left")
    return counts.reindex(grid, fill_value=0).astype(float)


def cuts(n: int, h: int, k: int) -> list[int]:
    return [n - h * j for j in range(k, 0, -1)]


def score(y: np.ndarray, fc: dict[str, list[np.ndarray]], layout_cuts, h) -> dict:
    out = {}
    for name, preds in fc.items():
        err = np.concatenate([y[c:c + h] - p for c, p in zip(layout_cuts, preds)])
        out[name] = {"rmse": float(np.sqrt(np.mean(err ** 2))), "mae": float(np.mean(np.abs(err)))}
    return out


def run_project(y: pd.Series) -> dict:
    from dataclasses import replace

    from eis_core.forecast.models import HOURLY, min_history, point_forecast, with_horizon

    res = {}
    v, idx = y.to_numpy(), y.index
    for label, h, k in LAYOUTS:
        spec = replace(with_horizon(HOURLY, h), origin_step=h)
        cs = cuts(len(v), h, k)
        fc, secs = {}, {}
        for name in ("seasonal_naive", "seasonal_ma", "ets", "mstl"):
            if cs[0] < min_history(name, spec):
                continue
            t0 = time.perf_counter()
            fc[name] = [point_forecast(name, spec, v, idx, c, h, idx[c:c + h]) for c in cs]
            secs[name] = time.perf_counter() - t0
        s = score(v, fc, cs, h)
        for name in s:
            s[name]["seconds"] = secs[name]
        res[label] = s
    return res


def run_statsforecast(y: pd.Series) -> dict:
    from statsforecast import StatsForecast
    from statsforecast.models import MSTL, AutoETS, SeasonalNaive

    res = {}
    v = y.to_numpy()
    for label, h, k in LAYOUTS:
        cs = cuts(len(v), h, k)
        fc, secs = {}, {}
        models = {"sf_seasonal_naive": lambda: SeasonalNaive(season_length=168),
                  "sf_autoets_24": lambda: AutoETS(season_length=24),
                  "sf_mstl_24_168": lambda: MSTL(season_length=[24, 168], trend_forecaster=AutoETS(model="ZZN"))}
        for name, make in models.items():
            t0 = time.perf_counter()
            preds = []
            try:
                for c in cs:
                    df = pd.DataFrame({"unique_id": "ALL", "ds": y.index[:c], "y": v[:c]})
                    sf = StatsForecast(models=[make()], freq="h", n_jobs=1)
                    out = sf.forecast(df=df, h=h)
                    col = [x for x in out.columns if x not in ("unique_id", "ds")][0]
                    preds.append(np.maximum(out[col].to_numpy(), 0.0))
            except Exception as e:  # noqa: BLE001 - a benchmark reports what failed
                print(f"{label} {name}: {type(e).__name__}: {e}")
                continue
            fc[name] = preds
            secs[name] = time.perf_counter() - t0
        s = score(v, fc, cs, h)
        for name in s:
            s[name]["seconds"] = secs[name]
        res[label] = s
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--engine", choices=["project", "statsforecast"], required=True)
    ap.add_argument("--out", type=Path, default=Path("/tmp/bench_forecast_short"))
    a = ap.parse_args()
    y = hourly_all()
    if a.engine == "statsforecast":  # numba compiles on first use: warm it up outside the timing
        run_statsforecast(y.iloc[: 24 * 16])
    res = run_project(y) if a.engine == "project" else run_statsforecast(y)
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / f"{a.engine}.json").write_text(json.dumps(res, indent=2))
    print(f"{len(y)} hours, {int(y.sum()):,} calls")
    for label, s in res.items():
        print(f"\n{label}")
        for name, m in sorted(s.items(), key=lambda kv: kv[1]["rmse"]):
            print(f"  {name:<20} RMSE {m['rmse']:7.3f}  MAE {m['mae']:7.3f}  {m['seconds']:7.2f} s")


if __name__ == "__main__":
    main()
