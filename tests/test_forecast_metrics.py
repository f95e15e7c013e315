"""Forecast metrics against hand computations, backtest origins, no leakage after the cutoff, models."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from eis_core.forecast import backtest as bt
from eis_core.forecast import models as fm
from eis_core.forecast.models import HOURLY, Spec, with_horizon


def test_metrics_by_hand():
    y, yhat = [1, 2, 3, 4], [2, 2, 5, 0]
    assert bt.rmse(y, yhat) == pytest.approx(np.sqrt((1 + 0 + 4 + 16) / 4))
    assert bt.mae(y, yhat) == pytest.approx((1 + 0 + 2 + 4) / 4)
    # seasonal-naive scale with m = 2 on [1, 3, 2, 6, 4]: |2-1|, |6-3|, |4-2| -> mean 2
    assert bt.seasonal_naive_scale([1, 3, 2, 6, 4], 2) == pytest.approx(2.0)
    assert bt.mase(y, yhat, 2.0) == pytest.approx(1.75 / 2)
    assert bt.coverage([1, 2, 3, 4], [0, 2.5, 3, 5], [1, 3, 3, 6]) == pytest.approx(0.5)  # 1 in, 2 out, 3 in, 4 out
    with pytest.raises(ValueError):
        bt.seasonal_naive_scale([1, 2], 2)


def _series(weeks: int = 11, seed: int = 0) -> pd.DataFrame:
    idx = pd.date_range("2015-01-05", periods=weeks * 168, freq="h")
    t = np.arange(len(idx))
    lam = 6 + 3 * np.sin(2 * np.pi * t / 24) + 1.5 * np.sin(2 * np.pi * t / 168)
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"ALL": rng.poisson(lam).astype(float), "D1": rng.poisson(lam / 3).astype(float)}, index=idx)


SMALL = replace(HOURLY, gbm_train=3 * 168, stats_window=3 * 168)


def test_origins_are_weekly_and_leave_a_full_horizon():
    cuts = bt.origins(11 * 168, SMALL, 4)
    assert cuts == [11 * 168 - 168 * k for k in (4, 3, 2, 1)]
    with pytest.raises(ValueError, match="need at least 14 days"):
        bt.origins(14 * 24 - 1, SMALL, 4)


def test_layout_fits_short_histories_and_skips_models_that_need_more():
    models = ("seasonal_naive", "seasonal_ma", "ets", "mstl", "gbm")
    full = bt.plan(8 * 168, SMALL, models, 4)  # 8 weeks: the asked layout, but the GBM's 672 h lags do not fit
    assert full.spec.horizon == 168 and len(full.cuts) == 4 and full.models == models[:4]
    assert "gbm skipped" in full.skipped["gbm"] and "asked" not in full.note
    for days in (14, 15, 20, 30, 44):
        n = days * 24
        lay = bt.plan(n, SMALL, models, 4)
        h = lay.spec.horizon
        assert h % 24 == 0 and 24 <= h <= 168 and len(lay.cuts) == 4
        assert lay.cuts[-1] + h == n  # the last origin leaves exactly one horizon of actuals
        assert lay.cuts[0] - h >= 168  # one week before the first calibration fit
        assert all(b - a == lay.spec.origin_step for a, b in zip(lay.cuts, lay.cuts[1:]))
        assert {"seasonal_naive", "ets"} <= set(lay.models) and "gbm" in lay.skipped
        assert ("mstl" in lay.models) == (lay.cuts[0] - h >= 2 * 168 + 1)
        if h < 168:
            assert "asked horizon 168 h" in lay.note
    assert bt.plan(20 * 24, SMALL, models, 4).spec.horizon == 48  # (480 - 168) / 5 -> 2 days
    assert bt.plan(20 * 24, SMALL, models, 12).cuts == [480 - 24 * k for k in range(12, 0, -1)]  # 1 day, 12 origins
    lay = bt.plan(14 * 24, SMALL, models, 12)  # not even 1-day origins fit 12 times: fewer origins
    assert lay.spec.horizon == 24 and len(lay.cuts) == 6 and "asked horizon 168 h and 12 origins" in lay.note


def test_short_history_backtest_runs_and_mstl_fits_just_over_two_weeks():
    w = _series(weeks=3)  # 504 h
    scores, pred = bt.backtest(w, SMALL, models=("seasonal_naive", "seasonal_ma", "mstl", "gbm"), n_origins=4)
    assert set(pred["model"]) == {"seasonal_naive", "seasonal_ma"}  # 504 - 5 x 48 = 264 h: no room for MSTL
    assert pred.groupby(["series", "model"])["cutoff"].nunique().eq(4).all()
    spec = replace(SMALL, stats_window=10_000)
    y = w["ALL"].to_numpy()
    with pytest.raises(ValueError, match="mstl needs at least 337"):
        fm.MSTLModel(spec).fit(y[:336], w.index[:336])  # statsmodels itself would raise IndexError here
    out = fm.MSTLModel(spec).fit(y[:337], w.index[:337]).predict(24, None)
    assert out.shape == (24,) and np.isfinite(out).all()


class _Spy:
    """Records the last timestamp every fit saw."""
    seen: list = []

    def __init__(self, spec):
        self.m = spec.season

    def fit(self, y, idx):
        _Spy.seen.append(idx[-1])
        self.last = np.asarray(y[-self.m:], float)
        return self

    def predict(self, h, future_idx):
        return np.resize(self.last, h)


def test_backtest_never_sees_data_after_the_cutoff(monkeypatch):
    w = _series()
    monkeypatch.setitem(fm.MODELS, "spy", _Spy)
    _Spy.seen = []
    scores, pred = bt.backtest(w, SMALL, models=("spy",), n_origins=3)
    cutoffs = sorted(pred["cutoff"].unique())
    assert len(cutoffs) == 3
    assert max(_Spy.seen) < max(cutoffs)  # fits end before the last cutoff
    for c in cutoffs:  # every forecast of origin c starts at c, after the fit's data
        assert pred[pred["cutoff"] == c]["ts"].min() == c
    # perturbing everything after a cutoff leaves that origin's forecasts unchanged (real models too)
    first = cutoffs[0]
    w2 = w.copy()
    w2.loc[w2.index >= first + pd.Timedelta(hours=168)] += 50
    for name in ("seasonal_naive", "seasonal_ma", "ets", "gbm", "mstl"):
        _, p1 = bt.backtest(w[["D1"]], SMALL, models=(name,), n_origins=3)
        _, p2 = bt.backtest(w2[["D1"]], SMALL, models=(name,), n_origins=3)
        a, b = p1[p1["cutoff"] == first], p2[p2["cutoff"] == first]
        np.testing.assert_allclose(a["yhat"], b["yhat"])
        np.testing.assert_allclose(a["hi_95"], b["hi_95"])


def test_backtest_scores_choice_and_intervals():
    w = _series()
    scores, pred = bt.backtest(w, SMALL, models=("seasonal_naive", "seasonal_ma", "gbm"), n_origins=2)
    pooled = scores[scores["cutoff"].isna()]
    assert set(pooled["horizon_bucket"]) == {"1-24", "25-72", "73-168", "all"}
    # pooled RMSE equals the RMSE of all backtest errors of that model
    g = pred[(pred["series"] == "ALL") & (pred["model"] == "seasonal_naive")]
    row = pooled[(pooled["series"] == "ALL") & (pooled["model"] == "seasonal_naive") & (pooled["horizon_bucket"] == "all")]
    assert row["rmse"].iloc[0] == pytest.approx(bt.rmse(g["y"], g["yhat"]))
    assert row["coverage_95"].iloc[0] == pytest.approx(bt.coverage(g["y"], g["lo_95"], g["hi_95"]))
    assert (pred["lo_95"] <= pred["lo_80"] + 1e-9).all() and (pred["hi_80"] <= pred["hi_95"] + 1e-9).all()
    chosen = bt.choose(scores)
    assert chosen["ALL"] in ("seasonal_ma", "gbm")  # both beat the noisy same-hour-last-week forecast
    marked = bt.mark_chosen(scores, chosen)
    assert marked.loc[marked["chosen"], "model"].eq(chosen["ALL"]).any()
    fc = bt.forecast_future(w, SMALL, ("seasonal_naive",), pred)
    assert len(fc) == 2 * 168 and fc["ts"].min() == w.index[-1] + pd.Timedelta(hours=1)


def test_seasonal_models_by_hand():
    spec = Spec("t", "h", 3, (3,), 3, (3,), ((1, 3),), 3, 10, 10)
    y = np.array([1, 2, 3, 5, 6, 7], float)
    idx = pd.date_range("2020-01-01", periods=6, freq="h")
    np.testing.assert_allclose(fm.SeasonalNaive(spec).fit(y, idx).predict(4, None), [5, 6, 7, 5])
    np.testing.assert_allclose(fm.SeasonalMA(spec, k=2).fit(y, idx).predict(3, None), [3, 4, 5])


def test_with_horizon_keeps_lags_at_least_the_horizon():
    s = with_horizon(HOURLY, 72)
    assert min(s.lags) >= 72 and s.buckets[-1][1] == 72
    s = with_horizon(HOURLY, 240)
    assert min(s.lags) >= 240 and s.buckets[-1][1] == 240
