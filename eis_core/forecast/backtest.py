"""Metrics, rolling-origin backtest and model choice.

Origins: the last *n_origins* cut-offs spaced ``spec.origin_step`` periods apart, the last one
``horizon`` periods before the end of the data, so every origin has a full horizon of actuals.  At an
origin the model sees ``y[:cutoff]`` only (the slice is taken here, before any model code runs).

Metrics per (series, model, cutoff, horizon bucket): RMSE, MAE, MASE (MAE divided by the in-sample
MAE of the seasonal-naive forecast on the last year before the cutoff), and the empirical coverage of
the 80 % and 95 % intervals.  Rows with ``cutoff = None`` pool all origins (RMSE = root of the mean of
all squared errors).  The chosen model of a series has the lowest pooled RMSE over the whole horizon.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from eis_core.forecast.models import (
    MODELS,
    Spec,
    add_intervals,
    calibration_errors,
    min_history,
    point_forecast,
    with_horizon,
)

ALL_H = "all"


def rmse(y, yhat) -> float:
    e = np.asarray(y, float) - np.asarray(yhat, float)
    return float(np.sqrt(np.mean(e**2)))


def mae(y, yhat) -> float:
    return float(np.mean(np.abs(np.asarray(y, float) - np.asarray(yhat, float))))


def seasonal_naive_scale(history, m: int) -> float:
    """In-sample MAE of the seasonal-naive forecast (y_t vs y_{t-m}); the MASE denominator."""
    h = np.asarray(history, float)
    if len(h) <= m:
        raise ValueError(f"need more than {m} values for the MASE scale")
    return float(np.mean(np.abs(h[m:] - h[:-m])))


def mase(y, yhat, scale: float) -> float:
    return mae(y, yhat) / scale if scale > 0 else float("nan")


def coverage(y, lo, hi) -> float:
    y = np.asarray(y, float)
    return float(np.mean((y >= np.asarray(lo)) & (y <= np.asarray(hi))))


MIN_DAYS = 14  # the shortest history any forecast accepts: two weeks (one week for the seasonal baselines + backtest)


@dataclass(frozen=True)
class Layout:
    """The backtest that fits the history: horizon, origins (cut-off positions), models that run or not."""

    spec: Spec  # the spec actually backtested (horizon, buckets, origin step)
    cuts: list[int]  # cut-off positions, oldest first
    models: tuple[str, ...]  # models that run
    skipped: dict[str, str]  # model -> one-line reason
    asked_horizon: int
    asked_origins: int

    @property
    def note(self) -> str:
        s, unit = self.spec, ("h" if self.spec.freq == "h" else "d")
        text = f"backtest: {len(self.cuts)} origin(s) {s.origin_step} {unit} apart, horizon {s.horizon} {unit}"
        changed = []
        if s.horizon != self.asked_horizon:
            changed.append(f"horizon {self.asked_horizon} {unit}")
        if len(self.cuts) != self.asked_origins:
            changed.append(f"{self.asked_origins} origins")
        if changed:
            text += f" (asked {' and '.join(changed)}: the history is too short for that)"
        return text


def _need(name: str, spec: Spec) -> int:
    return 1 if name not in MODELS else min_history(name, spec)


def plan(n: int, spec: Spec, models: tuple[str, ...], n_origins: int) -> Layout:
    """Choose the backtest that fits *n* periods of history.

    The requested horizon and origins are kept when the seasonal baselines (one season of history)
    have it before the earliest fit, which is the interval-calibration fit one horizon before the first
    origin.  Otherwise the horizon shrinks in whole days with origins one horizon apart, and when even
    one day does not fit, the number of origins shrinks.  A model that needs more history than the
    earliest fit has (the GBM's long lags, MSTL's weekly season) is skipped with its reason.
    """
    per_day = 24 if spec.freq == "h" else 1
    if n < MIN_DAYS * per_day:
        raise ValueError(f"not enough history for a forecast: {n / per_day:.1f} days, need at least {MIN_DAYS} days")
    base = spec.season
    h, k, step = spec.horizon, n_origins, spec.origin_step
    first = n - h - (k - 1) * step
    if first - h < base:  # origins one horizon apart; the horizon shrinks (whole days) until k origins fit
        step = h = min(h, ((n - base) // (k + 1)) // per_day * per_day)
        if h < per_day:
            step = h = per_day
            k = max(1, (n - base) // per_day - 1)
        first = n - h - (k - 1) * step
    cuts = [n - h - j * step for j in range(k - 1, -1, -1)]
    bt_spec = replace(with_horizon(spec, h), origin_step=step) if h != spec.horizon else replace(spec, origin_step=step)
    room, unit = first - h, ("h" if spec.freq == "h" else "days")
    run, skipped = [], {}
    for m in models:
        need = _need(m, bt_spec)
        if need > room:
            why = {
                "mstl": f"its longest season ({max(bt_spec.seasons)}) needs more than two cycles",
                "gbm": f"lags up to {max(bt_spec.lags)} plus one season of training rows",
            }.get(m, "its history need")
            skipped[m] = (
                f"{m} skipped: {why} = {need} {unit} of history before the earliest backtest fit, "
                f"the data leaves {room} {unit}"
            )
        else:
            run.append(m)
    if not run:
        raise ValueError("no model fits this history: " + "; ".join(skipped.values()))
    return Layout(bt_spec, cuts, tuple(run), skipped, spec.horizon, n_origins)


def origins(n: int, spec: Spec, n_origins: int) -> list[int]:
    """Cut-off positions (index of the first forecast period), oldest first (see :func:`plan`)."""
    return plan(n, spec, ("seasonal_naive",), n_origins).cuts


def _bucket_masks(spec: Spec) -> list[tuple[str, np.ndarray]]:
    steps = np.arange(1, spec.horizon + 1)
    out = [(f"{a}-{b}", (steps >= a) & (steps <= b)) for a, b in spec.buckets]
    return out + [(ALL_H, np.ones(spec.horizon, bool))]


def backtest(
    wide: pd.DataFrame,
    spec: Spec,
    *,
    models: tuple[str, ...] | None = None,
    n_origins: int = 4,
    progress: Callable[[str], object] | None = None,
    n_jobs: int = 1,
    layout: Layout | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rolling-origin backtest of every model on every column of *wide*, with the layout of :func:`plan`
    (models that do not fit the history are left out; ``plan`` says why).

    Returns (scores, predictions): scores has one row per series × model × cutoff × bucket plus the
    pooled rows (cutoff NaT); predictions has every backtest forecast with its actual value.
    *n_jobs* > 1 runs the series in that many worker processes (series are independent).
    """
    layout = layout or plan(len(wide.index), spec, tuple(models or spec.models), n_origins)
    models, spec = layout.models, layout.spec
    if n_jobs > 1 and wide.shape[1] > 1:
        from joblib import Parallel, delayed

        parts = Parallel(n_jobs=n_jobs)(delayed(backtest)(wide[[c]], spec, layout=layout) for c in wide.columns)
        if progress:
            progress(f"  backtest {spec.name}: {wide.shape[1]} series done in {n_jobs} processes")
        return (
            pd.concat([p[0] for p in parts], ignore_index=True),
            pd.concat([p[1] for p in parts], ignore_index=True),
        )
    idx = wide.index
    cuts = layout.cuts
    h = spec.horizon
    scores, preds = [], []
    buckets = _bucket_masks(spec)
    for series in wide.columns:
        y_all = wide[series].to_numpy(float)
        for name in models:
            # one fit per position: the forecast from cut - h calibrates the intervals of origin cut
            # (and is itself the previous origin's forecast when origins are one horizon apart)
            means: dict[int, np.ndarray] = {}
            for p in sorted({c - h for c in cuts} | set(cuts)):
                means[p] = point_forecast(name, spec, y_all[:p], idx[:p], p, h, idx[p : p + h])
            for cut in cuts:
                hist = y_all[:cut]  # nothing at or after the cutoff
                scale = seasonal_naive_scale(hist[-(365 * (24 if spec.freq == "h" else 1)) :], spec.season)
                z = calibration_errors(y_all[cut - h : cut], means[cut - h])
                fc = add_intervals(means[cut], z)
                preds.append(
                    pd.DataFrame(
                        {
                            "series": series,
                            "model": name,
                            "cutoff": idx[cut],
                            "step": np.arange(1, h + 1),
                            "ts": idx[cut : cut + h],
                            "y": y_all[cut : cut + h],
                            **fc,
                            "scale": scale,
                        }
                    )
                )
        if progress:
            progress(f"  backtest {spec.name} {series}: {len(models)} models x {len(cuts)} origins done")
    pred = pd.concat(preds, ignore_index=True)
    for (series, name, cutoff), g in pred.groupby(["series", "model", "cutoff"], sort=False):
        scores += _score_rows(g, series, name, cutoff, buckets)
    for (series, name), g in pred.groupby(["series", "model"], sort=False):
        scores += _score_rows(g, series, name, pd.NaT, buckets)
    return pd.DataFrame(scores), pred


def _score_rows(g: pd.DataFrame, series, name, cutoff, buckets) -> list[dict]:
    rows = []
    step = g["step"].to_numpy()
    for label, mask in buckets:
        sel = mask[step - 1]
        gg = g[sel]
        # pooled MASE: mean of |e| / scale of the origin each error belongs to
        m = float(np.mean(np.abs(gg["y"] - gg["yhat"]) / gg["scale"]))
        rows.append(
            {
                "series": series,
                "model": name,
                "cutoff": cutoff,
                "horizon_bucket": label,
                "rmse": rmse(gg["y"], gg["yhat"]),
                "mae": mae(gg["y"], gg["yhat"]),
                "mase": m,
                "coverage_80": coverage(gg["y"], gg["lo_80"], gg["hi_80"]),
                "coverage_95": coverage(gg["y"], gg["lo_95"], gg["hi_95"]),
                "n": int(len(gg)),
            }
        )
    return rows


def choose(scores: pd.DataFrame) -> dict[str, str]:
    """series -> model with the lowest pooled RMSE over the whole horizon."""
    pooled = scores[scores["cutoff"].isna() & (scores["horizon_bucket"] == ALL_H)]
    return {s: g.sort_values(["rmse", "model"]).iloc[0]["model"] for s, g in pooled.groupby("series")}


def mark_chosen(scores: pd.DataFrame, chosen: dict[str, str]) -> pd.DataFrame:
    out = scores.copy()
    out["chosen"] = [chosen.get(s) == m for s, m in zip(out["series"], out["model"])]
    return out


def summary_table(scores: pd.DataFrame, series: str | None = None) -> pd.DataFrame:
    """Pooled whole-horizon scores, model × (RMSE, MAE, MASE, coverage), for one series or the mean
    over series; with the RMSE gain over seasonal naive."""
    pooled = scores[scores["cutoff"].isna() & (scores["horizon_bucket"] == ALL_H)]
    if series is not None:
        pooled = pooled[pooled["series"] == series]
    t = pooled.groupby("model")[["rmse", "mae", "mase", "coverage_80", "coverage_95"]].mean()
    if "seasonal_naive" in t.index:
        t["rmse_vs_snaive_%"] = 100 * (1 - t["rmse"] / t.loc["seasonal_naive", "rmse"])
    return t.sort_values("rmse")


def forecast_future(
    wide: pd.DataFrame,
    spec: Spec,
    models: tuple[str, ...],
    backtest_predictions: pd.DataFrame | None = None,
    n_jobs: int = 1,
) -> pd.DataFrame:
    """Forecasts of the next ``spec.horizon`` periods from all the data, one block per series × model.

    The intervals are calibrated on the forecast of the last *horizon* periods from the data before
    them - which is the last backtest origin, reused from *backtest_predictions* when given.
    """
    if n_jobs > 1 and wide.shape[1] > 1:
        from joblib import Parallel, delayed

        b = backtest_predictions
        return pd.concat(
            Parallel(n_jobs=n_jobs)(
                delayed(forecast_future)(wide[[c]], spec, models, None if b is None else b[b["series"] == c])
                for c in wide.columns
            ),
            ignore_index=True,
        )
    idx = wide.index
    n, h = len(idx), spec.horizon
    fut = pd.date_range(idx[-1] + pd.Timedelta(1, spec.freq), periods=h, freq=spec.freq)
    last_cut = idx[n - h]
    out = []
    for series in wide.columns:
        y = wide[series].to_numpy(float)
        for name in models:
            mean = point_forecast(name, spec, y, idx, n, h, fut)
            cal = None
            if backtest_predictions is not None:
                b = backtest_predictions
                cal = b[(b["series"] == series) & (b["model"] == name) & (b["cutoff"] == last_cut)]
            if cal is not None and len(cal) == h:
                z = calibration_errors(cal["y"].to_numpy(), cal["yhat"].to_numpy())
            elif n - h >= min_history(name, spec):
                z = calibration_errors(y[n - h :], point_forecast(name, spec, y, idx, n - h, h, idx[n - h :]))
            elif backtest_predictions is not None:  # short history: the (shorter-horizon) backtest errors
                b = backtest_predictions
                cal = b[(b["series"] == series) & (b["model"] == name)]
                z = calibration_errors(cal["y"].to_numpy(), cal["yhat"].to_numpy())
            else:
                raise ValueError(f"{name}: not enough history to calibrate a {h}-period forecast's intervals")
            out.append(pd.DataFrame({"series": series, "model": name, "ts": fut, **add_intervals(mean, z)}))
    return pd.concat(out, ignore_index=True)
