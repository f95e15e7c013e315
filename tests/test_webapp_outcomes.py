"""The outcomes page (issue 16, "Did it help?") on a real PostgreSQL with a scenario built by hand: who was
flagged, who was helped and how, and every adverse event, so that each number on the page is known in
advance (not recomputed by the code under test)."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

import webapp_data as wd

D1, D2 = date(2022, 3, 1), date(2022, 3, 20)
END = date(2024, 1, 1)  # the newest internal-affairs report: the data's end (no drop folder is on disk)


@pytest.fixture(scope="module")
def env(warehouse):
    cleanup = wd.isolated_database("eis_webapp_outcomes")
    try:
        seeded = wd.seed_all(n_officers=60, n_divisions=3, dates=[D1, D2, *wd.AS_OF_DATES])
        offs = [o["officer_id"] for o in seeded["officers"]]
        t1, t2, c1, c2, c3, t3 = offs[:6]
        from eis_core import db
        from eis_core.webapp import store
        from eis_core.webapp.app import create_app
        from eis_core.webapp.security import Settings

        with db.connect() as conn:
            # nobody flagged on D1 and D2 but the officers of the scenario
            conn.execute("UPDATE production.predictions SET rank_pct = 0.5, score = 0.1 WHERE as_of_date IN (%s, %s)",
                         (D1, D2))
            for oid, d, score, pct in ((t1, D1, .90, .01), (t2, D1, .80, .02), (c1, D1, .89, .03),
                                       (c2, D2, .81, .01), (c3, D2, .50, .02)):
                conn.execute("UPDATE production.predictions SET score = %s, rank_pct = %s WHERE officer_id = %s "
                             "AND as_of_date = %s", (score, pct, oid, d))
            top_latest = conn.execute("SELECT officer_id FROM production.predictions WHERE as_of_date = %s "
                                      "AND rank_pct <= 0.05 ORDER BY rank_abs LIMIT 1", (wd.LATEST,)).fetchone()[0]
            review = ("INSERT INTO production.reviews (as_of_date, officer_id, reviewer, agrees_with_score, "
                      "factor_agreement, intervention, intervention_date) VALUES (%s, %s, 'sgt', true, '{\"x\": true}', %s, %s)")
            conn.execute(review, (D1, t1, "mentoring", D1 + timedelta(days=10)))
            conn.execute(review, (D1, t2, "mentoring", D1 + timedelta(days=10)))
            conn.execute(review, (D2, c3, "none", None))  # "none" is no intervention: c3 stays a comparison
            conn.execute(review, (wd.LATEST, top_latest, "training", wd.LATEST))  # too recent to judge
            # every adverse event of the scenario (the seeded cases are removed)
            conn.execute("DELETE FROM staging.stg_ia_cases")
            case = ("INSERT INTO staging.stg_ia_cases (case_id, officer_id, event_type, incident_date, reported_date, "
                    "disposition) VALUES (%s, %s, %s, %s, %s, %s)")
            events = [(t1, "CITIZEN_COMPLAINT", D1 - timedelta(days=30), "SUSTAINED"),   # before the flag
                      (t1, "CITIZEN_COMPLAINT", D1 + timedelta(days=40), "NOT_SUSTAINED"),  # not adverse
                      (t2, "CITIZEN_COMPLAINT", D1 + timedelta(days=210), "SUSTAINED"),  # 7th month after start
                      (c1, "VEHICLE_ACCIDENT", D1 + timedelta(days=40), "PREVENTABLE"),  # 1st month after
                      (c2, "USE_OF_FORCE", D2 + timedelta(days=310), "UNJUSTIFIED"),  # 11th month after
                      (offs[10], "OFFICER_COMPLAINT", END, "PENDING")]  # the data's end
            for i, (oid, kind, d, disp) in enumerate(events):
                conn.execute(case, (f"IA-X{i}", oid, kind, d, d if disp == "PENDING" else d + timedelta(days=3), disp))
        users = {"ana": ("analyst", None), "boss": ("admin", None), "sgt": ("supervisor", wd.DIVISION_NAMES[0])}
        pw = {u: store.add_user(u, r, d) for u, (r, d) in users.items()}
        app = create_app(Settings(secret="o" * 40, session_hours=1))
        yield {"app": app, "pw": pw}
    finally:
        cleanup()


def login(env, user: str):
    from starlette.testclient import TestClient

    c = TestClient(env["app"], follow_redirects=False)
    token = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").text).group(1)
    assert c.post("/login", data={"username": user, "password": env["pw"][user], "csrf_token": token}).status_code == 303
    return c


def cell(html: str, code: str, key: str) -> str:
    row = re.search(rf'<tr data-intervention="{code}">(.*?)</tr>', html, re.S).group(1)
    m = re.search(rf'data-window="{key}">([^<]*)<', row)
    return m.group(1).strip() if m else ""


def test_outcomes_compare_helped_officers_with_matched_flagged_ones(env):
    page = login(env, "ana").get("/outcomes")
    assert page.status_code == 200
    html = page.text
    assert "not a randomised comparison" in html
    # mentoring: 2 officers, each matched (t1 with c1: closest score; t2 with c2); 6 months: c1's accident
    assert cell(html, "mentoring", "6-pairs") == "2"
    assert cell(html, "mentoring", "6-helped") == "0 (0 %)"
    assert cell(html, "mentoring", "6-comparison") == "1 (50 %)"
    # 12 months: t2's sustained complaint (7th month) and c2's unjustified force (11th month)
    assert cell(html, "mentoring", "12-helped") == "1 (50 %)"
    assert cell(html, "mentoring", "12-comparison") == "2 (100 %)"
    assert "Too few pairs to say" in html
    # training on the newest list: matched, but its periods have not ended
    row = re.search(r'<tr data-intervention="training">(.*?)</tr>', html, re.S).group(1)
    assert "period not over yet" in row and cell(html, "training", "6-pairs") == "0"
    assert 'data-intervention="none"' not in html  # "none" is not an intervention
    assert "data run to 2024-01-01" in html


def test_interventions_adjusted_precision(env):
    c = login(env, "ana")
    std = c.get("/outcomes").text
    table = re.search(r'<table class="data" id="evaluation-table">(.*?)</table>', std, re.S).group(1)
    rows = re.findall(r"<tr><td>(\d{4}-\d\d-\d\d)</td>(.*?)</tr>", table, re.S)
    got = {d: re.findall(r">([^<]+)</td>", r) for d, r in rows}
    # D1: t1, t2, c1 flagged; t2 and c1 had events; t1 was helped and had none -> 2/3 standard, 2/2 adjusted
    assert got[str(D1)] == ["3", "2", "1", "66.7 %", "100.0 %"]
    # D2: c2 (event) and c3 ("none" is not help) -> 1/2 both ways
    assert got[str(D2)] == ["2", "1", "0", "50.0 %", "50.0 %"]
    assert set(got) == {str(D1), str(D2)}  # the 2024 lists' 12 months have not passed
    assert "Precision over these dates: <strong>60.0 %</strong>" in std
    adj = c.get("/outcomes?evaluation=adjusted").text
    assert "Adjusted precision over these dates: <strong>75.0 %</strong>" in adj
    assert c.get("/outcomes?evaluation=optimistic").status_code == 400


def test_outcomes_are_for_analysts_and_admins_and_audited(env):
    from eis_core import db

    assert login(env, "sgt").get("/outcomes").status_code == 403
    assert login(env, "boss").get(f"/outcomes?division={wd.DIVISION_NAMES[1]}").status_code == 200
    assert login(env, "boss").get("/outcomes?division=NOPE").status_code == 400
    with db.connect() as conn:
        who, detail = conn.execute("SELECT username, detail FROM webapp.access_audit WHERE action = 'view_outcomes' "
                                   "ORDER BY audit_id DESC LIMIT 1").fetchone()
    assert who == "boss" and detail["division"] == wd.DIVISION_NAMES[1]
