"""eis_ingest: validate a department drop with Great Expectations and load it into schema ``raw``.

Triggered manually or through the REST API with ``{"drop_dir": "/path/to/drop"}``.  On success it
updates the Asset ``eis://warehouse/raw``, which schedules ``eis_transform``.  A load is idempotent
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
        )
    },
    doc_md=__doc__,
)
def eis_ingest():
    @task(outlets=[RAW])
    def validate_and_load(**context) -> dict:
        from eis_core.load.loader import load_drop

        drop_dir = context["params"]["drop_dir"]
        report = load_drop(drop_dir)
        print(report.summary())
        report.raise_for_status()
        result = report.as_dict()
        # The Asset event tells consumers (eis_transform) what changed.
        context["outlet_events"][RAW].extra = {
            "load_id": result.get("load_id"),
            "drop_dir": str(drop_dir),
            "rows_loaded": sum(t.get("rows_loaded", 0) for t in result.get("tables", [])),
        }
        return result

    validate_and_load()


eis_ingest()
