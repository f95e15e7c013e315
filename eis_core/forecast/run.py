"""End-to-end jobs: backtest every model, choose per series, forecast ahead, store (schema forecast)."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Callable

import pandas as pd

from eis_core.forecast import backtest as bt
from eis_core.forecast.data import ALL, load_series
from eis_core.forecast.models import DAILY, HOURLY, Spec, with_horizon

Progress = Callable[[str], object]


def _job(kind: str, spec: Spec, *, divisions, n_origins, history_days, drop_dir, store, progress, models,
         wide: pd.DataFrame | None = None, n_jobs: int = 1) -> dict:
    t0 = time.perf_counter()
    if wide is None:
        progress(f"reading {kind} from {'drop ' + str(drop_dir) if drop_dir else 'the warehouse'} ...")
        wide = load_series(kind, drop_dir=drop_dir, divisions=divisions, history_days=history_days)
    progress(f"{spec.name}: {len(wide.columns)} series ({', '.join(wide.columns)}), {len(wide):,} periods "
             f"{wide.index[0]} .. {wide.index[-1]}; horizon {spec.horizon}, {n_origins} origins")
    models = tuple(models or spec.models)
    from threadpoolctl import threadpool_limits

    # one OpenMP thread per fit: many small HistGradientBoosting fits on a shared machine are much
    # faster without thread spin-waiting (measured 7x on 2 busy cores)
    with threadpool_limits(1):
        scores, preds = bt.backtest(wide, spec, models=models, n_origins=n_origins, progress=progress, n_jobs=n_jobs)
    chosen = bt.choose(scores)
    scores = bt.mark_chosen(scores, chosen)
    progress(f"chosen by backtest RMSE: {chosen}")
    with threadpool_limits(1):
        fc = bt.forecast_future(wide, spec, models, preds, n_jobs=n_jobs)
    run_id = None
    if store:
        from eis_core.forecast import store as st

        run_id = st.new_run(spec.name, {"horizon": spec.horizon, "n_origins": n_origins, "models": models,
                                        "history_days": history_days, "divisions": divisions,
                                        "drop_dir": str(drop_dir) if drop_dir else None},
                            wide.index[0].to_pydatetime(), wide.index[-1].to_pydatetime())
        st.write_backtests(run_id, spec.name, scores)
        st.write_forecasts(run_id, spec.name, fc, chosen)
        st.finish_run(run_id, time.perf_counter() - t0)
        progress(f"stored run {run_id}: forecast.backtests, forecast.{spec.name}")
    return {"run_id": run_id, "scores": scores, "chosen": chosen, "forecast": fc, "series": list(wide.columns),
            "seconds": time.perf_counter() - t0, "table": bt.summary_table(scores, ALL)}


def run_calls_forecast(*, horizon_days: int = 7, divisions: list[str] | None = None, n_origins: int = 4,
                       history_days: int | None = None, drop_dir: str | Path | None = None, store: bool = True,
                       models: tuple[str, ...] | None = None, gbm_train_weeks: int | None = None,
                       n_jobs: int = 1, progress: Progress = print) -> dict:
    """Hourly calls, city-wide and per division, *horizon_days* × 24 h ahead."""
    spec = with_horizon(HOURLY, horizon_days * 24)
    if gbm_train_weeks:
        spec = replace(spec, gbm_train=gbm_train_weeks * 168)
    return _job("calls", spec, divisions=divisions, n_origins=n_origins, history_days=history_days,
                drop_dir=drop_dir, store=store, progress=progress, models=models, n_jobs=n_jobs)


def run_stops_forecast(*, horizon_days: int = 28, divisions: list[str] | None = None, n_origins: int = 4,
                       history_days: int | None = None, drop_dir: str | Path | None = None, store: bool = True,
                       models: tuple[str, ...] | None = None, progress: Progress = print) -> dict:
    """Daily stops, city-wide and per division, *horizon_days* ahead."""
    spec = with_horizon(DAILY, horizon_days)
    return _job("stops", spec, divisions=divisions, n_origins=n_origins, history_days=history_days,
                drop_dir=drop_dir, store=store, progress=progress, models=models)


def format_table(table: pd.DataFrame) -> str:
    t = table.reset_index()
    lines = [f"{'model':<16}{'RMSE':>8}{'MAE':>8}{'MASE':>7}{'cov80':>7}{'cov95':>7}{'vs snaive':>11}"]
    for r in t.itertuples(index=False):
        gain = getattr(r, "_6", None) if len(r) > 6 else None
        lines.append(f"{r.model:<16}{r.rmse:>8.3f}{r.mae:>8.3f}{r.mase:>7.3f}{r.coverage_80:>7.2f}{r.coverage_95:>7.2f}"
                     + (f"{gain:>+10.1f}%" if gain is not None else ""))
    return "\n".join(lines)


def peaks_report(series: str = ALL, top: int = 3, out_png: str | Path | None = None,
                 run_id: int | None = None) -> tuple[pd.DataFrame, Path | None, int]:
    """Peak hours (table) and heat map (PNG) of the chosen model's latest stored hourly forecast."""
    from eis_core.forecast import store as st
    from eis_core.forecast.peaks import heatmap, peak_hours
    from eis_core.paths import eis_home

    run_id = run_id or st.latest_run(HOURLY.name)
    if run_id is None:
        raise RuntimeError("no stored hourly forecast yet: run `eis forecast run` first")
    fc = st.read_calls_forecast(run_id, series)
    if fc.empty:
        raise RuntimeError(f"run {run_id} has no forecast for series {series!r}")
    png = heatmap(fc, out_png or eis_home() / "forecast" / f"peaks_run{run_id}_{series}.png",
                  f"Expected calls per hour, {series} ({fc['model'].iloc[0]}, run {run_id})")
    return peak_hours(fc, top), png, run_id


def format_peaks(peaks: pd.DataFrame) -> str:
    lines = [f"{'day':<5}{'rank':>5}{'hour':>6}{'expected':>10}{'80% range':>14}{'95% range':>14}"]
    for r in peaks.itertuples(index=False):
        lines.append(f"{r.weekday:<5}{r.rank:>5}{r.hour:>5}h{r.yhat:>10.1f}{f'{r.lo_80:.0f}-{r.hi_80:.0f}':>14}"
                     f"{f'{r.lo_95:.0f}-{r.hi_95:.0f}':>14}")
    return "\n".join(lines)
