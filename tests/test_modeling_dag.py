"""The eis_modeling DAG: it parses light and maps train_and_score; and one real run with
``airflow dags test`` (``eis airflow run-dag``) on a tiny grid (DecisionTree + PriorBaseline, 2 splits)
trains one model per (split × model configuration) into results.models and selects a model group.

The data is the small synthetic department loaded into the session's PostgreSQL (tests/modeling_data.py).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from eis_core import db
from eis_core.paths import dags_dir
from modeling_data import prepared

PARSE = r"""
import json, sys
from airflow.dag_processing.dagbag import DagBag
from airflow.sdk.definitions.mappedoperator import MappedOperator
bag = DagBag(dag_folder=sys.argv[1])
if "eis_modeling" not in bag.dags:
    print("@@" + json.dumps({"errors": {k: str(v) for k, v in bag.import_errors.items()}}))
    sys.exit(0)
dag = bag.dags["eis_modeling"]
heavy = ("pandas", "pyarrow", "sklearn", "numpy", "dbt", "great_expectations", "eis_core.modeling", "eis_core.load")
print("@@" + json.dumps({
    "errors": {k: str(v) for k, v in bag.import_errors.items()},
    "timetable": type(dag.timetable).__name__,
    "tasks": {t.task_id: {"mapped": isinstance(t, MappedOperator),
                          "upstream": sorted(t.upstream_task_ids), "trigger_rule": str(t.trigger_rule)}
              for t in dag.tasks},
    "params": {k: dag.params[k] for k in dag.params},
    "heavy": sorted(m for m in sys.modules if any(m == h or m.startswith(h + ".") for h in heavy)),
}))
"""


@pytest.fixture(scope="module")
def parsed(warehouse):
    from eis_core.orchestration.airflow_env import airflow_env

    proc = subprocess.run([sys.executable, "-c", PARSE, str(dags_dir())], env=airflow_env(), capture_output=True,
                          text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(next(ln for ln in proc.stdout.splitlines() if ln.startswith("@@"))[2:])


def test_dag_integrity(parsed):
    assert parsed["errors"] == {}
    assert parsed["timetable"] == "NullTimetable"  # manual / REST API only
    tasks = parsed["tasks"]
    assert set(tasks) == {"prepare", "train_and_score", "finish", "mark_failed"}
    assert tasks["train_and_score"]["mapped"] is True and tasks["train_and_score"]["upstream"] == ["prepare"]
    assert tasks["finish"]["upstream"] == ["prepare", "train_and_score"] and not tasks["finish"]["mapped"]
    assert "one_failed" in tasks["mark_failed"]["trigger_rule"].lower()
    assert parsed["params"]["config"].endswith("officer_config.yaml")
    assert parsed["params"]["labels"].endswith("labels_config.yaml")
    assert parsed["heavy"] == []


def _xcom(dag_id: str, task_id: str, key: str):
    with db.connect(db.AIRFLOW_DB) as conn:
        row = conn.execute(
            "SELECT x.value FROM xcom x JOIN dag_run r ON r.id = x.dag_run_id WHERE x.dag_id = %s AND x.task_id = %s "
            "AND x.key = %s AND x.map_index = -1 ORDER BY r.id DESC LIMIT 1", (dag_id, task_id, key)).fetchone()
    assert row is not None, f"no XCom {key} of {dag_id}.{task_id}"
    return json.loads(row[0]) if isinstance(row[0], (str, bytes)) else row[0]


@pytest.fixture(scope="module")
def dag_run(warehouse, small_drop, tmp_path_factory):
    data = prepared(small_drop, tmp_path_factory.mktemp("modeling_dag") / "m")
    conf = {"config": str(data["config"]), "labels": str(data["labels"])}
    proc = subprocess.run([sys.executable, "-m", "eis_core.cli", "airflow", "run-dag", "eis_modeling", "--conf",
                           json.dumps(conf)], capture_output=True, text=True, timeout=600)
    return proc, data


def test_a_real_run_trains_one_model_per_split_and_configuration(dag_run):
    proc, data = dag_run
    assert proc.returncode == 0, f"{proc.stdout[-5000:]}\n{proc.stderr[-5000:]}"
    with db.connect(db.AIRFLOW_DB) as conn:
        state, run_pk = conn.execute("SELECT state, id FROM dag_run WHERE dag_id = 'eis_modeling' ORDER BY id DESC "
                                     "LIMIT 1").fetchone()
        mapped = conn.execute("SELECT map_index, state FROM task_instance WHERE dag_id = 'eis_modeling' AND "
                              "task_id = 'train_and_score' AND run_id = (SELECT run_id FROM dag_run WHERE id = %s) "
                              "ORDER BY map_index", (run_pk,)).fetchall()
    assert state == "success"
    run = _xcom("eis_modeling", "prepare", "run")
    tasks = _xcom("eis_modeling", "prepare", "return_value")
    assert len(tasks) == 2 * 2  # 2 splits x (DecisionTree + PriorBaseline)
    assert [m for m, _ in mapped] == [0, 1, 2, 3] and {s for _, s in mapped} == {"success"}
    with db.connect() as conn:
        models = conn.execute(
            "SELECT m.split_id, g.class_path, m.status FROM results.models m JOIN results.run_models rm USING (model_id) "
            "JOIN results.model_groups g USING (model_group_id) WHERE rm.run_id = %s", (run["run_id"],)).fetchall()
        status = conn.execute("SELECT status FROM results.runs WHERE run_id = %s", (run["run_id"],)).fetchone()[0]
        chosen = conn.execute("SELECT count(*) FROM results.selections WHERE experiment_id = %s AND chosen",
                              (run["experiment_id"],)).fetchone()[0]
        evaluations = conn.execute("SELECT count(*) FROM results.evaluations e JOIN results.run_models rm "
                                   "USING (model_id) WHERE rm.run_id = %s", (run["run_id"],)).fetchone()[0]
    assert len(models) == 4 and {m[2] for m in models} == {"done"}
    assert {m[0] for m in models} == {"split_2014-01-01", "split_2014-07-01"}
    assert {m[1].rsplit(".", 1)[1] for m in models} == {"DecisionTreeClassifier", "PriorBaseline"}
    assert status == "done" and chosen >= 1 and evaluations > 0
    finish = _xcom("eis_modeling", "finish", "return_value")
    assert finish["run_id"] == run["run_id"] and finish["model_group_id"]
