"""One set of DAGs serves every department: the real ``eis_ingest`` and ``eis_transform`` DAGs
(``eis airflow run-dag``, i.e. ``airflow dags test``) run for two departments of one installation, and
each department's database gets its own rows, the other's and ``default``'s staying as they were.

Then what a scheduler decides without running one: which departments a run started by Asset events
works for (the events of the real runs above, through Airflow's own ``TriggeringAssetEventsAccessor``),
and which departments a scheduled ``eis_production`` tick scores, each by its own
``production.schedule``.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from types import SimpleNamespace

import pytest
from minidrop import valid_tables, write_drop
from test_airflow_dags import _output, run_dag
from test_departments import checksums

EAST, WEST = "af_east", "af_west"


def _count(department: str, table: str) -> int | None:
    from eis_core import db, departments

    with departments.use(department), db.connect() as conn:
        if conn.execute("SELECT to_regclass(%s)", (table,)).fetchone()[0] is None:
            return None
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


@pytest.fixture(scope="module")
def two_departments(warehouse):
    from eis_core.departments import registry

    for name in (EAST, WEST):
        try:
            registry.remove(name)
        except Exception:  # noqa: BLE001 - not there from an earlier run
            pass
        registry.add(name)
    yield EAST, WEST
    for name in (EAST, WEST):
        try:
            registry.remove(name)
        except Exception:  # noqa: BLE001
            pass


@pytest.fixture(scope="module")
def runs(two_departments, tmp_path_factory):
    """East loads the whole mini drop, West a drop with half its IA cases; then West alone is transformed."""
    root = tmp_path_factory.mktemp("airflow_departments")
    east = valid_tables()
    west = dict(east, ia_cases=east["ia_cases"][:60])
    drops = {EAST: write_drop(root / "east", east), WEST: write_drop(root / "west", west)}
    before_default = checksums("default")
    out = {"before_default": before_default}
    for name, drop in drops.items():
        out[name] = run_dag("eis_ingest", {"drop_dir": str(drop), "department": name})
    out["transform"] = run_dag("eis_transform", {"department": WEST})
    return out


def test_each_department_gets_its_own_rows_from_the_same_dags(runs):
    for name in (EAST, WEST):
        assert runs[name].returncode == 0, _output(runs[name])
    assert _count(EAST, "raw.ia_cases") == 120
    assert _count(WEST, "raw.ia_cases") == 60
    assert _count(EAST, "raw.officers") == _count(WEST, "raw.officers") == 40
    # nothing of either landed in the default department's database
    assert checksums("default") == runs["before_default"]


def test_the_raw_asset_events_name_their_department(runs):
    from eis_core import db

    with db.connect(db.AIRFLOW_DB) as conn:
        extras = [r[0] if isinstance(r[0], dict) else json.loads(r[0]) for r in conn.execute(
            "SELECT e.extra FROM asset_event e JOIN asset a ON a.id = e.asset_id "
            "WHERE a.uri = 'eis://warehouse/raw' ORDER BY e.id DESC LIMIT 2")]
    assert [e["department"] for e in extras] == [WEST, EAST]


def test_transform_builds_only_the_department_it_is_run_for(runs):
    from test_airflow_dags import last_xcom

    assert runs["transform"].returncode == 0, _output(runs["transform"])
    summary = last_xcom("eis_transform", "dbt_build")
    assert summary["department"] == WEST and summary["failed"] == 0
    assert _count(WEST, "staging.stg_ia_cases") == 60  # West's own rows, in West's database
    # East was not built: no marts in its database (its views, if any, read only its own raw rows)
    assert _count(EAST, "features.officer_features") in (None, 0)
    assert _count(EAST, "staging.stg_ia_cases") in (None, 120)


def test_an_asset_triggered_run_works_only_for_the_departments_of_its_events(runs):
    """The events the two ingest runs recorded, as Airflow hands them to a triggered run's tasks."""
    from airflow.sdk.execution_time.comms import AssetEventDagRunReferenceResult as Event
    from airflow.sdk.execution_time.context import TriggeringAssetEventsAccessor

    from eis_core import db
    from eis_core.orchestration.departments import run_departments

    with db.connect(db.AIRFLOW_DB) as conn:
        rows = conn.execute(
            "SELECT a.name, a.uri, e.extra, e.timestamp FROM asset_event e JOIN asset a ON a.id = e.asset_id "
            "WHERE a.uri = 'eis://warehouse/raw' ORDER BY e.id DESC LIMIT 2").fetchall()
    events = [Event(asset={"name": n, "uri": u, "extra": {}}, extra=x if isinstance(x, dict) else json.loads(x),
                    source_task_id="validate_and_load", source_dag_id="eis_ingest", source_run_id=None,
                    source_map_index=-1, source_aliases=[], timestamp=t) for n, u, x, t in rows]
    asset_run = SimpleNamespace(run_type="asset_triggered")
    only_east = TriggeringAssetEventsAccessor.build([e for e in events if e.extra["department"] == EAST])
    assert run_departments({}, asset_run, only_east) == [EAST]
    both = TriggeringAssetEventsAccessor.build(events)
    assert sorted(run_departments({}, asset_run, both)) == [EAST, WEST]
    # the param wins; a manual run without it is the default department's
    assert run_departments({"department": WEST}, asset_run, only_east) == [WEST]
    assert run_departments({}, SimpleNamespace(run_type="manual"), None) == ["default"]


def test_each_department_is_scored_on_its_own_schedule(two_departments):
    import yaml

    from eis_core.departments import registry
    from eis_core.orchestration.departments import fires_on, run_departments, schedule_of

    cfg_path = registry.get(WEST).officer_config
    cfg = yaml.safe_load(cfg_path.read_text())
    cfg["production"]["schedule"] = "@weekly"  # Sundays, 00:00 UTC
    cfg_path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    assert schedule_of(WEST) == "@weekly" and schedule_of(EAST) == "@daily"
    tick = SimpleNamespace(run_type="scheduled")
    sunday, monday = datetime(2026, 11, 29), datetime(2026, 11, 30)
    on_sunday = run_departments({}, tick, None, sunday, scheduled=True)
    on_monday = run_departments({}, tick, None, monday, scheduled=True)
    assert {"default", EAST, WEST} <= set(on_sunday)
    assert {"default", EAST} <= set(on_monday) and WEST not in on_monday
    # missed days of a weekly department are its Sundays only
    assert [d.day for d in (date(2026, 11, 22 + i) for i in range(8)) if fires_on("@weekly", d)] == [22, 29]
    cfg["production"]["schedule"] = "every day"
    cfg_path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    from eis_core.config import ConfigError, load_officer_config

    with pytest.raises(ConfigError, match="schedule"):
        load_officer_config(cfg_path)
