"""eis_modeling: temporal splits, matrices, the model grid (one mapped task per split × model), evaluation
and model selection.

* ``prepare``: opens a run in ``results.runs``, builds the features the splits need, builds (or reuses)
  every train/test matrix, expands the grid into one task per (temporal split × model configuration)
  and splits them into a few batches of similar estimated cost (``EIS_MODELING_INSTANCES``, default
  twice ``EIS_MODELING_PARALLEL_TASKS``; a grid no larger than that keeps one model per batch);
* ``train_and_score``: dynamic task mapping over the batches - each task instance trains its batch's
  models one after another and scores their test matrices.  A task process costs seconds of start-up
  and imports (Airflow's task runner, numpy, pandas, scikit-learn) while most models train in well
  under a second, so one process per model made the grid several times slower than in one process
  (docs/benchmarks/airflow_grid.md);
* ``finish``: evaluates every model of the run and selects a model group (report under
  ``<project_path>/reports``); ``mark_failed`` closes the run as failed when a task failed.

Triggered manually (or through the REST API) with ``{"config": ..., "labels": ...}`` (defaults: the
repository's configs, which for a department other than ``default`` mean its own copies) and
``"department": "NAME"`` (default ``default``): every task works in that department's database.  Not scheduled on the ``eis://warehouse/staging`` Asset on purpose: a full grid
is heavy, and a new load should not retrain every model group unasked (see docs/modeling.md).

Wiring only: every heavy import happens inside the tasks, in eis_core.modeling.pipeline.  Tasks pass
only small JSON XComs (ids and paths); data lives in the warehouse and under ``project_path``, so the
DAG runs unchanged on LocalExecutor and CeleryExecutor (workers must share ``project_path``).

Every try of ``prepare``/``train_and_score``/``finish`` records new rows, so an error raised by their
code fails at once (``NOT_IDEMPOTENT``); only failures outside it (start-up, heartbeats) are retried.
``mark_failed`` is idempotent.  A failure alerts by e-mail/webhook.
"""

from __future__ import annotations

import os

import pendulum
from airflow.sdk import Param, dag, task

from eis_core.orchestration.dag_defaults import NOT_IDEMPOTENT, default_args
from eis_core.orchestration.departments import PARAM as DEPARTMENT
from eis_core.paths import REPO_ROOT

_DEFAULT_CONFIG = os.environ.get("EIS_MODELING_CONFIG", str(REPO_ROOT / "configs" / "officer_config.yaml"))
_DEFAULT_LABELS = os.environ.get("EIS_MODELING_LABELS", str(REPO_ROOT / "configs" / "labels_config.yaml"))
#: mapped train_and_score instances running at once in one DAG run (each may use several cores)
_PARALLEL = int(os.environ.get("EIS_MODELING_PARALLEL_TASKS", "2"))


@dag(
    dag_id="eis_modeling",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    tags=["eis", "modeling"],
    params={
        "config": Param(
            _DEFAULT_CONFIG,
            type="string",
            minLength=1,
            title="Officer config",
            description="officer_config.yaml: temporal_config, model_grid, baselines, selection.",
        ),
        "labels": Param(
            _DEFAULT_LABELS,
            type="string",
            minLength=1,
            title="Labels config",
            description="labels_config.yaml: adverse-event definition and label windows.",
        ),
        DEPARTMENT: Param(
            "default",
            type="string",
            pattern="^[a-z][a-z0-9_]{1,30}$",
            title="Department",
            description="whose warehouse, configs (the shipped paths mean the department's copies) and project",
        ),
    },
    doc_md=__doc__,
)
def eis_modeling():
    @task(retry_policy=NOT_IDEMPOTENT)
    def prepare(**context) -> list[list[dict]]:
        """Returns the batches of tasks (what train_and_score maps over); pushes the run info as XCom
        ``run`` and the splits as XCom ``splits`` (Airflow maps only over a return value)."""
        from eis_core.modeling.pipeline import batch_label, batch_tasks, default_instances, prepare_run, run_info_of
        from eis_core.orchestration.departments import working_for

        params = context["params"]
        with working_for(params[DEPARTMENT]):
            prepared = prepare_run(params["config"], params["labels"])
        for s in prepared["splits"]:
            print(
                f"{s['split_id']}: train {s['train_matrix_id']} ({s['train_rows']} rows), "
                f"test {s['test_matrix_id']} ({s['test_rows']} rows)"
            )
        ti = context["ti"]
        ti.xcom_push(key="run", value={**run_info_of(prepared), "prepare_seconds": prepared["prepare_seconds"]})
        ti.xcom_push(key="splits", value=prepared["splits"])
        batches = batch_tasks(prepared["tasks"], default_instances(len(prepared["tasks"]), _PARALLEL))
        for i, b in enumerate(batches):
            print(f"batch {i}: {batch_label(b)}")
        return batches

    @task(max_active_tis_per_dagrun=_PARALLEL, map_index_template="{{ eis_task_label }}", retry_policy=NOT_IDEMPOTENT)
    def train_and_score(run: dict, model_batch: list[dict]) -> list[dict]:
        from airflow.sdk import get_current_context

        from eis_core.modeling.pipeline import batch_label, run_batch
        from eis_core.orchestration.departments import working_for

        # names each mapped instance in the UI: "split_2015-01-01 RandomForestClassifier-3f2a9c1b0e"
        # (one model) or "9 models: split_2014-01-01, split_2014-07-01"
        context = get_current_context()
        context["eis_task_label"] = batch_label(model_batch)
        with working_for(context["params"][DEPARTMENT]):
            return run_batch(run, model_batch)

    @task(retry_policy=NOT_IDEMPOTENT)
    def finish(run: dict, results, **context) -> dict:
        from eis_core.modeling.pipeline import finish_run
        from eis_core.orchestration.departments import working_for

        with working_for(context["params"][DEPARTMENT]):
            return finish_run(run, list(results))

    @task(trigger_rule="one_failed")
    def mark_failed(run: dict, **context) -> None:
        from eis_core.modeling.pipeline import mark_failed as close_failed
        from eis_core.orchestration.departments import working_for

        with working_for(context["params"][DEPARTMENT]):
            close_failed(run)

    model_tasks = prepare()
    run = model_tasks["run"]  # the XCom `run` that prepare pushes
    # one mapped instance per batch of (split x model configuration); the argument cannot be called
    # `task` (a reserved task-context name in Airflow 3)
    trained = train_and_score.partial(run=run).expand(model_batch=model_tasks)
    finish(run, trained)
    trained >> mark_failed(run)


eis_modeling()
