"""Users scoped by department (issue 15, item 2): two departments loaded side by side with scored data
(tests/webapp_data.py into each department's own database), and every route of the web app -- walked
from ``app.routes``, not listed by hand -- tried by every role of one department on the other's
resources (an officer, an alert, a model, a user that exist only there): 403 or 404 on each, no page
showing the other's rows, and not one row of the other department's database changed.  A platform admin
sees a department only after switching to it; supervisors stay division-scoped inside their department;
the department of a request reaches sync routes and their sync dependencies (a context variable set by
the gate before the route runs)."""

from __future__ import annotations

import hashlib
import re

import pytest
import webapp_data as wd
from psycopg import sql

A, B = "default", "wd_east"
#: officer-id prefixes, so that a page showing the other department's officers is caught
PREFIX = {A: "OF", B: "BF"}
ROLES = {"admin": None, "analyst": None, "supervisor": "NORTH"}
ALERT_FLOOR = {A: 0, B: 5000}  # B's alert ids start above A's: an id of B names no alert of A
#: what POST routes get in their forms (with a good CSRF token)
FORM = {"reason": "scoping test: must never reach the other department", "body": "a note", "role": "analyst",
        "username": "newcomer", "assigned_to": "x", "department": B, "meeting_notes": "n", "close_notes": "n",
        "as_of_date": wd.LATEST.isoformat(), "meeting_date": wd.LATEST.isoformat(), "agrees": "yes",
        "intervention": "none", "experiment": wd.EXPERIMENT_ID, "model_group_id": "wa_group_rf"}
#: path parameters naming something that exists in one department only (a Data Docs file name, a plot
#: name, a step are the same words everywhere: those pages are checked for the other's rows instead)
RESOURCES = ("officer_id", "alert_id", "model_id", "username")
USER_ACTIONS = ("disable", "enable", "unlock", "reset", "role", "contact")
ALERT_STEPS = ("acknowledge", "meeting", "review", "follow_up", "close", "assign")


def uname(dept: str, role: str) -> str:
    return f"{'a' if dept == A else 'b'}_{role}"


@pytest.fixture(scope="module")
def env(warehouse, tmp_path_factory):
    from eis_core import db, departments
    from eis_core.departments import registry

    cleanup = wd.isolated_database("eis_webapp_depts")
    try:
        registry.add(B)
        res: dict = {}
        for dept in (A, B):
            with departments.use(dept):
                seeded = wd.seed_all(n_officers=30, n_divisions=3, prefix=PREFIX[dept])
                with db.connect() as conn:
                    conn.execute("SELECT setval('production.alerts_alert_id_seq', %s, false)", (ALERT_FLOOR[dept] + 1,))
                    # a model only this department has
                    conn.execute(
                        "INSERT INTO results.models SELECT (jsonb_populate_record(NULL::results.models, "
                        "to_jsonb(m) || jsonb_build_object('model_id', %s::text))).* FROM results.models m "
                        "WHERE model_id = 'wa_model_rf_3'",
                        (f"only_{dept}_model",),
                    )
                from eis_core.production import alerts

                ids = alerts.raise_alerts(as_of=wd.LATEST, by="tests", today=wd.LATEST)
                assert ids and min(ids) > ALERT_FLOOR[dept]
                with db.connect() as conn:
                    aid, oid, div = conn.execute(
                        "SELECT alert_id, officer_id, division FROM production.alerts ORDER BY alert_id LIMIT 1"
                    ).fetchone()
                offs = seeded["officers"]
                res[dept] = {
                    "officer": next(o["officer_id"] for o in offs if o["division"] == "NORTH"),
                    "south_officer": next(o["officer_id"] for o in offs if o["division"] == "SOUTH"),
                    "alert": str(aid),
                    "model": f"only_{dept}_model",
                    "user": uname(dept, "supervisor"),
                }
        from eis_core.webapp import store
        from eis_core.webapp.app import create_app
        from eis_core.webapp.security import Settings

        passwords = {}
        for dept in (A, B):
            for role, div in ROLES.items():
                passwords[uname(dept, role)] = store.add_user(uname(dept, role), role, div, department=dept)
        passwords["plat"] = store.add_user("plat", "platform_admin")
        from eis_core.webapp.datadocs import data_docs_dir

        for dept in (A, B):  # each department's own Data Docs, naming one of its officers
            with departments.use(dept):
                docs = data_docs_dir()
                docs.mkdir(parents=True, exist_ok=True)
                (docs / "index.html").write_text(f"<html><body>docs of {res[dept]['officer']}</body></html>")
        app = create_app(Settings(secret="d" * 40, session_hours=1, sweep_seconds=3600))
        yield {"app": app, "passwords": passwords, "res": res}
    finally:
        import psycopg

        # B's database goes; the registry (and its row of B) is the isolated default database
        with psycopg.connect(db.database_url("postgres"), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(db.warehouse_db(B))))
        cleanup()
        from eis_core import migrations

        migrations.forget()


def login(env, user: str, ip: str = "10.9.0.1"):
    from starlette.testclient import TestClient

    c = TestClient(env["app"], follow_redirects=False, client=(ip, 50000))
    token = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").text).group(1)
    r = c.post("/login", data={"username": user, "password": env["passwords"][user], "csrf_token": token})
    assert r.status_code == 303, r.text[:300]
    c.csrf = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/risk").text).group(1)
    return c


def checksums(department: str, skip_registry: bool = False) -> dict[str, str]:
    """md5 of every base table of the department's database (the registry's own tables left out when
    *skip_registry*: logins and sessions of every department live there)."""
    from eis_core import db, departments

    out = {}
    with departments.use(department), db.connect() as c:
        tables = c.execute(
            "SELECT table_schema, table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE' "
            "AND table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2"
        ).fetchall()
        for schema, table in tables:
            if skip_registry and schema == "webapp":
                continue
            q = sql.SQL("SELECT coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '') FROM {}.{} t").format(
                sql.Identifier(schema), sql.Identifier(table)
            )
            out[f"{schema}.{table}"] = hashlib.md5(c.execute(q).fetchone()[0].encode()).hexdigest()
    return out


def requests_for(app, res: dict) -> list[tuple[str, str, str, bool]]:
    """(method, route path, url, names a resource) for every route of *app* (``app.routes``), its path
    parameters filled with *res* (the other department's officer, alert, model, user), every user action
    and alert step, and its resource-like query parameters set to the other department's ids."""
    from fastapi.routing import APIRoute
    from starlette.routing import Mount

    fill = {"officer_id": [res["officer"]], "alert_id": [res["alert"]], "model_id": [res["model"]],
            "username": [res["user"]], "action": list(USER_ACTIONS), "step": list(ALERT_STEPS),
            "name": ["risk_curve.png"], "path": ["index.html"]}
    query = {"model": res["model"], "officer": res["officer"], "user": res["user"], "call_id": "C1",
             "officer_id": res["officer"]}
    out = []
    for route in app.routes:
        if isinstance(route, Mount):
            out.append(("GET", route.path, route.path + "/app.css", False))
            continue
        assert isinstance(route, APIRoute), route
        params = re.findall(r"{(\w+)(?::\w+)?}", route.path)
        assert all(p in fill for p in params), f"{route.path}: a path parameter this test does not know"
        urls = [route.path]
        for p in params:
            urls = [re.sub(r"{" + p + r"(?::\w+)?}", v, u) for u in urls for v in fill[p]]
        qnames = [p.name for p in route.dependant.query_params if p.name in query]
        for method in sorted(route.methods - {"HEAD"}):
            for u in urls:
                qs = "&".join(f"{n}={query[n]}" for n in qnames)
                names_one = any(p in RESOURCES for p in params) or bool(qnames)
                out.append((method, route.path, u + ("?" + qs if qs else ""), names_one))
    return out


def markers(dept: str, res: dict) -> re.Pattern:
    """What would betray a page showing *dept*'s rows: its officer ids, its own model, its users."""
    return re.compile(rf"\b{PREFIX[dept]}0\d{{4}}\b|{res['model']}|\b{'a' if dept == A else 'b'}_(admin|analyst|supervisor)\b")


def attack(c, method: str, url: str):
    if method == "GET":
        return c.get(url)
    return c.post(url.split("?")[0], data={**FORM, "csrf_token": c.csrf})


def test_every_route_every_role_refuses_the_other_department(env):
    app, res = env["app"], env["res"]
    checked = 0
    for mine, other in ((A, B), (B, A)):
        reqs = requests_for(app, res[other])
        assert len({r[1] for r in reqs}) >= 30  # every route of the app, mounts included
        before = checksums(other, skip_registry=other == A)
        leak = markers(other, res[other])
        for role in ROLES:
            c = login(env, uname(mine, role))
            for method, path, url, resource in reqs:
                if path in ("/login", "/logout"):
                    continue  # not department data; logging out would end this client's session
                r = attack(c, method, url)
                assert r.status_code != 500, (role, method, url, r.text[:300])
                if resource and path not in ("/admin/audit", "/admin/audit.csv", "/api/dispatch/suggest",
                                             "/models"):
                    assert r.status_code in (403, 404), (mine, role, method, url, r.status_code, r.text[:200])
                text = r.text
                for echoed in re.findall(r"[\w.]+", url):  # a 404 may repeat the id asked for: input, not a leak
                    text = text.replace(echoed, "") if len(echoed) > 4 else text
                found = leak.search(text)
                assert found is None, (mine, role, method, url, found and found.group(0))
                checked += 1
        # not one row of the other department changed (its audit included: refusals audit where they ran)
        assert checksums(other, skip_registry=other == A) == before
    n_routes = len({r[1] for r in reqs})
    n_reqs = len([r for r in reqs if r[1] not in ("/login", "/logout")])
    assert checked == 2 * len(ROLES) * n_reqs
    print(f"{n_routes} routes ({n_reqs} requests each way) x {len(ROLES)} roles x 2 departments: {checked} requests")


def test_own_resources_open_and_supervisors_stay_in_their_division(env):
    res = env["res"]
    for dept in (A, B):
        r = res[dept]
        admin = login(env, uname(dept, "admin"))
        for url in (f"/officers/{r['officer']}", f"/api/officers/{r['officer']}", f"/alerts/{r['alert']}",
                    "/admin/users"):
            resp = admin.get(url)
            assert resp.status_code == 200, (dept, url, resp.status_code)
        assert r["officer"] in admin.get("/risk").text
        assert uname(dept, "supervisor") in admin.get("/admin/users").text
        assert "plat" not in admin.get("/admin/users").text  # platform admins are not a department's to manage
        for action in USER_ACTIONS:
            resp = admin.post(f"/admin/users/plat/{action}", data={**FORM, "csrf_token": admin.csrf})
            assert resp.status_code == 404, (dept, action, resp.status_code)
        sup = login(env, uname(dept, "supervisor"))
        assert sup.get(f"/officers/{r['officer']}").status_code == 200
        assert sup.get(f"/officers/{r['south_officer']}").status_code == 403
        assert r["south_officer"] not in sup.get("/risk").text
        # a department's admin cannot make a platform admin nor a user of another department
        resp = admin.post("/admin/users", data={"csrf_token": admin.csrf, "username": f"x_{dept[:4]}",
                                                "role": "platform_admin"})
        assert resp.status_code == 400


def test_platform_admin_sees_a_department_only_after_switching(env):
    from eis_core import db
    from eis_core.webapp import store

    res = env["res"]
    c = login(env, "plat")
    assert c.get(f"/officers/{res[B]['officer']}").status_code == 404
    assert c.get(f"/officers/{res[A]['officer']}").status_code == 200
    assert c.get("/admin/departments").status_code == 200 and B in c.get("/admin/departments").text
    assert c.post("/department", data={"csrf_token": c.csrf, "department": "nowhere"}).status_code == 404
    assert c.post("/department", data={"csrf_token": c.csrf, "department": B}).status_code == 303
    assert c.get(f"/officers/{res[B]['officer']}").status_code == 200
    assert c.get(f"/alerts/{res[B]['alert']}").status_code == 200
    assert c.get(f"/officers/{res[A]['officer']}").status_code == 404
    page = c.get("/admin/users").text
    assert uname(B, "analyst") in page and uname(A, "analyst") not in page
    # the platform admin manages B's users from there; the change audits in the registry, marked B
    r = c.post(f"/admin/users/{uname(B, 'analyst')}/reset", data={"csrf_token": c.csrf})
    assert r.status_code == 200
    env["passwords"][uname(B, "analyst")] = re.search(r'id="new-password">([^<]+)<', r.text).group(1)
    with store.registry() as conn:
        dept = conn.execute("SELECT department FROM webapp.access_audit WHERE action = 'user_update' "
                            "AND target = %s ORDER BY audit_id DESC LIMIT 1", (uname(B, "analyst"),)).fetchone()
    assert dept == (B,)
    assert c.get("/department").status_code in (404, 405)
    # the choice is checked against the registry on every request: an unregistered department is not viewed
    with db.connect(db.warehouse_db(A)) as conn:
        row = conn.execute("SELECT * FROM platform.departments WHERE name = %s", (B,)).fetchone()
        conn.execute("DELETE FROM platform.departments WHERE name = %s", (B,))
    try:
        assert c.get(f"/officers/{res[B]['officer']}").status_code == 404
        assert c.get(f"/officers/{res[A]['officer']}").status_code == 200
        b_user = login_fails(env, uname(B, "admin"))
        assert b_user == 401
    finally:
        with db.connect(db.warehouse_db(A)) as conn:
            conn.execute("INSERT INTO platform.departments VALUES (%s, %s, %s, %s, %s)", row)


def login_fails(env, user: str) -> int:
    from starlette.testclient import TestClient

    c = TestClient(env["app"], follow_redirects=False, client=("10.9.9.9", 50000))
    token = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").text).group(1)
    return c.post("/login", data={"username": user, "password": env["passwords"][user], "csrf_token": token}).status_code


def test_the_department_reaches_sync_routes_and_their_sync_dependencies(env):
    """The gate sets the department before the route runs: sync dependencies and sync routes run in
    worker threads that get a copy of the context (anyio), async routes in the task itself."""
    from fastapi import Depends

    from eis_core import departments
    from eis_core.webapp.app import create_app
    from eis_core.webapp.security import Settings

    app = create_app(Settings(secret="d" * 40, session_hours=1))
    seen: dict = {}

    def sync_dep() -> str:
        seen["dep"] = departments.current()
        return seen["dep"]

    def sync_route(dep: str = Depends(sync_dep)):
        return {"route": departments.current(), "dep": dep}

    async def async_route():
        return {"route": departments.current()}

    app.add_api_route("/probe/sync", sync_route)
    app.add_api_route("/probe/async", async_route)
    probe = {"app": app, "passwords": env["passwords"]}
    for user, dept in ((uname(A, "analyst"), A), (uname(B, "analyst"), B)):
        c = login(probe, user)
        assert c.get("/probe/sync").json() == {"route": dept, "dep": dept}
        assert c.get("/probe/async").json() == {"route": dept}


def test_users_cli_puts_users_in_departments(env, monkeypatch):
    from click.testing import CliRunner

    from eis_core.cli import main
    from eis_core.webapp import store

    monkeypatch.setenv("EIS_DEPARTMENT", A)  # `eis --department` sets it for the process: undone after the test
    run = CliRunner().invoke
    r = run(main, ["users", "add", "cli_sup", "--role", "supervisor", "--department", B, "--division", "SOUTH"])
    assert r.exit_code == 0, r.output
    assert {"department": B, "division": "SOUTH"}.items() <= next(
        u for u in store.list_users() if u["username"] == "cli_sup").items()
    r = run(main, ["users", "add", "cli_x", "--role", "analyst", "--department", "nowhere"])
    assert r.exit_code != 0 and "no department 'nowhere'" in r.output
    r = run(main, ["users", "add", "cli_p", "--role", "platform_admin", "--department", B])
    assert r.exit_code != 0 and "platform admin belongs to the installation" in r.output
    r = run(main, ["--department", B, "users", "add", "cli_y", "--role", "supervisor", "--division", "NOWHERE"])
    assert r.exit_code != 0 and "not a division of the scored officers" in r.output
    r = run(main, ["users", "list", "--department", B])
    assert r.exit_code == 0 and "cli_sup" in r.output and uname(A, "admin") not in r.output


def test_alerts_go_to_the_departments_own_supervisors_and_admins(env):
    """Assignment, escalation and reassignment read the registry's users of the current department only
    (both departments have a NORTH division and a supervisor of it)."""
    from eis_core import db, departments
    from eis_core.production import alerts

    for dept in (A, B):
        with departments.use(dept), db.connect() as conn:
            assert alerts.assignee_for(conn, "NORTH") == uname(dept, "supervisor")
            assert alerts.next_level(conn, uname(dept, "supervisor"), "NORTH") == uname(dept, "admin")
    with departments.use(B):
        with pytest.raises(alerts.AlertError, match="assigned_to"):
            alerts.reassign(int(env["res"][B]["alert"]), uname(B, "admin"), uname(A, "supervisor"))
        assert alerts.reassign(int(env["res"][B]["alert"]), uname(B, "admin"), uname(B, "admin"))["assigned_to"] == (
            uname(B, "admin")
        )


def test_the_app_refuses_to_start_while_a_department_is_behind(env):
    from eis_core import departments, migrations
    from eis_core.webapp.app import create_app
    from eis_core.webapp.security import Settings

    with departments.use(B):
        migrations.downgrade("0008")
    try:
        with pytest.raises(migrations.SchemaBehind, match=f"department {B}: .*eis --department {B} db upgrade"):
            create_app(Settings(secret="d" * 40))
    finally:
        migrations.forget()
        with departments.use(B):
            migrations.upgrade()


def test_removing_a_department_retires_its_users(env):
    """(Last in the module: B's users are disabled.)  ``eis department remove`` disables the department's
    users and ends their sessions, so a department added again under the name does not revive them."""
    from eis_core.webapp import store

    c = login(env, uname(B, "admin"))
    assert c.get("/risk").status_code == 200
    assert store.retire_department_users(B) == sorted([uname(B, r) for r in ROLES] + ["cli_sup"])
    assert c.get("/risk").status_code == 303  # the session ended at once
    assert login_fails(env, uname(B, "admin")) == 401
    assert login(env, uname(A, "admin")).get("/risk").status_code == 200
