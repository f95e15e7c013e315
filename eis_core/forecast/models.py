"""Forecasting models for count series on a regular grid (hourly calls, daily stops).

Every model has ``fit(y, idx)`` (history values and their timestamps, nothing after the cutoff) and
``predict(h, future_idx)`` (mean forecast for the next *h* periods).  Prediction intervals are added
by :func:`forecast_with_intervals` the same way for every model (see there).

* ``seasonal_naive`` - the value one long season ago (same hour last week / same weekday last week).
* ``seasonal_ma`` - the moving-average baseline: the mean of the same period over the last 4 long
  seasons (same hour-of-week of the last 4 weeks).
* ``ets`` - exponential smoothing (statsmodels Holt-Winters): level + additive daily season (24 h; 7 d for
  daily data), no trend, on the recent history.  Needs two daily cycles only: the model for short histories.
* ``mstl`` - statistical model with several seasonalities: statsmodels' MSTL decomposition (periods
  24 and 168 for hourly data, 7 for daily) of the recent history; forecast = flat trend (mean of the
  last day of the trend component) + the last cycle of each seasonal component.
* ``gbm`` - scikit-learn HistGradientBoostingRegressor (Poisson loss) on seasonal lags that are all at
  least the horizon (168, 336, 504, 672 h; 28..56 days) plus calendar features (hour, weekday,
  hour-of-week, US federal holiday flag, day-of-year).  *Direct* strategy: one model for the whole
  horizon, no recursion, because no feature needs a value inside the horizon.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from eis_core.forecast.data import us_holidays


@dataclass(frozen=True)
class Spec:
    """What a target looks like: grid, seasons, horizon, lags, backtest layout."""

    name: str
    freq: str  # "h" or "D"
    season: int  # long season (MASE scale, seasonal naive)
    seasons: tuple[int, ...]  # MSTL periods
    horizon: int  # periods ahead
    lags: tuple[int, ...]  # GBM lags (all >= horizon)
    buckets: tuple[tuple[int, int], ...]  # horizon buckets (1-based, inclusive)
    origin_step: int  # periods between backtest origins
    gbm_train: int  # GBM training rows (most recent)
    stats_window: int  # MSTL history (most recent)
    models: tuple[str, ...] = ("seasonal_naive", "seasonal_ma", "ets", "mstl", "gbm")
    extra: dict = field(default_factory=dict)


HOURLY = Spec(
    "calls_hourly",
    "h",
    168,
    (24, 168),
    168,
    (168, 336, 504, 672),
    ((1, 24), (25, 72), (73, 168)),
    168,
    52 * 168,
    8 * 168,
)
DAILY = Spec("stops_daily", "D", 7, (7,), 28, (28, 35, 42, 49, 56), ((1, 7), (8, 14), (15, 28)), 28, 3 * 365, 26 * 7)


def with_horizon(spec: Spec, horizon: int) -> Spec:
    """*spec* for another horizon (lags below the horizon are dropped, the shortest one is kept)."""
    from dataclasses import replace

    lags = tuple(lag for lag in spec.lags if lag >= horizon) or (int(np.ceil(horizon / spec.season)) * spec.season,)
    buckets = tuple((a, min(b, horizon)) for a, b in spec.buckets if a <= horizon)
    if buckets[-1][1] < horizon:
        buckets = buckets + ((buckets[-1][1] + 1, horizon),)
    return replace(spec, horizon=horizon, lags=lags, buckets=buckets, origin_step=max(spec.origin_step, horizon))


class SeasonalNaive:
    name = "seasonal_naive"

    def __init__(self, spec: Spec):
        self.m = spec.season

    def fit(self, y: np.ndarray, idx: pd.DatetimeIndex) -> SeasonalNaive:
        self.last = np.asarray(y[-self.m :], float)
        return self

    def predict(self, h: int, future_idx: pd.DatetimeIndex) -> np.ndarray:
        return np.resize(self.last, h)


class SeasonalMA:
    name = "seasonal_ma"

    def __init__(self, spec: Spec, k: int = 4):
        self.m, self.k = spec.season, k

    def fit(self, y, idx):
        k = max(1, min(self.k, len(y) // self.m))
        self.profile = np.asarray(y[-k * self.m :], float).reshape(k, self.m).mean(axis=0)
        return self

    def predict(self, h, future_idx):
        return np.resize(self.profile, h)


class MSTLModel:
    name = "mstl"

    def __init__(self, spec: Spec):
        self.spec = spec

    def fit(self, y, idx):
        from statsmodels.tsa.seasonal import MSTL, STL

        y = np.asarray(y[-self.spec.stats_window :], float)
        need = min_history("mstl", self.spec)
        if len(y) < need:  # statsmodels needs more than two full cycles of the longest season
            raise ValueError(
                f"mstl needs at least {need} periods of history (more than 2 x {max(self.spec.seasons)}), got {len(y)}"
            )
        periods = list(self.spec.seasons)
        if len(periods) == 1:
            res = STL(y, period=periods[0], robust=False).fit()
            seas = [np.asarray(res.seasonal)]
        else:
            res = MSTL(y, periods=periods, iterate=1).fit()
            seas = [np.asarray(res.seasonal)[:, i] for i in range(len(periods))]
        self.level = float(np.mean(np.asarray(res.trend)[-min(len(y), 24 if self.spec.freq == "h" else 7) :]))
        self.cycles = [(p, s[-p:]) for p, s in zip(periods, seas)]
        self.n = len(y)
        return self

    def predict(self, h, future_idx):
        out = np.full(h, self.level)
        for _p, last in self.cycles:
            out += np.resize(last, h)
        return np.maximum(out, 0.0)


class ETSModel:
    """Exponential smoothing (Holt-Winters, statsmodels): level + additive season of the *shortest* period
    (24 h / 7 d), no trend, fitted on the recent history; needs only two cycles of that season, so it
    runs on short histories where MSTL's weekly season does not fit."""

    name = "ets"

    def __init__(self, spec: Spec):
        self.spec = spec

    def fit(self, y, idx):
        import warnings

        from statsmodels.tsa.holtwinters import ExponentialSmoothing

        y = np.asarray(y[-self.spec.stats_window :], float)
        need = min_history("ets", self.spec)
        if len(y) < need:
            raise ValueError(f"ets needs at least {need} periods of history, got {len(y)}")
        with warnings.catch_warnings():  # convergence chatter of the optimiser on flat or sparse series
            warnings.simplefilter("ignore")
            self.res = ExponentialSmoothing(
                y,
                trend=None,
                seasonal="add",
                seasonal_periods=min(self.spec.seasons),
                initialization_method="estimated",
            ).fit()
        return self

    def predict(self, h, future_idx):
        return np.maximum(np.asarray(self.res.forecast(h), float), 0.0)


def calendar_features(idx: pd.DatetimeIndex, freq: str) -> pd.DataFrame:
    hol = us_holidays(idx.min(), idx.max())
    day = idx.values.astype("datetime64[D]")
    f = pd.DataFrame(index=idx)
    if freq == "h":
        f["hour"] = idx.hour
        f["how"] = idx.day_of_week * 24 + idx.hour
    f["weekday"] = idx.day_of_week
    f["holiday"] = np.isin(day, hol).astype(int)
    doy = idx.day_of_year.to_numpy()
    f["doy_sin"] = np.sin(2 * np.pi * doy / 365.25)
    f["doy_cos"] = np.cos(2 * np.pi * doy / 365.25)
    return f


class GBMModel:
    name = "gbm"

    def __init__(self, spec: Spec, max_iter: int = 100, seed: int = 0):
        self.spec, self.max_iter, self.seed = spec, max_iter, seed

    def _lags(self, full: np.ndarray, positions: np.ndarray) -> np.ndarray:
        cols = [full[positions - lag] for lag in self.spec.lags]
        lagm = np.column_stack(cols)
        return np.column_stack([lagm, lagm.mean(axis=1)])

    def fit(self, y, idx):
        from sklearn.ensemble import HistGradientBoostingRegressor

        y = np.asarray(y, float)
        maxlag = max(self.spec.lags)
        start = max(maxlag, len(y) - self.spec.gbm_train)
        if start >= len(y) - self.spec.season:
            raise ValueError(f"gbm needs more than {maxlag + self.spec.season} periods of history, got {len(y)}")
        pos = np.arange(start, len(y))
        X = np.column_stack([self._lags(y, pos), calendar_features(idx[pos], self.spec.freq).to_numpy()])
        self.model = HistGradientBoostingRegressor(
            loss="poisson",
            max_iter=self.max_iter,
            learning_rate=0.08,
            max_leaf_nodes=31,
            min_samples_leaf=40,
            early_stopping=False,
            random_state=self.seed,
        )
        from threadpoolctl import threadpool_limits

        # one OpenMP thread: many small fits on shared cores are several times faster without
        # thread spin-waiting (measured 3.45 s -> 0.47 s per fit on 2 busy cores)
        with threadpool_limits(1, user_api="openmp"):
            self.model.fit(X, y[pos])
        self.history = y
        return self

    def predict(self, h, future_idx):
        n = len(self.history)
        full = np.concatenate([self.history, np.full(h, np.nan)])
        pos = np.arange(n, n + h)
        X = np.column_stack([self._lags(full, pos), calendar_features(future_idx, self.spec.freq).to_numpy()])
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1, user_api="openmp"):
            return self.model.predict(X)


def min_history(name: str, spec: Spec) -> int:
    """Periods of history model *name* needs for one fit: one long season for the seasonal baselines,
    more than two cycles of the longest season for MSTL (statsmodels fails at exactly two), the longest
    lag plus one season of training rows for the GBM."""
    if name == "mstl":
        return 2 * max(spec.seasons) + 1
    if name == "ets":
        return max(2 * min(spec.seasons), spec.season)
    if name == "gbm":
        return max(spec.lags) + spec.season + 1
    return spec.season


MODELS = {
    "seasonal_naive": SeasonalNaive,
    "seasonal_ma": SeasonalMA,
    "ets": ETSModel,
    "mstl": MSTLModel,
    "gbm": GBMModel,
}
LEVELS = (80, 95)
_Q = {80: (0.10, 0.90), 95: (0.025, 0.975)}


def make_model(name: str, spec: Spec):
    return MODELS[name](spec)


def _scale(mean: np.ndarray) -> np.ndarray:
    return np.sqrt(np.maximum(mean, 0.5))  # counts: spread grows like sqrt(mean)


def point_forecast(
    name: str, spec: Spec, y: np.ndarray, idx: pd.DatetimeIndex, pos: int, h: int, future_idx: pd.DatetimeIndex
) -> np.ndarray:
    """Mean forecast of periods pos..pos+h-1 by model *name* fitted on ``y[:pos]`` only."""
    return np.maximum(make_model(name, spec).fit(y[:pos], idx[:pos]).predict(h, future_idx), 0.0)


def calibration_errors(actual: np.ndarray, cal_forecast: np.ndarray) -> np.ndarray:
    """Standardised out-of-sample errors ``(y - yhat) / sqrt(max(yhat, 0.5))``."""
    return (np.asarray(actual, float) - cal_forecast) / _scale(cal_forecast)


def add_intervals(mean: np.ndarray, z: np.ndarray) -> dict[str, np.ndarray]:
    out = {"yhat": mean}
    for level in LEVELS:
        qlo, qhi = np.quantile(z, _Q[level])
        out[f"lo_{level}"] = np.maximum(mean + qlo * _scale(mean), 0.0)
        out[f"hi_{level}"] = np.maximum(mean + qhi * _scale(mean), out[f"lo_{level}"])
    return out


def forecast_with_intervals(
    name: str, spec: Spec, y: np.ndarray, idx: pd.DatetimeIndex, h: int, future_idx: pd.DatetimeIndex
) -> dict[str, np.ndarray]:
    """Mean forecast and 80 %/95 % intervals of model *name* from history (y, idx) only.

    Intervals are calibrated out of sample, the same way for every model: the model is fitted once
    more on the history minus its last *h* periods and forecasts those *h* periods; the standardised
    errors ``(y - yhat) / sqrt(max(yhat, 0.5))`` give empirical quantiles, which are scaled back around
    the real forecast (split-conformal style, horizon-matched).  Bounds are clipped at 0.
    """
    y = np.asarray(y, float)
    n = len(y)
    mean = point_forecast(name, spec, y, idx, n, h, future_idx)
    try:
        z = calibration_errors(y[-h:], point_forecast(name, spec, y, idx, n - h, h, idx[-h:]))
    except ValueError:  # not enough history for a calibration fit: Poisson-like spread
        z = np.random.default_rng(0).standard_normal(1000)
    return add_intervals(mean, z)
