"""Issue 9: the pure parts of the dispatch-level model (no database): threshold choice, the random
baseline, the feature spec, the session / stress rules of the suggestions, input validation."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from eis_core.dispatch.advisor import _stress
from eis_core.dispatch.dataset import dispatch_vars
from eis_core.dispatch.features import KIND_BLOCKS, Spec, dataset_columns, subset_blocks
from eis_core.dispatch.model import best_threshold, f1_parts, random_f1


def test_best_threshold_matches_brute_force():
    rng = np.random.default_rng(3)
    for _ in range(20):
        s = np.round(rng.random(200), 2)  # ties on purpose
        y = (rng.random(200) < 0.15 + 0.5 * s).astype(int)
        t = best_threshold(s, y)
        best = max(f1_parts(s >= c, y)[0] for c in np.unique(s))
        assert f1_parts(s >= t, y)[0] == pytest.approx(best)


def test_random_baseline_is_flag_everything():
    assert random_f1(0.1) == pytest.approx(0.1818, abs=1e-4)  # the paper's 0.18
    y = (np.random.default_rng(0).random(100_000) < 0.1).astype(int)
    rng = np.random.default_rng(1)
    for q in (0.1, 0.5, 1.0):  # guessing positive with probability q never beats 2p/(1+p)
        assert f1_parts(rng.random(y.size) < q, y)[0] <= random_f1(y.mean()) + 0.005


def _rows(n=6):
    return pd.DataFrame({
        "call_id": [f"C{i}" for i in range(n)], "officer_id": "o1", "dispatched_at": pd.Timestamp("2014-01-01"),
        "dispatch_date": pd.Timestamp("2014-01-01").date(), "beat": "B1", "label": 0,
        "call_type": ["DOMESTIC", "THEFT", "THEFT", None, "SUSP-SCN", "THEFT"][:n],
        "division": "NORTH", "arr_travel_min": [1.0, None, 3.0, 5.0, None, 7.0][:n],
        **{c: 1.0 for c in dataset_columns() if c.startswith(("call_", "st_", "hist_", "nbh_")) and c != "call_type"},
        "arr_arrived": 1.0})


def test_spec_encodes_categoricals_and_imputes():
    spec = Spec.fit(_rows())
    new = _rows(2).assign(call_type=["NEVER-SEEN", "THEFT"], arr_travel_min=[None, 2.0], division=["SOUTH", "NORTH"])
    m = spec.matrix(new)
    assert list(m.columns) == spec.columns and m.dtypes.eq("float32").all()
    assert m["call_type__other"].tolist() == [1.0, 0.0] and m["call_type_theft"].tolist() == [0.0, 1.0]
    assert m["division__other"].tolist() == [1.0, 0.0]
    assert m["arr_travel_min"].tolist() == [4.0, 2.0] and m["arr_travel_min_missing"].tolist() == [1.0, 0.0]
    sugg = spec.features(subset_blocks("suggestion", "all"))
    assert sugg and not [f for f in sugg if f.startswith("arr_")]
    assert "arr_travel_min" in spec.features(subset_blocks("exploratory", "dispatch"))
    assert set(KIND_BLOCKS["exploratory"]) - set(KIND_BLOCKS["suggestion"]) == {"arrival"}
    with pytest.raises(ValueError, match="feature subset"):
        subset_blocks("exploratory", "nope")


def test_session_and_stress_rules():
    t0 = datetime(2014, 5, 10, 23, 0)
    times = [t0 - timedelta(days=9), t0 - timedelta(days=2, hours=1), t0 - timedelta(days=1),  # earlier days
             t0 - timedelta(hours=12.5),                     # gap 9.5 h to the next: previous session
             t0 - timedelta(hours=3), t0 - timedelta(hours=1)]  # current session
    stress = [1, 1, 0, 1, 1, 0]
    f = _stress(times, stress, t0, timedelta(hours=8))
    assert f["st_hours_on_duty"] == pytest.approx(3.0)
    assert f["st_calls_in_shift"] == 2 and f["st_stress_calls_shift"] == 1
    assert f["st_stress_calls_7d"] == 3  # the 9-days-old one is out of the week
    assert f["st_consecutive_days"] == 3  # 05-08, 05-09, 05-10 (05-10 itself counts)
    alone = _stress([], [], t0, timedelta(hours=8))
    assert alone["st_hours_on_duty"] == 0 and alone["st_consecutive_days"] == 1
    # with a 10-hour gap rule the 9.5-hour break no longer ends the session (the 11.5-hour one does)
    assert _stress(times, stress, t0, timedelta(hours=10))["st_hours_on_duty"] == pytest.approx(12.5)


def test_dispatch_vars_validation():
    assert dispatch_vars(6, ["suicide"])["stress_call_types"] == ["SUICIDE"]
    with pytest.raises(ValueError, match="session_gap_hours"):
        dispatch_vars(0)
    with pytest.raises(ValueError, match="stress_call_types"):
        dispatch_vars(8, ["DROP TABLE x; --"])
