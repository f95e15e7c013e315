"""Run the real DAGs once each with ``eis airflow run-dag`` (``airflow dags test``), no mocks.

Each run is a subprocess of the ``eis`` CLI with the platform's Airflow environment: metadata in the
database ``airflow`` of the session's embedded PostgreSQL, tasks importing the real loader (Great
Expectations) and the real ``dbt build``.  The drop is the small hand-written valid drop of
``tests/minidrop.py`` (deterministic, a few hundred rows), so the assertions can be exact.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from minidrop import valid_tables, write_drop


def run_dag(dag_id: str, conf: dict | None = None, timeout: float = 420) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "eis_core.cli", "airflow", "run-dag", dag_id]
    if conf is not None:
        cmd += ["--conf", json.dumps(conf)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def last_xcom(dag_id: str, task_id: str):
    """The return value of the latest run of *task_id*, read from the Airflow metadata database."""
    from eis_core import db

    with db.connect(db.AIRFLOW_DB) as conn:
        row = conn.execute(
            "SELECT x.value FROM xcom x JOIN dag_run r ON r.id = x.dag_run_id "
            "WHERE x.dag_id = %s AND x.task_id = %s AND x.key = 'return_value' "
            "ORDER BY r.id DESC LIMIT 1", (dag_id, task_id)).fetchone()
    assert row is not None, f"no return value recorded for {dag_id}.{task_id}"
    value = row[0]
    return json.loads(value) if isinstance(value, (str, bytes)) else value


def last_run_state(dag_id: str) -> str:
    from eis_core import db

    with db.connect(db.AIRFLOW_DB) as conn:
        return conn.execute("SELECT state FROM dag_run WHERE dag_id = %s ORDER BY id DESC LIMIT 1",
                            (dag_id,)).fetchone()[0]


def _output(proc: subprocess.CompletedProcess) -> str:
    """The failure lines of the run's output first (dbt's and the task's), then its tail."""
    keys = ("error", "Error", "fail", "Traceback", "out of sync")
    errors = [ln[:600] for ln in proc.stdout.splitlines() if any(k in ln for k in keys)][:40]
    return (f"exit {proc.returncode}\n--- failure lines\n" + "\n".join(errors)
            + f"\n--- stdout (tail)\n{proc.stdout[-4000:]}\n--- stderr\n{proc.stderr[-4000:]}")


@pytest.fixture(scope="module")
def tables():
    return valid_tables()


@pytest.fixture(scope="module")
def drop(warehouse, tmp_path_factory, tables):
    from conftest import reset_raw

    reset_raw(warehouse)
    return write_drop(tmp_path_factory.mktemp("airflow_dags") / "drop", tables)


@pytest.fixture(scope="module")
def ingested(drop):
    return run_dag("eis_ingest", {"drop_dir": str(drop)})


@pytest.fixture(scope="module")
def transformed(ingested):
    assert ingested.returncode == 0, _output(ingested)
    return run_dag("eis_transform")


def test_ingest_succeeds_and_rows_land_in_raw(ingested, drop, tables, warehouse):
    assert ingested.returncode == 0, _output(ingested)
    assert last_run_state("eis_ingest") == "success"
    report = last_xcom("eis_ingest", "validate_and_load")
    assert report["ok"] is True
    assert report["drop_dir"] == str(drop.resolve())
    by_table = {t["table"]: t for t in report["tables"]}
    for name, rows in tables.items():
        assert by_table[name]["status"] in ("loaded", "unchanged"), by_table[name]
    with warehouse.connect() as conn:
        for name, rows in tables.items():
            (count,) = conn.execute(f"SELECT count(*) FROM raw.{name}").fetchone()
            assert count == len(rows), name


def test_ingest_records_the_raw_asset_event(ingested):
    from eis_core import db

    assert ingested.returncode == 0, _output(ingested)
    with db.connect(db.AIRFLOW_DB) as conn:
        row = conn.execute(
            "SELECT e.extra FROM asset_event e JOIN asset a ON a.id = e.asset_id "
            "WHERE a.uri = 'eis://warehouse/raw' ORDER BY e.id DESC LIMIT 1").fetchone()
    assert row is not None
    extra = row[0] if isinstance(row[0], dict) else json.loads(row[0])
    assert extra["rows_loaded"] >= 0 and "load_id" in extra


def test_transform_builds_the_staging_views(transformed, tables, warehouse):
    assert transformed.returncode == 0, _output(transformed)
    assert last_run_state("eis_transform") == "success"
    summary = last_xcom("eis_transform", "dbt_build")
    assert summary["success"] is True and summary["failed"] == 0 and summary["errored"] == 0
    with warehouse.connect() as conn:
        views = {r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.views WHERE table_schema = 'staging'")}
        assert {"stg_officers", "stg_ia_cases"} <= views
        (officers,) = conn.execute("SELECT count(*) FROM staging.stg_officers").fetchone()
    assert officers == len(tables["officers"])


def test_a_rejected_drop_fails_the_run_with_a_nonzero_exit(transformed, tables, tmp_path):
    broken = dict(tables)
    del broken["officers"]  # a required table is missing: the loader rejects the drop
    bad = write_drop(tmp_path / "bad_drop", broken)
    proc = run_dag("eis_ingest", {"drop_dir": str(bad)})
    assert proc.returncode != 0, _output(proc)
    assert "LoadRejected" in proc.stdout + proc.stderr
    assert last_run_state("eis_ingest") == "failed"


def test_missing_drop_dir_param_is_refused():
    proc = run_dag("eis_ingest", None, timeout=120)
    assert proc.returncode != 0, _output(proc)
    assert "Invalid input for param drop_dir" in proc.stdout + proc.stderr, _output(proc)
