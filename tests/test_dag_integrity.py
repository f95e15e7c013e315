"""The DAG files parse, define exactly the expected DAGs, wire the Assets right and stay light.

Parsing happens in a subprocess with the platform's real Airflow environment (``airflow_env()``:
metadata in the embedded PostgreSQL of the test session's EIS_HOME), exactly as the dag-processor sees
the files, so ``sys.modules`` after the parse tells which modules a DAG file drags in.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from eis_core.paths import dags_dir

EXPECTED_DAGS = {"eis_ingest", "eis_transform", "eis_modeling", "eis_production", "calls_forecast", "eis_dispatch", "severity_retrain"}
HEAVY_MODULES = ("pandas", "pyarrow", "great_expectations", "dbt", "sklearn", "numpy",
                 "eis_core.load", "eis_core.transform", "eis_core.synth")

PARSE_SCRIPT = r"""
import json, sys
from airflow.dag_processing.dagbag import DagBag

def uris(cond):
    if cond is None:
        return []
    if hasattr(cond, "objects"):
        return [u for o in cond.objects for u in uris(o)]
    return [cond.uri]

bag = DagBag(dag_folder=sys.argv[1])
out = {"import_errors": {k: str(v) for k, v in bag.import_errors.items()}, "dags": {}}
for dag_id, dag in bag.dags.items():
    tt = dag.timetable
    cond = getattr(tt, "asset_condition", None)
    out["dags"][dag_id] = {
        "fileloc": dag.fileloc,
        "timetable": type(tt).__name__,
        "schedule_assets": sorted(uris(cond)),
        "outlets": sorted({o.uri for t in dag.tasks for o in t.outlets}),
        "tasks": sorted(t.task_id for t in dag.tasks),
        "params": {k: {"schema": dag.params.get_param(k).schema} for k in dag.params},
        "catchup": dag.catchup,
        "task_policy": {t.task_id: {
            "retries": t.retries,
            "retry_exponential_backoff": t.retry_exponential_backoff,
            "retry_delay": t.retry_delay.total_seconds(),
            "policy_default": getattr(getattr(t.retry_policy, "default", None), "value", None),
            "policy_rules": [r.serialize() for r in getattr(t.retry_policy, "rules", [])],
            "transient": sorted(getattr(t.retry_policy, "transient", [])),
            "deterministic": sorted(getattr(t.retry_policy, "deterministic", [])),
            "notifiers": [type(c).__name__ for c in (t.on_failure_callback or [])],
        } for t in dag.tasks},
    }
heavy = sys.argv[2].split(",")
out["heavy_loaded"] = sorted(m for m in sys.modules if any(m == h or m.startswith(h + ".") for h in heavy))
print("@@RESULT@@" + json.dumps(out))
"""


@pytest.fixture(scope="module")
def parsed(warehouse, monkeypatch_module):
    """Parse <repo>/dags once, in a fresh interpreter with the real Airflow environment."""
    from eis_core.orchestration.airflow_env import airflow_env

    monkeypatch_module.delenv("EIS_DEFAULT_DROP", raising=False)
    proc = subprocess.run(
        [sys.executable, "-c", PARSE_SCRIPT, str(dags_dir()), ",".join(HEAVY_MODULES)],
        env=airflow_env(), capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("@@RESULT@@"))
    return json.loads(line[len("@@RESULT@@"):])


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


def test_no_import_errors(parsed):
    assert parsed["import_errors"] == {}


def test_expected_dag_ids(parsed):
    assert set(parsed["dags"]) == EXPECTED_DAGS


def test_every_dag_file_defines_its_namesake(parsed):
    for dag_id, info in parsed["dags"].items():
        assert info["fileloc"].endswith(f"/dags/{dag_id}.py")


def test_ingest_is_manual_with_required_drop_dir(parsed):
    ingest = parsed["dags"]["eis_ingest"]
    assert ingest["timetable"] == "NullTimetable"
    assert ingest["tasks"] == ["validate_and_load"]
    assert ingest["params"]["drop_dir"]["schema"]["type"] == "string"
    assert ingest["outlets"] == ["eis://warehouse/raw"]
    assert ingest["params"]["department"]["schema"]["type"] == "string"  # default: the default department


def test_transform_is_scheduled_on_the_asset_ingest_produces(parsed):
    ingest, transform = parsed["dags"]["eis_ingest"], parsed["dags"]["eis_transform"]
    assert transform["timetable"] == "AssetTriggeredTimetable"
    assert transform["schedule_assets"] == ingest["outlets"] == ["eis://warehouse/raw"]
    assert transform["tasks"] == ["dbt_build", "departments"]  # dbt_build mapped over the departments
    assert transform["outlets"] == ["eis://warehouse/staging"]


def test_no_catchup(parsed):
    # no catchup from start_date: eis_production's missed_days task alerts with (or scores) missed days
    assert not any(info["catchup"] for info in parsed["dags"].values())


def test_production_scores_on_schedule_and_on_every_new_staging_build(parsed):
    prod, transform = parsed["dags"]["eis_production"], parsed["dags"]["eis_transform"]
    assert prod["timetable"] == "AssetOrTimeSchedule"
    assert prod["schedule_assets"] == transform["outlets"] == ["eis://warehouse/staging"]
    assert prod["tasks"] == ["departments", "missed_days", "score"]
    assert prod["outlets"] == ["eis://warehouse/production"]
    assert {"as_of", "max_stale_days", "missed_days", "department"} <= set(prod["params"])


def test_one_set_of_dags_serves_every_department(parsed):
    # no DAG per department: the department is a param (or read from the Asset events) of the same DAGs
    assert not [d for d in parsed["dags"] if d not in EXPECTED_DAGS]
    for dag_id in ("eis_ingest", "eis_transform", "eis_modeling", "eis_production"):
        assert "department" in parsed["dags"][dag_id]["params"], dag_id
    assert parsed["dags"]["eis_production"]["params"]["department"]["schema"]["type"] == ["null", "string"]


def test_every_task_has_retries_with_backoff_and_the_failure_notifier(parsed):
    for dag_id, info in parsed["dags"].items():
        for task_id, pol in info["task_policy"].items():
            where = f"{dag_id}.{task_id}"
            assert pol["retries"] >= 1, where
            assert pol["retry_exponential_backoff"] >= 2 and pol["retry_delay"] >= 1, where
            assert pol["notifiers"] == ["FailureNotifier"], where


IDEMPOTENT_TASKS = {"eis_ingest.validate_and_load", "eis_transform.departments", "eis_transform.dbt_build",
                    "eis_production.departments", "eis_production.missed_days", "eis_production.score",
                    "eis_modeling.mark_failed", "eis_dispatch.build"}


def test_only_idempotent_tasks_retry_errors_of_their_own_code(parsed):
    for dag_id, info in parsed["dags"].items():
        for task_id, pol in info["task_policy"].items():
            where = f"{dag_id}.{task_id}"
            if where in IDEMPOTENT_TASKS:
                assert pol["policy_default"] == "default", where
                assert {"OperationalError", "ConnectError", "ReadTimeout"} <= set(pol["transient"]), where
                assert {"LoadRejected", "TransformError", "ValueError"} <= set(pol["deterministic"]), where
            else:  # every try records new rows: fail at once, only infrastructure failures are retried
                assert pol["policy_default"] == "fail" and pol["policy_rules"] == [], where


def test_dag_files_import_nothing_heavy(parsed):
    assert parsed["heavy_loaded"] == []
