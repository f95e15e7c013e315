"""Several departments on one installation (eis_core.departments): names, the registry, one database and
one folder per department, and isolation -- loads and marts of one department never change another's
rows (checksums of every table before and after)."""

from __future__ import annotations

import hashlib

import pytest
from click.testing import CliRunner


@pytest.fixture()
def two_departments(warehouse):
    from eis_core.departments import registry

    made = []
    for name in ("t_north", "t_south"):
        try:
            registry.remove(name)
        except Exception:  # noqa: BLE001 - not there from an earlier run
            pass
        made.append(registry.add(name))
    yield made
    for d in made:
        try:
            registry.remove(d.name)
        except Exception:  # noqa: BLE001
            pass


def checksums(department: str) -> dict[str, str]:
    """md5 of every base table's rows (ordered by their text) in the department's database."""
    from psycopg import sql

    from eis_core import db, departments

    out = {}
    with departments.use(department), db.connect() as c:
        tables = c.execute(
            "SELECT table_schema, table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE' "
            "AND table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2"
        ).fetchall()
        for schema, table in tables:
            q = sql.SQL("SELECT coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '') FROM {}.{} t").format(
                sql.Identifier(schema), sql.Identifier(table)
            )
            out[f"{schema}.{table}"] = hashlib.md5(c.execute(q).fetchone()[0].encode()).hexdigest()
    return out


def test_names_databases_folders_and_the_current_department(warehouse, monkeypatch):
    from eis_core import db, departments
    from eis_core.departments import DepartmentError
    from eis_core.paths import eis_home, pgdata_dir, platform_home

    monkeypatch.delenv("EIS_DEPARTMENT", raising=False)
    assert departments.current() == "default"
    base = db.warehouse_db()
    assert eis_home() == platform_home()
    for bad in ("", "Chicago", "1st", "a", "x" * 32, "north-side", "eis;drop"):
        with pytest.raises(DepartmentError, match="department name"):
            departments.check_name(bad)
    with departments.use("north"):
        assert departments.current() == "north"
        assert db.warehouse_db() == base + "_north"
        assert db.url_parts(db.database_url())["dbname"] == base + "_north"
        assert eis_home() == platform_home() / "departments" / "north"
        assert pgdata_dir() == platform_home() / "pgdata"  # one server for the installation
        with departments.use("south"):
            assert db.warehouse_db() == base + "_south"
        assert departments.current() == "north"
    assert departments.current() == "default"
    monkeypatch.setenv("EIS_DEPARTMENT", "east")
    assert db.warehouse_db() == base + "_east"


def test_add_list_contribute_remove_and_the_command_line(two_departments, tmp_path, monkeypatch):
    from eis_core import db, departments
    from eis_core.cli import main
    from eis_core.config import load_officer_config
    from eis_core.departments import DepartmentError, registry

    monkeypatch.setenv("EIS_DEPARTMENT", "default")  # `eis --department X` sets it for the process
    north, south = two_departments
    names = [d.name for d in registry.list_departments()]
    assert names[0] == "default" and {"t_north", "t_south"} <= set(names)
    assert north.database == db.warehouse_db("t_north") and north.officer_config.parent == north.home
    # the department reads its own copy of the configs when the command is given the shipped default
    own = north.officer_config
    own.write_text(own.read_text().replace("name: ", "name: ", 1))
    with departments.use("t_north"):
        assert load_officer_config().as_of_dates == load_officer_config(own).as_of_dates
        from eis_core.migrations import current, head

        assert current() == head()  # the new database is at the newest schema
    assert registry.set_contributes("t_south", False).contributes_to_pooled is False
    runner = CliRunner()
    r = runner.invoke(main, ["department", "list"])
    assert r.exit_code == 0 and "t_north" in r.output and "t_south" in r.output, r.output
    r = runner.invoke(main, ["--department", "nowhere", "load", str(tmp_path)])
    assert r.exit_code == 2 and "no department 'nowhere'" in r.output and "Traceback" not in r.output
    r = runner.invoke(main, ["--department", "Bad-Name", "db", "url"])
    assert r.exit_code == 2 and "department name" in r.output
    r = runner.invoke(main, ["department", "add", "t_north"])
    assert r.exit_code == 2 and "exists already" in r.output
    # remove asks first; "no" keeps everything
    r = runner.invoke(main, ["department", "remove", "t_north"], input="n\n")
    assert r.exit_code != 0 and registry.get("t_north").name == "t_north"
    r = runner.invoke(main, ["department", "remove", "t_north", "--yes", "--export-dir", str(tmp_path)])
    assert r.exit_code == 0, r.output
    exports = list(tmp_path.glob("t_north-*"))
    assert len(exports) == 1
    dump = exports[0] / (north.database + ".dump")
    assert dump.stat().st_size > 1000 and dump.read_bytes()[:5] == b"PGDMP"  # pg_dump's custom format
    assert (exports[0] / "officer_config.yaml").exists()
    with pytest.raises(DepartmentError, match="no department 't_north'"):
        registry.get("t_north")
    with db.connect(db.warehouse_db("default")) as c:
        assert c.execute("SELECT 1 FROM pg_database WHERE datname = %s", (north.database,)).fetchone() is None


def test_loads_and_marts_of_one_department_never_touch_another(two_departments, small_drop):
    """North loads the small department and builds its marts; South and `default` are unchanged, row for
    row.  Then South does the same; North's rows are unchanged."""
    from eis_core import departments
    from eis_core.features import build_features
    from eis_core.load.loader import load_drop

    before_default = checksums("default")
    before_south = checksums("t_south")
    with departments.use("t_north"):
        report = load_drop(small_drop, progress=None)
        assert report.ok
        built = build_features(as_of_dates=None, progress=None)
        assert built
    after_north = checksums("t_north")
    assert any(k.startswith("features.") for k in after_north)
    assert checksums("t_south") == before_south
    assert checksums("default") == before_default
    with departments.use("t_south"):
        assert load_drop(small_drop, progress=None).ok
    assert checksums("t_north") == after_north
    assert checksums("default") == before_default
