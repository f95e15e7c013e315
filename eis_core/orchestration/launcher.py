"""The launcher of the local Airflow stack (``python -m eis_core.orchestration.launcher --launch PORT
LOGDIR``), started by :func:`eis_core.orchestration.stack.start` as the leader of a new process group:
it starts the components in that group, reports their pids and reaps them.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from eis_core.orchestration.airflow_env import airflow_bin

#: start order: the api-server first - task processes talk to its Task Execution API from their first
#: second, so the scheduler (which starts them) is started only once the api-server answers
COMPONENTS: tuple[str, ...] = ("api-server", "scheduler", "dag-processor", "triggerer")
API_READY_TIMEOUT = 180.0
HEALTH_PATH = "/api/v2/monitor/health"


def _wait_listening(port: int, proc: subprocess.Popen, timeout: float) -> bool:
    """Until the api-server answers its health endpoint (any HTTP answer), exits, or *timeout* passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(f"GET {HEALTH_PATH} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".encode())
                if s.recv(16).startswith(b"HTTP/"):
                    return True
        except OSError:
            pass
        time.sleep(0.5)
    return False


def launch(port: int, logs: Path) -> None:
    """Launcher body (``python -m eis_core.orchestration.launcher --launch PORT LOGDIR``).

    Runs as the leader of the stack's process group: starts the api-server, waits until it answers
    (no task may start before its Task Execution API listens), then the other components, reports
    their pids as one JSON line on stdout, then waits (reaping them) until all have exited.
    """
    pids = {}
    procs = []
    workers = os.environ.get("AIRFLOW__API__WORKERS", "2")
    for name in COMPONENTS:
        cmd = [airflow_bin(), name]
        if name == "api-server":
            cmd += ["--port", str(port), "--host", "127.0.0.1", "--workers", workers]
        with open(logs / f"{name}.log", "ab") as log:
            proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        procs.append(proc)
        pids[name] = proc.pid
        if name == "api-server":
            _wait_listening(port, proc, API_READY_TIMEOUT)
    sys.stdout.write(json.dumps(pids) + "\n")
    sys.stdout.flush()
    os.close(1)

    def forward(signum, _frame) -> None:  # pass TERM/INT on, stay to reap the children
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for proc in procs:
        proc.wait()


if __name__ == "__main__" and len(sys.argv) == 4 and sys.argv[1] == "--launch":
    launch(int(sys.argv[2]), Path(sys.argv[3]))
