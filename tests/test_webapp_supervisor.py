"""The supervisor's page (issue 16), in-process against a real PostgreSQL and a real SMTP sink
(tests/test_notify.py's SmtpSink on a loopback socket): flagged rows, filters, sorting and pages of the
risk list; risk factors as sentences; the alert workflow with its e-mails, escalation and audit; the
intervention catalogue; the officer's peers and timeline."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

import webapp_data as wd
from test_notify import SmtpSink

#: raw scoring labels and column names that must never reach a supervisor's page
INTERNAL = re.compile(r"ia_days_since_adverse|_missing|macro|eis_call_type_groups|imputed|ia_closed_|dsp_calls_grp")


@pytest.fixture(scope="module")
def env(warehouse, tmp_path_factory):
    cleanup = wd.isolated_database("eis_webapp_supervisor")
    sink = SmtpSink().__enter__()
    mp = pytest.MonkeyPatch()
    mp.setenv("EIS_WEBAPP_SMTP_HOST", "127.0.0.1")
    mp.setenv("EIS_WEBAPP_SMTP_PORT", str(sink.port))
    mp.setenv("EIS_WEBAPP_EMAIL_FROM", "eis@pd.example")
    mp.setenv("EIS_WEBAPP_URL", "https://eis.pd.example")
    try:
        seeded = wd.seed_all(n_officers=60, n_divisions=3)
        from eis_core import db
        from eis_core.webapp import store
        from eis_core.webapp.app import create_app
        from eis_core.webapp.security import Settings

        with db.connect() as conn:
            top = conn.execute("SELECT officer_id, division FROM production.predictions WHERE as_of_date = %s "
                               "ORDER BY rank_abs LIMIT 1", (wd.LATEST,)).fetchone()
        division = top[1]
        other = next(d for d in wd.DIVISION_NAMES[:3] if d != division)
        users = {"cmdr": ("admin", None), "sgt": ("supervisor", division), "othersgt": ("supervisor", other),
                 "ana": ("analyst", None)}
        pw = {u: store.add_user(u, r, d) for u, (r, d) in users.items()}
        store.set_contact("cmdr", by="test", email="cmdr@pd.example")
        store.set_contact("sgt", by="test", email="sgt@pd.example", reports_to="cmdr")
        app = create_app(Settings(secret="v" * 40, session_hours=1))
        yield {"app": app, "pw": pw, "officers": seeded["officers"], "division": division, "other": other,
               "sink": sink}
    finally:
        mp.undo()
        sink.__exit__(None, None, None)
        cleanup()


def visible(html: str) -> str:
    """The text a reader sees (tags and their attributes, e.g. form field names, removed)."""
    return re.sub(r"<[^>]+>", " ", html)


def login(env, user: str):
    from starlette.testclient import TestClient

    c = TestClient(env["app"], follow_redirects=False, client=("10.9.0.1", 50000))
    token = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").text).group(1)
    r = c.post("/login", data={"username": user, "password": env["pw"][user], "csrf_token": token})
    assert r.status_code == 303, r.text[:300]
    return c


def csrf(c, path: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', c.get(path).text).group(1)


def audit(action: str, target: str | None = None) -> list[tuple]:
    from eis_core import db

    with db.connect() as conn:
        return conn.execute("SELECT username, target, detail FROM webapp.access_audit WHERE action = %s "
                            "AND (%s::text IS NULL OR target = %s) ORDER BY audit_id", (action, target, target)).fetchall()


def q1(sql: str, params=()):
    from eis_core import db

    with db.connect() as conn:
        return conn.execute(sql, params).fetchone()


def test_risk_list_marks_flags_filters_sorts_and_pages(env):
    c = login(env, "ana")
    n_flagged = q1("SELECT count(*) FROM production.predictions WHERE as_of_date = %s AND rank_pct <= 0.05",
                   (wd.LATEST,))[0]
    assert n_flagged == 3
    page = c.get("/risk?per=100").text
    assert page.count('<tr class="flagged') == n_flagged and "⚑" in page
    flagged = c.get("/risk?show=flagged").text
    assert flagged.count('href="/officers/') == n_flagged and "3 officers" in flagged
    assert c.get("/risk?show=not_reviewed").text.count('href="/officers/') == n_flagged  # nobody reviewed yet
    assert c.get("/risk?show=overdue").text.count('href="/officers/') == 0
    # sorting by score puts the same first officer on top as rank; by officer, OF00001 first
    assert re.search(r'href="/officers/(OF\d+)', c.get("/risk?sort=officer").text).group(1) == "OF00001"
    ids = re.findall(r'data-officer="(OF\d+)"', c.get("/risk?sort=move_7&per=100").text)
    assert len(ids) == 60 and ids != re.findall(r'data-officer="(OF\d+)"', page)
    # pages: 60 officers, 25 a page -> 25, 25, 10 and the pager links keep the filters
    p3 = c.get("/risk?per=25&page=3&sort=score").text
    assert p3.count('href="/officers/') == 10 and "page 3 of 3" in p3
    assert 'href="/risk?date=2024-06-01&amp;sort=score&amp;per=25&amp;page=2" id="page-prev"' in p3
    assert c.get("/risk?show=everything").status_code == 400 and c.get("/risk?per=7").status_code == 400
    # the reasons are sentences about the officer; the scoring's raw labels never show
    assert not INTERNAL.search(visible(page)), INTERNAL.search(visible(page)).group(0)
    assert "of officers in the division" in page
    assert "history, not a finding" in c.get("/risk?per=250").text
    csv_text = c.get("/risk.csv?show=flagged").text
    assert len(csv_text.strip().splitlines()) == 1 + n_flagged and not INTERNAL.search(csv_text)


def test_alert_workflow_end_to_end_with_email_and_audit(env):
    sink = env["sink"]
    sgt = login(env, "sgt")
    listing = sgt.get("/alerts").text  # opening a page (this or the risk list) raises the newest date's alerts
    top = q1("SELECT alert_id, officer_id, assigned_to, due_date, status FROM production.alerts "
             "WHERE division = %s ORDER BY rank_abs LIMIT 1", (env["division"],))
    aid, oid, who, due, status = top
    assert who == "sgt" and status == "open" and due == date.today() + timedelta(days=7)
    assert f'href="/alerts/{aid}"' in listing
    mails = sink.wait_for(1)
    mine = [m for m in mails if m["To"] == "sgt@pd.example" and oid in m["Subject"]]
    assert mine, [m["Subject"] for m in mails]
    body = mine[0].get_payload()
    assert f"https://eis.pd.example/alerts/{aid}" in body and "score" not in body.split("\n")[0].lower()
    assert audit("alert_created", oid)[-1][0] == "eis"

    def step(name, **data):
        r = sgt.post(f"/alerts/{aid}/{name}", data={"csrf_token": csrf(sgt, f"/alerts/{aid}"), **data})
        return r

    # out of order: nothing but acknowledging is possible on a new alert
    r = step("close", close_notes="x")
    assert r.status_code == 400 and "not possible while the alert is new" in r.text
    assert step("acknowledge").status_code == 303
    today = date.today().isoformat()
    r = step("meeting", meeting_date=(date.today() + timedelta(days=3)).isoformat())
    assert r.status_code == 400 and "meeting_date" in r.text and "future" in r.text
    assert step("meeting", meeting_date=today, meeting_notes="Talked about the last months").status_code == 303
    page = sgt.get(f"/alerts/{aid}").text
    keys = re.findall(r'name="(factor:[^"]+)" value="agree"', page)
    assert keys and not INTERNAL.search(visible(page))
    answers = {k: "agree" for k in keys}
    r = step("review", agrees_with_score="yes", intervention="mentoring", intervention_date=today, **answers)
    assert r.status_code == 400 and "follow_up_date: required" in r.text
    follow = (date.today() + timedelta(days=14)).isoformat()
    assert step("review", agrees_with_score="yes", intervention="mentoring", intervention_date=today,
                follow_up_date=follow, notes="Paired with Ofc. Reyes", **answers).status_code == 303
    # editable until closed: the same review, changed, not a second one
    assert step("review", agrees_with_score="yes", intervention="peer_support", intervention_date=today,
                follow_up_date=follow, notes="Peer support instead", **answers).status_code == 303
    n, intervention, notes = q1("SELECT count(*), max(intervention), max(notes) FROM production.reviews "
                                "WHERE alert_id = %s", (aid,))
    assert (n, intervention, notes) == (1, "peer_support", "Peer support instead")
    assert q1("SELECT due_date, status FROM production.alerts WHERE alert_id = %s", (aid,)) == \
        (date.fromisoformat(follow), "intervention")
    r = step("close")
    assert r.status_code == 400 and "record the follow-up" in r.text
    assert step("follow_up", follow_up_notes="Going well").status_code == 303
    assert step("close", close_notes="Done").status_code == 303
    r = step("review", agrees_with_score="no", intervention="none", dismissal_reason="changed my mind", **answers)
    assert r.status_code == 400 and "not possible while the alert is closed" in r.text
    assert q1("SELECT intervention FROM production.reviews WHERE alert_id = %s", (aid,))[0] == "peer_support"
    # every step in the audit, with the supervisor and the alert
    for action in ("alert_acknowledged", "alert_meeting", "alert_intervention", "alert_review_edited",
                   "alert_follow_up", "alert_closed"):
        rows = audit(action, oid)
        assert rows and rows[-1][0] == "sgt" and rows[-1][2]["alert_id"] == aid, action
    # and in the admin's audit viewer, filtered by the officer
    viewer = login(env, "cmdr").get(f"/admin/audit?officer={oid}").text
    for action in ("alert_created", "alert_acknowledged", "alert_intervention", "alert_closed"):
        assert action in viewer, action
    # the officer's page shows the alert and the intervention on the timeline
    officer = sgt.get(f"/officers/{oid}").text
    assert f'href="/alerts/{aid}"' in officer and "Intervention: Peer support" in officer


def test_overdue_alert_escalates_to_the_next_level_by_email(env):
    sink = env["sink"]
    sgt = login(env, "sgt")
    sgt.get("/alerts")
    aid, oid = q1("SELECT alert_id, officer_id FROM production.alerts WHERE assigned_to = 'sgt' AND status <> 'closed' "
                  "ORDER BY alert_id LIMIT 1")
    from eis_core import db

    with db.connect() as conn:
        conn.execute("UPDATE production.alerts SET due_date = current_date - 2 WHERE alert_id = %s", (aid,))
    before = len(sink.messages)
    login(env, "cmdr").get("/alerts")
    who, level, due = q1("SELECT assigned_to, escalation_level, due_date FROM production.alerts WHERE alert_id = %s",
                         (aid,))
    assert (who, level, due) == ("cmdr", 1, date.today() + timedelta(days=3))
    got = [m for m in sink.wait_for(before + 1) if m["To"] == "cmdr@pd.example" and "escalated" in m["Subject"]]
    assert got and oid in got[-1]["Subject"] and f"/alerts/{aid}" in got[-1].get_payload()
    assert q1("SELECT status FROM production.alert_notifications WHERE alert_id = %s AND recipient = 'cmdr' "
              "ORDER BY notification_id DESC LIMIT 1", (aid,))[0] == "sent"
    ev = audit("alert_escalated", oid)[-1][2]
    assert ev["from"] == "sgt" and ev["to"] == "cmdr" and ev["level"] == 1
    assert "escalated ×1" in login(env, "cmdr").get(f"/alerts/{aid}").text


def test_another_division_cannot_see_or_work_the_alert(env):
    aid, oid = q1("SELECT alert_id, officer_id FROM production.alerts WHERE division = %s ORDER BY alert_id LIMIT 1",
                  (env["division"],))
    other = login(env, "othersgt")
    r = other.get(f"/alerts/{aid}")
    assert r.status_code == 403 and oid not in r.text and env["division"] not in r.text
    r = other.post(f"/alerts/{aid}/acknowledge", data={"csrf_token": csrf(other, "/alerts")})
    assert r.status_code == 403
    assert f'href="/alerts/{aid}"' not in other.get("/alerts?status=all").text
    assert audit("denied_alert", oid)[-1][0] == "othersgt"
    ana = login(env, "ana")  # analysts read, never act
    assert ana.get(f"/alerts/{aid}").status_code == 200
    assert ana.post(f"/alerts/{aid}/acknowledge", data={"csrf_token": csrf(ana, "/alerts")}).status_code == 403


def test_the_department_edits_the_intervention_catalogue(env):
    admin = login(env, "cmdr")
    t = csrf(admin, "/admin/interventions")
    r = admin.post("/admin/interventions", data={"csrf_token": t, "code": "ride_along", "label": "Ride-along",
                                                 "description": "A shift with the sergeant", "position": "7",
                                                 "active": "yes", "needs_follow_up": "yes"})
    assert r.status_code == 303
    r = admin.post("/admin/interventions", data={"csrf_token": t, "code": "reassignment", "label": "Reassignment",
                                                 "position": "6", "active": "no", "needs_follow_up": "yes"})
    assert r.status_code == 303
    r = admin.post("/admin/interventions", data={"csrf_token": t, "code": "Bad Code!", "label": "x"})
    assert r.status_code == 400 and "code:" in r.text
    assert audit("intervention_catalogue", "ride_along")[-1][0] == "cmdr"
    sgt = login(env, "sgt")
    aid = q1("SELECT alert_id FROM production.alerts WHERE assigned_to IN ('sgt', 'cmdr') AND status = 'open' "
             "AND division = %s ORDER BY alert_id LIMIT 1", (env["division"],))
    if aid:
        sgt.post(f"/alerts/{aid[0]}/acknowledge", data={"csrf_token": csrf(sgt, "/alerts")})
        sgt.post(f"/alerts/{aid[0]}/meeting", data={"csrf_token": csrf(sgt, "/alerts"),
                                                    "meeting_date": date.today().isoformat()})
        form = sgt.get(f"/alerts/{aid[0]}").text
        assert 'value="ride_along"' in form and 'value="reassignment"' not in form
    assert sgt.post("/admin/interventions", data={"csrf_token": csrf(sgt, "/alerts"), "code": "x_y",
                                                  "label": "x"}).status_code == 403
    admin.post("/admin/interventions", data={"csrf_token": t, "code": "reassignment", "label": "Reassignment",
                                             "position": "6", "active": "yes", "needs_follow_up": "yes"})


def test_officer_page_shows_peers_and_timeline(env):
    oid = q1("SELECT c.officer_id FROM staging.stg_ia_cases c JOIN production.predictions p ON p.officer_id = "
             "c.officer_id AND p.as_of_date = %s AND p.division = %s WHERE c.disposition = 'NOT_SUSTAINED' "
             "AND c.closed_date < %s ORDER BY 1 LIMIT 1", (wd.LATEST, env["division"], wd.LATEST))[0]
    page = login(env, "sgt").get(f"/officers/{oid}").text
    timeline = page[page.index('id="timeline"'):]
    assert "not sustained — history, not a finding" in timeline
    case = q1("SELECT case_id, incident_date FROM staging.stg_ia_cases WHERE officer_id = %s ORDER BY incident_date "
              "DESC LIMIT 1", (oid,))
    assert f"{case[1]}</span> Citizen complaint (case {case[0]}" in timeline or case[0] in timeline
    peers = page[page.index('id="peer-table"'):page.index("</table>", page.index('id="peer-table"'))]
    assert peers.count("<tr>") >= 2 and "% of" in peers  # header + at least one fact next to the division
    assert not INTERNAL.search(visible(page)), INTERNAL.search(visible(page)).group(0)
