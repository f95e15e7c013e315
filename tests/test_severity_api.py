"""Severity API contract, in-process (FastAPI TestClient runs the real app, lifespan included, against
the test warehouse): valid, invalid (422 naming the field), batch, unauthenticated / disabled token
(401), health and readiness, the OpenAPI document, and the prediction log."""

from __future__ import annotations

import math

import pytest

SOURCE = ("severity_api_test", "crime_reports")
REPORT = {"report_id": "T-1", "reported_at": "2015-12-01T22:15:00", "division": "D01", "beat": "D01B01",
          "offense_category": "ROBBERY", "weapon": "FIREARM", "victim_count": 1, "gang_related": False,
          "domestic_violence": False, "narcotics": False, "hate_crime": False, "child_involved": False,
          "suicide_related": False}


@pytest.fixture(scope="module")
def service(warehouse, small_drop):
    from fastapi.testclient import TestClient

    from eis_core.severity.api import create_app
    from eis_core.severity.sandbox import copy_crime_reports
    from eis_core.severity.store import ensure_severity_schema
    from eis_core.severity.tokens import add_token
    from eis_core.severity.train import load_frame, train_model

    copy_crime_reports(small_drop, *SOURCE)
    ensure_severity_schema()
    with warehouse.connect() as conn:
        conn.execute("TRUNCATE severity.models, severity.decisions, severity.predictions_log")
    frame = load_frame(SOURCE)
    trained = train_model(frame, test_days=60, status="champion")
    tid, token = add_token("api-test")
    app = create_app(refresh_seconds=0.5, source=SOURCE)
    with TestClient(app) as client:
        yield {"client": client, "token": token, "token_id": tid, "trained": trained, "frame": frame,
               "state": app.state.severity}


def _auth(token):
    return {"Authorization": f"Bearer {token}"}


def test_health_and_readiness(service):
    c = service["client"]
    assert c.get("/healthz").json() == {"status": "ok"}
    r = c.get("/readyz")
    assert r.status_code == 200, r.text
    assert r.json()["model_version"] == service["trained"]["version"]
    assert r.json()["beat_history_reports"] == len(service["frame"])


def test_single_report(service):
    c = service["client"]
    r = c.post("/v1/severity", json=REPORT, headers=_auth(service["token"]))
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["report_id"] == "T-1" and out["model_version"] == service["trained"]["version"]
    assert set(out["probabilities"]) == {"HIGH", "MEDIUM", "LOW"}
    assert math.isclose(sum(out["probabilities"].values()), 1.0, abs_tol=1e-9)
    assert out["severity"] == max(out["probabilities"], key=out["probabilities"].get)
    # the beat history is counted from the warehouse: the reports of D01B01 in the 30 days before
    f = service["frame"]
    t = __import__("pandas").Timestamp(REPORT["reported_at"])
    expect = int(((f["beat"] == "D01B01") & (f["reported_at"] < t)
                  & (f["reported_at"] >= t - __import__("pandas").Timedelta(days=30))).sum())
    assert expect > 0 and out["beat_reports_30d"] == expect
    # the API's answer is the registered pipeline's answer for the same features
    from eis_core.severity.features import FEATURES, add_features

    import pandas as pd

    row = add_features(pd.DataFrame([REPORT]).assign(reported_at=pd.Timestamp(REPORT["reported_at"])))
    row["beat_reports_30d"] = expect
    proba = service["trained"]["pipeline"].predict_proba(row[FEATURES])[0]
    classes = list(service["trained"]["pipeline"].classes_)
    for cls, p in zip(classes, proba):
        assert out["probabilities"][cls] == pytest.approx(p, abs=1e-9)
    # a firearm robbery is HIGH on the synthetic department; a theft without weapon is LOW
    assert out["severity"] == "HIGH"
    low = dict(REPORT, report_id="T-2", offense_category="THEFT", weapon="NONE")
    assert c.post("/v1/severity", json=low, headers=_auth(service["token"])).json()["severity"] == "LOW"


@pytest.mark.parametrize("field,value", [("offense_category", "ARSON"), ("victim_count", -1), ("weapon", None),
                                         ("reported_at", "yesterday"), ("report_id", ""), ("beat_reports_30d", -3),
                                         ("unexpected", 1)])
def test_invalid_input_names_the_field(service, field, value):
    r = service["client"].post("/v1/severity", json=dict(REPORT, **{field: value}), headers=_auth(service["token"]))
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["fields"] == [field] and field in body["message"]


def test_missing_field_is_named(service):
    body = {k: v for k, v in REPORT.items() if k != "beat"}
    r = service["client"].post("/v1/severity", json=body, headers=_auth(service["token"]))
    assert r.status_code == 422 and r.json()["fields"] == ["beat"]


def test_batch(service):
    c = service["client"]
    reports = [dict(REPORT, report_id=f"B-{i}", victim_count=i % 3,
                    offense_category=["ROBBERY", "THEFT", "ASSAULT", "FRAUD"][i % 4]) for i in range(7)]
    r = c.post("/v1/severity/batch", json={"reports": reports}, headers=_auth(service["token"]))
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["model_version"] == service["trained"]["version"]
    assert [p["report_id"] for p in out["predictions"]] == [f"B-{i}" for i in range(7)]
    single = c.post("/v1/severity", json=reports[3], headers=_auth(service["token"])).json()
    assert out["predictions"][3]["probabilities"] == pytest.approx(single["probabilities"])
    bad = list(reports)
    bad[4] = dict(bad[4], weapon="SWORD")
    r = c.post("/v1/severity/batch", json={"reports": bad}, headers=_auth(service["token"]))
    assert r.status_code == 422 and r.json()["fields"] == ["reports[4].weapon"]
    r = c.post("/v1/severity/batch", json={"reports": []}, headers=_auth(service["token"]))
    assert r.status_code == 422 and r.json()["fields"] == ["reports"]


def test_unauthenticated_is_401(service, warehouse):
    c = service["client"]
    for headers in ({}, _auth("sev_not-a-real-token"), {"Authorization": "Basic abc"}):
        r = c.post("/v1/severity", json=REPORT, headers=headers)
        assert r.status_code == 401, headers
        assert r.headers.get("www-authenticate") == "Bearer"
    assert c.post("/v1/severity/batch", json={"reports": [REPORT]}).status_code == 401
    assert c.get("/v1/model").status_code == 401
    # a disabled token stops working (within the refresh interval: 0.5 s here)
    from eis_core.severity.tokens import add_token, disable_token

    tid, token = add_token("short-lived")
    assert c.post("/v1/severity", json=REPORT, headers=_auth(token)).status_code == 200
    with warehouse.connect() as conn:
        disable_token(conn, tid)
    import time

    deadline = time.time() + 10
    while time.time() < deadline:
        if c.post("/v1/severity", json=REPORT, headers=_auth(token)).status_code == 401:
            break
        time.sleep(0.2)
    else:
        pytest.fail("a disabled token was still accepted after 10 s")
    with warehouse.connect() as conn:
        stored = [r[0] for r in conn.execute("SELECT token_hash FROM severity.api_tokens")]
    assert token not in " ".join(stored) and all(h.startswith("sha256:") for h in stored)


def test_openapi_documents_the_endpoints(service):
    spec = service["client"].get("/openapi.json").json()
    assert {"/v1/severity", "/v1/severity/batch", "/healthz", "/readyz"} <= set(spec["paths"])
    assert "HTTPBearer" in spec["components"]["securitySchemes"]
    props = spec["components"]["schemas"]["CrimeReport"]["properties"]
    assert "ROBBERY" in props["offense_category"]["enum"]


def test_every_prediction_is_logged(service, warehouse):
    c = service["client"]
    ids = [f"LOG-{i}" for i in range(5)]
    for i in ids[:2]:
        assert c.post("/v1/severity", json=dict(REPORT, report_id=i), headers=_auth(service["token"])).status_code == 200
    r = c.post("/v1/severity/batch", json={"reports": [dict(REPORT, report_id=i) for i in ids[2:]]},
               headers=_auth(service["token"]))
    assert r.status_code == 200
    service["state"].logger.flush()
    with warehouse.connect() as conn:
        rows = conn.execute("SELECT report_id, model_version, predicted, probabilities, scored_at, token_id "
                            "FROM severity.predictions_log WHERE report_id LIKE 'LOG-%%' ORDER BY report_id").fetchall()
    assert [r[0] for r in rows] == ids
    v = service["trained"]["version"]
    for r in rows:
        assert r[1] == v and r[2] in ("HIGH", "MEDIUM", "LOW") and set(r[3]) == {"HIGH", "MEDIUM", "LOW"}
        assert r[4] is not None and r[5] == service["token_id"]


def test_huge_body_is_413_before_parsing(service):
    """Issue 16: a 33 MB body was read and parsed; it is refused by size (declared or streamed)."""
    c = service["client"]
    from eis_core.severity.api import MAX_BODY_BYTES

    big = b'{"reports": [' + b",".join([b'{"report_id": "x"}'] * (MAX_BODY_BYTES // 16)) + b"]}"
    assert len(big) > MAX_BODY_BYTES
    r = c.post("/v1/severity/batch", content=big, headers={**_auth(service["token"]), "Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["fields"] == ["body"]

    def chunks():  # no Content-Length: counted while it streams in
        for _ in range(40):
            yield b" " * 100_000
    r = c.post("/v1/severity", content=chunks(), headers={**_auth(service["token"]), "Content-Type": "application/json"})
    assert r.status_code == 413
    # a full batch of the largest allowed size still goes through
    full = {"reports": [dict(REPORT, report_id=f"FULL-{i}") for i in range(1000)]}
    assert c.post("/v1/severity/batch", json=full, headers=_auth(service["token"])).status_code == 200


def test_json_syntax_error_is_reported_as_such(service):
    """Issue 16: a syntax error's character offset was reported as a field name ('[12]')."""
    r = service["client"].post("/v1/severity", content=b'{"report_id": "T-1",, }',
                               headers={**_auth(service["token"]), "Content-Type": "application/json"})
    assert r.status_code == 422
    body = r.json()
    assert body["fields"] == ["body"] and "not valid JSON" in body["message"] and "character" in body["message"]


def test_unknown_beat_is_refused(service):
    """Issue 16: a beat the department does not have was scored with a 30-day count of 0, silently."""
    c = service["client"]
    r = c.post("/v1/severity", json=dict(REPORT, beat="D01B0l"), headers=_auth(service["token"]))
    assert r.status_code == 422 and r.json()["fields"] == ["beat"] and "unknown beat" in r.json()["message"]
    reports = [dict(REPORT, report_id=f"U-{i}") for i in range(3)]
    reports[2] = dict(reports[2], beat="NOWHERE")
    r = c.post("/v1/severity/batch", json={"reports": reports}, headers=_auth(service["token"]))
    assert r.status_code == 422 and r.json()["fields"] == ["reports[2].beat"]
