"""The calls_forecast DAG parses light, and one `airflow dags test` run on the small department
(short history) stores backtests, forecasts and priority scores; the CLI reads them back."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from eis_core.paths import dags_dir

PARSE = r"""
import json, sys
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
dag = bag.dags.get("calls_forecast")
heavy = ("pandas", "sklearn", "numpy", "statsmodels", "scipy", "eis_core.forecast")
print("@@" + json.dumps({
    "errors": {k: str(v) for k, v in bag.import_errors.items() if "calls_forecast" in k},
    "found": dag is not None,
    "catchup": dag.catchup if dag else None,
    "timetable": type(dag.timetable).__name__ if dag else None,
    "tasks": {t.task_id: sorted(t.upstream_task_ids) for t in dag.tasks} if dag else {},
    "heavy": sorted(m for m in sys.modules if any(m == h or m.startswith(h + ".") for h in heavy)),
}))
"""


def test_dag_parses_light(warehouse):
    from eis_core.orchestration.airflow_env import airflow_env

    proc = subprocess.run([sys.executable, "-c", PARSE, str(dags_dir() / "calls_forecast.py")], env=airflow_env(),
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(next(ln for ln in proc.stdout.splitlines() if ln.startswith("@@"))[2:])
    assert out["errors"] == {} and out["found"]
    assert out["catchup"] is False and out["timetable"] != "NullTimetable"
    assert out["tasks"] == {"calls_hourly": [], "stops_daily": [], "peaks": ["calls_hourly"], "priority_model": []}
    assert out["heavy"] == []


@pytest.fixture(scope="module")
def loaded_small(warehouse, small_drop):
    from conftest import reset_raw
    from eis_core.load.loader import load_drop

    reset_raw(warehouse)
    load_drop(small_drop, progress=lambda m: None).raise_for_status()
    return warehouse


def test_dag_run_on_small_department(loaded_small, tmp_path):
    from eis_core.orchestration import stack

    conf = {"history_days": 200, "gbm_train_weeks": 8, "n_origins": 2, "priority_train_days": 60,
            "priority_test_days": 21}
    lines: list[str] = []
    code = stack.run_dag("calls_forecast", conf, progress=lambda m: None, output=lines.append)
    assert code == 0, "\n".join(lines[-80:])
    with loaded_small.connect() as conn:
        kinds = dict(conn.execute("SELECT kind, max(run_id) FROM forecast.runs WHERE seconds IS NOT NULL GROUP BY kind").fetchall())
        assert set(kinds) >= {"calls_hourly", "stops_daily", "priority"}
        run = kinds["calls_hourly"]
        n_series = conn.execute("SELECT count(DISTINCT series) FROM forecast.calls_hourly WHERE run_id = %s", (run,)).fetchone()[0]
        assert n_series == 5  # ALL + 4 divisions
        per = conn.execute("SELECT count(*) FROM forecast.calls_hourly WHERE run_id = %s AND chosen AND series = 'ALL'",
                           (run,)).fetchone()[0]
        assert per == 168
        chosen = conn.execute("SELECT count(DISTINCT model) FROM forecast.backtests WHERE run_id = %s AND chosen "
                              "AND series = 'ALL'", (run,)).fetchone()[0]
        assert chosen == 1
        assert conn.execute("SELECT count(*) FROM forecast.stops_daily WHERE run_id = %s AND chosen AND series = 'ALL'",
                            (kinds["stops_daily"],)).fetchone()[0] == 28
        assert conn.execute("SELECT count(*) FROM forecast.priority_scores WHERE run_id = %s",
                            (kinds["priority"],)).fetchone()[0] == 3
    from click.testing import CliRunner

    from eis_core.cli import main

    r = CliRunner().invoke(main, ["forecast", "peaks", "--png", str(tmp_path / "p.png")])
    assert r.exit_code == 0, r.output
    assert "Mon" in r.output and (tmp_path / "p.png").stat().st_size > 1000
