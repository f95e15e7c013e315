"""eis_transform: ``dbt build`` (staging, marts and their tests) whenever a department's schema ``raw`` changes.

Data-aware: scheduled on the Asset ``eis://warehouse/raw`` that ``eis_ingest`` updates.  The Asset is
shared by every department; each event names its department, and ``departments`` reads the events that
started the run, so only the departments that were loaded are built (a manual run: the ``department``
param, default ``default``).  ``dbt_build`` is mapped over them, one instance per department inside its
own database; on success each instance updates ``eis://warehouse/staging`` for its department, which
starts ``eis_production`` for that department.  ``dbt build`` is idempotent: transient errors are
retried, a failing model or test fails at once (that department only).

Wiring only: dbt is imported inside the task, in eis_core.transform.
"""

from __future__ import annotations

import os

import pendulum
from airflow.sdk import Param, dag, task

from eis_core.orchestration.assets import RAW, STAGING
from eis_core.orchestration.dag_defaults import default_args
from eis_core.orchestration.departments import PARAM as DEPARTMENT

#: departments built at once in one run (each dbt build uses its own threads)
_PARALLEL = int(os.environ.get("EIS_DEPARTMENTS_PARALLEL", "1"))


@dag(
    dag_id="eis_transform",
    schedule=[RAW],
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    tags=["eis", "transform"],
    params={
        DEPARTMENT: Param(
            None,
            type=["null", "string"],
            title="Department",
            description="empty: the departments of the Asset events that started the run (manual: default)",
        ),
    },
    doc_md=__doc__,
)
def eis_transform():
    @task
    def departments(**context) -> list[str]:
        from eis_core.orchestration.departments import describe, run_departments

        names = run_departments(context["params"], context["dag_run"], context.get("triggering_asset_events"))
        print(describe(names, "to build"))
        return names

    @task(outlets=[STAGING], max_active_tis_per_dagrun=_PARALLEL, map_index_template="{{ eis_department }}")
    def dbt_build(department: str, **context) -> dict:
        from airflow.sdk import get_current_context

        from eis_core.orchestration.departments import working_for
        from eis_core.transform import dbt_build as run_dbt_build
        from eis_core.transform import format_summary

        get_current_context()["eis_department"] = department  # names the mapped instance in the UI
        with working_for(department):
            summary = run_dbt_build()
        print(format_summary(summary))
        context["outlet_events"][STAGING].extra = {DEPARTMENT: department}
        # a small XCom; dbt.log has every node
        return {DEPARTMENT: department, **{k: v for k, v in summary.items() if k != "nodes"}}

    dbt_build.expand(department=departments())


eis_transform()
