"""End-to-end jobs: backtest every model, choose per series, forecast ahead, store (schema forecast)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pandas as pd

from eis_core.forecast import backtest as bt
from eis_core.forecast.data import ALL, load_series
from eis_core.forecast.models import DAILY, HOURLY, Spec, with_horizon

Progress = Callable[[str], object]


def _job(
    kind: str,
    spec: Spec,
    *,
    divisions,
    n_origins,
    history_days,
    drop_dir,
    store,
    progress,
    models,
    wide: pd.DataFrame | None = None,
    n_jobs: int = 1,
) -> dict:
    t0 = time.perf_counter()
    if wide is None:
        progress(f"reading {kind} from {'drop ' + str(drop_dir) if drop_dir else 'the warehouse'} ...")
        wide = load_series(kind, drop_dir=drop_dir, divisions=divisions, history_days=history_days)
    progress(
        f"{spec.name}: {len(wide.columns)} series ({', '.join(wide.columns)}), {len(wide):,} periods "
        f"{wide.index[0]} .. {wide.index[-1]}; horizon {spec.horizon}, {n_origins} origins asked"
    )
    layout = bt.plan(len(wide), spec, tuple(models or spec.models), n_origins)
    notes = [layout.note] + list(layout.skipped.values())
    for line in notes:
        progress(line)
    models = layout.models
    from threadpoolctl import threadpool_limits

    # one OpenMP thread per fit: many small HistGradientBoosting fits on a shared machine are much
    # faster without thread spin-waiting (measured 7x on 2 busy cores)
    with threadpool_limits(1):
        scores, preds = bt.backtest(wide, spec, layout=layout, progress=progress, n_jobs=n_jobs)
    chosen = bt.choose(scores)
    scores = bt.mark_chosen(scores, chosen)
    progress(f"chosen by backtest RMSE: {chosen}")
    with threadpool_limits(1):
        fc = bt.forecast_future(wide, spec, models, preds, n_jobs=n_jobs)
    run_id = None
    if store:
        from eis_core.forecast import store as st

        run_id = st.new_run(
            spec.name,
            {
                "horizon": spec.horizon,
                "n_origins": n_origins,
                "models": models,
                "backtest_horizon": layout.spec.horizon,
                "backtest_origins": len(layout.cuts),
                "skipped": layout.skipped,
                "history_days": history_days,
                "divisions": divisions,
                "drop_dir": str(drop_dir) if drop_dir else None,
            },
            wide.index[0].to_pydatetime(),
            wide.index[-1].to_pydatetime(),
        )
        st.write_backtests(run_id, spec.name, scores)
        st.write_forecasts(run_id, spec.name, fc, chosen)
        st.finish_run(run_id, time.perf_counter() - t0)
        progress(f"stored run {run_id}: forecast.backtests, forecast.{spec.name}")
    return {
        "run_id": run_id,
        "scores": scores,
        "chosen": chosen,
        "forecast": fc,
        "series": list(wide.columns),
        "seconds": time.perf_counter() - t0,
        "table": bt.summary_table(scores, ALL),
        "layout": layout,
        "notes": notes,
    }


def run_calls_forecast(
    *,
    horizon_days: int = 7,
    divisions: list[str] | None = None,
    n_origins: int = 4,
    history_days: int | None = None,
    drop_dir: str | Path | None = None,
    store: bool = True,
    models: tuple[str, ...] | None = None,
    gbm_train_weeks: int | None = None,
    n_jobs: int = 1,
    progress: Progress = print,
) -> dict:
    """Hourly calls, city-wide and per division, *horizon_days* × 24 h ahead."""
    spec = with_horizon(HOURLY, horizon_days * 24)
    if gbm_train_weeks:
        spec = replace(spec, gbm_train=gbm_train_weeks * 168)
    return _job(
        "calls",
        spec,
        divisions=divisions,
        n_origins=n_origins,
        history_days=history_days,
        drop_dir=drop_dir,
        store=store,
        progress=progress,
        models=models,
        n_jobs=n_jobs,
    )


def run_stops_forecast(
    *,
    horizon_days: int = 28,
    divisions: list[str] | None = None,
    n_origins: int = 4,
    history_days: int | None = None,
    drop_dir: str | Path | None = None,
    store: bool = True,
    models: tuple[str, ...] | None = None,
    progress: Progress = print,
) -> dict:
    """Daily stops, city-wide and per division, *horizon_days* ahead."""
    spec = with_horizon(DAILY, horizon_days)
    return _job(
        "stops",
        spec,
        divisions=divisions,
        n_origins=n_origins,
        history_days=history_days,
        drop_dir=drop_dir,
        store=store,
        progress=progress,
        models=models,
    )


def format_table(table: pd.DataFrame) -> str:
    t = table.reset_index()
    lines = [f"{'model':<16}{'RMSE':>8}{'MAE':>8}{'MASE':>7}{'cov80':>7}{'cov95':>7}{'vs snaive':>11}"]
    for r in t.itertuples(index=False):
        gain = getattr(r, "_6", None) if len(r) > 6 else None
        lines.append(
            f"{r.model:<16}{r.rmse:>8.3f}{r.mae:>8.3f}{r.mase:>7.3f}{r.coverage_80:>7.2f}{r.coverage_95:>7.2f}"
            + (f"{gain:>+10.1f}%" if gain is not None else "")
        )
    return "\n".join(lines)


def peaks_report(
    series: str = ALL,
    top: int = 3,
    out_png: str | Path | None = None,
    run_id: int | None = None,
    drop_dir: str | Path | None = None,
    store: bool = True,
) -> tuple[pd.DataFrame, Path | None, int | None]:
    """Peak hours (table) and heat map (PNG) of the chosen model's latest stored hourly forecast.

    Without a stored forecast (or with ``store=False``), the history itself: the observed calls per
    weekday × hour (mean over the days of data, with the lowest and highest count); run id None then.
    """
    from eis_core.forecast.peaks import heatmap, observed_peaks, peak_hours
    from eis_core.paths import eis_home

    fc = None
    if run_id is not None or store:
        from eis_core.forecast import store as st

        if run_id is None and drop_dir is None:
            run_id = st.latest_run(HOURLY.name)
        if run_id is not None:
            fc = st.read_calls_forecast(run_id, series)
            if fc.empty:
                raise ValueError(f"forecast run {run_id} has no hourly forecast for series {series!r}")
    if fc is not None:
        png = heatmap(
            fc,
            out_png or eis_home() / "forecast" / f"peaks_run{run_id}_{series}.png",
            f"Expected calls per hour, {series} ({fc['model'].iloc[0]}, run {run_id})",
        )
        return peak_hours(fc, top), png, run_id
    wide = load_series("calls", drop_dir=drop_dir)
    if series not in wide.columns:
        raise ValueError(f"unknown series {series!r}; known: {', '.join(wide.columns)}")
    obs = pd.DataFrame({"ts": wide.index, "yhat": wide[series].to_numpy()})
    png = heatmap(
        obs,
        out_png or eis_home() / "forecast" / f"peaks_observed_{series}.png",
        f"Observed calls per hour, {series} ({wide.index[0]:%Y-%m-%d} .. {wide.index[-1]:%Y-%m-%d})",
    )
    return observed_peaks(obs, top), png, None


def format_peaks(peaks: pd.DataFrame) -> str:
    if "days" in peaks.columns:  # observed history
        lines = [f"{'day':<5}{'rank':>5}{'hour':>6}{'mean calls':>12}{'min-max':>10}{'days':>6}"]
        for r in peaks.itertuples(index=False):
            lines.append(
                f"{r.weekday:<5}{r.rank:>5}{r.hour:>5}h{r.yhat:>12.1f}{f'{r.lo:.0f}-{r.hi:.0f}':>10}{r.days:>6}"
            )
        return "\n".join(lines)
    lines = [f"{'day':<5}{'rank':>5}{'hour':>6}{'expected':>10}{'80% range':>14}{'95% range':>14}"]
    for r in peaks.itertuples(index=False):
        lines.append(
            f"{r.weekday:<5}{r.rank:>5}{r.hour:>5}h{r.yhat:>10.1f}{f'{r.lo_80:.0f}-{r.hi_80:.0f}':>14}"
            f"{f'{r.lo_95:.0f}-{r.hi_95:.0f}':>14}"
        )
    return "\n".join(lines)
