"""Documentation screenshots (issue 16) of the analyst's pages - the models page, one model's detail and
the outcomes page - in headless Chromium at 1280×900, over realistic seeded data: 300 officers scored
monthly through 2022 and on the 2024 lists, every 2022 alert worked through the app's own alert
workflow (eis_core.production.alerts: raise, acknowledge, meeting, intervention, follow-up, close), so
that the outcomes page has helped officers, matched comparisons and periods that have ended.

Reuses the browser machinery of tests/test_webapp_e2e.py (Chromium, Session); its own database.
Screenshots go to a pytest tmp folder; with EIS_WEBAPP_DOC_SCREENSHOTS=1 they are also copied to
docs/img/analyst-models.png, docs/img/analyst-model-detail.png and docs/img/supervisor-outcomes.png.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
import time

import pytest

import webapp_data as wd
from test_webapp_e2e import CHROMIUM, DOCS_IMG, Session, _free_port, browser  # noqa: F401 (browser: a fixture)

#: what a page must never show: a server error, a Python exception, an empty-state message
ERROR_TEXT = re.compile(r"Internal Server Error|Traceback|Exception|Error:|No experiment yet|"
                        r"No intervention other than|No scored date is old enough|has no labelled test predictions")
NUMBER = re.compile(r"\d+(\.\d+)?")


@pytest.fixture(scope="module")
def server(warehouse, tmp_path_factory):
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: the browser tests need Debian's chromium "
                    "(apt-get update && apt-get install -y chromium chromium-driver; .ci/run does this)")
    import uvicorn

    cleanup = wd.isolated_database("eis_webapp_screenshots")
    srv = None
    try:
        seeded = wd.seed_all(n_officers=300, n_divisions=4, dates=[*wd.HISTORY_DATES, *wd.AS_OF_DATES])
        from eis_core.webapp import store
        from eis_core.webapp.app import create_app
        from eis_core.webapp.security import Settings

        pw = {"ana": store.add_user("ana", "analyst")}
        for div in wd.DIVISION_NAMES[:4]:  # the sergeants the alerts are assigned to
            store.add_user(f"sgt_{div.lower()}", "supervisor", div)
        worked = wd.seed_interventions(wd.HISTORY_DATES)
        assert worked["alerts"] >= 12 and len(worked["helped"]) == len(wd.INTERVENTIONS), worked
        app = create_app(Settings(secret="s" * 40, session_hours=1))
        port = _free_port()
        srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=srv.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not srv.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        shots = tmp_path_factory.mktemp("webapp_doc_screenshots")
        print(f"\nweb app screenshots: {shots}")
        yield {"base": f"http://127.0.0.1:{port}", "passwords": pw, "officers": seeded["officers"], "shots": shots,
               "worked": worked}
    finally:
        if srv is not None:
            srv.should_exit = True
            time.sleep(0.3)
        cleanup()


def doc_shot(s: Session, name: str) -> None:
    """A 1280×900 viewport screenshot, copied to docs/img/<name>.png with EIS_WEBAPP_DOC_SCREENSHOTS=1."""
    path = s.server["shots"] / f"{name}.png"
    s.page.screenshot(path=str(path), full_page=False)
    if os.environ.get("EIS_WEBAPP_DOC_SCREENSHOTS") == "1":
        DOCS_IMG.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, DOCS_IMG / path.name)


def no_error_text(s: Session) -> None:
    text = s.page.inner_text("main")
    assert not ERROR_TEXT.search(text), ERROR_TEXT.search(text).group(0) + ": " + text[:400]


def test_analyst_models_page_and_one_model(browser, server):
    s = Session(browser, server, width=1280)
    s.login("ana")
    resp = s.page.goto(s.url("/models"))
    assert resp.status == 200
    no_error_text(s)
    assert s.charts_rendered() >= 4
    rows = s.page.locator("#leaderboard tbody tr")
    assert rows.count() == 4  # random forest, logistic regression, the legacy EIS, the prior
    for i in range(rows.count()):
        means = rows.nth(i).locator("td.num").all_inner_texts()
        assert means and all(NUMBER.fullmatch(m.strip()) for m in means), means
    assert "Random" in s.page.inner_text("#chosen-group")
    table3 = s.page.inner_text("#table3")
    assert "Against the legacy EIS" in table3 and re.search(r"TP [+-]\d+ %", table3), table3
    doc_shot(s, "analyst-models")

    model = "wa_model_rf_2"  # not the page's default (the newest split's model)
    resp = s.page.goto(s.url(f"/models?model={model}"))
    assert resp.status == 200
    no_error_text(s)
    assert s.page.locator("#model select[name=model]").input_value() == model
    detail = s.page.inner_text("#model")
    m = re.search(r"Test predictions: (\d+) officers, (\d+) with an adverse incident; ROC AUC (\d\.\d+)", detail)
    assert m and int(m.group(1)) == 150 and int(m.group(2)) > 0 and 0.5 < float(m.group(3)) <= 1, detail[:400]
    assert s.charts_rendered() >= 4  # the group's metric over time and this model's curves
    for chart in ("threshold", "pr", "roc"):
        assert s.page.locator(f"#model canvas#{chart}[data-rendered='1']").count() == 1, chart
    assert s.page.locator("#predictions-table tbody tr").count() >= 10
    s.page.evaluate("document.getElementById('model').scrollIntoView()")
    doc_shot(s, "analyst-model-detail")
    s.close()


def test_outcomes_page_shows_helped_officers_next_to_matched_ones(browser, server):
    s = Session(browser, server, width=1280)
    s.login("ana")
    resp = s.page.goto(s.url("/outcomes"))
    assert resp.status == 200
    no_error_text(s)
    assert "not a randomised comparison" in s.page.inner_text("#caution")
    rows = s.page.locator("#outcomes-table tbody tr")
    assert sorted(r.get_attribute("data-intervention") for r in rows.all()) == sorted(wd.INTERVENTIONS)
    pairs = {r.get_attribute("data-intervention"): int(r.locator("[data-window='12-pairs']").inner_text())
             for r in rows.all()}
    assert all(n >= 1 for n in pairs.values()), pairs
    for r in rows.all():
        for side in ("helped", "comparison"):
            cell = r.locator(f"[data-window='12-{side}']").inner_text()
            assert re.fullmatch(r"\d+ \(\d+ %\)", cell.strip()), cell
    evaluation = s.page.locator("#evaluation-table tbody tr")
    assert evaluation.count() == len(wd.HISTORY_DATES)  # the 2024 lists' 12 months have not passed
    flagged = [int(evaluation.nth(i).locator("td").nth(1).inner_text()) for i in range(evaluation.count())]
    assert all(n >= 10 for n in flagged), flagged
    helped_no_event = sum(int(evaluation.nth(i).locator("td").nth(3).inner_text())
                          for i in range(evaluation.count()))
    assert helped_no_event >= 1
    assert re.search(r"Precision over these dates: \d+\.\d %", s.page.inner_text("#precision-headline"))
    doc_shot(s, "supervisor-outcomes")
    s.close()
