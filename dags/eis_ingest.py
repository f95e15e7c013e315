"""eis_ingest: validate a department drop with Great Expectations and load it into schema ``raw``.

Triggered manually or through the REST API with ``{"drop_dir": "/path/to/drop"}`` and, for a department
other than ``default``, ``"department": "NAME"`` (its own database and files; docs/departments.md).  On
success it updates the Asset ``eis://warehouse/raw``, the event naming the department, which schedules
``eis_transform`` for that department only.  A load is idempotent
(re-loading the same files is a no-op): transient errors are retried with back-off, a rejected drop
fails at once; a failure alerts (``eis_core.orchestration.dag_defaults``).

Wiring only: the work (and every heavy import) happens inside the task, in eis_core.load.
"""

from __future__ import annotations

import os

import pendulum
from airflow.sdk import Param, dag, task

from eis_core.orchestration.assets import RAW
from eis_core.orchestration.dag_defaults import default_args
from eis_core.orchestration.departments import PARAM as DEPARTMENT

_default_drop = os.environ.get("EIS_DEFAULT_DROP")


@dag(
    dag_id="eis_ingest",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    tags=["eis", "ingest"],
    params={
        "drop_dir": (
            Param(
                _default_drop,
                type="string",
                minLength=1,
                title="Drop folder",
                description="Folder of the department drop (CSV files + manifest) to validate and load.",
            )
            if _default_drop
            else Param(
                type="string",
                minLength=1,
                title="Drop folder",
                description="Folder of the department drop (CSV files + manifest) to validate and load.",
            )
        ),
        DEPARTMENT: Param(
            "default",
            type="string",
            pattern="^[a-z][a-z0-9_]{1,30}$",
            title="Department",
            description="The department the drop belongs to (`eis department list`).",
        ),
    },
    doc_md=__doc__,
)
def eis_ingest():
    @task(outlets=[RAW])
    def validate_and_load(**context) -> dict:
        from eis_core.load.loader import load_drop
        from eis_core.orchestration.departments import working_for

        drop_dir = context["params"]["drop_dir"]
        with working_for(context["params"][DEPARTMENT]) as department:
            report = load_drop(drop_dir)
            print(report.summary())
            report.raise_for_status()
            result = report.as_dict()
        # The Asset event tells consumers (eis_transform) what changed, and for which department.
        context["outlet_events"][RAW].extra = {
            DEPARTMENT: department,
            "load_id": result.get("load_id"),
            "drop_dir": str(drop_dir),
            "rows_loaded": sum(t.get("rows_loaded", 0) for t in result.get("tables", [])),
        }
        return result

    validate_and_load()


eis_ingest()
