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
