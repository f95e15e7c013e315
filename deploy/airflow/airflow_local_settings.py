"""Airflow cluster policy of the EIS deployments (docker-compose.yml and the Helm chart).

Airflow imports this module as ``airflow_local_settings`` (the image copies it to
``$AIRFLOW_HOME/config/``) and applies :func:`task_policy` to every task when a DAG file is parsed.
It routes tasks to the pools of ``deploy/airflow/pools.json`` without touching the DAG code, so the
local ``eis airflow`` stack (which has no such pools) runs the same DAG files unchanged:

* ``eis_dbt`` (1 slot): every task that runs ``dbt build``: dbt is serialised across all workers.
* ``eis_modeling``: the heavy modeling tasks (matrices, training): bounded CPU and memory.

A task that names a pool itself keeps it. docs/deployment.md#dbt-and-pools explains the choice;
tests/test_deploy_airflow.py parses the real DAGs with this policy.
"""

from __future__ import annotations

DEFAULT_POOL = "default_pool"

#: (dag_id, task_id) -> pool
POOLS: dict[tuple[str, str], str] = {
    ("eis_transform", "dbt_build"): "eis_dbt",
    ("eis_dispatch", "build"): "eis_dbt",
    ("eis_modeling", "prepare"): "eis_modeling",
    ("eis_modeling", "train_and_score"): "eis_modeling",
    ("eis_dispatch", "train"): "eis_modeling",
    ("severity_retrain", "retrain"): "eis_modeling",
}


def task_policy(task) -> None:
    pool = POOLS.get((task.dag_id, task.task_id))
    if pool and task.pool in (None, DEFAULT_POOL):
        task.pool = pool
