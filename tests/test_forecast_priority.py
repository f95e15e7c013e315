"""Priority features use only earlier calls; bands; the time-split evaluation; weekday/weekend test."""

from __future__ import annotations

import numpy as np
import pandas as pd

from eis_core.forecast import priority as pr


def _calls(n: int = 3000, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = pd.Timestamp("2015-01-01") + pd.to_timedelta(np.sort(rng.integers(0, 200 * 86400, n)), unit="s")
    ctype = rng.choice(["A", "B", "C", "D"], n)
    prio = np.select([ctype == "A", ctype == "B", ctype == "C"], [2, 5, 8], 4) + rng.integers(-1, 2, n)
    return pd.DataFrame({"call_id": [f"c{i:05d}" for i in range(n)], "received_at": t, "call_type": ctype,
                         "priority": np.clip(prio, 1, 9), "source": rng.choice(["CITIZEN_911", "ALARM"], n),
                         "division": rng.choice(["D1", "D2"], n), "beat": rng.choice(["B1", "B2", "B3"], n)})


def test_bands():
    assert list(pr.band([1, 3, 4, 6, 7, 9])) == ["high", "high", "medium", "medium", "low", "low"]


def test_previous_hour_volume_counts_only_earlier_calls():
    base = pd.DataFrame({"call_id": ["a", "b", "c", "d", "e"], "received_at": pd.to_datetime(
        ["2015-01-01 10:00", "2015-01-01 10:30", "2015-01-01 10:59", "2015-01-01 11:00", "2015-01-01 11:00"]),
        "call_type": "X", "priority": 2, "source": "ALARM", "division": ["D1", "D1", "D2", "D1", "D1"], "beat": "B"})
    f = pr.features(base).set_index("call_id")
    # a: nothing before; b: a; c: other division; d at 11:00: b (a is exactly 1 h earlier, included: [t-1h, t)); e same time as d: not counted
    assert f.loc[["a", "b", "c", "d", "e"], "prev_hour_division_calls"].tolist() == [0, 1, 0, 2, 2]
    # adding later calls changes nothing for earlier ones
    more = pd.concat([base, base.assign(call_id=lambda d: d["call_id"] + "_later",
                                        received_at=lambda d: d["received_at"] + pd.Timedelta(hours=3))])
    g = pr.features(more).set_index("call_id")
    assert (g.loc[f.index, "prev_hour_division_calls"] == f["prev_hour_division_calls"]).all()


def test_time_split_and_baselines(tmp_path):
    df = pr.features(_calls())
    res = pr.train_and_evaluate(df, test_days=40, train_days=160, progress=lambda m: None)
    s = res["scores"].set_index("model")
    assert set(s.index) == {"majority", "call_type_lookup", "hgb_pipeline"}
    assert s.loc["call_type_lookup", "macro_f1"] > s.loc["majority", "macro_f1"]
    assert s.loc["hgb_pipeline", "macro_f1"] > s.loc["majority", "macro_f1"]
    assert s["chosen"].sum() == 1
    assert s["n_test"].iloc[0] == (df["received_at"] >= res["split_at"]).sum()
    ww = pr.weekday_weekend(df, tmp_path)
    assert 0 <= ww["chi2_daytype"]["p"] <= 1 and ww["plots"][0].exists()
    assert ww["by_daytype"].to_numpy().sum() == len(df)
