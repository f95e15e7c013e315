"""The REAL Airflow 3 stack: scheduler (LocalExecutor), dag-processor, triggerer and api-server,
metadata in the embedded PostgreSQL, started by ``eis_core.orchestration.stack`` in an EIS_HOME of
its own, on a free port.  ``eis_ingest`` is triggered through the public REST API
(``POST /auth/token``, ``POST /api/v2/dags/eis_ingest/dagRuns``) and must succeed; its Asset event
must make the scheduler start ``eis_transform`` (data-aware scheduling), which must succeed too; after ``stop()`` no process
of the stack may be left.
"""

from __future__ import annotations

import time

import pytest

from minidrop import valid_tables, write_drop

pytestmark = pytest.mark.slow

RUN_TIMEOUT = 240


@pytest.fixture(scope="module")
def own_home():
    """A private EIS_HOME (own embedded PostgreSQL, own AIRFLOW_HOME) for the stack."""
    from conftest import private_eis_home
    from eis_core import db

    with private_eis_home("eis_airflow_stack_", unset=("EIS_DEFAULT_DROP",)) as home:
        db.start()
        try:
            yield home
        finally:
            from eis_core.orchestration import stack

            stack.stop(progress=lambda _m: None)  # no-op unless a test left it running


@pytest.fixture(scope="module")
def running_stack(own_home):
    from eis_core.orchestration import stack

    t0 = time.monotonic()
    state = stack.start(stack.free_port(), timeout=180, progress=print)
    print(f"stack healthy after {time.monotonic() - t0:.1f} s at {state.url}")
    return state


def test_trigger_ingest_through_the_rest_api(running_stack, own_home):
    from eis_core import db
    from eis_core.orchestration import stack
    from eis_core.orchestration.airflow_env import ADMIN_USER, admin_password

    drop = write_drop(own_home / "drops" / "mini", valid_tables())
    with stack.ApiClient(running_stack.url, ADMIN_USER, admin_password()) as api:
        assert api.token()  # POST /auth/token with the generated admin password
        dag = api.wait_for_dag("eis_ingest", timeout=120)
        assert dag["dag_id"] == "eis_ingest"
        if dag["is_paused"]:
            api.unpause("eis_ingest")
        run = api.trigger("eis_ingest", {"drop_dir": str(drop)})
        assert run["state"] in ("queued", "running")
        t0 = time.monotonic()
        final = api.wait_for_run("eis_ingest", run["dag_run_id"], timeout=RUN_TIMEOUT, progress=print)
        print(f"eis_ingest {final['state']} after {time.monotonic() - t0:.1f} s")
        tis = api.task_instances("eis_ingest", run["dag_run_id"])
        assert final["state"] == "success", tis
        assert [(t["task_id"], t["state"]) for t in tis] == [("validate_and_load", "success")]

        # data-aware scheduling: the raw Asset event queues eis_transform
        deadline = time.monotonic() + 60
        runs = []
        while time.monotonic() < deadline and not runs:
            runs = [r for r in api.dag_runs("eis_transform") if r["run_type"] == "asset_triggered"]
            time.sleep(1)
        assert runs, "eis_transform was not triggered by the eis://warehouse/raw Asset event"
        t0 = time.monotonic()
        final = api.wait_for_run("eis_transform", runs[0]["dag_run_id"], timeout=RUN_TIMEOUT, progress=print)
        print(f"eis_transform {final['state']} after {time.monotonic() - t0:.1f} s")
        assert final["state"] == "success", api.task_instances("eis_transform", runs[0]["dag_run_id"])

    with db.connect() as conn:
        (officers,) = conn.execute("SELECT count(*) FROM raw.officers").fetchone()
        (stg_officers,) = conn.execute("SELECT count(*) FROM staging.stg_officers").fetchone()
    assert officers == stg_officers == len(valid_tables()["officers"])


def test_bad_login_is_refused(running_stack):
    from eis_core.orchestration import stack

    with stack.ApiClient(running_stack.url, "admin", "not-the-password") as api:
        with pytest.raises(stack.StackError, match="401"):
            api.token()


def test_stop_leaves_no_process_behind(running_stack):
    from eis_core.orchestration import stack

    pids = dict(running_stack.pids)
    assert stack.status()["running"]
    assert stack.stop(progress=print) is True
    assert stack.group_members(running_stack.pgid) == []
    assert stack.stack_processes(running_stack.stack_id) == []
    assert not any(stack.pid_alive(pid) for pid in pids.values())
    assert stack.status() == {"running": False}
    assert stack.health(running_stack.port, timeout=1) is None
