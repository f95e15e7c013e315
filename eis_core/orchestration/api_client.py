"""A client of the Airflow 3 REST API (``/api/v2``) of the local stack, and ``trigger`` on top of it.

The processes themselves (start, health, stop) are supervised by :mod:`eis_core.orchestration.stack`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from eis_core.orchestration.airflow_env import ADMIN_USER, admin_password
from eis_core.paths import airflow_home

TERMINAL_STATES = {"success", "failed"}

Progress = Callable[[str], object]


class StackError(RuntimeError):
    """The local Airflow stack or its REST API cannot do what was asked."""


class ApiClient:
    """A minimal client of the Airflow 3 public REST API (``/api/v2``) with the simple auth manager."""

    def __init__(self, base_url: str, username: str = ADMIN_USER, password: str | None = None, timeout: float = 30):
        import httpx

        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout)
        self._username = username
        self._password = password if password is not None else admin_password()
        self._token: str | None = None

    @classmethod
    def for_running_stack(cls) -> ApiClient:
        from eis_core.orchestration.stack import pid_alive, read_state

        st = read_state()
        if st is None or not any(pid_alive(p) for p in st.pids.values()):
            raise StackError("the Airflow stack is not running: `eis airflow start` first")
        return cls(st.url)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def token(self) -> str:
        if self._token is None:
            r = self._http.post("/auth/token", json={"username": self._username, "password": self._password})
            if r.status_code not in (200, 201):
                raise StackError(f"POST /auth/token failed: HTTP {r.status_code} {r.text[:300]}")
            self._token = r.json()["access_token"]
        return self._token

    def request(self, method: str, path: str, **kwargs):
        headers = {"Authorization": f"Bearer {self.token()}"}
        r = self._http.request(method, path, headers=headers, **kwargs)
        if r.status_code == 401:  # token expired: log in again once
            self._token = None
            headers = {"Authorization": f"Bearer {self.token()}"}
            r = self._http.request(method, path, headers=headers, **kwargs)
        return r

    def _json(self, method: str, path: str, ok=(200,), **kwargs) -> dict:
        r = self.request(method, path, **kwargs)
        if r.status_code not in ok:
            raise StackError(f"{method} {path} failed: HTTP {r.status_code} {r.text[:500]}")
        return r.json()

    def get_dag(self, dag_id: str) -> dict | None:
        r = self.request("GET", f"/api/v2/dags/{dag_id}")
        if r.status_code == 404:
            return None
        if r.status_code != 200:
            raise StackError(f"GET /api/v2/dags/{dag_id} failed: HTTP {r.status_code} {r.text[:300]}")
        return r.json()

    def wait_for_dag(self, dag_id: str, timeout: float = 120, progress: Progress = print) -> dict:
        """Wait until the dag-processor has parsed and serialized *dag_id*."""
        t0 = time.monotonic()
        noted = False
        while True:
            dag = self.get_dag(dag_id)
            if dag is not None:
                return dag
            if time.monotonic() - t0 > timeout:
                raise StackError(
                    f"DAG {dag_id!r} unknown to Airflow after {timeout:.0f} s: is it in the dags "
                    "folder, and does it parse (`eis airflow status`, dag-processor.log)?"
                )
            if not noted:
                progress(f"Waiting for the dag-processor to parse {dag_id} ...")
                noted = True
            time.sleep(1)

    def unpause(self, dag_id: str) -> None:
        self._json("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": False})

    def trigger(self, dag_id: str, conf: dict | None = None, logical_date: str | None = None) -> dict:
        body = {"logical_date": logical_date, "conf": conf or {}}
        return self._json("POST", f"/api/v2/dags/{dag_id}/dagRuns", ok=(200, 201), json=body)

    def dag_run(self, dag_id: str, run_id: str) -> dict:
        return self._json("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")

    def dag_runs(self, dag_id: str) -> list[dict]:
        return self._json("GET", f"/api/v2/dags/{dag_id}/dagRuns", params={"order_by": "-run_after"})["dag_runs"]

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        return self._json("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances")["task_instances"]

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 600, progress: Progress = print) -> dict:
        """Poll until the run is ``success`` or ``failed`` (raises StackError on timeout)."""
        t0 = time.monotonic()
        last = None
        while True:
            run = self.dag_run(dag_id, run_id)
            if run["state"] != last:
                progress(f"  {dag_id} {run_id}: {run['state']} ({time.monotonic() - t0:.0f} s)")
                last = run["state"]
            if run["state"] in TERMINAL_STATES:
                return run
            if time.monotonic() - t0 > timeout:
                raise StackError(f"{dag_id} {run_id} still {run['state']} after {timeout:.0f} s")
            time.sleep(2)


def trigger(
    dag_id: str,
    conf: dict | None = None,
    *,
    wait: bool = False,
    timeout: float = 600,
    progress: Progress = print,
    client: ApiClient | None = None,
) -> dict:
    """Trigger *dag_id* on the running stack (unpausing it if needed); optionally wait for the end."""
    own = client is None
    client = client or ApiClient.for_running_stack()
    try:
        dag = client.wait_for_dag(dag_id, progress=progress)
        if dag.get("is_paused"):
            progress(f"Unpausing {dag_id}")
            client.unpause(dag_id)
        run = client.trigger(dag_id, conf)
        progress(f"Triggered {dag_id}: run {run['dag_run_id']}")
        if wait:
            run = client.wait_for_run(dag_id, run["dag_run_id"], timeout=timeout, progress=progress)
            if run["state"] != "success":
                for ti in client.task_instances(dag_id, run["dag_run_id"]):
                    log = (
                        airflow_home()
                        / "logs"
                        / f"dag_id={dag_id}"
                        / f"run_id={run['dag_run_id']}"
                        / f"task_id={ti['task_id']}"
                        / f"attempt={ti.get('try_number') or 1}.log"
                    )
                    progress(f"  task {ti['task_id']}: {ti['state']}; log: {log}")
        return run
    finally:
        if own:
            client.close()


__all__ = ["ApiClient", "StackError", "TERMINAL_STATES", "trigger"]
