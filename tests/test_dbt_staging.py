"""dbt staging layer against a real (embedded) PostgreSQL: views are built, data tests catch bad rows.

The session fixture starts a private embedded server in a temporary EIS_HOME (never the developer's
warehouse, never EIS_DATABASE_URL) and creates every raw table the way the loader does.
"""

from __future__ import annotations

import stat
from datetime import date

import pytest
import yaml
from click.testing import CliRunner

from eis_core import db
from eis_core.contract import load_contract
from eis_core.load.ddl import create_raw_table
from eis_core.paths import REPO_ROOT
from eis_core.transform import TransformError, dbt_build, profile_dict, transform_cli, write_profile

CONTRACT = load_contract()

OFFICERS = [
    # officer_id, hire_date, separation_date, birth_year, sex, race, education, height_cm, weight_kg, rank, sworn
    ("O1", date(2010, 3, 1), None, 1985, "M", "WHITE", "BACHELOR", 180, 85, "OFFICER", True),
    ("O2", date(2015, 7, 15), date(2022, 1, 31), 1990, "F", "BLACK", "HS", None, None, "SERGEANT", True),
    ("O3", date(2018, 1, 8), None, 1979, "X", "ASIAN", "GRADUATE", 170, 70, "CAPTAIN", False),
]
ASSIGNMENTS = [
    # officer_id, start_date, end_date, division, beat, unit, shift
    ("O1", date(2010, 3, 1), date(2015, 12, 31), "NORTH", "N1", "PATROL", "DAY"),
    ("O1", date(2016, 1, 1), None, "SOUTH", "S2", "PATROL", "NIGHT"),
    ("O2", date(2015, 7, 15), date(2022, 1, 31), "NORTH", "N3", "TRAFFIC", "EVENING"),
    ("O3", date(2018, 1, 8), None, "EAST", "E1", "DETECTIVE", "DAY"),
]
IA_CASES = [
    # case_id, officer_id, event_type, incident_date, reported_date, closed_date, disposition, call_id, intervention
    ("C1", "O1", "CITIZEN_COMPLAINT", date(2019, 5, 1), date(2019, 5, 3), date(2019, 8, 1), "SUSTAINED", None,
     "COUNSELING"),
    ("C2", "O2", "USE_OF_FORCE", date(2021, 2, 10), date(2021, 2, 10), None, "PENDING", "CALL-77", None),
]


@pytest.fixture(scope="module")
def warehouse():
    """A private embedded PostgreSQL in a temporary EIS_HOME, with every raw table created empty."""
    from conftest import private_eis_home

    with private_eis_home("eis_dbt_test_", unset=("EIS_DATABASE_URL",)) as home:
        db.start()
        from eis_core.migrations import ensure_schema

        ensure_schema()
        with db.connect() as conn:
            for table in CONTRACT.ordered_tables():
                conn.execute(create_raw_table("raw", table.name, table, []))
        yield home


def _insert(conn, table: str, rows: list[tuple]) -> None:
    """Insert rows given in contract column order; a v2 optional column the rows leave out stays NULL."""
    contract_cols = list(CONTRACT.tables[table].columns)
    if rows and len(rows[0]) < len(contract_cols):
        contract_cols = [c for c in contract_cols if not CONTRACT.tables[table].columns[c].optional]
    cols = contract_cols + ["_load_id", "_row_number"]
    placeholders = ", ".join(["%s"] * len(cols))
    with conn.cursor() as cur:
        cur.executemany(
            f"INSERT INTO raw.{table} ({', '.join(cols)}) VALUES ({placeholders})",
            [row + (1, i) for i, row in enumerate(rows, start=2)],
        )


@pytest.fixture
def valid_rows(warehouse):
    """Every raw table emptied, then a few valid rows in officers, assignments and ia_cases."""
    with db.connect() as conn:
        for table in CONTRACT.ordered_tables():
            conn.execute(f"TRUNCATE raw.{table.name}")
        _insert(conn, "officers", OFFICERS)
        _insert(conn, "assignments", ASSIGNMENTS)
        _insert(conn, "ia_cases", IA_CASES)
    return warehouse


def test_build_creates_staging_views_with_the_rows(valid_rows):
    lines: list[str] = []
    summary = dbt_build(select="path:models/staging", progress=lines.append)

    assert summary["success"] is True
    assert summary["failed"] == 0 and summary["errored"] == 0 and summary["skipped"] == 0
    models = [n for n in summary["nodes"] if n["resource_type"] == "model"]
    tests = [n for n in summary["nodes"] if n["resource_type"] == "test"]
    assert sorted(m["name"] for m in models) == sorted(f"stg_{t}" for t in CONTRACT.tables)
    assert len(tests) > len(models)  # keys, required columns, codes, officer references
    assert summary["passed"] == len(summary["nodes"])
    assert len(lines) == len(summary["nodes"])  # one progress line per node

    with db.connect() as conn:
        views = {r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.views WHERE table_schema = 'staging'")}
        assert views == {f"stg_{t}" for t in CONTRACT.tables}
        schemas = {r[0] for r in conn.execute("SELECT schema_name FROM information_schema.schemata")}
        assert not any(s.endswith("_staging") for s in schemas)  # exact schema names, no target prefix

        cols = [r[0] for r in conn.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = 'staging' AND table_name = 'stg_officers' ORDER BY ordinal_position")]
        assert cols == list(CONTRACT.tables["officers"].columns) + ["load_id", "source_row"]

        officers = conn.execute(
            "SELECT officer_id, hire_date, separation_date, sworn, load_id, source_row "
            "FROM staging.stg_officers ORDER BY officer_id").fetchall()
        assert officers == [
            ("O1", date(2010, 3, 1), None, True, 1, 2),
            ("O2", date(2015, 7, 15), date(2022, 1, 31), True, 1, 3),
            ("O3", date(2018, 1, 8), None, False, 1, 4),
        ]
        assignments = conn.execute(
            "SELECT officer_id, start_date, shift FROM staging.stg_assignments ORDER BY officer_id, start_date"
        ).fetchall()
        assert assignments == [(a[0], a[1], a[6]) for a in ASSIGNMENTS]
        cases = conn.execute(
            "SELECT case_id, officer_id, disposition, closed_date FROM staging.stg_ia_cases ORDER BY case_id"
        ).fetchall()
        assert cases == [("C1", "O1", "SUSTAINED", date(2019, 8, 1)), ("C2", "O2", "PENDING", None)]
        assert conn.execute("SELECT count(*) FROM staging.stg_training").fetchone() == (0,)

    # dbt's artifacts go to $EIS_HOME/dbt, never into the repository.
    assert (valid_rows / "dbt" / "target" / "run_results.json").exists()
    assert (valid_rows / "dbt" / "logs" / "dbt.log").exists()
    assert not (REPO_ROOT / "dbt_project" / "target").exists()
    assert not (REPO_ROOT / "dbt_project" / "logs").exists()


def test_duplicate_officer_fails_the_unique_test(valid_rows):
    with db.connect() as conn:
        _insert(conn, "officers", [OFFICERS[0]])  # O1 a second time

    with pytest.raises(TransformError) as excinfo:
        dbt_build(select="path:models/staging", progress=None)

    err = excinfo.value
    assert "unique_stg_officers_officer_id" in str(err)
    assert [f["name"] for f in err.failures] == ["unique_stg_officers_officer_id"]
    assert err.failures[0]["status"] == "fail" and err.failures[0]["failures"] == 1
    assert err.summary["failed"] == 1 and err.summary["errored"] == 0

    # The CLI reports the same failure and exits non-zero.
    result = CliRunner().invoke(transform_cli, ["--select", "stg_officers"])
    assert result.exit_code == 1
    assert "unique_stg_officers_officer_id" in result.output


def test_duplicate_compound_key_fails_the_unique_combination_test(valid_rows):
    with db.connect() as conn:
        _insert(conn, "assignments", [ASSIGNMENTS[0]])

    with pytest.raises(TransformError) as excinfo:
        dbt_build(select="stg_assignments", progress=None)

    names = [f["name"] for f in excinfo.value.failures]
    assert len(names) == 1 and names[0].startswith("unique_combination_stg_assignments")
    assert names[0] in str(excinfo.value)


def test_unknown_code_and_unknown_officer_fail(valid_rows):
    with db.connect() as conn:
        _insert(conn, "ia_cases", [("C3", "O9", "PARKING", date(2020, 1, 1), date(2020, 1, 2), None, "PENDING",
                                    None, None)])

    with pytest.raises(TransformError) as excinfo:
        dbt_build(select="stg_ia_cases", progress=None)

    names = sorted(f["name"] for f in excinfo.value.failures)
    assert len(names) == 2
    assert names[0].startswith("accepted_values_stg_ia_cases_event_type")
    assert names[1].startswith("relationships_stg_ia_cases_officer_id")


def test_cli_success_prints_summary(valid_rows):
    result = CliRunner().invoke(transform_cli, ["--select", "stg_officers"])
    assert result.exit_code == 0, result.output
    assert "0 failed, 0 errored" in result.output


def test_profile_for_a_tcp_url(tmp_path, monkeypatch):
    monkeypatch.setenv("EIS_HOME", str(tmp_path))
    path = write_profile("postgresql://eis_user:p%40ss%3Aword@db.example.org:6543/eis?sslmode=require")
    assert path == tmp_path / "dbt" / "profiles.yml"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    output = yaml.safe_load(path.read_text())["eis"]["outputs"]["warehouse"]
    assert output == {
        "type": "postgres", "host": "db.example.org", "port": 6543, "user": "eis_user", "password": "p@ss:word",
        "dbname": "eis", "schema": "public", "threads": 2, "sslmode": "require",
    }


def test_profile_for_an_embedded_socket_url():
    output = profile_dict("postgresql://postgres@/eis?host=/tmp/some%20home/pgdata")["eis"]["outputs"]["warehouse"]
    assert output["host"] == "/tmp/some home/pgdata"  # a directory: libpq uses the Unix socket in it
    assert (output["port"], output["user"], output["password"], output["dbname"]) == (5432, "postgres", "", "eis")
