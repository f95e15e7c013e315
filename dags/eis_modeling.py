"""eis_modeling: temporal splits, matrices, the model grid (one mapped task per split × model), evaluation
and model selection.

* ``prepare``: opens a run in ``results.runs``, builds the features the splits need, builds (or reuses)
  every train/test matrix, and expands the grid into a list of tasks;
* ``train_and_score``: dynamic task mapping over that list - one task instance per (temporal split ×
  model configuration), each training one model and scoring its test matrix;
* ``finish``: evaluates every model of the run and selects a model group (report under
  ``<project_path>/reports``); ``mark_failed`` closes the run as failed when a task failed.

Triggered manually (or through the REST API) with ``{"config": ..., "labels": ...}`` (defaults: the
repository's configs).  Not scheduled on the ``eis://warehouse/staging`` Asset on purpose: a full grid
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
        "config": Param(_DEFAULT_CONFIG, type="string", minLength=1, title="Officer config",
                        description="officer_config.yaml: temporal_config, model_grid, baselines, selection."),
        "labels": Param(_DEFAULT_LABELS, type="string", minLength=1, title="Labels config",
                        description="labels_config.yaml: adverse-event definition and label windows."),
    },
    doc_md=__doc__,
)
def eis_modeling():
    @task(retry_policy=NOT_IDEMPOTENT)
    def prepare(**context) -> list[dict]:
        """Returns the task list (what train_and_score maps over); pushes the run info as XCom ``run``
        and the splits as XCom ``splits`` (Airflow maps only over a return value)."""
        from eis_core.modeling.pipeline import prepare_run, run_info_of

        params = context["params"]
        prepared = prepare_run(params["config"], params["labels"])
        for s in prepared["splits"]:
            print(f"{s['split_id']}: train {s['train_matrix_id']} ({s['train_rows']} rows), "
                  f"test {s['test_matrix_id']} ({s['test_rows']} rows)")
        ti = context["ti"]
        ti.xcom_push(key="run", value={**run_info_of(prepared), "prepare_seconds": prepared["prepare_seconds"]})
        ti.xcom_push(key="splits", value=prepared["splits"])
        return prepared["tasks"]

    @task(max_active_tis_per_dagrun=_PARALLEL, map_index_template="{{ eis_task_label }}", retry_policy=NOT_IDEMPOTENT)
    def train_and_score(run: dict, model_task: dict) -> dict:
        from airflow.sdk import get_current_context

        from eis_core.modeling.pipeline import run_task

        # names each mapped instance in the UI: "split_2015-01-01 RandomForestClassifier-3f2a9c1b0e"
        get_current_context()["eis_task_label"] = (f"{model_task['split_id']} "
                                                   f"{model_task['model_config'].get('model_group_key')}")
        result = run_task(run, model_task)
        print(result)
        return result

    @task(retry_policy=NOT_IDEMPOTENT)
    def finish(run: dict, results) -> dict:
        from eis_core.modeling.pipeline import finish_run

        return finish_run(run, list(results))

    @task(trigger_rule="one_failed")
    def mark_failed(run: dict) -> None:
        from eis_core.modeling.pipeline import mark_failed as close_failed

        close_failed(run)

    model_tasks = prepare()
    run = model_tasks["run"]  # the XCom `run` that prepare pushes
    # one mapped instance per (split x model configuration); the argument cannot be called `task`
    # (a reserved task-context name in Airflow 3)
    trained = train_and_score.partial(run=run).expand(model_task=model_tasks)
    finish(run, trained)
    trained >> mark_failed(run)


eis_modeling()
