"""Grid throughput under Airflow (issue 18, item 4): the model grid is mapped over a few balanced
batches instead of one task process per model.

* the batching itself, on the real default grid (``configs/officer_config.yaml``) and its splits;
* a real ``airflow dags test`` run of ``eis_modeling`` with ``EIS_MODELING_INSTANCES=2`` on the tiny
  grid of tests/modeling_data.py (2 splits x 2 models): 2 mapped instances train the 4 models, every
  model recorded once, the run evaluated and a model group selected.

The throughput itself is measured by bench/bench_airflow_grid.py (the real scheduler against one process).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from eis_core import db
from modeling_data import prepared


def _default_grid_tasks(n_splits: int = 4) -> list[dict]:
    from eis_core.config import DEFAULT_OFFICER_CONFIG, load_officer_config
    from eis_core.modeling.grid import expand_grid

    configs = expand_grid(load_officer_config(DEFAULT_OFFICER_CONFIG))
    return [{"split_id": f"split_{i}", "train_matrix_id": f"tr{i}", "test_matrix_id": f"te{i}", "model_config": mc}
            for i in range(n_splits) for mc in configs]


def test_batches_cover_every_task_once_and_are_balanced(monkeypatch):
    from eis_core.modeling.pipeline import batch_tasks, default_instances, task_cost

    monkeypatch.delenv("EIS_MODELING_INSTANCES", raising=False)
    monkeypatch.delenv("EIS_MODELING_PARALLEL_TASKS", raising=False)
    tasks = _default_grid_tasks()
    assert len(tasks) > 40
    assert default_instances(len(tasks)) == 4  # 2 at once (the default), twice that
    batches = batch_tasks(tasks)
    assert len(batches) == 4
    flat = [t for b in batches for t in b]
    key = lambda t: (t["split_id"], t["model_config"]["model_group_key"])  # noqa: E731
    assert sorted(map(key, flat)) == sorted(map(key, tasks)) and len(set(map(key, flat))) == len(tasks)
    loads = [sum(task_cost(t) for t in b) for b in batches]
    assert max(loads) <= 1.25 * min(loads), loads
    for b in batches:  # grid order inside a batch (split-major: a split's matrices are read once)
        positions = [tasks.index(t) for t in b]
        assert positions == sorted(positions)


def test_a_grid_no_larger_than_the_instances_keeps_one_model_per_instance(monkeypatch):
    from eis_core.modeling.pipeline import batch_tasks

    monkeypatch.delenv("EIS_MODELING_INSTANCES", raising=False)
    tasks = _default_grid_tasks()[:3]
    assert [len(b) for b in batch_tasks(tasks)] == [1, 1, 1]
    monkeypatch.setenv("EIS_MODELING_INSTANCES", "1")
    assert [len(b) for b in batch_tasks(tasks)] == [3]
    assert batch_tasks([]) == []


def test_costlier_models_spread_over_batches():
    from eis_core.modeling.pipeline import batch_tasks, task_cost

    tasks = _default_grid_tasks(n_splits=2)
    heavy = sorted(tasks, key=task_cost, reverse=True)[:4]
    batches = batch_tasks(tasks, 4)
    holders = [next(i for i, b in enumerate(batches) if t in b) for t in heavy]
    assert len(set(holders)) == 4, holders  # the four costliest tasks land in four different batches


@pytest.fixture(scope="module")
def batched_run(warehouse, small_drop, tmp_path_factory):
    from eis_core.orchestration.airflow_env import airflow_env

    data = prepared(small_drop, tmp_path_factory.mktemp("airflow_grid") / "m")
    conf = {"config": str(data["config"]), "labels": str(data["labels"])}
    env = {**airflow_env(), "EIS_MODELING_INSTANCES": "2"}
    proc = subprocess.run([sys.executable, "-m", "eis_core.cli", "airflow", "run-dag", "eis_modeling", "--conf",
                           json.dumps(conf)], capture_output=True, text=True, timeout=900, env=env)
    return proc


def test_two_instances_train_the_four_models_of_the_grid(batched_run):
    proc = batched_run
    assert proc.returncode == 0, f"{proc.stdout[-5000:]}\n{proc.stderr[-5000:]}"
    with db.connect(db.AIRFLOW_DB) as conn:
        run_id = conn.execute("SELECT run_id FROM dag_run WHERE dag_id = 'eis_modeling' ORDER BY id DESC LIMIT 1"
                              ).fetchone()[0]
        mapped = conn.execute("SELECT map_index, state, rendered_map_index FROM task_instance WHERE dag_id = "
                              "'eis_modeling' AND task_id = 'train_and_score' AND run_id = %s ORDER BY map_index",
                              (run_id,)).fetchall()
        value = conn.execute("SELECT x.value FROM xcom x JOIN dag_run r ON r.id = x.dag_run_id WHERE r.run_id = %s "
                             "AND x.task_id = 'prepare' AND x.key = 'run'", (run_id,)).fetchone()[0]
    run = json.loads(value) if isinstance(value, (str, bytes)) else value
    assert [(m, s) for m, s, _ in mapped] == [(0, "success"), (1, "success")]
    assert all(label and "2 models" in label for _, _, label in mapped), mapped
    with db.connect() as conn:
        models = conn.execute(
            "SELECT m.split_id, g.class_path, m.status FROM results.models m JOIN results.run_models rm USING (model_id) "
            "JOIN results.model_groups g USING (model_group_id) WHERE rm.run_id = %s", (run["run_id"],)).fetchall()
        status, timings = conn.execute("SELECT status, timings FROM results.runs WHERE run_id = %s",
                                       (run["run_id"],)).fetchone()
        chosen = conn.execute("SELECT count(*) FROM results.selections WHERE experiment_id = %s AND chosen",
                              (run["experiment_id"],)).fetchone()[0]
    assert len(models) == 4 and {m[2] for m in models} == {"done"}
    assert {m[0] for m in models} == {"split_2014-01-01", "split_2014-07-01"}
    assert status == "done" and chosen >= 1
    assert timings["models"] == 4  # finish received the batches' results, flattened per model


PRELOAD_PROBE = r"""
import json, sys
from airflow.executors.executor_loader import ExecutorLoader
executor = ExecutorLoader.get_default_executor()
before = "sklearn.base" in sys.modules
executor.start()
after = {m: m in sys.modules for m in ("sklearn.base", "pandas", "eis_core.modeling.train")}
executor.end()
print("@@" + json.dumps({"class": type(executor).__name__, "before": before, "after": after}))
"""


@pytest.mark.parametrize("preload", [None, ""])
def test_the_stack_executor_imports_the_modeling_stack_before_forking_workers(warehouse, preload):
    """The executor Airflow loads from the stack's settings is PreloadingLocalExecutor; started, it has
    imported the modeling stack (so the workers it forks, and their task processes, start warm);
    EIS_AIRFLOW_PRELOAD="" turns that off."""
    from eis_core.orchestration.airflow_env import airflow_env

    env = airflow_env()
    env.pop("EIS_AIRFLOW_PRELOAD", None)
    if preload is not None:
        env["EIS_AIRFLOW_PRELOAD"] = preload
    env["AIRFLOW__CORE__PARALLELISM"] = "1"
    proc = subprocess.run([sys.executable, "-c", PRELOAD_PROBE], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(next(ln for ln in proc.stdout.splitlines() if ln.startswith("@@"))[2:])
    assert out["class"] == "PreloadingLocalExecutor" and out["before"] is False
    assert all(out["after"].values()) is (preload is None), out
