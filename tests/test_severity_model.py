"""Severity model: point-in-time features, the model against both baselines on a later period, the fast
scorer, registry round-trip, refusal of tampered / incompatible artifacts, PSI against a hand computation.

Data: the small synthetic department's crime_reports, copied into a sandbox relation (no full load)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

SOURCE = ("severity_test", "crime_reports")


@pytest.fixture(scope="module")
def frame(warehouse, small_drop):
    from eis_core.severity.sandbox import copy_crime_reports
    from eis_core.severity.store import ensure_severity_schema
    from eis_core.severity.train import load_frame

    n = copy_crime_reports(small_drop, *SOURCE)
    assert n > 20_000
    ensure_severity_schema()
    with warehouse.connect() as conn:
        conn.execute("TRUNCATE severity.models, severity.decisions, severity.retrain_runs")
    return load_frame(SOURCE)


@pytest.fixture(scope="module")
def trained(frame):
    from eis_core.severity.train import train_model

    return train_model(frame, test_days=60, status="champion")


def test_beat_history_counts_only_earlier_reports():
    from eis_core.severity.features import BeatHistory, add_features

    t = pd.to_datetime(["2015-01-01 10:00", "2015-01-20 10:00", "2015-01-31 09:59", "2015-01-31 10:00",
                        "2015-01-31 10:00", "2015-03-01 00:00"])
    beats = ["B1", "B1", "B1", "B1", "B2", "B1"]
    h = BeatHistory(beats, t)
    # at 2015-01-31 10:00: the window [01-01 10:00, 01-31 10:00) holds the first three B1 reports
    assert h.count("B1", "2015-01-31 10:00") == 3
    assert h.count("B1", "2015-01-31 10:00:01") == 3  # 01-01 10:00 left the window, 01-31 10:00 joined
    assert h.count("B2", "2015-01-31 10:00") == 0  # its own report does not count
    assert h.count("B9", "2015-01-31 10:00") == 0
    reports = pd.DataFrame({"report_id": list("abcdef"), "reported_at": t, "beat": beats, "division": "D",
                            "offense_category": "THEFT", "weapon": "NONE", "victim_count": 1,
                            **{f: False for f in ["gang_related", "domestic_violence", "narcotics", "hate_crime",
                                                  "child_involved", "suicide_related"]}})
    f = add_features(reports)
    assert f["beat_reports_30d"].tolist() == [0, 1, 2, 3, 0, 2]
    assert f["hour"].tolist()[:2] == [10, 10] and f["weekday"].iloc[0] == 3  # 2015-01-01 was a Thursday


def test_features_do_not_change_when_later_reports_are_removed(frame):
    from eis_core.severity.features import add_features

    cut = frame["reported_at"].quantile(0.5)
    early = frame[frame["reported_at"] < cut]
    again = add_features(early.drop(columns=["beat_reports_30d", "hour", "weekday"]))
    assert (again["beat_reports_30d"].to_numpy() == early["beat_reports_30d"].to_numpy()).all()


def test_known_at_is_clearance_or_assessment_lag(frame):
    from eis_core.severity.features import known_at

    k = known_at(frame, 45)
    lag = frame["reported_at"] + pd.Timedelta(days=45)
    assert k[frame["severity"].isna()].isna().all()
    m = frame["severity"].notna()
    assert (k[m] <= lag[m]).all() and (k[m] >= frame["reported_at"][m]).all()
    early_clear = m & frame["cleared_at"].notna() & (frame["cleared_at"] < lag)
    assert early_clear.sum() > 100 and (k[early_clear] == frame["cleared_at"][early_clear]).all()


def test_model_beats_both_baselines_on_the_latest_period(trained):
    m = trained["metrics"]
    assert m["n_test"] > 300 and m["n_train"] > 10_000
    assert trained["test"]["known_at"].min() > pd.Timestamp(m["train_cutoff"])
    assert trained["train"]["known_at"].max() <= pd.Timestamp(m["train_cutoff"])
    assert m["model"]["macro_f1"] > m["offense_rule"]["macro_f1"] > m["majority"]["macro_f1"]
    assert m["model"]["accuracy"] > m["majority"]["accuracy"]
    assert set(m["model"]["recall"]) == {"HIGH", "MEDIUM", "LOW"}
    # the majority baseline predicts one class: recall 1 for it and 0 for the others
    assert sorted(m["majority"]["recall"].values()) == [0.0, 0.0, 1.0]


def test_fast_scorer_equals_the_pipeline(trained):
    from eis_core.severity.features import FEATURES
    from eis_core.severity.model import FastScorer

    pipe = trained["pipeline"]
    sample = trained["test"].head(200)
    assert FastScorer(pipe).check(pipe, sample, tol=1e-9) <= 1e-9
    odd = sample.head(1)[FEATURES].copy()
    odd["beat"] = "NEW_BEAT"  # unseen category: ignored by the one-hot encoder and by the scorer
    FastScorer(pipe).check(pipe, odd)


def test_registry_round_trip(trained, warehouse):
    from eis_core.severity.features import FEATURES
    from eis_core.severity.registry import load_model, registry_row

    v = trained["version"]
    with warehouse.connect() as conn:
        row = registry_row(v, conn)
    assert row["status"] == "champion" and row["data_hash"] == trained["metadata"]["data_hash"]
    assert row["library_versions"]["scikit-learn"] and row["metrics"]["model"]["macro_f1"] == \
        pytest.approx(trained["metrics"]["model"]["macro_f1"])
    loaded = load_model()  # the champion
    assert loaded.version == v
    x = trained["test"][FEATURES].head(50)
    np.testing.assert_allclose(loaded.pipeline.predict_proba(x), trained["pipeline"].predict_proba(x))
    label, proba = loaded.predict_one(x.iloc[0].to_dict())
    assert label == max(proba, key=proba.get) and math.isclose(sum(proba.values()), 1.0)
    # registering the same data again is idempotent
    from eis_core.severity.registry import save_model

    assert save_model(trained["pipeline"], trained["metadata"])["created"] is False


def _register_variant(trained, tmp_suffix: str, **changes) -> str:
    import copy

    from eis_core.severity.registry import save_model

    meta = copy.deepcopy(trained["metadata"])
    meta["version"] = trained["version"] + tmp_suffix
    for k, v in changes.items():
        meta[k] = v
    save_model(trained["pipeline"], meta, status="challenger")
    return meta["version"]


def test_tampered_artifact_is_refused(trained, warehouse):
    from eis_core.severity.registry import IncompatibleModelError, load_model, registry_row

    v = _register_variant(trained, "-tampered")
    with warehouse.connect() as conn:
        path = registry_row(v, conn)["artifact_path"]
    load_model(v)  # fine before
    with open(path, "ab") as f:
        f.write(b"\x00")
    with pytest.raises(IncompatibleModelError, match="modified after registration"):
        load_model(v)


def test_incompatible_artifacts_are_refused(trained):
    from eis_core.severity.registry import IncompatibleModelError, load_model

    libs = dict(trained["metadata"]["library_versions"], **{"scikit-learn": "0.24.2"})
    v = _register_variant(trained, "-oldsk", library_versions=libs)
    with pytest.raises(IncompatibleModelError, match=r"scikit-learn 0\.24\.2.*retrain"):
        load_model(v)
    v = _register_variant(trained, "-feat", feature_version=999)
    with pytest.raises(IncompatibleModelError, match="feature version 999"):
        load_model(v)
    with pytest.raises(LookupError, match="unknown severity model version"):
        load_model("sev-does-not-exist")


def test_psi_against_hand_computation():
    from eis_core.severity.monitoring import EPS, feature_psi, psi, reference_distributions, shares

    e, a = [0.5, 0.3, 0.2], [0.4, 0.4, 0.2]
    hand = (0.4 - 0.5) * math.log(0.4 / 0.5) + (0.4 - 0.3) * math.log(0.4 / 0.3) + 0.0
    assert psi(e, a) == pytest.approx(hand, abs=1e-12)  # 0.05108...
    assert psi(e, e) == 0.0
    # an empty bin is floored at EPS
    assert psi([0.5, 0.5, 0.0], [0.4, 0.4, 0.2]) == pytest.approx(
        2 * (0.4 - 0.5) * math.log(0.4 / 0.5) + (0.2 - EPS) * math.log(0.2 / EPS))
    # categorical feature: reference shares from a training frame, current with a new value
    train = pd.DataFrame({"weapon": ["NONE"] * 6 + ["FIREARM"] * 3 + ["KNIFE"],
                          "victim_count": [0, 1, 1, 1, 1, 2, 2, 3, 4, 5]})
    ref = {k: v for k, v in reference_distributions(train.assign(
        hour=0, weekday=0, beat_reports_30d=0, offense_category="X", division="D", beat="B",
        **{f: 0 for f in ["gang_related", "domestic_violence", "narcotics", "hate_crime", "child_involved",
                          "suicide_related"]})).items()}
    assert ref["weapon"]["values"] == ["FIREARM", "KNIFE", "NONE"]
    assert ref["weapon"]["share"] == pytest.approx([0.3, 0.1, 0.6])
    cur = pd.Series(["NONE"] * 5 + ["FIREARM"] * 3 + ["OTHER"] * 2)
    assert shares(ref["weapon"], cur) == pytest.approx([0.3, 0.0, 0.5, 0.2])
    hand = ((0.3 - 0.3) * 0 + (EPS - 0.1) * math.log(EPS / 0.1) + (0.5 - 0.6) * math.log(0.5 / 0.6)
            + (0.2 - EPS) * math.log(0.2 / EPS))
    current = train.head(0).reindex(range(10)).assign(weapon=cur.to_numpy())
    got = feature_psi({"weapon": ref["weapon"]}, current)["weapon"]
    assert got == pytest.approx(hand, rel=1e-12)
    # numeric feature: decile edges of the training values, identical data -> PSI 0
    assert feature_psi({"victim_count": ref["victim_count"]}, train)["victim_count"] == pytest.approx(0.0, abs=1e-12)
