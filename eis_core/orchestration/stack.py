"""Start, watch and stop the local Airflow 3 stack (its REST API client is in
:mod:`eis_core.orchestration.api_client`, the process helpers in :mod:`eis_core.orchestration.processes`,
both re-exported here; the launcher of the process group in :mod:`eis_core.orchestration.launcher`).

The stack is four ordinary Airflow processes - ``scheduler`` (with LocalExecutor), ``dag-processor``,
``triggerer`` and ``api-server`` - started with :func:`~eis_core.orchestration.airflow_env.airflow_env`
in one process group of their own, so that :func:`stop` can end all of them (and the LocalExecutor
workers they fork) with one ``killpg``.  Its state (process group, pids, port) is kept in
``$EIS_HOME/airflow/stack.json``; each component logs to ``$EIS_HOME/airflow/stack-logs/<name>.log``.

Every process also carries ``EIS_AIRFLOW_STACK_ID`` in its environment: task processes put
themselves in process groups of their own, and :func:`stop` uses the id to find such stragglers
(and only processes of this very stack).
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from eis_core.orchestration.airflow_env import airflow_bin, airflow_env, default_port, prepare
from eis_core.orchestration.api_client import TERMINAL_STATES, ApiClient, StackError, trigger
from eis_core.orchestration.launcher import COMPONENTS, HEALTH_PATH
from eis_core.orchestration.processes import free_port, group_members, pid_alive, port_free, stack_processes, tail
from eis_core.paths import airflow_home

Progress = Callable[[str], object]

# Popen objects of stacks started by this very process, so stop() can reap them (no zombies).
_CHILDREN: dict[int, list[subprocess.Popen]] = {}


@dataclass
class StackState:
    pgid: int
    port: int
    pids: dict[str, int]
    stack_id: str
    started_at: float
    log_dir: str
    airflow_home: str = field(default_factory=lambda: str(airflow_home()))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def state_file() -> Path:
    return airflow_home() / "stack.json"


def log_dir() -> Path:
    return airflow_home() / "stack-logs"


def read_state() -> StackState | None:
    path = state_file()
    if not path.exists():
        return None
    try:
        return StackState(**json.loads(path.read_text()))
    except (ValueError, TypeError):
        return None


def health(port: int, timeout: float = 3.0) -> dict | None:
    """The api-server's ``/api/v2/monitor/health`` answer, or None when it does not answer."""
    import httpx

    try:
        r = httpx.get(f"http://127.0.0.1:{port}{HEALTH_PATH}", timeout=timeout)
        return r.json() if r.status_code == 200 else None
    except (httpx.HTTPError, ValueError):
        return None


def _healthy(h: dict | None) -> bool:
    if not h:
        return False
    parts = ("metadatabase", "scheduler", "dag_processor", "triggerer")
    return all((h.get(p) or {}).get("status") == "healthy" for p in parts)


def status() -> dict:
    """Whether the stack runs, its pids, URL and health (never raises)."""
    st = read_state()
    if st is None:
        return {"running": False}
    procs = {name: pid_alive(pid) for name, pid in st.pids.items()}
    running = any(procs.values())
    out = {
        "running": running,
        "url": st.url,
        "port": st.port,
        "pgid": st.pgid,
        "processes": procs,
        "log_dir": st.log_dir,
    }
    if running:
        out["health"] = health(st.port)
    return out


def start(port: int | None = None, *, timeout: float = 240, progress: Progress = print) -> StackState:
    """Start scheduler, dag-processor, triggerer and api-server; return once all are healthy."""
    current = read_state()
    if current is not None and any(pid_alive(p) for p in current.pids.values()):
        raise StackError(
            f"the Airflow stack runs already at {current.url} (pgid {current.pgid}); `eis airflow stop` first"
        )
    port = port or default_port()
    if not port_free(port):
        raise StackError(f"port {port} is in use: choose another with --port")
    env = prepare(airflow_env(port), progress=progress)
    stack_id = secrets.token_hex(8)
    env["EIS_AIRFLOW_STACK_ID"] = stack_id
    logs = log_dir()
    logs.mkdir(parents=True, exist_ok=True)
    # A small launcher becomes the leader of a new session / process group and starts the
    # components inside it (a process may only join a group of its own session).
    with open(logs / "launcher.log", "ab") as launcher_log:
        launcher = subprocess.Popen(
            [sys.executable, "-m", "eis_core.orchestration.launcher", "--launch", str(port), str(logs)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=launcher_log,
            stdin=subprocess.DEVNULL,
            cwd=str(airflow_home()),
            start_new_session=True,
            text=True,
        )
    assert launcher.stdout is not None  # stdout=PIPE
    line = launcher.stdout.readline()
    launcher.stdout.close()
    if not line:
        launcher.wait(10)
        raise StackError(
            "the stack launcher failed; see " + str(logs / "launcher.log") + "\n" + tail(logs / "launcher.log")
        )
    pids = {"launcher": launcher.pid, **json.loads(line)}
    pgid = launcher.pid
    _CHILDREN[pgid] = [launcher]
    state = StackState(pgid=pgid, port=port, pids=pids, stack_id=stack_id, started_at=time.time(), log_dir=str(logs))
    state_file().write_text(json.dumps(asdict(state), indent=2))
    progress(f"Started {', '.join(COMPONENTS)} (process group {pgid}); logs in {logs}")
    try:
        wait_healthy(state, timeout=timeout, progress=progress)
    except BaseException:
        stop(progress=progress)
        raise
    return state


def wait_healthy(state: StackState, *, timeout: float = 240, progress: Progress = print) -> dict:
    t0 = time.monotonic()
    last_note = 0.0
    h = None
    while time.monotonic() - t0 < timeout:
        for name, pid in state.pids.items():
            if not pid_alive(pid):
                raise StackError(
                    f"airflow {name} exited during start-up; last lines of its log:\n"
                    + tail(Path(state.log_dir) / f"{name}.log")
                )
        h = health(state.port)
        if h is not None and _healthy(h):
            progress(f"Airflow is healthy after {time.monotonic() - t0:.0f} s.")
            return h
        if time.monotonic() - last_note >= 10:
            waiting = (
                "api-server"
                if h is None
                else ", ".join(
                    p
                    for p in ("metadatabase", "scheduler", "dag_processor", "triggerer")
                    if (h.get(p) or {}).get("status") != "healthy"
                )
            )
            progress(f"  waiting for {waiting} ... ({time.monotonic() - t0:.0f} s)")
            last_note = time.monotonic()
        time.sleep(1)
    raise StackError(f"Airflow was not healthy after {timeout:.0f} s (last health: {h}); see {state.log_dir}")


def stop(*, timeout: float = 60, progress: Progress = print) -> bool:
    """Stop the stack's process group (TERM, then KILL after *timeout*) and any straggler of it.

    Returns False when no stack was running.
    """
    st = read_state()
    if st is None:
        return False
    members = group_members(st.pgid) + stack_processes(st.stack_id)
    if not members:
        state_file().unlink(missing_ok=True)
        _CHILDREN.pop(st.pgid, None)
        return False
    progress(f"Stopping the Airflow stack (process group {st.pgid}) ...")

    def signal_all(sig: int) -> None:
        try:
            os.killpg(st.pgid, sig)
        except ProcessLookupError:
            pass
        for pid in stack_processes(st.stack_id):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass

    def reap() -> None:
        for proc in _CHILDREN.get(st.pgid, []):
            proc.poll()

    signal_all(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reap()
        if not group_members(st.pgid) and not stack_processes(st.stack_id):
            break
        time.sleep(0.5)
    else:
        progress("  some processes did not stop in time: sending SIGKILL")
        signal_all(signal.SIGKILL)
        for _ in range(20):
            reap()
            if not group_members(st.pgid) and not stack_processes(st.stack_id):
                break
            time.sleep(0.5)
    reap()
    _CHILDREN.pop(st.pgid, None)
    left = group_members(st.pgid) + stack_processes(st.stack_id)
    if left:
        raise StackError(f"processes still running after stop: {sorted(set(left))}")
    state_file().unlink(missing_ok=True)
    progress("Airflow stopped.")
    return True


def run_dag(
    dag_id: str,
    conf: dict | None = None,
    logical_date: str | None = None,
    dags_folder: str | None = None,
    progress: Progress = print,
    output: Callable[[str], object] | None = None,
) -> int:
    """Run one DAG run in-process with ``airflow dags test`` (no stack needed); returns the exit code.

    Output is streamed to this process's stdout/stderr, or line by line to *output* when given.
    """
    env = prepare(airflow_env(dags_folder=dags_folder), progress=progress)
    cmd = [airflow_bin(), "dags", "test", dag_id]
    if logical_date:
        cmd.append(logical_date)
    if conf:
        cmd += ["--conf", json.dumps(conf)]
    progress(
        f"$ airflow dags test {dag_id}"
        + (f" {logical_date}" if logical_date else "")
        + (f" --conf '{json.dumps(conf)}'" if conf else "")
    )
    if output is None:
        return subprocess.call(cmd, env=env)
    with subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1, errors="replace"
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            output(line.rstrip("\n"))
        return proc.wait()


__all__ = [
    "COMPONENTS",
    "TERMINAL_STATES",
    "ApiClient",
    "StackError",
    "StackState",
    "free_port",
    "group_members",
    "health",
    "pid_alive",
    "port_free",
    "read_state",
    "run_dag",
    "stack_processes",
    "start",
    "status",
    "stop",
    "trigger",
    "wait_healthy",
]
