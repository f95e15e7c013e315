"""Route-level tests of the web app, in-process (Starlette TestClient over the real ASGI app) against a
real PostgreSQL database seeded by tests/webapp_data.py.  Security first: every route but the login
page and static files refuses anonymous requests, CSRF on every POST, cookie flags, logout, throttling,
roles and divisions, the access audit; then the pages and the review form."""

from __future__ import annotations

import json

import re
from datetime import timedelta

import pytest

import webapp_data as wd

USERS = {"admin": ("admin", None), "ana": ("analyst", None), "supnorth": ("supervisor", "NORTH"),
         "supsouth": ("supervisor", "SOUTH")}


@pytest.fixture(scope="module")
def env(warehouse, tmp_path_factory):
    cleanup = wd.isolated_database("eis_webapp_routes")
    try:
        seeded = wd.seed_all(n_officers=60, n_divisions=3)
        from eis_core.webapp import store
        from eis_core.webapp.app import create_app
        from eis_core.webapp.security import Settings

        passwords = {u: store.add_user(u, role, div) for u, (role, div) in USERS.items()}
        docs = tmp_path_factory.mktemp("data_docs")
        (docs / "index.html").write_text("<html><body>GE Data Docs index</body></html>")
        app = create_app(Settings(secret="s" * 40, session_hours=1), data_docs=docs)
        yield {"app": app, "passwords": passwords, "officers": seeded["officers"]}
    finally:
        cleanup()


def client(env, ip: str = "10.0.0.1"):
    from starlette.testclient import TestClient

    return TestClient(env["app"], follow_redirects=False, client=(ip, 50000))


def login_csrf(c) -> str:
    r = c.get("/login")
    assert r.status_code == 200
    return re.search(r'name="csrf_token" value="([^"]+)"', r.text).group(1)


def login(env, user: str, ip: str = "10.0.0.1"):
    c = client(env, ip)
    r = c.post("/login", data={"username": user, "password": env["passwords"][user], "csrf_token": login_csrf(c),
                               "next": "/risk"})
    assert r.status_code == 303, r.text[:500]
    return c


def page_csrf(c, path: str = "/risk") -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', c.get(path).text).group(1)


def officer_in(env, division: str) -> str:
    return next(o["officer_id"] for o in env["officers"] if o["division"] == division)


def audit_rows(username: str, action: str) -> list[tuple]:
    from eis_core import db

    with db.connect() as conn:
        return conn.execute("SELECT target, detail FROM webapp.access_audit WHERE username = %s AND action = %s "
                            "ORDER BY audit_id", (username, action)).fetchall()


def all_routes(app) -> list[tuple[str, str]]:
    """(method, concrete path) for every route and mount of the app, path parameters filled in."""
    from starlette.routing import Mount, Route

    out = []
    for r in app.routes:
        if isinstance(r, Mount):
            out.append(("GET", r.path + "/index.html"))
        elif isinstance(r, Route):
            path = re.sub(r"\{[^}]+\}", "OF00001", r.path)
            for m in sorted(r.methods or {"GET"}):
                if m != "HEAD":
                    out.append((m, path))
    return out


# ----------------------------------------------------------------------------------------- security

def test_every_route_but_login_and_static_rejects_anonymous_requests(env):
    c = client(env)
    routes = all_routes(env["app"])
    assert len(routes) >= 20
    public = set()
    for method, path in routes:
        r = c.request(method, path)
        if path == "/login" or path.startswith("/static/"):
            public.add(path)
            continue
        if path.startswith("/api/"):
            assert r.status_code == 401, (method, path, r.status_code)
        else:
            assert r.status_code == 303, (method, path, r.status_code)
            assert r.headers["location"].startswith("/login?next="), (method, path)
    assert public == {"/login", "/static/index.html"}
    # the static files themselves are public (vendored Chart.js, served by the app, never a CDN)
    r = c.get("/static/vendor/chart.umd.min.js")
    assert r.status_code == 200 and "Chart.js v4" in r.text[:200]
    assert "cdn" not in c.get("/login").text.lower()


def test_every_post_route_requires_the_csrf_token(env):
    c = login(env, "admin")
    posts = [(m, p) for m, p in all_routes(env["app"]) if m == "POST"]
    assert {p for _, p in posts} >= {"/login", "/logout", "/officers/OF00001/reviews", "/models/select",
                                     "/admin/users", "/admin/users/OF00001/OF00001"}
    for _, path in posts:
        r = c.post(path, data={"csrf_token": "wrong"})
        assert r.status_code == 403, (path, r.status_code)
        assert "csrf_token" in r.text
    assert c.get("/risk").status_code == 200  # still logged in


def test_session_cookie_flags_logout_and_replay(env):
    c = client(env)
    r = c.post("/login", data={"username": "ana", "password": env["passwords"]["ana"], "csrf_token": login_csrf(c)})
    assert r.status_code == 303 and r.headers["location"] == "/"
    cookie = next(h for h in r.headers.get_list("set-cookie") if h.startswith("eis_session="))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Max-Age=3600" in cookie and "Path=/" in cookie
    value = cookie.split(";")[0].split("=", 1)[1]
    assert c.get("/risk").status_code == 200
    h = c.get("/risk").headers
    assert "script-src 'self'" in h["content-security-policy"] and h["x-frame-options"] == "DENY"
    r = c.post("/logout", data={"csrf_token": page_csrf(c)})
    assert r.status_code == 303 and r.headers["location"] == "/login"
    replay = client(env)
    replay.cookies.set("eis_session", value)
    assert replay.get("/risk").status_code == 303  # the server-side session is gone
    tampered = client(env)
    tampered.cookies.set("eis_session", value[:-2] + ("AA" if not value.endswith("AA") else "BB"))
    assert tampered.get("/api/risk").status_code == 401


def test_open_redirect_after_login_is_refused(env):
    c = client(env)
    r = c.post("/login", data={"username": "ana", "password": env["passwords"]["ana"], "csrf_token": login_csrf(c),
                               "next": "//evil.example/x"})
    assert r.status_code == 303 and r.headers["location"] == "/"


def test_login_throttling_locks_out_after_repeated_failures(env):
    from eis_core.webapp import store

    pw = store.add_user("victim", "analyst")
    c = client(env, ip="10.9.9.9")
    for _ in range(store.MAX_FAILURES):
        r = c.post("/login", data={"username": "victim", "password": "wrong-password!", "csrf_token": login_csrf(c)})
        assert r.status_code == 401 and "wrong password" in r.text
    r = c.post("/login", data={"username": "victim", "password": pw, "csrf_token": login_csrf(c)})
    assert r.status_code == 429 and "Too many failed attempts" in r.text
    # the lock is per (user, address): the guessing address stays locked, the user's own address is not
    c1 = client(env, ip="10.9.9.9")
    r = c1.post("/login", data={"username": "victim", "password": pw, "csrf_token": login_csrf(c1)})
    assert r.status_code == 429
    c2 = client(env, ip="10.9.9.10")
    r = c2.post("/login", data={"username": "victim", "password": pw, "csrf_token": login_csrf(c2)})
    assert r.status_code == 303
    assert len(audit_rows("victim", "login_throttled")) == 2


def test_passwords_are_argon2_hashes_and_never_stored(env):
    from eis_core import db

    with db.connect() as conn:
        rows = conn.execute("SELECT username, password_hash FROM webapp.users").fetchall()
    assert rows
    for username, h in rows:
        assert h.startswith("$argon2id$"), username
        if username in env["passwords"]:
            assert env["passwords"][username] not in h


def test_users_cli_add_list_disable(env):
    from click.testing import CliRunner

    from eis_core.webapp.cli import users_cli

    runner = CliRunner()
    r = runner.invoke(users_cli, ["add", "newsup", "--role", "supervisor"])
    assert r.exit_code != 0 and "division" in r.output
    r = runner.invoke(users_cli, ["add", "newsup", "--role", "supervisor", "--division", "EAST"])
    assert r.exit_code != 0 and "not a division of the scored officers" in r.output  # a typo, or not scored yet
    r = runner.invoke(users_cli, ["add", "newsup", "--role", "supervisor", "--division", "EAST", "--new-division"])
    assert r.exit_code == 0, r.output
    pw = re.search(r"password: (\S+)", r.output).group(1)
    assert len(pw) >= 12
    r = runner.invoke(users_cli, ["add", "newsup", "--role", "analyst"])
    assert r.exit_code != 0 and "exists already" in r.output
    r = runner.invoke(users_cli, ["list"])
    assert r.exit_code == 0 and re.search(r"newsup\s+supervisor\s+EAST\s+active", r.output)
    env["passwords"]["newsup"] = pw
    c = login(env, "newsup", ip="10.0.0.7")
    assert c.get("/risk").status_code == 200
    r = runner.invoke(users_cli, ["disable", "newsup"])
    assert r.exit_code == 0
    assert c.get("/risk").status_code == 303  # its live session ended at once
    c2 = client(env, ip="10.0.0.8")
    r = c2.post("/login", data={"username": "newsup", "password": pw, "csrf_token": login_csrf(c2)})
    assert r.status_code == 401
    r = runner.invoke(users_cli, ["disable", "nobody"])
    assert r.exit_code != 0 and "no user" in r.output


def test_supervisor_sees_only_their_division(env):
    c = login(env, "supnorth")
    r = c.get("/risk")
    assert r.status_code == 200
    ids = set(re.findall(r'href="/officers/(OF\d+)\?', r.text))
    north = {o["officer_id"] for o in env["officers"] if o["division"] == "NORTH"}
    assert ids == north
    assert c.get("/risk?division=SOUTH").status_code == 403
    assert c.get("/risk.csv?division=SOUTH").status_code == 403
    assert c.get("/api/risk?division=SOUTH").status_code == 403
    south = officer_in(env, "SOUTH")
    r = c.get(f"/officers/{south}")
    assert r.status_code == 403 and "not in your division" in r.text and "SOUTH" not in r.text  # not where they are
    assert audit_rows("supnorth", "denied_officer")[-1][0] == south
    assert c.get(f"/api/officers/{south}").status_code == 403
    r = c.post(f"/officers/{south}/reviews", data={"csrf_token": page_csrf(c), "as_of_date": wd.LATEST.isoformat(),
                                                   "agrees_with_score": "yes", "intervention": "none"})
    assert r.status_code == 403
    for path in ("/models", "/data-quality", "/forecasts", "/severity", "/admin/users", "/data-docs/index.html"):
        assert c.get(path).status_code == 403, path
    assert c.get(f"/officers/{officer_in(env, 'NORTH')}").status_code == 200
    r = c.get("/units")
    assert r.status_code == 200 and "SOUT-" not in r.text and "NORT-" in r.text


def test_officer_views_and_exports_are_audited(env):
    c = login(env, "ana")
    oid = officer_in(env, "CENTRAL")
    before = len(audit_rows("ana", "view_officer"))
    assert c.get(f"/officers/{oid}").status_code == 200
    rows = audit_rows("ana", "view_officer")
    assert len(rows) == before + 1 and rows[-1][0] == oid and rows[-1][1]["as_of_date"] == wd.LATEST.isoformat()
    r = c.get("/risk.csv?division=CENTRAL")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert 'filename="eis-risk-2024-06-01-CENTRAL.csv"' in r.headers["content-disposition"]
    lines = r.text.strip().splitlines()
    assert lines[0].startswith("as_of_date,rank,officer_id,score")
    assert len(lines) - 1 == sum(1 for o in env["officers"] if o["division"] == "CENTRAL")
    ranks = [int(x.split(",")[1]) for x in lines[1:]]
    assert ranks == sorted(ranks)
    exp = audit_rows("ana", "export_csv")[-1]
    assert exp[0] == "risk_list" and exp[1]["division"] == "CENTRAL" and exp[1]["rows"] == len(lines) - 1


def test_review_form_validates_then_writes_production_reviews(env):
    from eis_core import db

    c = login(env, "supnorth")
    oid = officer_in(env, "NORTH")
    page = c.get(f"/officers/{oid}")
    factors = re.findall(r'name="factor:([^"]+)" value="agree"', page.text)
    from eis_core.production.wording import factor_groups

    with db.connect() as conn:
        stored = [{"feature": f, "contribution": c} for f, c in conn.execute(
            "SELECT feature, contribution FROM production.risk_factors WHERE officer_id = %s AND as_of_date = %s "
            "ORDER BY position", (oid, wd.LATEST))]
    groups = [g.features for g in factor_groups(stored)]
    assert len(stored) == 5 and factors == [g[0] for g in groups]  # one answer per fact, not per column
    token = page_csrf(c, f"/officers/{oid}")
    bad = {"csrf_token": token, "as_of_date": wd.LATEST.isoformat(), "agrees_with_score": "no",
           "intervention": "training", "intervention_date": "2024-05-01"}
    r = c.post(f"/officers/{oid}/reviews", data=bad)
    assert r.status_code == 400
    for field in ("dismissal_reason: required", "factor_agreement", "intervention_date: cannot be before"):
        assert field in r.text, field
    good = {**bad, "agrees_with_score": "yes", "intervention_date": "2024-06-10", "notes": "talked with the sergeant",
            **{f"factor:{f}": ("agree" if i % 2 == 0 else "disagree") for i, f in enumerate(factors)}}
    r = c.post(f"/officers/{oid}/reviews", data=good)
    assert r.status_code == 303, r.text[:1000]
    with db.connect() as conn:
        row = conn.execute("SELECT reviewer, agrees_with_score, factor_agreement, intervention, intervention_date "
                           "FROM production.reviews WHERE officer_id = %s ORDER BY review_id DESC LIMIT 1",
                           (oid,)).fetchone()
    assert row[0] == "supnorth" and row[1] is True and row[3] == "training"
    assert row[2] == {f: i % 2 == 0 for i, g in enumerate(groups) for f in g}  # the answer covers its group
    assert row[4] == wd.LATEST + timedelta(days=9)
    page = c.get(r.headers["location"])
    assert "Review saved" in page.text and "talked with the sergeant" in page.text
    assert audit_rows("supnorth", "review")[-1][0] == oid
    risk = c.get("/risk").text
    assert re.search(rf'{oid}</a>.*?reviewed</span>', risk, re.S)
    # an analyst reads but cannot review
    ana = login(env, "ana")
    r = ana.post(f"/officers/{oid}/reviews", data={**good, "csrf_token": page_csrf(ana)})
    assert r.status_code == 403


def test_admin_selects_a_model_group_and_the_page_says_who(env):
    from eis_core import db

    ana = login(env, "ana")
    r = ana.get("/models")
    assert r.status_code == 200 and "selected by <strong>eis select</strong>" in r.text
    assert "Select</button>" not in r.text  # read-only for analysts
    assert ana.post("/models/select", data={"csrf_token": page_csrf(ana), "experiment": wd.EXPERIMENT_ID,
                                            "model_group_id": "wa_group_lr"}).status_code == 403
    adm = login(env, "admin")
    token = page_csrf(adm, "/models")
    r = adm.post("/models/select", data={"csrf_token": token, "experiment": wd.EXPERIMENT_ID,
                                         "model_group_id": "nope", "metric": "precision@10%", "reason": "testing it"})
    assert r.status_code == 400 and "model_group_id" in r.text
    r = adm.post("/models/select", data={"csrf_token": token, "experiment": wd.EXPERIMENT_ID,
                                         "model_group_id": "wa_group_lr", "metric": "precision@10%"})
    assert r.status_code == 400 and "reason:" in r.text  # no switch of the production model without a reason
    r = adm.post("/models/select", data={"csrf_token": token, "experiment": wd.EXPERIMENT_ID,
                                         "model_group_id": "wa_group_lr", "metric": "precision@10%",
                                         "reason": "more stable over the last two splits"})
    assert r.status_code == 303
    with db.connect() as conn:
        row = conn.execute("SELECT rule, chosen, selected_by, model_group_id FROM results.selections "
                           "ORDER BY selection_id DESC LIMIT 1").fetchone()
    assert row == ("manual", True, "admin", "wa_group_lr")
    page = adm.get("/models").text
    assert "selected by <strong>admin</strong>" in page and "LogisticRegression" in page
    target, detail = audit_rows("admin", "select_model_group")[-1]
    assert target == "wa_group_lr" and detail["reason"] == "more stable over the last two splits"
    assert detail["previous_group"] == "wa_group_rf"


def test_pages_render_with_data_and_empty_states(env, tmp_path):
    from eis_core import db

    c = login(env, "ana")
    risk = c.get("/risk?per=100")
    assert risk.status_code == 200 and risk.text.count('href="/officers/') == 60
    assert c.get("/risk").text.count('href="/officers/') == 50  # 50 a page by default
    assert "▲" in risk.text or "▼" in risk.text  # rank moves against 7 / 30 days earlier
    assert c.get("/risk?date=2024-05-02").status_code == 200
    assert c.get("/risk?date=yesterday").status_code == 400
    officer = c.get("/officers/OF00001").text
    for text in ("Score and rank history", "data-chart=\"history-data\"", "Recent events by block",
                 "dispatches in the last year", "Why the score is high (on 2024-06-01)"):
        assert text in officer, text
    assert c.get("/officers/NOPE").status_code == 404
    models = c.get("/models").text
    for text in ("RandomForest", "Against the legacy EIS", "Precision–recall", "ROC", "Feature importances",
                 "results.risk_curves", "results.bias_audit"):
        assert text in models, text
    # the importance chart labels every bar (Chart.js would skip every second label when they do not fit)
    imp = json.loads(re.search(r'<script type="application/json" id="importance-data">(.*?)</script>', models,
                               re.S).group(1))
    assert imp["options"]["scales"]["y"]["ticks"]["autoSkip"] is False and len(imp["data"]["labels"]) >= 2
    units = c.get("/units").text
    assert "Flag rates by group" in units and "CENTRAL" in units
    dq = c.get("/data-quality").text
    assert "ia_cases" in dq and "closed_date 2019-02-01 is before reported_date" in dq and "/data-docs/index.html" in dq
    assert "GE Data Docs index" in c.get("/data-docs/index.html").text
    assert "has not written anything" in c.get("/severity").text
    assert c.get("/forecasts").status_code == 200
    # the production explanations' and the severity service's tables appear when they exist
    from psycopg import sql
    from psycopg.types.json import Jsonb

    from eis_core.production import insights

    insights.ensure_insight_tables()
    explain = tmp_path / "project" / "reports" / "explain" / "wa_model_rf_3"
    explain.mkdir(parents=True)
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    (explain / "risk_curves.png").write_bytes(png)
    with db.connect() as conn:
        conn.execute("INSERT INTO results.risk_curves VALUES ('wa_model_rf_3', 'ia_cases_1y', 1, 0, 1, 0.1, 0.02, 50), "
                     "('wa_model_rf_3', 'ia_cases_1y', 2, 1, 3, 0.3, 0.05, 20)")
        conn.execute("INSERT INTO results.risk_curve_direction VALUES ('wa_model_rf_3', 'ia_cases_1y', 0.2)")
        conn.execute("INSERT INTO results.permutation_importances VALUES ('wa_model_rf_3', 'ia_cases_1y', 0.0123, 0.002, "
                     "'average_precision', 5, 1)")
        conn.execute("INSERT INTO results.bias_audit (model_id, split_id, as_of_date, threshold, attribute, group_value, "
                     "reference_group, group_size, flagged, flag_rate, out_of_range) VALUES ('wa_model_rf_3', "
                     "'split_2014-07-01', '2014-07-01', 'top 10%', 'race', 'BLACK', 'WHITE', 40, 9, 0.225, true)")
        conn.execute("UPDATE results.experiments SET config = jsonb_set(config, '{officer,project_path}', %s) "
                     "WHERE experiment_id = %s", (Jsonb(str(tmp_path / "project")), wd.EXPERIMENT_ID))
        conn.execute("INSERT INTO severity.monitoring_daily (day, model_version, n_resolved, macro_f1, accuracy) "
                     "VALUES ('2024-06-01', 'v7', 321, 0.61, 0.74)")
    try:
        models = c.get("/models?group=wa_group_rf").text
        assert 'data-chart="rc1-data"' in models and "results.risk_curves)" not in models
        assert "directionality +0.200" in models and "0.0123" in models and "BLACK" in models
        assert 'src="/models/plots/wa_model_rf_3/risk_curves.png"' in models
        r = c.get("/models/plots/wa_model_rf_3/risk_curves.png")
        assert r.status_code == 200 and r.content == png and r.headers["content-type"] == "image/png"
        assert c.get("/models/plots/wa_model_rf_3/directionality.png").status_code == 404
        assert c.get("/models/plots/wa_model_rf_3/..%2F..%2Fsecret.png").status_code == 404
        assert login(env, "supnorth").get("/models/plots/wa_model_rf_3/risk_curves.png").status_code == 403
        sev = c.get("/severity").text
        assert "v7" in sev and "321" in sev and "No drift measured yet" in sev and "severity.drift" not in sev
    finally:
        with db.connect() as conn:
            for t in ("risk_curves", "risk_curve_direction", "partial_dependence", "permutation_importances"):
                conn.execute(sql.SQL("TRUNCATE {}").format(sql.Identifier("results", t)))
            conn.execute("DELETE FROM results.bias_audit WHERE scope = 'test_split'")  # the days' audits stay
            conn.execute("TRUNCATE severity.monitoring_daily")
            conn.execute("UPDATE results.experiments SET config = config #- '{officer,project_path}'")


def test_admin_manages_users_in_the_browser_form(env):
    c = login(env, "admin")
    token = page_csrf(c, "/admin/users")
    r = c.post("/admin/users", data={"csrf_token": token, "username": "webana", "role": "analyst"})
    assert r.status_code == 200 and "webana" in r.text
    pw = re.search(r'id="new-password">([^<]+)<', r.text).group(1)
    env["passwords"]["webana"] = pw
    assert login(env, "webana", ip="10.0.0.20").get("/models").status_code == 200
    r = c.post("/admin/users", data={"csrf_token": token, "username": "Bad Name", "role": "analyst"})
    assert r.status_code == 400 and "username:" in r.text
    assert c.post("/admin/users/admin/disable", data={"csrf_token": token}).status_code == 400
    assert c.post("/admin/users/webana/disable", data={"csrf_token": token}).status_code == 303
    assert login(env, "ana").get("/admin/users").status_code == 403


def test_demo_step_resets_the_admin_with_a_fresh_password(env):
    from eis_core.webapp import demo_step

    lines: list[str] = []
    out = demo_step(echo=lines.append)
    text = "\n".join(lines)
    assert out["username"] == "admin" and out["password"] in text and "make webapp" in text and out["url"] in text
    old, env["passwords"]["admin"] = env["passwords"]["admin"], out["password"]
    assert old != out["password"]
    c = client(env, ip="10.0.0.30")
    r = c.post("/login", data={"username": "admin", "password": old, "csrf_token": login_csrf(c)})
    assert r.status_code == 401
    assert login(env, "admin", ip="10.0.0.31").get("/admin/users").status_code == 200


def test_eis_webapp_command_serves_the_app(env):
    import os
    import socket
    import subprocess
    import sys
    import time
    import urllib.error
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "eis_core.cli", "webapp", "--port", str(port), "--log-level",
                             "warning"], env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=2) as r:
                    assert r.status == 200 and b'id="login"' in r.read()
                break
            except (urllib.error.URLError, ConnectionError):
                assert proc.poll() is None, proc.stdout.read()
                assert time.monotonic() < deadline, "eis webapp did not start within 30 s"
                time.sleep(0.2)
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/risk", timeout=2)
            raise AssertionError("an anonymous API request was answered")
        except urllib.error.HTTPError as e:
            assert e.code == 401
    finally:
        proc.terminate()
        proc.wait(timeout=10)
