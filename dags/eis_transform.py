"""eis_transform: ``dbt build`` (staging, marts and their tests) whenever schema ``raw`` changes.

Data-aware: scheduled on the Asset ``eis://warehouse/raw`` that ``eis_ingest`` updates; on success
it updates ``eis://warehouse/staging``, which starts ``eis_production`` (the new drop's risk list).
``dbt build`` is idempotent: transient errors are retried, a failing model or test fails at once.

Wiring only: dbt is imported inside the task, in eis_core.transform.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task

from eis_core.orchestration.assets import RAW, STAGING
from eis_core.orchestration.dag_defaults import default_args


@dag(
    dag_id="eis_transform",
    schedule=[RAW],
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    tags=["eis", "transform"],
    doc_md=__doc__,
)
def eis_transform():
    @task(outlets=[STAGING])
    def dbt_build() -> dict:
        from eis_core.transform import dbt_build as run_dbt_build
        from eis_core.transform import format_summary

        summary = run_dbt_build()
        print(format_summary(summary))
        return {k: v for k, v in summary.items() if k != "nodes"}  # a small XCom; dbt.log has every node

    dbt_build()


eis_transform()
