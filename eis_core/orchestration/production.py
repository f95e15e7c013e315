"""The decisions of the ``eis_production`` DAG, kept out of the DAG file (which only wires).

* :func:`scoring_day` - which date a run scores: the ``as_of`` param; else the logical date of a
  scheduled (``@daily``), backfill or dated manual run; else - a run triggered by the Asset
  ``eis://warehouse/staging`` (a new drop went through ``eis_transform``) or a manual run without a
  logical date - the newest date of the data (its extraction date).
* :func:`handle_missed_days` - before a scheduled or Asset-triggered run scores D, the dates since the
  newest scored date that have no risk list: alert with the list (default) or score them first
  (``catch_up``, at most ``EIS_CATCH_UP_MAX_DAYS`` = 31 days; more are alerted).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import date
from typing import Any

CHECKED_RUN_TYPES = ("scheduled", "asset_triggered")
MISSED_POLICIES = ("alert", "catch_up")


def _run_type(dag_run) -> str:
    value = getattr(dag_run, "run_type", None)
    return str(getattr(value, "value", value) or "")


def scoring_day(params: dict, logical_date, dag_run=None) -> tuple[date, str]:
    """(date to score, why that date)."""
    from eis_core.production.scoring import parse_date
    from eis_core.production.staleness import latest_scoring_date

    if params.get("as_of"):
        return parse_date(params["as_of"]), "the as_of param"
    if logical_date is not None and _run_type(dag_run) != "asset_triggered":
        return logical_date.date(), f"the logical date of this {_run_type(dag_run) or 'manual'} run"
    return latest_scoring_date(), "the newest date of the data (its extraction date)"


def has_selection() -> bool:
    """Whether a model group has been chosen (``results.selections``)."""
    from eis_core import db

    with db.connect() as conn:
        if db.scalar(conn, "SELECT to_regclass('results.selections')") is None:
            return False
        return db.scalar(
            conn, "SELECT EXISTS (SELECT 1 FROM results.selections WHERE chosen AND model_group_id IS NOT NULL)"
        )


def missed_policy(value: str | None) -> str:
    policy = value or os.environ.get("EIS_MISSED_DAYS") or "alert"
    if policy not in MISSED_POLICIES:
        raise ValueError(f"missed_days must be one of {list(MISSED_POLICIES)}, not {policy!r}")
    return policy


def handle_missed_days(
    day: date,
    run_type: str,
    policy: str | None,
    score: Callable[[date], object],
    progress: Callable[[str], object] = print,
) -> dict:
    """Alert with (or catch up) the dates without a risk list before *day*; see the module doc."""
    from eis_core.orchestration.notify import send_alert
    from eis_core.production.scoring import ProductionError
    from eis_core.production.staleness import format_dates, missing_dates

    policy = missed_policy(policy)
    out: dict[str, Any] = {"day": day.isoformat(), "run_type": run_type, "missing": [], "action": "none"}
    if run_type not in CHECKED_RUN_TYPES:
        return out
    missing = missing_dates(day)
    out["missing"] = [d.isoformat() for d in missing]
    if not missing:
        progress(f"no missed day before {day}")
        return out
    progress(f"{len(missing)} day(s) before {day} have no risk list: {format_dates(missing)}")
    max_days = int(os.environ.get("EIS_CATCH_UP_MAX_DAYS", "31"))
    failed: list[str] = []
    if policy == "catch_up" and len(missing) <= max_days:
        for d in missing:
            try:
                score(d)
            except ProductionError as exc:  # e.g. beyond the data: report it, go on
                failed.append(f"{d}: {exc}")
                progress(f"catch-up of {d} refused: {exc}")
        if not failed:
            out["action"] = "caught_up"
            return out
    reason = (
        f"could not catch up: {'; '.join(failed[:5])}"
        if failed
        else f"catch-up is limited to {max_days} days"
        if policy == "catch_up"
        else "policy 'alert' (set the param missed_days or EIS_MISSED_DAYS to 'catch_up' to score them)"
    )
    first, last = missing[0], missing[-1]
    body = (
        f"eis_production is scoring {day}, but {len(missing)} earlier day(s) have no risk list "
        f"(the scheduler was down or their runs failed):\n\n{format_dates(missing, limit=400)}\n\n"
        f"{reason}.\nTo score them:\n"
        f"  airflow backfill create --dag-id eis_production --from-date {first} --to-date {last}\n"
        f"or: eis score --date {first} --to {last}\n"
    )
    out["action"] = "alerted"
    out["alert"] = send_alert(
        f"[EIS] {len(missing)} missed day(s) without a risk list before {day}",
        body,
        extra={"event": "missed_days", "dag_id": "eis_production", "day": day.isoformat(), "missing": out["missing"]},
    )
    return out


__all__ = [
    "CHECKED_RUN_TYPES",
    "MISSED_POLICIES",
    "handle_missed_days",
    "has_selection",
    "missed_policy",
    "scoring_day",
]
