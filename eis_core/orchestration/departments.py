"""Which departments a DAG run works for: one set of DAGs serves every department of the installation.

The DAG files know no department at parse time (no database call, no list): every run decides at run
time, in its first task, and maps its work over the answer (``.expand``), each mapped task instance
running inside :func:`eis_core.departments.use`:

* the ``department`` param, when given (``{"department": "metro"}``), is the answer;
* else a run started by an Asset event works for the departments named in the events that started it
  (``extra["department"]``; an event without one is the ``default`` department's): the Assets are shared
  by all departments, and this check is what keeps department B's transform and scoring from running
  after department A's load;
* else a scheduled ``eis_production`` run works for the registered departments whose own scoring
  schedule (``production.schedule`` of the department's officer config, default ``@daily``) fired since
  the previous tick of the DAG (see :func:`due`);
* else (a manual run without the param) the ``default`` department: ``make demo`` and
  ``airflow dags test eis_production DATE`` work as they always have.

Imports nothing heavy (DAG files import it at parse time); the registry is read inside the tasks only.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta

from eis_core.departments import DEFAULT, check_name, use

#: the ``department`` param every DAG has; null = decided by the run (see the module doc)
PARAM = "department"
#: how often eis_production looks for departments whose schedule fired (a cron, read at parse time);
#: daily by default, so a backfill still makes one run per day: schedules then choose days (weekly, weekdays)
TICK = os.environ.get("EIS_PRODUCTION_TICK", "@daily")
DEFAULT_SCHEDULE = "@daily"


def _run_type(dag_run) -> str:
    value = getattr(dag_run, "run_type", None)
    return str(getattr(value, "value", value) or "")


def event_departments(triggering_asset_events) -> list[str]:
    """The departments named by the Asset events that started a run (each once, in event order)."""
    out: list[str] = []
    for asset in triggering_asset_events or {}:
        for event in triggering_asset_events[asset]:
            name = check_name((getattr(event, "extra", None) or {}).get(PARAM) or DEFAULT)
            if name not in out:
                out.append(name)
    return out


def schedule_of(name: str, config=None) -> str:
    """Department *name*'s scoring schedule (a cron expression or preset such as ``@daily``):
    ``production.schedule`` of its officer config (*config*, default the shipped path, which means the
    department's own copy), else ``@daily``."""
    from eis_core.config import DEFAULT_OFFICER_CONFIG, load_officer_config

    with use(name):
        cfg = load_officer_config(config or DEFAULT_OFFICER_CONFIG)
    return getattr(cfg.production, "schedule", None) or DEFAULT_SCHEDULE


def due(schedule: str, tick_end: datetime, tick_start: datetime) -> bool:
    """Whether *schedule* fires in ``(tick_start, tick_end]`` (a tick of the DAG's own timetable)."""
    from croniter import croniter  # type: ignore[import-untyped, unused-ignore]

    fire = croniter(schedule, tick_end + timedelta(microseconds=1)).get_prev(datetime)
    return tick_start < fire <= tick_end


def fires_on(schedule: str, day: date) -> bool:
    """Whether *schedule* fires at least once on calendar day *day* (UTC)."""
    from croniter import croniter

    start = datetime(day.year, day.month, day.day)
    return croniter(schedule, start - timedelta(microseconds=1)).get_next(datetime) < start + timedelta(days=1)


def previous_tick(tick_end: datetime, tick: str = TICK) -> datetime:
    from croniter import croniter

    return croniter(tick, tick_end).get_prev(datetime)


def run_departments(
    params: dict, dag_run=None, triggering_asset_events=None, logical_date=None, scheduled: bool = False
) -> list[str]:
    """The departments this DAG run works for (see the module doc); *scheduled*: the DAG has a time
    schedule whose scheduled runs serve every department whose own schedule is due."""
    if params.get(PARAM):
        return [check_name(params[PARAM])]
    run_type = _run_type(dag_run)
    if run_type == "asset_triggered":
        return event_departments(triggering_asset_events)
    if scheduled and run_type == "scheduled" and logical_date is not None:
        from eis_core.departments import registry

        end = logical_date.replace(tzinfo=None)
        start = previous_tick(end)
        config = params.get("config")
        return [d.name for d in registry.list_departments() if due(schedule_of(d.name, config), end, start)]
    return [DEFAULT]


@contextmanager
def working_for(name: str | None) -> Iterator[str]:
    """Inside a task: everything of the block (database, files, configs) is department *name*'s."""
    name = check_name(name or DEFAULT)
    print(f"department {name}")
    with use(name):
        yield name


def describe(names: Iterable[str], why: str) -> str:
    names = list(names)
    return f"{len(names)} department(s) ({why}): {', '.join(names) or 'none'}"


__all__ = [
    "DEFAULT_SCHEDULE",
    "PARAM",
    "TICK",
    "describe",
    "due",
    "event_departments",
    "fires_on",
    "previous_tick",
    "run_departments",
    "schedule_of",
    "working_for",
]
