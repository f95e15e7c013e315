"""The severity step of ``eis demo``: train the first model, serve it, score a few reports over HTTP."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _samples(frame, n: int = 4) -> list[tuple[dict, str | None]]:
    """One assessed report of each severity from the latest period plus the newest not-yet-assessed one."""
    from eis_core.severity.features import FLAGS

    latest = frame.tail(3000)
    picks = []
    for sev in ("HIGH", "MEDIUM", "LOW"):
        sub = latest[latest["severity"] == sev]
        if len(sub):
            picks.append(sub.iloc[-1])
    pending = latest[latest["severity"].isna()]
    if len(pending):
        picks.append(pending.iloc[-1])
    out = []
    for r in picks[:n]:
        body = {
            "report_id": r["report_id"],
            "reported_at": r["reported_at"].isoformat(),
            "division": r["division"],
            "beat": r["beat"],
            "offense_category": r["offense_category"],
            "weapon": r["weapon"],
            "victim_count": int(r["victim_count"]),
        }
        body.update({f: bool(r[f]) for f in FLAGS})
        out.append((body, None if r["severity"] is None or r["severity"] != r["severity"] else str(r["severity"])))
    return out


def demo_step(echo: Callable[[str], object] = print) -> dict:
    """Train the first severity model from the loaded warehouse, start the API in a subprocess on a free
    loopback port, issue a token, score 3-4 sample reports through HTTP, print the metrics (model vs both
    baselines) and the predictions, stop the server; returns the numbers."""
    import httpx

    from eis_core import db
    from eis_core.severity.registry import champion_version, set_champion
    from eis_core.severity.store import ensure_severity_schema
    from eis_core.severity.tokens import add_token
    from eis_core.severity.train import format_metrics, load_frame, train_model

    ensure_severity_schema()
    frame = load_frame()
    echo(f"severity: {len(frame):,} crime reports; training the first model ...")
    res = train_model(frame, test_days=60, progress=echo)
    with db.connect() as conn:
        if champion_version(conn) != res["version"]:
            set_champion(res["version"], conn, "eis demo", "demo: first model", kind="train")
    echo(format_metrics(res["metrics"]))
    _, token = add_token("demo")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "eis_core.cli", "severity", "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env=dict(os.environ),
    )
    predictions = []
    try:
        deadline = time.time() + 60
        while True:
            try:
                if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None:
                raise RuntimeError(
                    "the severity API exited: " + ((proc.stderr.read() if proc.stderr else "") or "")[-2000:]
                )
            if time.time() > deadline:
                raise RuntimeError("the severity API did not become ready within 60 s")
            time.sleep(0.2)
        echo(f"severity API ready on {url} (OpenAPI at {url}/docs); scoring sample reports:")
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=10) as client:
            for body, actual in _samples(frame):
                r = client.post("/v1/severity", json=body)
                r.raise_for_status()
                out = r.json()
                p = out["probabilities"]
                predictions.append(
                    {**out, "actual": actual, "offense_category": body["offense_category"], "weapon": body["weapon"]}
                )
                echo(
                    f"  {body['report_id']} {body['offense_category']:<13} weapon {body['weapon']:<8} victims "
                    f"{body['victim_count']} -> {out['severity']:<6} (HIGH {p['HIGH']:.2f} MEDIUM {p['MEDIUM']:.2f} "
                    f"LOW {p['LOW']:.2f}; assessed: {actual or 'not yet'})"
                )
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    m = res["metrics"]
    return {
        "version": res["version"],
        "n_train": m["n_train"],
        "n_test": m["n_test"],
        "metrics": {
            k: {"macro_f1": m[k]["macro_f1"], "accuracy": m[k]["accuracy"]}
            for k in ("model", "offense_rule", "majority")
        },
        "predictions": predictions,
    }
