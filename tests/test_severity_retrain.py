"""Daily retraining and monitoring of the severity model: champion/challenger decisions on constructed
cases, promote/rollback by a person, monitoring rows and alerts (constructed drift and F1 drop), and the
severity_retrain DAG (one `airflow dags test` run against the test warehouse; that the file parses without
heavy imports is checked for every DAG by tests/test_dag_integrity.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

SOURCE = ("severity_retrain_test", "crime_reports")


@pytest.mark.parametrize("champion,challenger,margin,promoted", [
    (None, 0.10, 0.0, True),     # no champion: anything is promoted
    (0.80, 0.80, 0.0, True),     # equal is "not worse"
    (0.80, 0.7999, 0.0, False),  # worse, no margin
    (0.80, 0.79, 0.02, True),    # worse but within the margin
    (0.80, 0.77, 0.02, False),   # worse beyond the margin
    (0.80, 0.85, -0.10, False),  # a negative margin demands a clear improvement
])
def test_decide(champion, challenger, margin, promoted):
    from eis_core.severity.retrain import decide

    ok, reason = decide(champion, challenger, margin)
    assert ok is promoted and reason


@pytest.fixture(scope="module")
def frame(warehouse, small_drop):
    from eis_core.severity.sandbox import copy_crime_reports
    from eis_core.severity.store import ensure_severity_schema
    from eis_core.severity.train import load_frame

    copy_crime_reports(small_drop, *SOURCE)
    ensure_severity_schema()
    with warehouse.connect() as conn:
        conn.execute("TRUNCATE severity.models, severity.decisions, severity.retrain_runs, severity.monitoring_daily, "
                     "severity.drift, severity.division_f1, severity.alerts")
    return load_frame(SOURCE)


def _decision(conn, did):
    cur = conn.execute("SELECT * FROM severity.decisions WHERE decision_id = %s", (did,))
    return dict(zip([d.name for d in cur.description], cur.fetchone()))


def _champion(conn):
    from eis_core.severity.registry import champion_version

    return champion_version(conn)


def test_champion_challenger_rounds(frame, warehouse):
    from eis_core.severity.features import data_end
    from eis_core.severity.registry import set_champion
    from eis_core.severity.retrain import run_retrain
    from eis_core.severity.train import train_model

    end = data_end(frame)
    t1, t2, t3 = end - pd.Timedelta(days=120), end - pd.Timedelta(days=60), end
    kw = dict(frame=frame, window_days=365, holdout_days=30)
    # 1. empty registry: the first challenger becomes champion
    r1 = run_retrain(t1, **kw)
    assert r1["promoted"] and "first model" in r1["reason"] and r1["n_new_outcomes"] > 10_000
    with warehouse.connect() as conn:
        assert _champion(conn) == r1["challenger"]
    # 2. same as-of again: no new outcomes, nothing retrained, the decision is still recorded
    r2 = run_retrain(t1, **kw)
    assert not r2["promoted"] and r2["challenger"] is None and "no new outcomes" in r2["reason"]
    # 3. constructed weak champion (trained on shuffled labels) loses to the next challenger
    bad = frame.copy()
    bad["severity"] = np.random.default_rng(0).permutation(bad["severity"].to_numpy())
    weak = train_model(bad, as_of=t1, test_days=30, window_days=365, C=0.5)
    with warehouse.connect() as conn:
        set_champion(weak["version"], conn, "test", "constructed weak champion")
    r3 = run_retrain(t2, **kw)
    assert r3["n_new_outcomes"] > 500 and r3["n_holdout"] >= 300
    assert r3["promoted"] and r3["challenger_f1"] > r3["champion_f1"] + 0.2
    with warehouse.connect() as conn:
        d = _decision(conn, r3["decision_id"])
        assert d["champion_version"] == weak["version"] and d["challenger_version"] == r3["challenger"]
        assert d["promoted"] and d["challenger_f1"] == pytest.approx(r3["challenger_f1"])
        assert d["decided_by"] == "severity_retrain" and d["margin"] == 0.0
        assert _champion(conn) == r3["challenger"]
        assert conn.execute("SELECT status FROM severity.models WHERE version = %s",
                            (weak["version"],)).fetchone()[0] == "retired"
    # 4. a margin the challenger cannot meet: champion kept, challenger retired
    r4 = run_retrain(t3, margin=-1.0, **kw)
    assert not r4["promoted"] and r4["champion"] == r3["challenger"] and r4["challenger_f1"] is not None
    with warehouse.connect() as conn:
        assert _champion(conn) == r3["challenger"]
        assert conn.execute("SELECT status FROM severity.models WHERE version = %s",
                            (r4["challenger"],)).fetchone()[0] == "retired"
        runs = conn.execute("SELECT as_of, n_new_outcomes FROM severity.retrain_runs ORDER BY run_id").fetchall()
    assert [r[0] for r in runs] == [t.to_pydatetime() for t in (t1, t1, t2, t3)]
    assert runs[1][1] == 0 and runs[3][1] == r4["n_new_outcomes"] > 0


def test_promote_and_rollback_by_a_person(frame, warehouse):
    from click.testing import CliRunner

    from eis_core.cli import main

    with warehouse.connect() as conn:
        champ = _champion(conn)
        older = conn.execute("SELECT version FROM severity.models WHERE status = 'retired' AND version IN "
                             "(SELECT challenger_version FROM severity.decisions WHERE promoted) ORDER BY created_at "
                             "LIMIT 1").fetchone()[0]
        never = conn.execute("SELECT version FROM severity.models WHERE version NOT IN (SELECT challenger_version "
                             "FROM severity.decisions WHERE promoted AND challenger_version IS NOT NULL)").fetchone()[0]
    r = CliRunner().invoke(main, ["severity", "rollback", older, "--by", "sgt.smith", "--reason", "test rollback"])
    assert r.exit_code == 0, r.output
    with warehouse.connect() as conn:
        assert _champion(conn) == older
        d = conn.execute("SELECT champion_version, challenger_version, decided_by, reason, promoted FROM "
                         "severity.decisions ORDER BY decision_id DESC LIMIT 1").fetchone()
    assert d == (champ, older, "sgt.smith", "rollback: test rollback", True)
    r = CliRunner().invoke(main, ["severity", "rollback", never])
    assert r.exit_code == 1 and "never the champion" in r.output
    r = CliRunner().invoke(main, ["severity", "promote", "sev-nope"])
    assert r.exit_code == 1 and "unknown severity model version" in r.output
    r = CliRunner().invoke(main, ["severity", "promote", champ, "--by", "lt.jones"])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(main, ["severity", "status"])
    assert r.exit_code == 0 and champ in r.output and "champion" in r.output and "lt.jones" in r.output


def test_monitoring_rows_and_alerts(frame, warehouse):
    from eis_core.severity.features import known_at
    from eis_core.severity.monitoring import run_monitoring

    k = known_at(frame)
    day = (frame["reported_at"].max() - pd.Timedelta(days=50)).date()
    base = run_monitoring(day, frame=frame, drift_days=7)
    assert base["n_resolved"] == int((k.dt.date == day).sum()) > 5
    assert base["macro_f1"] is not None and set(base["psi"]) >= {"offense_category", "weapon", "beat_reports_30d"}
    with warehouse.connect() as conn:
        v = base["model_version"]
        assert conn.execute("SELECT n_resolved FROM severity.monitoring_daily WHERE day = %s AND model_version = %s",
                            (day, v)).fetchone()[0] == base["n_resolved"]
        assert conn.execute("SELECT count(*) FROM severity.drift WHERE day = %s AND model_version = %s",
                            (day, v)).fetchone()[0] == len(base["psi"])
        divs = conn.execute("SELECT sum(n) FROM severity.division_f1 WHERE day = %s AND model_version = %s",
                            (day, v)).fetchone()[0]
        assert divs == base["n_resolved"]
    # constructed drift: every report filed in the week before the day now involves a firearm
    # constructed F1 drop: every outcome resolved that day is relabelled to the least likely class
    drifted = frame.copy()
    week = (drifted["reported_at"].dt.date > day - pd.Timedelta(days=7)) & (drifted["reported_at"].dt.date <= day)
    drifted.loc[week, "weapon"] = "FIREARM"
    resolved = k.dt.date == day
    drifted.loc[resolved, "severity"] = drifted.loc[resolved, "severity"].map({"HIGH": "LOW", "LOW": "HIGH",
                                                                               "MEDIUM": "HIGH"})
    res = run_monitoring(day, frame=drifted, min_resolved=5, drift_days=7)
    kinds = {a[0] for a in res["alerts"]}
    assert res["psi"]["weapon"] > 0.2 > base["psi"]["weapon"]
    assert "drift" in kinds and "f1_drop" in kinds and res["macro_f1"] < 0.3
    with warehouse.connect() as conn:
        assert conn.execute("SELECT alert FROM severity.drift WHERE day = %s AND model_version = %s AND "
                            "feature = 'weapon'", (day, res["model_version"])).fetchone()[0] is True
        stored = {r[0] for r in conn.execute("SELECT kind FROM severity.alerts WHERE day = %s", (day,))}
    assert {"drift", "f1_drop"} <= stored


def test_dag_run(frame, warehouse):
    from eis_core.orchestration import stack

    with warehouse.connect() as conn:
        before = conn.execute("SELECT coalesce(max(decision_id), 0) FROM severity.decisions").fetchone()[0]
    conf = {"source": ".".join(SOURCE), "window_days": 200, "holdout_days": 30, "monitor_days": 2}
    lines: list[str] = []
    code = stack.run_dag("severity_retrain", conf, progress=lambda m: None, output=lines.append)
    assert code == 0, "\n".join(lines[-80:])
    text = "\n".join(lines)
    assert "outcomes arrived since" in text and "monitoring " in text  # retrain ran, then monitor
    with warehouse.connect() as conn:
        d = conn.execute("SELECT decided_by, reason FROM severity.decisions WHERE decision_id > %s",
                         (before,)).fetchall()
        assert len(d) == 1 and d[0][0] == "dag:severity_retrain"
        champ = _champion(conn)
        days = conn.execute("SELECT count(DISTINCT day) FROM severity.monitoring_daily WHERE model_version = %s",
                            (champ,)).fetchone()[0]
    assert days >= 2
