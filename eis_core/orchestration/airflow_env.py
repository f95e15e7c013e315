"""The environment every Airflow process of the platform runs with.

Airflow is configured entirely through environment variables (``AIRFLOW__SECTION__KEY``), so the
same settings reach the scheduler, the dag-processor, the api-server, the triggerer, the task
processes LocalExecutor forks and ``airflow dags test``:

* ``AIRFLOW_HOME`` is ``$EIS_HOME/airflow`` (logs, airflow.cfg, generated secrets, the admin password);
* the metadata database is the database ``airflow`` on the warehouse server (the embedded
  PostgreSQL by default, ``EIS_DATABASE_URL``'s server otherwise) - never SQLite;
* LocalExecutor with a small parallelism (this is a 2-core laptop setup, not a cluster), as
  ``eis_core.orchestration.executor.PreloadingLocalExecutor``: its workers import the modeling stack once,
  so task processes forked from them start warm;
* the simple auth manager with one ``admin`` user whose password is generated once and kept in
  ``$EIS_HOME/airflow/simple_auth_manager_passwords.json.generated`` (mode 0600);
* a JWT secret, an API secret key and a Fernet key generated once into ``$EIS_HOME/airflow/secrets.json``;
* the connection ``eis_warehouse`` (``AIRFLOW_CONN_EIS_WAREHOUSE``) pointing at the warehouse.

Nothing here imports Airflow: it is cheap to call from the ``eis`` CLI and from tests.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from eis_core import db
from eis_core.paths import REPO_ROOT, airflow_home, dags_dir, platform_home

DEFAULT_PORT = 8080
ADMIN_USER = "admin"
PASSWORDS_FILE = "simple_auth_manager_passwords.json.generated"
SECRETS_FILE = "secrets.json"

# Settings a user may override from the calling environment (tuning, not wiring).
_TUNABLES: dict[str, str] = {
    "AIRFLOW__CORE__PARALLELISM": "4",
    "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": "4",
    "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
    # two api-server workers: the UI and the running tasks' Task Execution API calls at once
    "AIRFLOW__API__WORKERS": "2",
    # a task whose call to the Task Execution API fails (ConnectError while the api-server starts or
    # restarts, ReadTimeout on a heartbeat under load) retries it, longer than Airflow's default 5
    "AIRFLOW__WORKERS__EXECUTION_API_RETRIES": "10",
    "AIRFLOW__WORKERS__EXECUTION_API_RETRY_WAIT_MAX": "30",
    "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "30",
    "AIRFLOW__WORKERS__MAX_FAILED_HEARTBEATS": "6",
    # New DAG files are picked up within 30 s; changed files are re-parsed at most every 30 s.
    "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
    "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "30",
    "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
    "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
    "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_POOL_SIZE": "3",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_MAX_OVERFLOW": "5",
    "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
}


def default_port() -> int:
    return int(os.environ.get("EIS_AIRFLOW_PORT", DEFAULT_PORT))


def _private_json(path: Path, make: Callable[[dict], dict]) -> dict:
    """Read a JSON file, creating it (mode 0600) with ``make()`` the first time."""
    if path.exists():
        data = json.loads(path.read_text() or "{}")
        fresh = make(data)
        if fresh == data:
            return data
        data = fresh
    else:
        data = make({})
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(json.dumps(data) + "\n")
    os.chmod(path, 0o600)
    return data


def passwords_file() -> Path:
    return airflow_home() / PASSWORDS_FILE


def admin_password() -> str:
    """The ``admin`` password of the simple auth manager (generated on first use, then stable)."""

    def make(data: dict) -> dict:
        if data.get(ADMIN_USER):
            return data
        return {**data, ADMIN_USER: secrets.token_urlsafe(18)}

    return _private_json(passwords_file(), make)[ADMIN_USER]


def _secrets() -> dict[str, str]:
    def make(data: dict) -> dict:
        out = dict(data)
        out.setdefault("jwt_secret", secrets.token_urlsafe(48))
        out.setdefault("api_secret_key", secrets.token_urlsafe(48))
        # Same format as cryptography.fernet.Fernet.generate_key(): urlsafe base64 of 32 bytes.
        out.setdefault("fernet_key", base64.urlsafe_b64encode(os.urandom(32)).decode())
        return out

    return _private_json(airflow_home() / SECRETS_FILE, make)


def warehouse_connection() -> str:
    """``AIRFLOW_CONN_EIS_WAREHOUSE`` in Airflow's JSON connection format (handles Unix sockets)."""
    parts = db.url_parts(db.database_url())
    conn = {
        "conn_type": "postgres",
        "host": parts["host"],
        "port": parts["port"],
        "login": parts["user"],
        "schema": parts["dbname"],
    }
    if parts["password"]:
        conn["password"] = parts["password"]
    return json.dumps(conn)


def airflow_settings(port: int | None = None, dags_folder: str | os.PathLike | None = None) -> dict[str, str]:
    """Only the variables the platform sets (what ``eis airflow env`` prints)."""
    port = port or default_port()
    home = airflow_home()
    home.mkdir(parents=True, exist_ok=True)
    db.ensure_database(db.AIRFLOW_DB)  # starts the embedded server when needed
    keys = _secrets()
    admin_password()  # make sure the passwords file exists before any api-server reads it
    pythonpath = [str(REPO_ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    settings = {k: os.environ.get(k, v) for k, v in _TUNABLES.items()}
    settings.update(
        {
            "EIS_HOME": str(platform_home()),
            "AIRFLOW_HOME": str(home),
            "PYTHONPATH": os.pathsep.join(dict.fromkeys(pythonpath)),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder or dags_dir()),
            # LocalExecutor whose workers import the modeling stack once (eis_core/orchestration/executor.py)
            "AIRFLOW__CORE__EXECUTOR": os.environ.get(
                "EIS_AIRFLOW_EXECUTOR", "eis_core.orchestration.executor.PreloadingLocalExecutor"
            ),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": db.sqlalchemy_url(db.AIRFLOW_DB),
            "AIRFLOW__CORE__FERNET_KEY": keys["fernet_key"],
            "AIRFLOW__API_AUTH__JWT_SECRET": keys["jwt_secret"],
            "AIRFLOW__API__SECRET_KEY": keys["api_secret_key"],
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
            "AIRFLOW__CORE__AUTH_MANAGER": (
                "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
            ),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN_USER}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords_file()),
            "AIRFLOW_CONN_EIS_WAREHOUSE": warehouse_connection(),
        }
    )
    external = db.external_url()
    if external:
        settings["EIS_DATABASE_URL"] = external
    return settings


def airflow_env(port: int | None = None, dags_folder: str | os.PathLike | None = None) -> dict[str, str]:
    """The full environment (``os.environ`` plus :func:`airflow_settings`) for any airflow process."""
    env = dict(os.environ)
    env.update(airflow_settings(port, dags_folder))
    return env


def airflow_bin() -> str:
    """The ``airflow`` executable of the running interpreter's environment."""
    candidate = Path(sys.executable).parent / "airflow"
    return str(candidate) if candidate.exists() else "airflow"


def _migrated_marker() -> Path:
    return airflow_home() / ".db-migrated"


def _marker_value(env: dict[str, str]) -> str:
    try:
        from importlib.metadata import version

        af_version = version("apache-airflow-core")
    except Exception:  # noqa: BLE001
        af_version = "unknown"
    return json.dumps({"airflow": af_version, "db": db.redact(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])})


def _metadata_exists() -> bool:
    try:
        with db.connect(db.AIRFLOW_DB) as conn:
            return db.scalar(conn, "SELECT to_regclass('public.alembic_version') IS NOT NULL")
    except Exception:  # noqa: BLE001
        return False


def prepare(env: dict[str, str] | None = None, progress=print, force: bool = False) -> dict[str, str]:
    """Make the metadata database ready: ``airflow db migrate`` once per Airflow version and server.

    Idempotent and cheap when nothing changed (a marker file plus a look at ``alembic_version``).
    Returns the environment used.
    """
    env = env or airflow_env()
    marker = _migrated_marker()
    want = _marker_value(env)
    if not force and marker.exists() and marker.read_text() == want and _metadata_exists():
        return env
    progress("Migrating the Airflow metadata database (airflow db migrate) ...")
    proc = subprocess.run([airflow_bin(), "db", "migrate"], env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"airflow db migrate failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    marker.write_text(want)
    progress("Airflow metadata database is up to date.")
    return env


__all__ = [
    "ADMIN_USER",
    "DEFAULT_PORT",
    "admin_password",
    "airflow_bin",
    "airflow_env",
    "airflow_settings",
    "default_port",
    "passwords_file",
    "prepare",
    "warehouse_connection",
]
