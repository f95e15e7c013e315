"""Priority features use only earlier calls; bands; the time-split evaluation; weekday/weekend test."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from eis_core.forecast import priority as pr


def _calls(n: int = 3000, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = pd.Timestamp("2015-01-01") + pd.to_timedelta(np.sort(rng.integers(0, 200 * 86400, n)), unit="s")
    ctype = rng.choice(["A", "B", "C", "D"], n)
    prio = np.select([ctype == "A", ctype == "B", ctype == "C"], [2, 5, 8], 4) + rng.integers(-1, 2, n)
    return pd.DataFrame({"call_id": [f"c{i:05d}" for i in range(n)], "received_at": t, "call_type": ctype,
                         "priority": np.clip(prio, 1, 9), "source": rng.choice(["CITIZEN_911", "ALARM"], n),
                         "division": rng.choice(["D1", "D2"], n), "beat": rng.choice(["B1", "B2", "B3"], n)})


def test_bands_follow_san_diego_priorities():
    # contract priority = SD priority + 1 (SD 9 stays 9): SD 0 -> 1 emergency, SD 1-2 -> urgent, SD 3-4 -> non_urgent
    assert list(pr.band([1, 2, 3, 4, 5, 6, 8, 9])) == ["emergency", "urgent", "urgent", "non_urgent", "non_urgent",
                                                      "non_urgent", "non_urgent", "report"]


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
    # the test window is exactly test_days calendar days, ending with the last day that has calls
    w = res["window"]
    assert w["end"] - w["split_at"] == pd.Timedelta(days=40) and w["end"] - pd.Timedelta(days=1) == df["received_at"].max().normalize()
    assert w["split_at"] - w["val_at"] == pd.Timedelta(days=w["val_days"]) and w["val_days"] == 32  # a fifth of 160
    # the choice is made on the validation window: scrambling the test labels changes test scores, not the choice
    scrambled = df.copy()
    late = scrambled["received_at"] >= res["split_at"]
    scrambled.loc[late, "band"] = np.random.default_rng(5).permutation(scrambled.loc[late, "band"].to_numpy()[::-1])
    res2 = pr.train_and_evaluate(scrambled, test_days=40, train_days=160, progress=lambda m: None)
    s2 = res2["scores"].set_index("model")
    assert s2.loc[s2["chosen"]].index.tolist() == s.loc[s["chosen"]].index.tolist()
    assert (s2["val_macro_f1"] == s["val_macro_f1"]).all() and s2.loc["hgb_pipeline", "macro_f1"] < s.loc["hgb_pipeline", "macro_f1"]
    with pytest.raises(ValueError, match="need at least 207 days"):
        pr.train_and_evaluate(df, test_days=200, progress=lambda m: None)
    auto = pr.split_window(df)  # default: a fifth of the 200 days
    assert auto["test_days"] == 40
    ww = pr.weekday_weekend(df, tmp_path)
    assert 0 <= ww["chi2_daytype"]["p"] <= 1 and ww["plots"][0].exists()
    assert ww["by_daytype"].to_numpy().sum() == len(df)
    # 2015-01-01 .. 2015-07-20 holds New Year, MLK, Presidents, Memorial Day, Independence Day (Sat 4 July, observed Fri 3)
    assert list(ww["by_daytype"].index) == ["weekday", "weekend", "holiday"]
    hol_days = set(df.loc[pr.day_type(df["received_at"]) == "holiday", "received_at"].dt.strftime("%Y-%m-%d"))
    assert hol_days <= {"2015-01-01", "2015-01-19", "2015-02-16", "2015-05-25", "2015-07-03", "2015-07-04"}
    assert {"2015-01-19", "2015-07-04"} <= hol_days
    assert abs(ww["cliffs_delta"]["weekend_vs_weekday"]) < 0.147  # time plays no part in _calls(): negligible
    assert 0 <= ww["chi2_daytype"]["cramers_v"] < 0.1


def test_effect_sizes_by_hand():
    # levels low..high; A = [0, 0, 2] (both high), B = [2, 0, 0] (both low): complete separation
    assert pr.cliffs_delta([0, 0, 2], [2, 0, 0]) == 1.0 and pr.cliffs_delta([2, 0, 0], [0, 0, 2]) == -1.0
    # A = [1, 1] (levels 0, 1), B = [1, 1]: pairs (0,0) tie, (0,1) <, (1,0) >, (1,1) tie -> 0
    assert pr.cliffs_delta([1, 1], [1, 1]) == 0.0
    # A = [0, 1, 1] vs B = [1, 1, 0]: A>B pairs: (1,0) (2,0) (2,1) = 3, A<B: 0, ties 1 -> 3/4
    assert pr.cliffs_delta([0, 1, 1], [1, 1, 0]) == 0.75
    t = np.array([[30, 10], [10, 30]])
    from scipy.stats import chi2_contingency

    chi = chi2_contingency(t, correction=False).statistic
    assert pr.cramers_v(t, chi) == pytest.approx(0.5)  # phi of a 2 x 2 table: (30*30 - 10*10) / 40 / 40
