"""The cluster policy of the deployments (deploy/airflow/airflow_local_settings.py, copied into the image at
$AIRFLOW_HOME/config): parsing the real DAG files with it, as the dag-processor does, puts every dbt task
in the 1-slot pool `eis_dbt` and the heavy modeling tasks in `eis_modeling`, and leaves the rest alone.

The parse runs in a subprocess with the platform's real Airflow environment and the policy module on
sys.path, where Airflow imports `airflow_local_settings` from. The DAG code itself names no pool, so
without the policy (the local `eis airflow` stack, which has no such pools) every task stays in
`default_pool`."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from eis_core.paths import dags_dir

ROOT = Path(__file__).resolve().parent.parent
POLICY_DIR = ROOT / "deploy" / "airflow"

PARSE = r"""
import json, sys
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
print("@@RESULT@@" + json.dumps({
    "errors": {k: str(v) for k, v in bag.import_errors.items()},
    "pools": {f"{d.dag_id}.{t.task_id}": t.pool for d in bag.dags.values() for t in d.tasks},
}))
"""


def _parse() -> dict:
    from eis_core.orchestration.airflow_env import airflow_env

    env = airflow_env()
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(POLICY_DIR), env.get("PYTHONPATH")]))
    proc = subprocess.run([sys.executable, "-c", PARSE, str(dags_dir())], env=env, capture_output=True,
                          text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("@@RESULT@@"))
    out = json.loads(line[len("@@RESULT@@"):])
    assert out["errors"] == {}
    return out["pools"]


@pytest.fixture(scope="module")
def pools(warehouse):
    return {"policy": _parse()}


def test_dbt_tasks_are_serialised_and_modeling_bounded(pools):
    policy = pools["policy"]
    dbt = {task for task, pool in policy.items() if pool == "eis_dbt"}
    assert dbt == {"eis_transform.dbt_build", "eis_dispatch.build"}
    modeling = {task for task, pool in policy.items() if pool == "eis_modeling"}
    assert {"eis_modeling.prepare", "eis_modeling.train_and_score", "eis_dispatch.train"} <= modeling
    others = {task for task, pool in policy.items() if pool not in ("eis_dbt", "eis_modeling")}
    assert others and all(policy[t] == "default_pool" for t in others)


def test_every_policy_entry_names_a_real_task_and_pool(pools):
    sys.path.insert(0, str(POLICY_DIR))
    try:
        import airflow_local_settings as policy_module
    finally:
        sys.path.remove(str(POLICY_DIR))
    defined = json.loads((POLICY_DIR / "pools.json").read_text(encoding="utf-8"))
    for (dag_id, task_id), pool in policy_module.POOLS.items():
        assert f"{dag_id}.{task_id}" in pools["policy"], f"the policy names {dag_id}.{task_id}, no such task"
        assert pool in defined, f"pool {pool} is not in pools.json"


def test_the_dag_code_names_no_pool():
    """The pools come from the policy only: the DAG files run unchanged where the pools do not exist."""
    for path in sorted(dags_dir().glob("*.py")):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"\bpool(_slots)?\s*=", text), f"{path.name} names a pool: use the policy"
