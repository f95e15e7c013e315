"""End-to-end tests of the web app in a real browser: headless Debian Chromium (/usr/bin/chromium) driven
by Playwright for Python, against uvicorn serving the real app on a loopback port, over a real
PostgreSQL database seeded by tests/webapp_data.py.

No browser is ever downloaded (`playwright install` is never run).  When Chromium is missing these
tests FAIL with the command that installs it (`.ci/run` installs it before `make test`).

Screenshots of every page go to a pytest tmp folder whose path is printed; with
EIS_WEBAPP_DOC_SCREENSHOTS=1 they are also copied to docs/img/webapp-<page>.png.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

import webapp_data as wd
from test_notify import SmtpSink

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
DOCS_IMG = Path(__file__).resolve().parent.parent / "docs" / "img"
OTHER = "e2e_east"  # a second department of the installation
#: a stored-XSS attempt through a drop: read the admin's user page (its CSRF token) and show it off
XSS_PAYLOAD = ("<script>fetch('/admin/users').then(r => r.text()).then(t => { document.title = 'PWNED ' + "
               "(t.match(/csrf_token\" value=\"([^\"]+)/) || ['', 'no token'])[1]; "
               "document.body.setAttribute('data-pwned', document.cookie || 'ran'); })</script>")
#: what Chromium logs when the Data Docs' own (and any injected) scripts are refused - the point of the CSP
BLOCKED_SCRIPT = re.compile(r"Blocked script execution in .*sandboxed|Refused to (execute|load) .*script|"
                            r"Refused to load the (stylesheet|image|font)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(warehouse, tmp_path_factory):
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: the browser tests need Debian's chromium "
                    "(apt-get update && apt-get install -y chromium chromium-driver; .ci/run does this)")
    import uvicorn

    cleanup = wd.isolated_database("eis_webapp_e2e")
    srv = sink = None
    try:
        # (loaded first, so that the seeded load below stays the newest on /data-quality)
        # real Great Expectations Data Docs: the loader validates a drop whose officers.csv carries a
        # script in `race`; GE quarantines the row and shows the value, unescaped, in its validation page
        from minidrop import valid_tables, write_drop

        from eis_core.load.loader import load_drop
        from eis_core.webapp.app import data_docs_dir

        tables = valid_tables()
        tables["officers"][3]["race"] = XSS_PAYLOAD
        load_drop(write_drop(tmp_path_factory.mktemp("xss_drop"), tables), progress=lambda m: None)
        pages = [p for p in (data_docs_dir() / "validations").rglob("*.html") if XSS_PAYLOAD in p.read_text()]
        assert pages, "the validation page does not show the quarantined value (the test would prove nothing)"
        xss_page = "/data-docs/" + pages[0].relative_to(data_docs_dir()).as_posix()
        seeded = wd.seed_all(n_officers=60, n_divisions=3)
        from eis_core import db
        from eis_core.webapp import store
        from eis_core.webapp.app import create_app
        from eis_core.webapp.security import Settings

        # alert e-mails go to a real SMTP server on a loopback socket (tests/test_notify.py's sink)
        sink = SmtpSink().__enter__()
        mp = pytest.MonkeyPatch()
        mp.setenv("EIS_WEBAPP_SMTP_HOST", "127.0.0.1")
        mp.setenv("EIS_WEBAPP_SMTP_PORT", str(sink.port))
        mp.setenv("EIS_WEBAPP_EMAIL_FROM", "eis@pd.example")
        with db.connect() as conn:  # the sergeant of the division of the officer ranked first
            flag_division = conn.execute("SELECT division FROM production.predictions WHERE as_of_date = %s "
                                         "ORDER BY rank_abs LIMIT 1", (wd.LATEST,)).fetchone()[0]
        pw = {"admin": store.add_user("admin", "admin"),
              "supnorth": store.add_user("supnorth", "supervisor", "NORTH"),
              "sgtflag": store.add_user("sgtflag", "supervisor", flag_division)}
        store.set_contact("sgtflag", by="test", email="sgtflag@pd.example")
        # a second department beside it (its own database, other officer ids) and a platform admin
        from eis_core import departments
        from eis_core.departments import registry

        registry.add(OTHER)
        with departments.use(OTHER):
            wd.seed_all(n_officers=12, n_divisions=2, prefix="BF")
        pw["plat"] = store.add_user("plat", "platform_admin")
        app = create_app(Settings(secret="e" * 40, session_hours=1), data_docs=data_docs_dir())
        port = _free_port()
        srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=srv.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not srv.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        shots = tmp_path_factory.mktemp("webapp_screenshots")
        print(f"\nweb app screenshots: {shots}")
        yield {"base": f"http://127.0.0.1:{port}", "passwords": pw, "officers": seeded["officers"], "shots": shots,
               "xss_page": xss_page, "sink": sink, "flag_division": flag_division}
    finally:
        if srv is not None:
            srv.should_exit = True
            time.sleep(0.3)
        if sink is not None:
            mp.undo()
            sink.__exit__(None, None, None)
        drop_department_database(OTHER)
        cleanup()


def drop_department_database(name: str) -> None:
    import psycopg
    from psycopg import sql

    from eis_core import db, migrations

    with psycopg.connect(db.database_url("postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(db.warehouse_db(name))))
    migrations.forget()


@pytest.fixture(scope="module")
def browser(server):
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    yield b
    b.close()
    pw.stop()


class Session:
    """One browser context (its own cookies) that records every request and every console error."""

    def __init__(self, browser, server, width: int = 1400) -> None:
        self.server = server
        self.ctx = browser.new_context(viewport={"width": width, "height": 900})
        self.page = self.ctx.new_page()
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def submit(self, selector: str) -> None:
        """Click a submit button and wait for the page it leads to."""
        with self.page.expect_navigation():
            self.page.click(selector)

    def url(self, path: str) -> str:
        return self.server["base"] + path

    def login(self, user: str) -> None:
        self.page.goto(self.url("/login"))
        self.page.fill("#username", user)
        self.page.fill("#password", self.server["passwords"][user])
        self.submit("#login")
        assert "/login" not in self.page.url, self.page.content()[:500]

    def shot(self, name: str) -> None:
        path = self.server["shots"] / f"webapp-{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        if os.environ.get("EIS_WEBAPP_DOC_SCREENSHOTS") == "1":
            DOCS_IMG.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, DOCS_IMG / path.name)

    def doc_shot(self, name: str) -> None:
        """A 1280×900 viewport screenshot for docs/supervisors.md (copied to docs/img/ with
        EIS_WEBAPP_DOC_SCREENSHOTS=1)."""
        path = self.server["shots"] / f"supervisor-{name}.png"
        self.page.screenshot(path=str(path), full_page=False)
        if os.environ.get("EIS_WEBAPP_DOC_SCREENSHOTS") == "1":
            DOCS_IMG.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, DOCS_IMG / path.name)

    def charts_rendered(self) -> int:
        self.page.wait_for_function("() => [...document.querySelectorAll('canvas[data-chart]')]"
                                    ".every(c => c.dataset.rendered === '1')", timeout=5000)
        return self.page.locator("canvas[data-chart]").count()

    def close(self, allow: re.Pattern | None = None) -> None:
        external = [u for u in self.requests if not u.startswith(self.server["base"]) and not u.startswith("data:")]
        assert not external, f"the app requested resources outside itself: {external[:5]}"
        # the pages answered with 401/403 on purpose log their status; anything else (a CSP violation,
        # a script error, a missing file) is a failure unless the test allows it (*allow*)
        bad = [e for e in self.errors
               if not re.match(r"Failed to load resource: the server responded with a status of 40[013]", e)
               and not (allow and allow.search(e))]
        assert not bad, f"browser console errors (CSP violations included): {bad[:5]}"
        self.ctx.close()


def test_request_without_session_is_redirected_to_login(browser, server):
    s = Session(browser, server)
    resp = s.page.goto(s.url("/officers/OF00001"))
    assert re.search(r"/login\?next=%2Fofficers%2FOF00001$", s.page.url)
    assert resp.status == 200 and s.page.locator("#login").is_visible()
    s.shot("login")
    s.page.fill("#username", "admin")
    s.page.fill("#password", "not-the-password")
    s.submit("#login")
    assert "Unknown user or wrong password" in s.page.content(), s.page.inner_text("main")
    s.close()


def test_supervisor_logs_in_opens_an_officer_and_submits_a_review(browser, server):
    s = Session(browser, server)
    s.login("supnorth")
    assert s.page.url.endswith("/risk")
    rows = s.page.locator("#risk-table tbody tr")
    north = [o for o in server["officers"] if o["division"] == "NORTH"]
    assert rows.count() == len(north)
    assert s.page.locator("#whoami").inner_text().startswith("supnorth")
    s.shot("risk-list")
    first = s.page.locator("#risk-table tbody tr").first.locator("a")
    oid = first.inner_text()
    with s.page.expect_navigation():
        first.click()
    assert f"/officers/{oid}" in s.page.url
    assert s.charts_rendered() == 1
    n_facts = s.page.locator("#factors tbody tr").count()
    assert 1 <= n_facts <= 5  # the 5 stored factors, the same fact over several windows shown once
    assert not re.search(r"_missing|macro|ia_days|imputed", s.page.inner_text("#factors"))
    s.shot("officer")
    # an incomplete review is refused with the field named
    s.page.check("input[name=agrees_with_score][value=no]")
    s.submit("#submit-review")
    errors = s.page.locator("#review-errors").inner_text()
    assert "dismissal_reason" in errors and "factor_agreement" in errors
    # a complete one is saved and listed
    s.page.check("input[name=agrees_with_score][value=yes]")
    for radio in s.page.locator("input[type=radio][value=agree]").all():
        radio.check()
    s.page.select_option("#intervention", "counselling")
    s.page.fill("input[name=intervention_date]", "2024-06-15")
    s.page.fill("textarea[name=notes]", "Offered peer support; follow up in July.")
    s.submit("#submit-review")
    assert s.page.locator("#review-saved").is_visible()
    table = s.page.locator("#review-table").inner_text()
    assert "supnorth" in table and "counselling (2024-06-15)" in table and "Offered peer support" in table
    assert "5 / 5" in table
    s.shot("officer-reviewed")
    s.page.goto(s.url("/risk"))
    row = s.page.locator("#risk-table tbody tr", has=s.page.locator(f"a:text-is('{oid}')"))
    assert "reviewed" in row.inner_text()
    s.close()


def test_supervisor_is_refused_another_division(browser, server):
    s = Session(browser, server)
    s.login("supnorth")
    south = next(o["officer_id"] for o in server["officers"] if o["division"] == "SOUTH")
    resp = s.page.goto(s.url(f"/officers/{south}"))
    assert resp.status == 403
    assert "you supervise NORTH" in s.page.locator("#error-detail").inner_text()
    s.shot("forbidden")
    resp = s.page.goto(s.url("/models"))
    assert resp.status == 403
    s.submit("#logout")
    assert "/login" in s.page.url
    s.page.goto(s.url("/risk"))
    assert "/login?next=" in s.page.url
    s.close()


def test_admin_pages_render_with_their_charts(browser, server):
    s = Session(browser, server)
    s.login("admin")
    for name, path, charts, text in (
            ("models", "/models", 6, "Against the legacy EIS"),
            ("units", "/units", 1, "Flag rates by group"),
            ("data-quality", "/data-quality", 0, "closed_date 2019-02-01 is before reported_date"),
            ("users", "/admin/users", 0, "supnorth"),
            ("severity", "/severity", 0, "Crime-severity model monitoring"),
            ("forecasts", "/forecasts", 0, "forecasts")):
        resp = s.page.goto(s.url(path))
        assert resp.status == 200, path
        assert text in s.page.content(), path
        if charts:
            assert s.charts_rendered() == charts, path
        s.shot(name)
    s.page.goto(s.url("/risk"))
    with s.page.expect_download() as dl:
        s.page.click("#export-csv")
    assert dl.value.suggested_filename == "eis-risk-2024-06-01.csv"
    s.page.goto(s.url("/data-quality"))
    s.submit("#data-docs-link")
    assert "/data-docs/index.html" in s.page.url and "Data Docs" in s.page.content()
    s.close(allow=BLOCKED_SCRIPT)


def test_data_docs_script_from_a_drop_cannot_act_on_the_app(browser, server):
    """Stored XSS (issue 16, 1): an admin opens the GE validation page that shows the quarantined
    `<script>`; it must not run on the app's origin - no request to /admin/users, no cookie, no token."""
    s = Session(browser, server)
    s.login("admin")
    hits: list[str] = []
    s.page.on("request", lambda r: hits.append(r.url) if "/admin/users" in r.url else None)
    resp = s.page.goto(s.url("/data-quality"))
    assert resp.status == 200
    link = s.page.locator(f"#validation-reports a[href='{server['xss_page']}']")
    assert link.count() == 1, s.page.inner_text("#validation-reports")
    with s.page.expect_navigation():
        link.click()
    assert s.page.url.endswith(server["xss_page"]), s.page.url
    html = s.page.content()
    assert "validate" in html.lower() or "expectation" in html.lower(), html[:300]
    csp = s.page.evaluate("() => document.title")  # the payload would set it
    s.page.wait_for_timeout(1500)  # time for the payload's fetch to come back, had it run
    assert not csp.startswith("PWNED") and not s.page.title().startswith("PWNED")
    assert s.page.locator("body[data-pwned]").count() == 0
    assert hits == [], f"the Data Docs page reached the app: {hits}"
    # the served page really carries the attack (so the test proves something) under the sandbox CSP
    r = s.ctx.request.get(s.url(server["xss_page"]))
    assert r.status == 200 and XSS_PAYLOAD in r.text()
    policy = r.headers["content-security-policy"]
    assert policy.startswith("sandbox;") and "script-src 'none'" in policy and "allow-same-origin" not in policy
    s.shot("data-docs")
    # navigating inside the sandboxed docs still works (the session cookie is sent; the page is no dead end)
    with s.page.expect_navigation():
        s.page.locator("a[href$='expectations/raw_officers.html']").first.click()
    assert s.page.url.endswith("/expectations/raw_officers.html") and "/login" not in s.page.url, s.page.url
    assert hits == []
    s.close(allow=BLOCKED_SCRIPT)


def test_supervisor_works_an_alert_from_flag_to_close(browser, server):
    """flag -> alert -> acknowledge -> meeting -> review and intervention -> follow-up -> close, in
    Chromium; the assignment e-mail reaches the local SMTP sink; every step is in the admin's audit."""
    from datetime import date, timedelta

    s = Session(browser, server, width=1280)
    s.login("sgtflag")
    assert s.page.url.endswith("/risk")
    flagged = s.page.locator("#risk-table tbody tr.flagged")
    assert flagged.count() >= 1
    oid = flagged.first.get_attribute("data-officer")
    s.doc_shot("risk-list")
    # the flag became an alert assigned to this sergeant, and the e-mail says so
    mails = [m for m in server["sink"].wait_for(1) if m["To"] == "sgtflag@pd.example" and oid in m["Subject"]]
    assert mails, [m["Subject"] for m in server["sink"].messages]
    with s.page.expect_navigation():
        flagged.first.locator("a[href^='/alerts/']").click()
    aid = s.page.url.rsplit("/", 1)[1]
    assert f"/alerts/{aid}" in mails[0].get_payload()
    assert "sgtflag" in s.page.inner_text("#alert-assignee")
    assert s.page.locator("#alert-factors li").count() >= 1
    s.submit("#acknowledge")
    assert "acknowledged" in s.page.inner_text("#alert-status")
    today = date.today()
    s.page.fill("#meeting_date", today.isoformat())
    s.page.fill("textarea[name=meeting_notes]", "Met in the sergeant's office; talked about the last months.")
    s.submit("#record-meeting")
    assert "choose an intervention" in s.page.inner_text("#alert-status")
    s.page.check("#alert-review-form input[name=agrees_with_score][value=yes]")
    for radio in s.page.locator("#alert-review-form input[type=radio][value=agree]").all():
        radio.check()
    s.page.select_option("#alert-intervention", "mentoring")
    s.page.fill("#intervention_date", today.isoformat())
    s.page.fill("#follow_up_date", (today + timedelta(days=14)).isoformat())
    s.page.fill("#alert-review-form textarea[name=notes]", "Paired with an experienced officer for a month.")
    s.submit("#save-review")
    assert "follow-up to do" in s.page.inner_text("#alert-status")
    assert (today + timedelta(days=14)).isoformat() in s.page.inner_text("#alert-due")
    s.doc_shot("alert")
    s.page.fill("#follow_up_notes", "Going well; no new complaints.")
    s.submit("#record-follow-up")
    s.page.fill("#close_notes", "Mentoring completed.")
    s.submit("#close-alert")
    assert "closed" in s.page.inner_text("#alert-status")
    assert s.page.locator("#alert-review-form").count() == 0  # no longer editable
    steps = s.page.inner_text("#alert-events")
    for step in ("created", "acknowledged", "meeting", "intervention", "follow up", "closed"):
        assert step in steps, step
    # the officer page: the alert, the peers, the timeline with the intervention
    s.page.goto(s.url(f"/officers/{oid}"))
    assert "Intervention: Mentoring" in s.page.inner_text("#timeline")
    assert s.page.locator("#peer-table tbody tr").count() >= 1
    s.page.evaluate("document.getElementById('officer-alerts').scrollIntoView()")  # reasons, peers, timeline
    s.doc_shot("officer")
    s.close()
    # every step in the admin's audit viewer, filtered by the officer
    a = Session(browser, server)
    a.login("admin")
    a.page.goto(a.url(f"/admin/audit?officer={oid}"))
    text = a.page.inner_text("main")
    for action in ("alert_created", "alert_acknowledged", "alert_meeting", "alert_intervention",
                   "alert_follow_up", "alert_closed", "view_alert"):
        assert action in text, action
    a.close()


def test_platform_admin_switches_department_in_the_header(browser, server):
    """The department selector (a POST form in the header, CSRF token included) works under the CSP; the
    risk list then shows the other department's officers only, and switching back shows the first's."""
    s = Session(browser, server)
    s.login("plat")
    s.page.goto(s.url("/risk"))
    assert "OF000" in s.page.inner_text("main") and "BF000" not in s.page.inner_text("main")
    assert s.page.inner_text("#department") == "default"
    s.page.select_option("#department-switch select", OTHER)
    s.submit("#department-switch button")
    assert s.page.inner_text("#department") == OTHER
    main = s.page.inner_text("main")
    assert "BF000" in main and "OF000" not in main
    s.shot("department-switch")
    s.page.goto(s.url("/admin/departments"))
    assert OTHER in s.page.inner_text("#departments-table")
    s.page.select_option("#department-switch select", "default")
    s.submit("#department-switch button")
    assert "OF000" in s.page.inner_text("main") and "BF000" not in s.page.inner_text("main")
    s.close()
