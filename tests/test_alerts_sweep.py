"""Alerts without a page view (issue 16): a successful `score_day` raises the newest date's alerts, and
`eis alerts sweep` (the daily job) raises and escalates them, with e-mail and audit, on a real PostgreSQL
and a real SMTP sink (tests/test_notify.py's SmtpSink)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from click.testing import CliRunner

import webapp_data as wd
from test_notify import SmtpSink


def _q(sql: str, params=()):
    from eis_core import db

    with db.connect() as conn:
        return conn.execute(sql, params).fetchall()


@pytest.fixture(scope="module")
def seeded(warehouse):
    cleanup = wd.isolated_database("eis_alerts_sweep")
    sink = SmtpSink().__enter__()
    mp = pytest.MonkeyPatch()
    mp.setenv("EIS_WEBAPP_SMTP_HOST", "127.0.0.1")
    mp.setenv("EIS_WEBAPP_SMTP_PORT", str(sink.port))
    mp.setenv("EIS_WEBAPP_EMAIL_FROM", "eis@pd.example")
    try:
        wd.seed_all(n_officers=60, n_divisions=3)
        from eis_core.webapp import store

        division = _q("SELECT division FROM production.predictions WHERE as_of_date = %s ORDER BY rank_abs LIMIT 1",
                      (wd.LATEST,))[0][0]
        store.add_user("boss", "admin")
        store.add_user("sgt", "supervisor", division)
        store.set_contact("boss", by="test", email="boss@pd.example")
        store.set_contact("sgt", by="test", email="sgt@pd.example", reports_to="boss")
        yield {"division": division, "sink": sink}
    finally:
        mp.undo()
        sink.__exit__(None, None, None)
        cleanup()


def _eis(*args: str):
    from eis_core.cli import main

    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_eis_alerts_sweep_raises_once_assigns_mails_and_audits(seeded):
    flagged = {r[0] for r in _q("SELECT officer_id FROM production.predictions WHERE as_of_date = %s "
                                "AND rank_pct <= 0.05", (wd.LATEST,))}
    assert len(flagged) == 3 and not _q("SELECT 1 FROM production.alerts")
    r = _eis("alerts", "sweep")
    assert r.exit_code == 0, r.output
    assert r.output.startswith("raised 3 alert(s), escalated 0"), r.output
    rows = _q("SELECT officer_id, division, assigned_to, created_by, due_date FROM production.alerts")
    assert {x[0] for x in rows} == flagged
    for oid, div, who, by, due in rows:
        assert by == "eis alerts" and due == date.today() + timedelta(days=7)
        assert who == ("sgt" if div == seeded["division"] else None)
    # every new alert is in the web app's audit log, as the job
    audited = {x[0] for x in _q("SELECT target FROM webapp.access_audit WHERE action = 'alert_created' "
                                "AND username = 'eis alerts'")}
    assert audited == flagged
    mine = [x[0] for x in rows if x[2] == "sgt"]
    mails = [m for m in seeded["sink"].wait_for(len(mine)) if m["To"] == "sgt@pd.example"]
    assert {m["Subject"].split("officer ")[1].split(" ")[0] for m in mails} == set(mine)
    # idempotent: a second run (a scheduler retry) raises and sends nothing more
    again = _eis("alerts", "sweep", "--json")
    assert again.exit_code == 0 and '"raised": []' in again.output and '"escalated": []' in again.output
    assert len(_q("SELECT 1 FROM production.alerts")) == 3
    listing = _eis("alerts", "list").output
    assert all(oid in listing for oid in flagged) and "OVERDUE" not in listing


def test_eis_alerts_sweep_escalates_overdue_alerts_by_email(seeded):
    sink = seeded["sink"]
    aid, oid = _q("SELECT alert_id, officer_id FROM production.alerts WHERE assigned_to = 'sgt' ORDER BY alert_id "
                  "LIMIT 1")[0]
    before = len(sink.messages)
    later = (date.today() + timedelta(days=10)).isoformat()  # the due date (today + 7) has passed by then
    assert _eis("alerts", "list", "--status", "overdue").output.strip() == "no alerts"  # not yet, today
    r = _eis("alerts", "sweep", "--today", later)
    assert r.exit_code == 0, r.output
    assert "escalated 3" in r.output, r.output
    who, level, due = _q("SELECT assigned_to, escalation_level, due_date FROM production.alerts WHERE alert_id = %s",
                         (aid,))[0]
    assert (who, level, due) == ("boss", 1, date.fromisoformat(later) + timedelta(days=3))
    got = [m for m in sink.wait_for(before + 1) if m["To"] == "boss@pd.example" and oid in m["Subject"]]
    assert got and "escalated" in got[-1]["Subject"]
    assert _q("SELECT count(*) FROM webapp.access_audit WHERE action = 'alert_escalated' AND target = %s "
              "AND username = 'eis alerts'", (oid,))[0][0] == 1
    # the same day again: nothing is overdue any more (the new due date is 3 days on)
    assert "escalated 0" in _eis("alerts", "sweep", "--today", later).output
    bad = CliRunner().invoke(__import__("eis_core.cli", fromlist=["main"]).main, ["alerts", "sweep", "--today", "x"])
    assert bad.exit_code == 2 and "--today" in bad.output


def test_an_email_left_pending_by_a_killed_sender_goes_out_with_the_next_sweep(seeded):
    """The outbox: the pending row is committed with the alert; a sender killed before delivery leaves it
    pending, and the next sweep (or score) delivers it once."""
    from eis_core import db
    from eis_core.production import alerts

    aid = _q("SELECT alert_id FROM production.alerts ORDER BY alert_id LIMIT 1")[0][0]
    box = alerts.Outbox()
    with db.connect() as conn:  # what raise_alerts does inside its transaction
        box.add(conn, aid, "sgt", "EIS alert: pending test", "body of the pending test")
    # the process dies here: nothing was delivered, the row is pending, with its text
    assert _q("SELECT status, body FROM production.alert_notifications WHERE subject = 'EIS alert: pending test'") \
        == [("pending", "body of the pending test")]
    before = len(seeded["sink"].messages)
    r = _eis("alerts", "sweep", "--json")
    assert r.exit_code == 0, r.output
    mail = [m for m in seeded["sink"].wait_for(before + 1)[before:] if m["Subject"] == "EIS alert: pending test"]
    assert len(mail) == 1 and mail[0]["To"] == "sgt@pd.example"
    assert _q("SELECT status, address FROM production.alert_notifications WHERE subject = 'EIS alert: pending test'") \
        == [("sent", "sgt@pd.example")]
    assert not _q("SELECT 1 FROM production.alert_notifications WHERE status = 'pending'")
