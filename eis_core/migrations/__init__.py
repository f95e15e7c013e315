"""The warehouse's fixed schemas, created and changed by one alembic migration history (``versions/``).

Alembic owns every table whose columns the code fixes: the loader's bookkeeping (``raw.load_log``,
``raw.quarantine``, ``raw.load_id_seq``), the marts' load bookkeeping (``features.marts_loads``,
``features.marts_status``) and the schemas ``results``, ``production``, ``webapp``, ``severity``,
``dispatch`` and ``forecast``.  Not alembic's: tables whose columns come from data -- ``raw.<table>``
per contract table and the per-load side tables in ``raw_incoming`` (:mod:`eis_core.load.ddl`), the
dbt-built ``staging``/``features``/``labels`` marts, and sandbox copies (:mod:`eis_core.severity.sandbox`).

* :func:`upgrade` -- ``eis db upgrade``: bring the warehouse to the newest revision (the head).  A
  warehouse made by the code before the migrations (tables, no version table) is *adopted*: the
  baseline revisions are that code's ``CREATE … IF NOT EXISTS`` statements verbatim, so they complete
  what it lacks and change nothing it has; the upgrade then records the head.
* :func:`ensure_schema` -- what the commands and Airflow tasks call before they write: the upgrade, once
  per process and database (one ``SELECT`` when the warehouse is already at the head).
* :func:`require_current` -- what the web app calls at start-up: it never runs DDL, it refuses to start
  on a warehouse that is behind ("run `eis db upgrade`").

Concurrent upgrades (two Airflow tasks) are serialised by a transaction-level advisory lock taken in
``env.py`` before alembic reads the version table; each revision runs in that one transaction
(PostgreSQL's DDL is transactional), so an interrupted upgrade leaves the previous revision intact.
Migrations run programmatically (no ``alembic.ini``); ``alembic`` itself can be pointed at this folder
with ``script_location = eis_core:migrations`` to write a new revision.
"""

from __future__ import annotations

import threading
from pathlib import Path

HERE = Path(__file__).resolve().parent
#: the advisory-lock name that serialises upgrades across processes (env.py)
LOCK_NAME = "eis_migrations"
#: how long an upgrade waits for a table another session holds before it gives up (and rolls back)
LOCK_TIMEOUT = "120s"
LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL's SQLSTATE for a lock timeout
#: alembic's version table in schema public of the warehouse (not alembic's default name, which Airflow
#: uses for its own metadata database)
VERSION_TABLE = "eis_alembic_version"
#: tables whose presence (without a version table) marks a warehouse made before the migrations
LEGACY_MARKERS = (
    "raw.load_log",
    "results.runs",
    "production.predictions",
    "webapp.users",
    "severity.models",
    "dispatch.subset_comparison",
    "forecast.runs",
    "features.marts_status",
)

FIX = "run `eis db upgrade`"

_done: set[str] = set()
_lock = threading.RLock()


class SchemaBehind(RuntimeError):
    """The warehouse's schema is not at the revision this code needs (the message says what to run)."""


def execute_sql(text: str) -> None:
    """Run *text* (several statements, no parameters) in the migration's transaction.  Through the
    driver's own cursor: SQLAlchemy's ``text()`` would read ``:name`` as a bind parameter."""
    from alembic import op

    op.get_bind().connection.dbapi_connection.cursor().execute(text)


def _engine():
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    from eis_core import db

    return create_engine(db.database_url(driver="psycopg"), poolclass=NullPool)


def _config(connection=None):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.attributes["connection"] = connection
    return cfg


def script():
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_config())


def head() -> str:
    """The newest revision of the history."""
    return script().get_current_head()


def current(conn=None) -> str | None:
    """The warehouse's revision (None: never upgraded).  *conn*: a psycopg connection (default: a new one)."""
    from eis_core import db

    with db.connection(conn) as c:
        if c.execute("SELECT to_regclass(%s) IS NULL", (f"public.{VERSION_TABLE}",)).fetchone()[0]:
            return None
        row = c.execute(f"SELECT version_num FROM public.{VERSION_TABLE}").fetchone()
        return row[0] if row else None


def legacy_tables(conn=None) -> list[str]:
    """The marker tables present (used to say that an un-versioned warehouse is being adopted)."""
    from eis_core import db

    with db.connection(conn) as c:
        return [t for t in LEGACY_MARKERS if c.execute("SELECT to_regclass(%s) IS NOT NULL", (t,)).fetchone()[0]]


def upgrade(revision: str = "head") -> dict:
    """Upgrade the warehouse to *revision*; returns ``{"from", "to", "adopted"}`` (adopted: the warehouse
    had tables of the pre-migration code and no version table)."""
    from alembic import command

    from eis_core import db

    with db.connect() as c:
        before = current(c)
        adopted = before is None and bool(legacy_tables(c))
    engine = _engine()
    try:
        # alembic's environment is process-global (alembic.context): one upgrade per process at a time;
        # across processes the advisory lock in env.py serialises them
        with _lock, engine.begin() as connection:
            command.upgrade(_config(connection), revision)
    except Exception as exc:  # psycopg's LockNotAvailable, bare (execute_sql) or wrapped by SQLAlchemy
        if LOCK_NOT_AVAILABLE not in (
            getattr(exc, "sqlstate", None),
            getattr(getattr(exc, "orig", None), "sqlstate", None),
        ):
            raise
        raise SchemaBehind(
            f"the schema upgrade waited {LOCK_TIMEOUT} for tables another session holds and was "
            f"rolled back: stop the running jobs and {FIX}"
        ) from None
    finally:
        engine.dispose()
    _done.discard(db.database_url())
    return {"from": before, "to": current(), "adopted": adopted}


def downgrade(revision: str) -> None:
    """Downgrade the warehouse to *revision* (not below the baseline 0005: its revisions have no
    downgrade).  For tests and a deliberate rollback of a release; not on the command line."""
    from alembic import command

    from eis_core import db

    engine = _engine()
    try:
        with _lock, engine.begin() as connection:
            command.downgrade(_config(connection), revision)
    finally:
        engine.dispose()
    _done.discard(db.database_url())


def ensure_schema() -> None:
    """The warehouse at the head, checked (and upgraded when behind) once per process and database."""
    from eis_core import db

    key = db.database_url()
    if key in _done:
        return
    with _lock:
        if key in _done:
            return
        if current() != head():
            upgrade()
        _done.add(key)


def require_current(conn=None) -> str:
    """The warehouse's revision when it is the head; else :class:`SchemaBehind` naming the fix."""
    have, need = current(conn), head()
    if have != need:
        state = "has no schema version (never upgraded)" if have is None else f"is at revision {have}"
        raise SchemaBehind(f"the warehouse schema {state}, this code needs {need}: {FIX}")
    return have


def history() -> list[dict]:
    """Every revision, oldest first: id, parent, first line of its docstring."""
    revs = list(script().walk_revisions())
    revs.reverse()
    return [
        {
            "revision": r.revision,
            "down_revision": r.down_revision,
            "doc": (r.doc or "").strip().splitlines()[0] if r.doc else "",
        }
        for r in revs
    ]


def forget() -> None:
    """Make the next :func:`ensure_schema` check the database again (tests that drop schemas)."""
    _done.clear()


__all__ = [
    "FIX",
    "SchemaBehind",
    "current",
    "downgrade",
    "ensure_schema",
    "execute_sql",
    "forget",
    "head",
    "history",
    "legacy_tables",
    "require_current",
    "upgrade",
]
