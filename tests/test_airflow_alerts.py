"""Failures retried, failures alerted, stale dates refused, missed days listed - through real Airflow
(``airflow dags test`` with the platform's environment), a real SMTP sink and the real warehouse.

* a probe DAG (written to a temporary dags folder, built with the platform's ``default_args``): a
  transient ``psycopg.OperationalError`` on the first try is retried with back-off and the task then
  succeeds; a deterministic ``ValueError`` fails at once (one try) and the failure notifier's e-mail
  reaches the SMTP sink;
* the real ``eis_production`` DAG asked to score a date years after the data's extraction date fails
  with the staleness refusal, and its e-mail says why;
* the missed-days check lists the dates without a risk list (alert) or scores them (catch_up).
"""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from minidrop import EXTRACTED_AT, valid_tables, write_drop
from test_notify import SmtpSink

PROBE_DAG = '''
import os
from pathlib import Path

import pendulum
from airflow.sdk import dag, task

from eis_core.orchestration.dag_defaults import default_args


@dag(dag_id="alerts_probe", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), catchup=False,
     default_args=default_args())
def alerts_probe():
    @task
    def flaky() -> int:
        marker = Path(os.environ["PROBE_MARKER"])
        tries = int(marker.read_text()) + 1 if marker.exists() else 1
        marker.write_text(str(tries))
        if tries == 1:
            import psycopg

            raise psycopg.OperationalError("server closed the connection unexpectedly (probe)")
        return tries

    @task
    def broken() -> None:
        raise ValueError("deterministic probe failure")

    flaky()
    broken()


alerts_probe()
'''


def _ti_rows(dag_id: str) -> dict[str, tuple[str, int]]:
    from eis_core import db

    with db.connect(db.AIRFLOW_DB) as conn:
        run_id = conn.execute("SELECT run_id FROM dag_run WHERE dag_id = %s ORDER BY id DESC LIMIT 1",
                              (dag_id,)).fetchone()[0]
        return {r[0]: (r[1], r[2]) for r in conn.execute(
            "SELECT task_id, state, try_number FROM task_instance WHERE dag_id = %s AND run_id = %s",
            (dag_id, run_id))}


@pytest.fixture(scope="module")
def sink():
    with SmtpSink() as s:
        yield s


@pytest.fixture(scope="module")
def probe_run(warehouse, sink, tmp_path_factory):
    from eis_core.orchestration import stack

    folder = tmp_path_factory.mktemp("probe_dags")
    (folder / "alerts_probe.py").write_text(PROBE_DAG)
    lines: list[str] = []
    with pytest.MonkeyPatch.context() as mp:
        for k, v in sink.env().items():
            mp.setenv(k, v)
        mp.setenv("PROBE_MARKER", str(folder / "tries"))
        mp.setenv("EIS_TASK_RETRY_DELAY", "1")
        code = stack.run_dag("alerts_probe", dags_folder=str(folder), progress=lines.append, output=lines.append)
    return {"code": code, "output": "\n".join(lines), "tis": _ti_rows("alerts_probe"), "folder": folder}


def test_a_transient_failure_is_retried_and_then_succeeds(probe_run):
    state, tries = probe_run["tis"]["flaky"]
    assert (state, tries) == ("success", 2), probe_run["output"][-3000:]
    assert (probe_run["folder"] / "tries").read_text() == "2"
    assert "transient OperationalError" in probe_run["output"]


def test_a_deterministic_failure_fails_at_once_and_sends_an_email(probe_run, sink):
    assert probe_run["code"] != 0
    assert probe_run["tis"]["broken"] == ("failed", 1), probe_run["output"][-3000:]
    msgs = [m for m in sink.wait_for(1) if m["Subject"] == "[EIS] alerts_probe.broken failed"]
    assert len(msgs) == 1, [m["Subject"] for m in sink.messages]
    body = msgs[0].get_payload(decode=True).decode()
    assert "ValueError: deterministic probe failure" in body and "task:    broken" in body
    # the retried task succeeded in the end: no alert for it
    assert not [m for m in sink.messages if "flaky" in m["Subject"]]


# ------------------------------------------------------------------------------------ staleness

@pytest.fixture(scope="module")
def loaded(warehouse, tmp_path_factory):
    from conftest import reset_raw
    from eis_core.load.loader import load_drop

    reset_raw(warehouse)
    drop = write_drop(tmp_path_factory.mktemp("stale") / "drop", valid_tables())
    report = load_drop(drop, progress=lambda _m: None)
    report.raise_for_status()
    return drop


def test_the_extraction_date_comes_from_the_newest_drop(loaded):
    from eis_core.production.staleness import data_extraction

    extracted, source = data_extraction()
    assert extracted == date.fromisoformat(EXTRACTED_AT[:10])
    assert str(loaded / "_drop.json") in source


def test_a_date_beyond_the_threshold_is_refused(loaded, monkeypatch):
    from eis_core.production.scoring import ProductionError, score_day

    extracted = date.fromisoformat(EXTRACTED_AT[:10])
    monkeypatch.delenv("EIS_STALE_AFTER_DAYS", raising=False)
    with pytest.raises(ProductionError, match=r"date 2026-01-01 is 3653 days after the data's extraction date "
                                              r"2016-01-01 \(more than 30;"):
        score_day("2026-01-01", progress=None)
    # the threshold is configurable: by argument, and by environment
    with pytest.raises(ProductionError, match="more than 5;"):
        score_day(extracted + timedelta(days=6), progress=None, max_stale_days=5)
    monkeypatch.setenv("EIS_STALE_AFTER_DAYS", "5")
    with pytest.raises(ProductionError, match="more than 5;"):
        score_day(extracted + timedelta(days=6), progress=None)
    # within the threshold the staleness check passes and scoring goes on to its next check
    monkeypatch.setenv("EIS_STALE_AFTER_DAYS", "off")
    with pytest.raises(ProductionError) as info:
        score_day("2026-01-01", progress=None, model_group_id="no-such-group")
    assert "extraction date" not in str(info.value)


def test_eis_score_refuses_a_stale_date_in_one_line(loaded, monkeypatch):
    import subprocess
    import sys

    monkeypatch.delenv("EIS_STALE_AFTER_DAYS", raising=False)
    proc = subprocess.run([sys.executable, "-m", "eis_core.cli", "score", "--date", "2026-01-01"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "3653 days after the data's extraction date 2016-01-01" in proc.stderr
    assert len([ln for ln in proc.stderr.splitlines() if ln.strip()]) == 1, proc.stderr


def test_the_production_dag_refuses_a_stale_date_and_alerts(loaded, sink, monkeypatch):
    from eis_core.orchestration import stack

    for k, v in sink.env().items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("EIS_STALE_AFTER_DAYS", raising=False)
    before = len(sink.messages)
    lines: list[str] = []
    code = stack.run_dag("eis_production", {"as_of": "2026-01-01"}, progress=lines.append, output=lines.append)
    out = "\n".join(lines)
    assert code != 0, out[-3000:]
    assert _ti_rows("eis_production")["score"] == ("failed", 1), out[-3000:]  # refused at once, no retry
    msgs = [m for m in sink.wait_for(before + 1)[before:] if m["Subject"] == "[EIS] eis_production.score failed"]
    assert msgs, [m["Subject"] for m in sink.messages]
    body = msgs[0].get_payload(decode=True).decode()
    assert "3653 days after the data's extraction date 2016-01-01" in body


# ------------------------------------------------------------------------------------ missed days

@pytest.fixture
def scored_days(warehouse):
    """Two scoring_runs rows (2015-12-01 and 2015-12-20), as if the scheduler scored those days."""
    from eis_core import db
    from eis_core.production.schema import ensure_production_schema

    ensure_production_schema()
    days = [date(2015, 12, 1), date(2015, 12, 20)]
    with db.connect() as conn:
        conn.execute("DELETE FROM production.scoring_runs WHERE as_of_date BETWEEN %s AND %s",
                     (date(2015, 11, 1), date(2015, 12, 31)))
        for d in days:
            conn.execute("INSERT INTO production.scoring_runs (as_of_date, model_id, model_group_id, mode, "
                         "n_scored, flag_count, explain_method, scored_by) VALUES (%s, 'm', 'g', 'stored', 1, 0, "
                         "'linear', 'test')", (d,))
    yield days
    with db.connect() as conn:
        conn.execute("DELETE FROM production.scoring_runs WHERE scored_by = 'test'")


def test_missed_days_are_alerted_with_their_list(scored_days, sink, monkeypatch):
    from eis_core.orchestration.production import handle_missed_days

    for k, v in sink.env().items():
        monkeypatch.setenv(k, v)
    before = len(sink.messages)
    out = handle_missed_days(date(2015, 12, 24), "scheduled", "alert", score=lambda d: None, progress=print)
    assert out["action"] == "alerted"
    assert out["missing"] == ["2015-12-21", "2015-12-22", "2015-12-23"]
    (msg,) = sink.wait_for(before + 1)[before:]
    assert msg["Subject"] == "[EIS] 3 missed day(s) without a risk list before 2015-12-24"
    body = msg.get_payload(decode=True).decode()
    assert "2015-12-21, 2015-12-22, 2015-12-23" in body
    assert "airflow backfill create --dag-id eis_production --from-date 2015-12-21 --to-date 2015-12-23" in body
    # a manual or backfill run is not a missed day's witness
    assert handle_missed_days(date(2015, 12, 24), "backfill", "alert", score=lambda d: None)["missing"] == []
    # the day right after a scored day misses nothing
    assert handle_missed_days(date(2015, 12, 21), "scheduled", "alert", score=lambda d: None)["action"] == "none"


def test_missed_days_can_be_caught_up(scored_days, sink, monkeypatch):
    from eis_core.orchestration.production import handle_missed_days

    for k, v in sink.env().items():
        monkeypatch.setenv(k, v)
    before = len(sink.messages)
    done: list[date] = []
    out = handle_missed_days(date(2015, 12, 23), "asset_triggered", "catch_up", score=done.append)
    assert out["action"] == "caught_up" and done == [date(2015, 12, 21), date(2015, 12, 22)]
    assert len(sink.messages) == before  # nothing to alert


def test_an_unknown_policy_is_refused():
    from eis_core.orchestration.production import missed_policy

    with pytest.raises(ValueError, match="missed_days must be one of"):
        missed_policy("ignore")
    assert json.dumps(missed_policy(None)) == '"alert"'


# ------------------------------------------------------------------------------------ backfill docs

def test_docs_and_help_name_the_airflow_3_backfill_command():
    import re
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    texts = {p: p.read_text(encoding="utf-8") for p in
             [root / "README.md", *root.glob("docs/*.md"), *root.glob("dags/*.py"), *root.glob("eis_core/**/*.py")]}
    used = [str(p) for p, t in texts.items() if re.search(r"airflow dags backfill\s+[\w-]", t)]
    assert used == [], f"Airflow 3 has no `airflow dags backfill`: {used}"
    assert "airflow backfill create --dag-id eis_production" in texts[root / "dags" / "eis_production.py"]
    assert "airflow backfill create --dag-id eis_production" in texts[root / "docs" / "production.md"]
    eis_help = subprocess.run([sys.executable, "-m", "eis_core.cli", "airflow", "--help"], capture_output=True,
                              text=True, timeout=60)
    assert "airflow backfill create --dag-id eis_production --from-date" in eis_help.stdout
    # ... and the command really exists in the installed Airflow, with those options
    from eis_core.orchestration.airflow_env import airflow_bin

    af = subprocess.run([airflow_bin(), "backfill", "create", "--help"], capture_output=True, text=True, timeout=120)
    assert af.returncode == 0, af.stderr[-2000:]
    assert "--dag-id" in af.stdout and "--from-date" in af.stdout and "--to-date" in af.stdout
