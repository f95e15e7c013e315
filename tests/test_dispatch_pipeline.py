"""Issue 9, dispatch-level risk: the eis_dispatch DAG (real `airflow dags test`) builds the dataset with dbt
and trains on the small synthetic department; the dataset's grain and labels are checked against an
independent pandas computation; the suggestion features agree with the dataset's; suggestions rank only
on-duty, available officers of the call's division; and a leakage test changes everything known after
the dispatch time (after arrival, for the exploratory columns) and finds the features unchanged."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from eis_core.dispatch.features import NUMERIC_BLOCKS

DISPATCH_TIME_COLS = (["call_type", "division"] + NUMERIC_BLOCKS["dispatch"] + NUMERIC_BLOCKS["stress"]
                      + NUMERIC_BLOCKS["officer"] + NUMERIC_BLOCKS["neighborhood"])
ARRIVAL_COLS = NUMERIC_BLOCKS["arrival"]
CUTOFF = "2014-03-15 12:00:00"


def _frame(conn, query: str, params=()) -> pd.DataFrame:
    cur = conn.execute(query, params)
    return pd.DataFrame(cur.fetchall(), columns=[c.name for c in cur.description])


@pytest.fixture(scope="module")
def dispatch_run(warehouse, small_drop):
    """The small department in raw (all 14 tables: an unchanged file is not reloaded), then one DAG run."""
    from eis_core.load.loader import load_drop
    from eis_core.orchestration import stack

    load_drop(small_drop, progress=lambda m: None).raise_for_status()
    lines: list[str] = []
    code = stack.run_dag("eis_dispatch", {"trees": 40}, progress=lambda m: None, output=lines.append)
    assert code == 0, "\n".join(lines[-80:])
    with warehouse.connect() as conn:
        run_id = conn.execute("SELECT max(run_id) FROM dispatch.subset_comparison").fetchone()[0]
    return {"run_id": run_id, "log": lines}


def test_dag_builds_and_records_results(dispatch_run, warehouse, eis_home):
    run_id = dispatch_run["run_id"]
    with warehouse.connect() as conn:
        exp, status = conn.execute("SELECT experiment_id, status FROM results.runs WHERE run_id = %s",
                                   (run_id,)).fetchone()
        assert status == "done"
        cfg = conn.execute("SELECT config FROM results.experiments WHERE experiment_id = %s", (exp,)).fetchone()[0]
        assert cfg["officer"]["kind"] == "dispatch_level" and cfg["officer"]["negative_ratio"] == 9
        comp = _frame(conn, "SELECT * FROM dispatch.subset_comparison WHERE run_id = %s", (run_id,))
        assert sorted(zip(comp.model_kind, comp.subset)) == sorted(
            [("exploratory", s) for s in ("dispatch", "stress", "officer", "neighborhood", "all_but_dispatch", "all")]
            + [("suggestion", "all")])
        models = _frame(conn, "SELECT m.model_id, m.status, g.label_name, g.feature_names FROM results.models m "
                              "JOIN results.model_groups g USING (model_group_id) "
                              "JOIN results.run_models r USING (model_id) WHERE r.run_id = %s", (run_id,))
        assert len(models) == 7 and set(models.status) == {"done"} and set(models.label_name) == {"dispatch_adverse"}
        sugg = comp[comp.model_kind == "suggestion"].iloc[0]
        feats = models.set_index("model_id").loc[sugg.model_id, "feature_names"]
        assert not [f for f in feats if f.startswith("arr_")]  # nothing known only on arrival
        ev = _frame(conn, "SELECT metric, parameter, tie_method, value FROM results.evaluations WHERE model_id = %s",
                    (sugg.model_id,))
        assert {("f1", "sampled_threshold"), ("random_f1", "sampled_threshold"), ("precision@", "100_abs"),
                ("roc_auc", "")} <= set(zip(ev.metric, ev.parameter))
        n_imp = conn.execute("SELECT count(*) FROM results.feature_importances WHERE model_id = %s",
                             (sugg.model_id,)).fetchone()[0]
        assert n_imp == len(feats)
    # the sampled set is 10/90: random guessing reaches 2p/(1+p) with p the test positive share
    p = comp.n_test_pos.iloc[0] / comp.n_test.iloc[0]
    assert 0.05 < p < 0.2 and comp.random_f1.iloc[0] == pytest.approx(2 * p / (1 + p))
    # the model beats random on the positive class (deterministic: seeds fixed); small department, ~10 test positives
    allx = comp[(comp.model_kind == "exploratory") & (comp.subset == "all")].iloc[0]
    assert comp.f1.max() > comp.random_f1.iloc[0] and allx.roc_auc > 0.55
    # the unsampled later period was scored in full
    with warehouse.connect() as conn:
        n_later = conn.execute("SELECT count(*) FROM dispatch.dispatch_dataset WHERE dispatch_date >= %s",
                               (allx.split_date,)).fetchone()[0]
    assert allx.unsampled["n"] == n_later > 20 * allx.n_test
    folder = eis_home / "reports" / "dispatch" / f"run_{run_id}"
    for name in ("fig6_subsets.png", "fig7_importance.png", "fig8_signed.png"):
        assert (folder / name).stat().st_size > 5000
    text = (folder / "report.md").read_text()
    assert "do not hold" in text and "Unsampled test period" in text


def test_dataset_grain_and_labels_independent(dispatch_run, warehouse):
    from eis_core.config import load_labels_config

    adverse = load_labels_config().adverse_events
    with warehouse.connect() as conn:
        n_ds, n_raw = conn.execute("SELECT (SELECT count(*) FROM dispatch.dispatch_dataset), "
                                   "(SELECT count(*) FROM raw.dispatches)").fetchone()
        assert n_ds == n_raw
        ia = _frame(conn, "SELECT officer_id, call_id, event_type, disposition FROM raw.ia_cases WHERE call_id IS NOT NULL")
        disp = _frame(conn, "SELECT call_id, officer_id FROM raw.dispatches")
        pos = _frame(conn, "SELECT call_id, officer_id FROM dispatch.dispatch_dataset WHERE label = 1")
        bad = conn.execute("SELECT count(*) FROM dispatch.dispatch_dataset WHERE st_hours_on_duty < 0 "
                           "OR st_consecutive_days < 1 OR st_calls_in_shift < st_stress_calls_shift "
                           "OR hist_arrests_all < hist_disc_arrests_all").fetchone()[0]
    assert bad == 0
    is_adv = ia.apply(lambda r: r.disposition in adverse.get(r.event_type, []), axis=1)
    expected = ia[is_adv][["call_id", "officer_id"]].drop_duplicates().merge(disp, on=["call_id", "officer_id"])
    assert len(expected) >= 10
    assert set(map(tuple, expected.to_numpy())) == set(map(tuple, pos.to_numpy()))


def test_suggestion_features_match_dataset(dispatch_run, warehouse):
    """suggest.officer_features (Python, for a hypothetical dispatch) == the dbt dataset (set-based SQL)."""
    from eis_core.dispatch.advisor import officer_features

    cols = NUMERIC_BLOCKS["stress"] + NUMERIC_BLOCKS["officer"] + NUMERIC_BLOCKS["neighborhood"]
    with warehouse.connect() as conn:
        rows = _frame(conn, "SELECT * FROM dispatch.dispatch_dataset WHERE abs(hashtext(call_id)) %% 997 = 3 "
                            "ORDER BY call_id, officer_id LIMIT 60")
        assert len(rows) >= 40 and rows.st_calls_in_shift.max() > 0 and rows.st_stress_calls_7d.max() > 0
        for _, r in rows.iterrows():
            got = officer_features(conn, [r.officer_id], r.dispatched_at, r.beat).iloc[0]
            for c in cols:
                a, b = r[c], got[c]
                if a is None or pd.isna(a):
                    assert b is None or pd.isna(b), (r.call_id, r.officer_id, c, a, b)
                else:
                    assert float(b) == pytest.approx(float(a), abs=1e-6), (r.call_id, r.officer_id, c, a, b)


def test_suggest_ranks_on_duty_available_officers(dispatch_run, warehouse):
    from click.testing import CliRunner

    from eis_core.cli import main
    from eis_core.dispatch import suggest
    from eis_core.dispatch.advisor import latest_model

    model = latest_model()
    with warehouse.connect() as conn:
        calls = [r[0] for r in conn.execute(
            "SELECT call_id FROM raw.calls_for_service WHERE received_at BETWEEN '2015-06-01' AND '2015-06-03' "
            "AND extract(hour from received_at) BETWEEN 10 AND 18 ORDER BY call_id LIMIT 40")]
    found = None
    for cid in calls:
        ranked = suggest(cid, model=model)
        if len(ranked) >= 2:
            found = (cid, ranked)
            break
    assert found, "no call with two candidate officers"
    cid, ranked = found
    assert [r["rank"] for r in ranked] == list(range(1, len(ranked) + 1))
    assert all(a["score"] <= b["score"] for a, b in zip(ranked, ranked[1:]))
    assert all(isinstance(x, str) for r in ranked for x in r["reasons"])
    with warehouse.connect() as conn:
        div, t = conn.execute("SELECT division, received_at FROM raw.calls_for_service WHERE call_id = %s",
                              (cid,)).fetchone()
        for r in ranked:
            assigned = conn.execute("SELECT count(*) FROM raw.assignments WHERE officer_id = %s AND division = %s "
                                    "AND start_date <= %s AND (end_date IS NULL OR end_date >= %s)",
                                    (r["officer_id"], div, t.date(), t.date())).fetchone()[0]
            busy = conn.execute("SELECT count(*) FROM raw.dispatches WHERE officer_id = %s AND dispatched_at < %s "
                                "AND coalesce(cleared_at, dispatched_at + interval '1 hour') > %s",
                                (r["officer_id"], t, t)).fetchone()[0]
            on_duty = conn.execute("SELECT count(*) FROM raw.dispatches WHERE officer_id = %s AND dispatched_at < %s "
                                   "AND dispatched_at >= %s - interval '8 hours'", (r["officer_id"], t, t)).fetchone()[0]
            assert assigned >= 1 and busy == 0 and on_duty >= 1, r
    res = CliRunner().invoke(main, ["dispatch", "suggest", "--call-id", cid, "--json", "--top", "0"])
    assert res.exit_code == 0, res.output
    assert [r["officer_id"] for r in json.loads(res.output)] == [r["officer_id"] for r in ranked]
    res = CliRunner().invoke(main, ["dispatch", "suggest", "--call-id", "NO-SUCH-CALL"])
    assert res.exit_code == 1 and "NO-SUCH-CALL" in res.output


BACKUP = ("dispatches", "calls_for_service", "ia_cases", "arrests", "neighborhoods")


def test_leakage_nothing_after_dispatch_time(dispatch_run, warehouse):
    """Change everything known after CUTOFF (later dispatches, calls, arrests, IA cases and dispositions,
    newer neighbourhood years) plus what is known only after each dispatch (half the arrivals and
    clearings, every call disposition), rebuild: every dispatch-time column of every dispatch before
    CUTOFF (the 120 days before it) is unchanged, and the arrival columns of the dispatches whose own arrival was kept too."""
    from psycopg import sql

    from eis_core.dispatch.dataset import build_dataset

    cols = DISPATCH_TIME_COLS + ARRIVAL_COLS
    query = sql.SQL("SELECT call_id, officer_id, label, abs(hashtext(call_id || officer_id)) %% 2 AS half, {} "
                    "FROM dispatch.dispatch_dataset WHERE dispatched_at < %s AND dispatched_at >= %s::timestamp - "
                    "interval '120 days' ORDER BY call_id, officer_id").format(
        sql.SQL(", ").join(sql.Identifier(c) for c in cols))
    labels_q = ("SELECT call_id, officer_id FROM dispatch.dispatch_dataset WHERE dispatched_at < %s AND label = 1 "
                "ORDER BY 1, 2")
    with warehouse.connect() as conn:
        before = _frame(conn, query, (CUTOFF, CUTOFF))
        pos_before = _frame(conn, labels_q, (CUTOFF,))
        for t in BACKUP:
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {}; CREATE TABLE {} AS SELECT * FROM {}").format(
                sql.Identifier("public", f"leak_bak_{t}"), sql.Identifier("public", f"leak_bak_{t}"),
                sql.Identifier("raw", t)))
    try:
        with warehouse.connect() as conn:
            conn.execute("DELETE FROM raw.dispatches WHERE dispatched_at >= %s", (CUTOFF,))
            conn.execute("DELETE FROM raw.calls_for_service WHERE received_at >= %s", (CUTOFF,))
            conn.execute("UPDATE raw.calls_for_service SET disposition = 'CHANGED', lat = NULL, lon = NULL")
            conn.execute("UPDATE raw.dispatches SET arrived_at = NULL, cleared_at = NULL "
                         "WHERE abs(hashtext(call_id || officer_id)) % 2 = 1")
            conn.execute("UPDATE raw.dispatches SET cleared_at = arrived_at WHERE arrived_at IS NOT NULL")
            conn.execute("DELETE FROM raw.arrests WHERE arrested_at >= %s", (CUTOFF,))
            conn.execute("DELETE FROM raw.ia_cases WHERE reported_date >= %s::date", (CUTOFF,))
            conn.execute("UPDATE raw.ia_cases SET closed_date = NULL, disposition = 'PENDING' "
                         "WHERE closed_date >= %s::date", (CUTOFF,))
            conn.execute("UPDATE raw.neighborhoods SET median_income = median_income * 3, population = 1 "
                         "WHERE year >= extract(year from %s::timestamp)", (CUTOFF,))
        build_dataset(select="path:models/dispatch", progress=None)
        with warehouse.connect() as conn:
            after = _frame(conn, query, (CUTOFF, CUTOFF))
            pos_after = _frame(conn, labels_q, (CUTOFF,))
    finally:
        with warehouse.connect() as conn:
            for t in BACKUP:
                conn.execute(sql.SQL("TRUNCATE {}; INSERT INTO {} SELECT * FROM {}; DROP TABLE {}").format(
                    sql.Identifier("raw", t), sql.Identifier("raw", t), sql.Identifier("public", f"leak_bak_{t}"),
                    sql.Identifier("public", f"leak_bak_{t}")))
    assert len(before) > 20_000  # the 120 days before the cut-off: the dispatches the future is closest to
    assert before[["call_id", "officer_id"]].equals(after[["call_id", "officer_id"]])
    for c in DISPATCH_TIME_COLS:
        pd.testing.assert_series_equal(before[c], after[c], check_exact=False, rtol=1e-9, obj=c)
    kept = before.half == 0
    for c in ARRIVAL_COLS:
        pd.testing.assert_series_equal(before.loc[kept, c], after.loc[kept, c], check_exact=False, rtol=1e-9, obj=c)
    # the changes did bite: the removed arrivals show, and labels (future by design) changed
    changed = (before.loc[~kept, "arr_arrived"] != after.loc[~kept, "arr_arrived"]).sum()
    assert changed > 1000
    assert len(pos_after) < len(pos_before)  # cases reported after the cut-off are gone
    assert np.isfinite(after.st_hours_on_duty).all()


def test_web_app_suggests_officers_for_a_call_within_the_user_division(dispatch_run, warehouse):
    import re
    import uuid

    from starlette.testclient import TestClient

    from eis_core.dispatch import suggest
    from eis_core.webapp import store
    from eis_core.webapp.app import create_app
    from eis_core.webapp.security import Settings

    with warehouse.connect() as conn:
        cid, div = conn.execute("SELECT call_id, division FROM raw.calls_for_service WHERE received_at "
                                "BETWEEN '2015-06-01' AND '2015-06-03' AND extract(hour from received_at) BETWEEN 10 "
                                "AND 18 ORDER BY call_id LIMIT 1").fetchone()
        other = conn.execute("SELECT division FROM raw.calls_for_service WHERE division <> %s LIMIT 1",
                             (div,)).fetchone()[0]
    from eis_core.migrations import ensure_schema

    ensure_schema()
    tag = uuid.uuid4().hex[:6]
    users = {f"an_{tag}": ("analyst", None), f"sv_{tag}": ("supervisor", other)}
    pw = {u: store.add_user(u, role, d) for u, (role, d) in users.items()}
    app = create_app(Settings(secret="d" * 40, session_hours=1))

    def login(user):
        c = TestClient(app, follow_redirects=False)
        tok = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").text).group(1)
        r = c.post("/login", data={"username": user, "password": pw[user], "csrf_token": tok, "next": "/risk"})
        assert r.status_code == 303
        return c

    assert TestClient(app).get(f"/api/dispatch/suggest?call_id={cid}").status_code == 401
    r = login(f"an_{tag}").get(f"/api/dispatch/suggest?call_id={cid}&top=0")
    assert r.status_code == 200, r.text
    assert [o["officer_id"] for o in r.json()["officers"]] == [o["officer_id"] for o in suggest(cid)]
    assert login(f"sv_{tag}").get(f"/api/dispatch/suggest?call_id={cid}").status_code == 403
    assert login(f"an_{tag}").get("/api/dispatch/suggest?call_id=NO-SUCH").status_code == 404
