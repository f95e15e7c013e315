"""eis_dispatch: the dispatch-level risk model of the CMPD paper (issue 9).

* ``build``: dbt builds ``dispatch.dispatch_officer_days`` and ``dispatch.dispatch_dataset`` (one row per
  call x officer dispatch) with their staging views; not part of ``eis_transform`` (too heavy for every load);
* ``train``: samples (all positives, negatives to the configured ratio), splits in time, compares feature
  subsets (F1 on the positive class against random), evaluates the unsampled later period, records the
  run in schema ``results`` (its own experiment) and ``dispatch.*``, and writes the report under
  ``$EIS_HOME/reports/dispatch``.

Triggered manually with optional conf ``{"labels": ..., "negative_ratio": 9, "split_date": "2014-01-01",
"seed": 42, "trees": 300, "session_gap_hours": 8}``.  Wiring only: the work is in eis_core.dispatch.
"""

from __future__ import annotations

import os

import pendulum
from airflow.sdk import Param, dag, task

from eis_core.orchestration.dag_defaults import NOT_IDEMPOTENT, default_args
from eis_core.orchestration.departments import PARAM as DEPARTMENT
from eis_core.paths import REPO_ROOT

_DEFAULT_LABELS = os.environ.get("EIS_MODELING_LABELS", str(REPO_ROOT / "configs" / "labels_config.yaml"))


@dag(
    dag_id="eis_dispatch",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    tags=["eis", "dispatch"],
    params={
        DEPARTMENT: Param(
            "default",
            type="string",
            pattern="^[a-z][a-z0-9_]{1,30}$",
            title="Department",
            description="whose warehouse the run works in (`eis department list`)",
        ),
        "labels": Param(
            _DEFAULT_LABELS,
            type="string",
            minLength=1,
            title="Labels config",
            description="labels_config.yaml: the adverse-event definition.",
        ),
        "negative_ratio": Param(9.0, type="number", exclusiveMinimum=0, title="Negatives per positive"),
        "split_date": Param(None, type=["null", "string"], title="Split date (YYYY-MM-DD; default automatic)"),
        "seed": Param(42, type="integer"),
        "trees": Param(300, type="integer", minimum=10),
        "session_gap_hours": Param(8.0, type="number", exclusiveMinimum=0, maximum=48),
    },
    doc_md=__doc__,
)
def eis_dispatch():
    @task
    def build(**context) -> dict:
        from eis_core.dispatch.dataset import build_dataset
        from eis_core.orchestration.departments import working_for

        p = context["params"]
        with working_for(p[DEPARTMENT]):
            s = build_dataset(labels=p["labels"], session_gap_hours=float(p["session_gap_hours"]))
            return {"rows": s["rows"], "positives": s["positives"], "seconds": s["wall_seconds"]}

    @task(retry_policy=NOT_IDEMPOTENT)  # records a new results run per try
    def train(built: dict, **context) -> dict:
        from datetime import date

        from eis_core.dispatch.model import train as train_models
        from eis_core.orchestration.departments import working_for

        p = context["params"]
        with working_for(p[DEPARTMENT]):
            split = date.fromisoformat(p["split_date"]) if p.get("split_date") else None
            res = train_models(
                labels=p["labels"],
                negative_ratio=float(p["negative_ratio"]),
                split_date=split,
                seed=int(p["seed"]),
                n_estimators=int(p["trees"]),
            )
            return {
                "run_id": res["run_id"],
                "experiment_id": res["experiment_id"],
                "split_date": res["split_date"],
                "report": res["report"],
                "dataset_rows": built["rows"],
            }

    train(build())


eis_dispatch()
