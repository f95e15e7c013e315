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

from typing import Callable

import numpy as np
import pandas as pd

from eis_core.forecast.models import Spec, add_intervals, calibration_errors, point_forecast

ALL_H = "all"


def rmse(y, yhat) -> float:
    e = np.asarray(y, float) - np.asarray(yhat, float)
    return float(np.sqrt(np.mean(e ** 2)))


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


def origins(n: int, spec: Spec, n_origins: int) -> list[int]:
    """Cut-off positions (index of the first forecast period), oldest first."""
    cuts = [n - spec.horizon - k * spec.origin_step for k in range(n_origins - 1, -1, -1)]
    min_hist = max(spec.lags) + 2 * spec.season
    cuts = [c for c in cuts if c - spec.horizon >= min_hist]  # the interval calibration fit needs history too
    if not cuts:
        raise ValueError(f"not enough history for a backtest: {n} periods, need {min_hist + 2 * spec.horizon}")
    return cuts


def _bucket_masks(spec: Spec) -> list[tuple[str, np.ndarray]]:
    steps = np.arange(1, spec.horizon + 1)
    out = [(f"{a}-{b}", (steps >= a) & (steps <= b)) for a, b in spec.buckets]
    return out + [(ALL_H, np.ones(spec.horizon, bool))]


def backtest(wide: pd.DataFrame, spec: Spec, *, models: tuple[str, ...] | None = None, n_origins: int = 4,
             progress: Callable[[str], object] | None = None, n_jobs: int = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rolling-origin backtest of every model on every column of *wide*.

    Returns (scores, predictions): scores has one row per series × model × cutoff × bucket plus the
    pooled rows (cutoff NaT); predictions has every backtest forecast with its actual value.
    *n_jobs* > 1 runs the series in that many worker processes (series are independent).
    """
    models = models or spec.models
    if n_jobs > 1 and wide.shape[1] > 1:
        from joblib import Parallel, delayed

        parts = Parallel(n_jobs=n_jobs)(delayed(backtest)(wide[[c]], spec, models=models, n_origins=n_origins)
                                        for c in wide.columns)
        if progress:
            progress(f"  backtest {spec.name}: {wide.shape[1]} series done in {n_jobs} processes")
        return (pd.concat([p[0] for p in parts], ignore_index=True), pd.concat([p[1] for p in parts], ignore_index=True))
    idx = wide.index
    cuts = origins(len(idx), spec, n_origins)
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
                means[p] = point_forecast(name, spec, y_all[:p], idx[:p], p, h, idx[p:p + h])
            for cut in cuts:
                hist = y_all[:cut]  # nothing at or after the cutoff
                scale = seasonal_naive_scale(hist[-(365 * (24 if spec.freq == "h" else 1)):], spec.season)
                z = calibration_errors(y_all[cut - h:cut], means[cut - h])
                fc = add_intervals(means[cut], z)
                preds.append(pd.DataFrame({"series": series, "model": name, "cutoff": idx[cut],
                                           "step": np.arange(1, h + 1), "ts": idx[cut:cut + h],
                                           "y": y_all[cut:cut + h], **fc, "scale": scale}))
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
        rows.append({"series": series, "model": name, "cutoff": cutoff, "horizon_bucket": label,
                     "rmse": rmse(gg["y"], gg["yhat"]), "mae": mae(gg["y"], gg["yhat"]), "mase": m,
                     "coverage_80": coverage(gg["y"], gg["lo_80"], gg["hi_80"]),
                     "coverage_95": coverage(gg["y"], gg["lo_95"], gg["hi_95"]), "n": int(len(gg))})
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


def forecast_future(wide: pd.DataFrame, spec: Spec, models: tuple[str, ...],
                    backtest_predictions: pd.DataFrame | None = None, n_jobs: int = 1) -> pd.DataFrame:
    """Forecasts of the next ``spec.horizon`` periods from all the data, one block per series × model.

    The intervals are calibrated on the forecast of the last *horizon* periods from the data before
    them - which is the last backtest origin, reused from *backtest_predictions* when given.
    """
    if n_jobs > 1 and wide.shape[1] > 1:
        from joblib import Parallel, delayed

        b = backtest_predictions
        return pd.concat(Parallel(n_jobs=n_jobs)(
            delayed(forecast_future)(wide[[c]], spec, models, None if b is None else b[b["series"] == c])
            for c in wide.columns), ignore_index=True)
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
            else:
                z = calibration_errors(y[n - h:], point_forecast(name, spec, y, idx, n - h, h, idx[n - h:]))
            out.append(pd.DataFrame({"series": series, "model": name, "ts": fut, **add_intervals(mean, z)}))
    return pd.concat(out, ignore_index=True)
