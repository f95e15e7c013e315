"""The scoring hook of issue 16: a successful `score_day` raises the newest date's alerts at once (no page
view needed), audited as `eis score`; re-scoring raises no second alert.  A real modeling run and a real
score_day on the small synthetic department (the fixtures of tests/test_production.py)."""

from __future__ import annotations

from test_production import D, _score, run  # noqa: F401  (the module-scoped modeling run fixture)


def _q(sql: str, params=()):
    from eis_core import db

    with db.connect() as conn:
        return conn.execute(sql, params).fetchall()


def test_a_successful_score_day_raises_the_flagged_officers_alerts(run):
    from eis_core import db
    from eis_core.migrations import ensure_schema
    from eis_core.production import alerts

    ensure_schema()
    with db.connect() as conn:  # a clean slate in the session's warehouse (other modules score here too)
        conn.execute("UPDATE production.reviews SET alert_id = NULL WHERE alert_id IS NOT NULL")
        conn.execute("DELETE FROM production.alerts")
    messages: list[str] = []
    from eis_core.production.scoring import score_day

    score_day(D, run["group"], config=run["config"], labels=run["labels"], progress=messages.append)
    # the alerts are for the newest scored date: D, or a later one another module of this worker scored
    newest = _q("SELECT max(as_of_date) FROM production.predictions")[0][0]
    assert newest >= D
    flagged = {r[0] for r in _q("SELECT officer_id FROM production.predictions WHERE as_of_date = %s "
                                "AND rank_pct <= %s", (newest, alerts.flag_share()))}
    assert flagged
    rows = _q("SELECT officer_id, as_of_date, created_by, status FROM production.alerts")
    assert {r[0] for r in rows} == flagged and all(r[1:] == (newest, "eis score", "open") for r in rows)
    assert any(f"{len(flagged)} new alert" in m for m in messages), messages
    assert {r[0] for r in _q("SELECT target FROM webapp.access_audit WHERE action = 'alert_created' "
                             "AND username = 'eis score'")} >= flagged
    # re-scoring the day raises no second alert for the same officers
    _score(run, D)
    assert len(_q("SELECT 1 FROM production.alerts")) == len(flagged)
    with db.connect() as conn:
        conn.execute("DELETE FROM production.alerts")
