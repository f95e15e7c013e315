"""Regression tests for the security findings of issue 16, in-process (Starlette's TestClient over the
real ASGI app) against a real PostgreSQL database seeded by tests/webapp_data.py.  Each test replays
the attack; each failed (the attack succeeded) on the code before its fix."""

from __future__ import annotations

import re

import pytest

import webapp_data as wd

USERS = {"admin": ("admin", None), "ana": ("analyst", None), "supnorth": ("supervisor", "NORTH"),
         "supsouth": ("supervisor", "SOUTH")}


@pytest.fixture(scope="module")
def env(warehouse, tmp_path_factory):
    cleanup = wd.isolated_database("eis_webapp_security")
    try:
        seeded = wd.seed_all(n_officers=60, n_divisions=3)
        from eis_core.webapp import store
        from eis_core.webapp.app import create_app
        from eis_core.webapp.security import Settings

        passwords = {u: store.add_user(u, role, div) for u, (role, div) in USERS.items()}
        docs = tmp_path_factory.mktemp("data_docs")
        (docs / "index.html").write_text("<html><head></head><body>GE Data Docs index "
                                         "<script>alert(1)</script></body></html>")
        app = create_app(Settings(secret="x" * 40, session_hours=1), data_docs=docs)
        yield {"app": app, "passwords": passwords, "officers": seeded["officers"], "docs": docs}
    finally:
        cleanup()


def client(env, ip: str = "10.1.0.1", **kw):
    from starlette.testclient import TestClient

    return TestClient(env["app"], follow_redirects=False, client=(ip, 50000), **kw)


def login_csrf(c) -> str:
    r = c.get("/login")
    assert r.status_code == 200
    return re.search(r'name="csrf_token" value="([^"]+)"', r.text).group(1)


def login(env, user: str, ip: str = "10.1.0.1", **kw):
    c = client(env, ip, **kw)
    r = c.post("/login", data={"username": user, "password": env["passwords"][user], "csrf_token": login_csrf(c),
                               "next": "/risk"})
    assert r.status_code == 303, r.text[:500]
    return c


def page_csrf(c, path: str = "/risk") -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', c.get(path).text).group(1)


def audit_rows(username: str, action: str) -> list[tuple]:
    from eis_core import db

    with db.connect() as conn:
        return conn.execute("SELECT target, detail, client FROM webapp.access_audit WHERE username = %s "
                            "AND action = %s ORDER BY audit_id", (username, action)).fetchall()


# ----------------------------------------------------------------------------------------- 1: Data Docs

def test_data_docs_are_served_sandboxed_without_scripts(env):
    c = login(env, "ana")
    r = c.get("/data-docs/index.html")
    assert r.status_code == 200 and "GE Data Docs index" in r.text
    csp = r.headers["content-security-policy"]
    assert csp.startswith("sandbox;") and "script-src 'none'" in csp and "allow-same-origin" not in csp
    assert "'unsafe-inline'" not in csp.split("style-src")[0]  # never for scripts
    assert '<link rel="stylesheet" href="/static/data-docs.css">' in r.text  # vendored, not the CDN
    assert c.get("/static/data-docs.css").status_code == 200
    # only files of the site, only known types
    (env["docs"].parent / "outside.html").write_text("secret")
    for path in ("/data-docs/../outside.html", "/data-docs/%2e%2e/outside.html", "/data-docs/x.py"):
        assert c.get(path).status_code == 404, path
    assert login(env, "supnorth", ip="10.1.0.2").get("/data-docs/index.html").status_code == 403


# ----------------------------------------------------------------------------------------- 2: division scope

@pytest.fixture()
def transferred(env):
    """An officer of NORTH on the earlier dates, transferred to SOUTH on the latest one, with a review
    filed in each division (the NORTH one before the transfer, the SOUTH one after)."""
    from eis_core import db

    oid = [o["officer_id"] for o in env["officers"] if o["division"] == "NORTH"][2]
    old = wd.AS_OF_DATES[0]
    with db.connect() as conn:
        conn.execute("UPDATE production.predictions SET division = 'SOUTH', unit = 'SOUT-9' "
                     "WHERE officer_id = %s AND as_of_date = %s", (oid, wd.LATEST))
        ids = [conn.execute("INSERT INTO production.reviews (as_of_date, officer_id, reviewer, agrees_with_score, "
                            "factor_agreement, intervention, notes) VALUES (%s, %s, %s, true, '{\"x\": true}', 'none', %s) "
                            "RETURNING review_id", (d, oid, who, note)).fetchone()[0]
               for d, who, note in ((old, "supnorth", "NORTH-ERA NOTE"), (wd.LATEST, "supsouth", "SOUTH-ERA SECRET"))]
    yield oid, old
    with db.connect() as conn:
        conn.execute("UPDATE production.predictions SET division = 'NORTH', unit = %s WHERE officer_id = %s "
                     "AND as_of_date = %s",
                     (next(o["unit"] for o in env["officers"] if o["officer_id"] == oid), oid, wd.LATEST))
        conn.execute("DELETE FROM production.reviews WHERE officer_id = %s", (oid,))
        assert ids


def test_old_division_cannot_read_or_review_a_transferred_officer(env, transferred):
    oid, old = transferred
    north = login(env, "supnorth")
    # the attack of the issue: ask for a date on which the officer was still in NORTH
    for path in (f"/api/officers/{oid}?date={old}", f"/officers/{oid}?date={old}", f"/officers/{oid}"):
        r = north.get(path)
        assert r.status_code == 403, (path, r.status_code)
        assert "SOUTH-ERA SECRET" not in r.text and "SOUTH" not in r.text  # nor where the officer went
    r = north.post(f"/officers/{oid}/reviews", data={"csrf_token": page_csrf(north), "as_of_date": old.isoformat(),
                                                    "agrees_with_score": "yes", "intervention": "none", "factor:x": "agree"})
    assert r.status_code == 403
    for path in (f"/risk?date={old}", f"/api/risk?date={old}", f"/risk.csv?date={old}"):
        r = north.get(path)
        assert r.status_code == 200 and oid not in r.text, path
    assert audit_rows("supnorth", "denied_officer")[-1][0] == oid


def test_new_division_sees_only_the_rows_of_its_own_time(env, transferred):
    oid, old = transferred
    south = login(env, "supsouth", ip="10.1.0.3")
    r = south.get(f"/api/officers/{oid}")
    assert r.status_code == 200
    data = r.json()
    assert [h["as_of_date"] for h in data["history"]] == [wd.LATEST.isoformat()]
    assert {h["division"] for h in data["history"]} == {"SOUTH"}
    notes = [v["notes"] for v in data["reviews"]]
    assert notes == ["SOUTH-ERA SECRET"]  # not the review filed while the officer was in NORTH
    assert "NORTH-ERA NOTE" not in south.get(f"/officers/{oid}").text
    assert south.get(f"/api/officers/{oid}?date={old}").status_code == 403  # a NORTH date
    r = south.post(f"/officers/{oid}/reviews", data={"csrf_token": page_csrf(south), "as_of_date": old.isoformat(),
                                                    "agrees_with_score": "yes", "intervention": "none"})
    assert r.status_code == 403
    r = south.get("/api/risk")
    assert oid in [o["officer_id"] for o in r.json()["officers"]]
    # analysts and admins see everything
    assert len(login(env, "ana", ip="10.1.0.4").get(f"/api/officers/{oid}").json()["history"]) == len(wd.AS_OF_DATES)


# ----------------------------------------------------------------------------------------- 3: throttling

def try_login(env, c, user: str, password: str):
    return c.post("/login", data={"username": user, "password": password, "csrf_token": login_csrf(c)})


def new_user(env, name: str, role: str = "analyst") -> str:
    from eis_core.webapp import store

    env["passwords"][name] = store.add_user(name, role, "NORTH" if role == "supervisor" else None, replace=True)
    return env["passwords"][name]


def age_attempts(username: str, by: str) -> None:
    """Move *username*'s recorded attempts *by* (an interval) into the past: the lock's clock, without sleeping."""
    from eis_core import db

    with db.connect() as conn:
        conn.execute("UPDATE webapp.login_attempts SET at = at - %s::interval WHERE username = %s", (by, username))


def test_an_attacker_elsewhere_cannot_lock_out_the_real_user(env):
    from eis_core.webapp import store

    pw = new_user(env, "victim1")
    attacker = client(env, ip="198.51.100.7")
    for _ in range(store.MAX_FAILURES + 3):
        r = try_login(env, attacker, "victim1", "wrong-password!")
        assert r.status_code in (401, 429)
    real = client(env, ip="10.1.5.5")  # the victim at their own desk
    assert try_login(env, real, "victim1", pw).status_code == 303
    assert r.status_code == 429 and "Retry-After" in r.headers  # while the attacker's address is locked


def test_wrong_user_names_from_one_address_do_not_lock_the_others_there(env):
    from eis_core.webapp import store

    pw = new_user(env, "victim2")
    shared = "10.1.6.6"  # e.g. everyone behind one NAT
    c = client(env, ip=shared)
    for i in range(store.MAX_FAILURES + 2):
        assert try_login(env, c, f"nobody{i}", "wrong-password!").status_code == 401
    assert try_login(env, client(env, ip=shared), "victim2", pw).status_code == 303


def test_refused_attempts_do_not_extend_the_lock_and_back_off_doubles(env):
    from eis_core.webapp import store

    pw = new_user(env, "victim3")
    c = client(env, ip="198.51.100.8")
    for _ in range(store.MAX_FAILURES):
        assert try_login(env, c, "victim3", "wrong-password!").status_code == 401
    r = try_login(env, c, "victim3", pw)
    assert r.status_code == 429 and 0 < int(r.headers["Retry-After"]) <= 60  # 1 minute after 5 failures
    for _ in range(10):  # hammering while locked is refused, never counted
        assert try_login(env, c, "victim3", "wrong-password!").status_code == 429
    age_attempts("victim3", "61 seconds")
    assert try_login(env, c, "victim3", "wrong-password!").status_code == 401  # the lock ran out on time
    r = try_login(env, c, "victim3", pw)
    assert r.status_code == 429 and 60 < int(r.headers["Retry-After"]) <= 120  # 6th failure: 2 minutes
    age_attempts("victim3", "121 seconds")
    assert try_login(env, c, "victim3", pw).status_code == 303  # and a success resets the pair
    assert try_login(env, client(env, ip="198.51.100.8"), "victim3", "wrong-password!").status_code == 401
    assert len(audit_rows("victim3", "login_throttled")) == 12


def test_forwarded_for_is_believed_only_from_a_trusted_proxy(env):
    from starlette.testclient import TestClient

    from eis_core.webapp import store
    from eis_core.webapp.app import create_app
    from eis_core.webapp.security import Settings

    pw = new_user(env, "victim4")
    app = create_app(Settings(secret="x" * 40, session_hours=1, trusted_proxies="10.1.77.0/24"))

    def via_proxy(xff: str, peer: str = "10.1.77.2"):
        return TestClient(app, follow_redirects=False, client=(peer, 40000), headers={"X-Forwarded-For": xff})

    # behind the TLS proxy every request comes from its address; the attacker's own address counts
    attacker = via_proxy("203.0.113.66")
    for _ in range(store.MAX_FAILURES + 1):
        try_login(env, attacker, "victim4", "wrong-password!")
    assert try_login(env, attacker, "victim4", pw).status_code == 429
    # a forged left part of the header does not help the attacker: the proxy appends the real peer
    assert try_login(env, via_proxy("10.1.5.5, 203.0.113.66"), "victim4", pw).status_code == 429
    assert try_login(env, via_proxy("203.0.113.10"), "victim4", pw).status_code == 303  # the real user
    from eis_core import db

    with db.connect() as conn:
        clients = {r[0] for r in conn.execute("SELECT client FROM webapp.login_attempts WHERE username = 'victim4'")}
    assert clients == {"203.0.113.66", "203.0.113.10"}
    # an untrusted peer's header is ignored: its own address is the client
    direct = TestClient(app, follow_redirects=False, client=("198.51.100.9", 1), headers={"X-Forwarded-For": "1.2.3.4"})
    try_login(env, direct, "victim4", "wrong-password!")
    with db.connect() as conn:
        last = conn.execute("SELECT client FROM webapp.login_attempts WHERE username = 'victim4' "
                            "ORDER BY attempt_id DESC LIMIT 1").fetchone()[0]
    assert last == "198.51.100.9"


def test_an_admin_unlocks_a_locked_user_in_the_browser_form_and_the_cli(env):
    from click.testing import CliRunner

    from eis_core.webapp import store
    from eis_core.webapp.cli import users_cli

    pw = new_user(env, "victim5")
    c = client(env, ip="10.1.8.8")
    for _ in range(store.MAX_FAILURES):
        try_login(env, c, "victim5", "wrong-password!")
    assert try_login(env, c, "victim5", pw).status_code == 429
    adm = login(env, "admin", ip="10.1.0.9")
    page = adm.get("/admin/users").text
    assert re.search(r"<td>victim5</td><td>10\.1\.8\.8</td>", page)
    r = adm.post("/admin/users/victim5/unlock", data={"csrf_token": page_csrf(adm, "/admin/users")})
    assert r.status_code == 200 and "login locks lifted (1 address were locked)" in r.text
    assert audit_rows("admin", "user_unlock")[-1][0] == "victim5"
    assert audit_rows("admin", "user_unlock")[-1][2] == "10.1.0.9"  # with the admin's address
    assert try_login(env, c, "victim5", pw).status_code == 303
    for _ in range(store.MAX_FAILURES):
        try_login(env, c, "victim5", "wrong-password!")
    assert try_login(env, c, "victim5", pw).status_code == 429
    r = CliRunner().invoke(users_cli, ["unlock", "victim5"])
    assert r.exit_code == 0 and "1 locked address unlocked" in r.output
    assert try_login(env, c, "victim5", pw).status_code == 303


# ----------------------------------------------------------------------------------------- 4: audit and smaller items

def test_risk_list_json_and_page_views_are_audited(env):
    c = login(env, "ana", ip="10.1.9.1")
    before = len(audit_rows("ana", "api_risk"))
    r = c.get("/api/risk?division=CENTRAL")
    assert r.status_code == 200
    rows = audit_rows("ana", "api_risk")
    assert len(rows) == before + 1
    target, detail, ip = rows[-1]
    assert target == "risk_list" and detail["division"] == "CENTRAL" and detail["rows"] == len(r.json()["officers"])
    assert ip == "10.1.9.1"
    assert c.get("/risk?unit=CENT-1").status_code == 200
    assert audit_rows("ana", "view_risk_list")[-1][1]["unit"] == "CENT-1"


def test_every_refusal_is_audited(env):
    c = login(env, "supnorth", ip="10.1.9.2")
    assert c.get("/risk?division=SOUTH").status_code == 403
    assert audit_rows("supnorth", "denied_division")[-1][0] == "SOUTH"
    for path in ("/admin/users", "/models", "/data-docs/index.html", "/api/risk?division=SOUTH"):
        assert c.get(path).status_code == 403, path
    denied = [(t, d["reason"]) for t, d, _ in audit_rows("supnorth", "denied")]
    assert ("/admin/users", "your role (supervisor) cannot open this page") in denied
    assert "/models" in [t for t, _ in denied] and "/data-docs/index.html" in [t for t, _ in denied]
    assert c.post("/officers/OF00002/reviews", data={"csrf_token": "forged"}).status_code == 403
    assert audit_rows("supnorth", "denied")[-1][1]["reason"].startswith("csrf_token")
    assert audit_rows("supnorth", "denied")[-1][2] == "10.1.9.2"


def test_user_changes_carry_the_client_address_and_audit_detail_is_bounded(env):
    adm = login(env, "admin", ip="10.1.9.3")
    r = adm.post("/admin/users", data={"csrf_token": page_csrf(adm, "/admin/users"), "username": "auditee",
                                       "role": "analyst"})
    assert r.status_code == 200
    assert audit_rows("admin", "user_add")[-1][0] == "auditee" and audit_rows("admin", "user_add")[-1][2] == "10.1.9.3"
    assert adm.post("/admin/users/auditee/disable", data={"csrf_token": page_csrf(adm, "/admin/users")}).status_code == 303
    assert audit_rows("admin", "user_disable")[-1][2] == "10.1.9.3"
    # request input ends up in the audit; it is cut to size
    sup = login(env, "supnorth", ip="10.1.9.4")
    huge = "Z" * 20_000
    assert sup.get(f"/risk?division={huge}&unit={huge}").status_code == 403
    from eis_core import db

    with db.connect() as conn:
        target, size = conn.execute("SELECT target, length(detail::text) FROM webapp.access_audit "
                                    "WHERE username = 'supnorth' ORDER BY audit_id DESC LIMIT 1").fetchone()
    assert len(target) <= 300 and size <= 4000


def test_nul_bytes_get_400_with_the_security_headers(env):
    c = login(env, "ana", ip="10.1.9.5", raise_server_exceptions=False)
    for path in ("/officers/OF00001%00", "/api/officers/OF00001?date=%00", "/risk?unit=a%00b",
                 "/api/risk?division=%00", "/admin/audit?user=%00"):
        r = c.get(path)
        assert r.status_code == 400, (path, r.status_code)
        assert "script-src 'self'" in r.headers.get("content-security-policy", ""), path
        assert r.headers.get("x-frame-options") == "DENY", path
    r = c.post("/logout", data={"csrf_token": page_csrf(c), "x": "a\x00b"})
    assert r.status_code == 400 and "content-security-policy" in r.headers


def test_sessions_end_after_idle_time_and_per_user_limit(env):
    from eis_core import db
    from eis_core.webapp import store

    new_user(env, "idler")
    c = login(env, "idler", ip="10.1.9.6")
    assert c.get("/risk").status_code == 200
    with db.connect() as conn:
        conn.execute("UPDATE webapp.sessions SET last_seen_at = now() - interval '31 minutes' "
                     "WHERE username = 'idler'")
    r = c.get("/risk")
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert audit_rows("idler", "session_idle_timeout")
    # at most DEFAULT_MAX_SESSIONS live sessions: the least recently used one ends
    clients = [login(env, "idler", ip=f"10.1.9.{10 + i}") for i in range(store.DEFAULT_MAX_SESSIONS + 1)]
    assert clients[0].get("/risk").status_code == 303
    assert all(x.get("/risk").status_code == 200 for x in clients[1:])
    assert audit_rows("idler", "session_limit")


def test_admin_audit_viewer_filters_and_exports(env):
    sup = login(env, "supsouth", ip="10.1.9.7")
    sup.get("/risk?division=<script>alert(1)</script>")
    oid = next(o["officer_id"] for o in env["officers"] if o["division"] == "SOUTH")
    assert sup.get(f"/officers/{oid}").status_code == 200
    adm = login(env, "admin", ip="10.1.9.8")
    r = adm.get("/admin/audit?user=supsouth")
    assert r.status_code == 200
    assert "<script>alert(1)</script>" not in r.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in r.text
    assert "denied_division" in r.text and "view_officer" in r.text and "10.1.9.7" in r.text
    r = adm.get(f"/admin/audit?officer={oid}&action=view_officer")
    users = re.findall(r"<tr><td>[^<]*</td><td>([^<]+)</td><td>view_officer</td><td>" + oid, r.text)
    assert "supsouth" in users and set(re.findall(r"<td>(view_\w+|denied\w*)</td>", r.text)) == {"view_officer"}
    assert "No audit entries" in adm.get("/admin/audit?since=2001-01-01&until=2001-01-02").text
    assert adm.get("/admin/audit?since=yesterday").status_code == 400
    r = adm.get("/admin/audit.csv?user=supsouth&action=view_officer")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    lines = r.text.strip().splitlines()
    assert lines[0] == "audit_id,at,username,action,target,client,detail"
    assert len(lines) >= 2 and all(",supsouth,view_officer," in x for x in lines[1:])
    assert audit_rows("admin", "export_audit")[-1][1]["rows"] == len(lines) - 1
    assert sup.get("/admin/audit").status_code == 403
    assert login(env, "ana", ip="10.1.9.9").get("/admin/audit.csv").status_code == 403


# ----------------------------------------------------------------------------------------- admin pages (issue 16)

def test_explanation_plots_resolve_a_relative_project_path_against_eis_home(env, tmp_path, monkeypatch):
    from psycopg.types.json import Jsonb

    from eis_core import db
    from eis_core.paths import eis_home

    folder = eis_home() / "wa_project" / "reports" / "explain" / "wa_model_rf_2"
    folder.mkdir(parents=True, exist_ok=True)
    png = b"\x89PNG\r\n\x1a\n" + b"\x01" * 32
    (folder / "directionality.png").write_bytes(png)
    monkeypatch.chdir(tmp_path)  # the app's working directory is anywhere but EIS_HOME
    with db.connect() as conn:
        conn.execute("UPDATE results.experiments SET config = jsonb_set(config, '{officer,project_path}', %s) "
                     "WHERE experiment_id = %s", (Jsonb("wa_project"), wd.EXPERIMENT_ID))
    try:
        c = login(env, "ana", ip="10.1.10.1")
        r = c.get("/models/plots/wa_model_rf_2/directionality.png")
        assert r.status_code == 200 and r.content == png
        # with the model's artifact recorded, its folder decides (as the production explanations write)
        art = tmp_path / "proj2" / "models" / "wa_model_rf_2.joblib"
        (tmp_path / "proj2" / "reports" / "explain" / "wa_model_rf_2").mkdir(parents=True)
        (tmp_path / "proj2" / "reports" / "explain" / "wa_model_rf_2" / "directionality.png").write_bytes(png + b"2")
        with db.connect() as conn:
            conn.execute("UPDATE results.models SET artifact_path = %s WHERE model_id = 'wa_model_rf_2'", (str(art),))
        assert c.get("/models/plots/wa_model_rf_2/directionality.png").content == png + b"2"
    finally:
        with db.connect() as conn:
            conn.execute("UPDATE results.experiments SET config = config #- '{officer,project_path}'")
            conn.execute("UPDATE results.models SET artifact_path = NULL WHERE model_id = 'wa_model_rf_2'")


def test_admin_re_enables_re_roles_and_resets_users_and_typos_are_refused(env):
    adm = login(env, "admin", ip="10.1.10.2")
    token = page_csrf(adm, "/admin/users")
    r = adm.post("/admin/users", data={"csrf_token": token, "username": "mover", "role": "supervisor",
                                       "division": "NORHT"})
    assert r.status_code == 400 and "not a division of the scored officers" in r.text and "NORTH" in r.text
    r = adm.post("/admin/users", data={"csrf_token": token, "username": "mover", "role": "supervisor",
                                       "division": "north"})
    assert r.status_code == 200
    env["passwords"]["mover"] = re.search(r'id="new-password">([^<]+)<', r.text).group(1)
    assert "<td>mover</td><td>supervisor</td><td>NORTH</td>" in adm.get("/admin/users").text  # canonical spelling
    sup = login(env, "mover", ip="10.1.10.3")
    assert sup.get("/models").status_code == 403
    # re-role: supervisor of SOUTH -> analyst; the live session ends (its rights changed)
    r = adm.post("/admin/users/mover/role", data={"csrf_token": token, "role": "supervisor", "division": "SOUTHH"})
    assert r.status_code == 400 and "division:" in r.text
    assert adm.post("/admin/users/mover/role", data={"csrf_token": token, "role": "analyst"}).status_code == 303
    assert sup.get("/risk").status_code == 303
    assert login(env, "mover", ip="10.1.10.3").get("/models").status_code == 200
    # disable, enable
    assert adm.post("/admin/users/mover/disable", data={"csrf_token": token}).status_code == 303
    c = client(env, ip="10.1.10.4")
    assert try_login(env, c, "mover", env["passwords"]["mover"]).status_code == 401
    assert adm.post("/admin/users/mover/enable", data={"csrf_token": token}).status_code == 303
    assert try_login(env, client(env, ip="10.1.10.4"), "mover", env["passwords"]["mover"]).status_code == 303
    # a new password: the old one stops working
    r = adm.post("/admin/users/mover/reset", data={"csrf_token": token})
    new_pw = re.search(r'id="new-password">([^<]+)<', r.text).group(1)
    assert try_login(env, client(env, ip="10.1.10.5"), "mover", env["passwords"]["mover"]).status_code == 401
    assert try_login(env, client(env, ip="10.1.10.5"), "mover", new_pw).status_code == 303
    assert adm.post("/admin/users/admin/role", data={"csrf_token": token, "role": "analyst"}).status_code == 400
    assert adm.post("/admin/users/nobody/enable", data={"csrf_token": token}).status_code == 404
    changes = [d for _, d, ip in audit_rows("admin", "user_update") if ip == "10.1.10.2"]
    assert {"enabled": True} in changes and {"password_reset": True} in changes
    assert any(d.get("role") == "analyst" and d["previous"]["division"] == "NORTH" for d in changes)
