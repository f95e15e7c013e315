"""A drop flows to the risk list by itself, on the REAL Airflow 3 stack (scheduler, dag-processor,
triggerer, api-server; LocalExecutor) in an EIS_HOME of its own.

A model group is trained and selected first (the small synthetic department, a tiny grid: what a
department has after ``eis_modeling`` and ``eis select``).  Then ``eis_ingest`` is triggered through the
REST API - and nothing else: its Asset event starts ``eis_transform``, whose ``eis://warehouse/staging``
event starts ``eis_production``, which scores the data's newest date (2015-12-31, the drop's extraction
date) into schema ``production``.
"""

from __future__ import annotations

import time
from datetime import date

import pytest

from modeling_data import write_config

pytestmark = pytest.mark.slow

RUN_TIMEOUT = 600


@pytest.fixture(scope="module")
def home_with_a_model(small_drop):
    import modeling_data
    from conftest import private_eis_home
    from eis_core import db
    from eis_core.modeling.pipeline import run_all

    with private_eis_home("eis_airflow_chain_", unset=("EIS_DEFAULT_DROP",)) as home:
        db.start()
        modeling_data._cache.clear()
        try:
            data = modeling_data.prepared(small_drop, home / "m")
            cfg = write_config(home / "m" / "prod", data["project"], temporal_config={
                "feature_start_time": "2012-01-01", "label_start_time": "2013-01-01",
                "label_end_time": "2014-07-01", "model_update_frequency": "6 months",
                "max_training_history": "2 years", "training_as_of_frequency": "6 months",
                "test_duration": "0 days", "test_as_of_frequency": "6 months", "label_window": "1 year"})
            summary = run_all(cfg, data["labels"], progress=None)
            assert summary["model_group_id"], summary
            with pytest.MonkeyPatch.context() as mp:
                mp.setenv("EIS_MODELING_CONFIG", str(cfg))  # the DAGs' default config (read at parse)
                mp.setenv("EIS_MODELING_LABELS", str(data["labels"]))
                yield {"home": home, "group": summary["model_group_id"]}
        finally:
            from eis_core.orchestration import stack

            stack.stop(progress=lambda _m: None)
            modeling_data._cache.clear()


def _wait_asset_run(api, dag_id: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = [r for r in api.dag_runs(dag_id) if r["run_type"] == "asset_triggered"]
        if runs:
            return runs[0]
        time.sleep(2)
    raise AssertionError(f"{dag_id} was not started by an Asset event within {timeout:.0f} s")


def test_a_drop_triggered_through_the_rest_api_reaches_the_risk_list(home_with_a_model, small_drop):
    from eis_core import db
    from eis_core.orchestration import stack

    t_all = time.monotonic()
    state = stack.start(stack.free_port(), timeout=240, progress=print)
    with stack.ApiClient(state.url) as api:
        for dag_id in ("eis_ingest", "eis_transform", "eis_production"):
            if api.wait_for_dag(dag_id, timeout=180)["is_paused"]:
                api.unpause(dag_id)
        run = api.trigger("eis_ingest", {"drop_dir": str(small_drop.resolve())})
        final = api.wait_for_run("eis_ingest", run["dag_run_id"], timeout=RUN_TIMEOUT, progress=print)
        assert final["state"] == "success", api.task_instances("eis_ingest", run["dag_run_id"])

        transform = _wait_asset_run(api, "eis_transform")
        final = api.wait_for_run("eis_transform", transform["dag_run_id"], timeout=RUN_TIMEOUT, progress=print)
        assert final["state"] == "success", api.task_instances("eis_transform", transform["dag_run_id"])

        production = _wait_asset_run(api, "eis_production")
        final = api.wait_for_run("eis_production", production["dag_run_id"], timeout=RUN_TIMEOUT, progress=print)
        tis = {t["task_id"]: t["state"] for t in api.task_instances("eis_production", production["dag_run_id"])}
        assert final["state"] == "success" and tis == {
            "departments": "success", "missed_days": "success", "score": "success"}, tis
    print(f"drop -> risk list through the scheduler: {time.monotonic() - t_all:.0f} s")

    with db.connect() as conn:
        row = conn.execute("SELECT model_group_id, n_scored, scored_by FROM production.scoring_runs "
                           "WHERE as_of_date = %s", (date(2015, 12, 31),)).fetchone()
        (preds,) = conn.execute("SELECT count(*) FROM production.predictions WHERE as_of_date = %s",
                                (date(2015, 12, 31),)).fetchone()
    assert row is not None, "no risk list for the drop's extraction date 2015-12-31"
    assert row[0] == home_with_a_model["group"] and row[2] == "airflow:eis_production"
    assert preds == row[1] > 50
    assert stack.stop(progress=print) is True
