"""How far the warehouse's data reaches, and which scoring requests go beyond it.

* :func:`data_extraction` - the extraction date of the newest accepted drop: ``extracted_at`` of its
  ``_drop.json`` (the loader's own rule: without a manifest a drop counts as extracted when it was
  loaded).  Unknown when the drop folder is gone.
* :func:`check_staleness` - scoring a date more than ``max_days`` after that extraction date is
  refused (``ProductionError``): a risk list of 2026 from data extracted in 2015 would look current and
  be ten years old.  The threshold is ``EIS_STALE_AFTER_DAYS`` (default 30; ``off`` disables it) or the
  caller's value (``score_day(max_stale_days=...)``, the ``eis_production`` DAG's param).
* :func:`missing_dates` - the dates between the newest scored date before D and D that have no risk
  list (the days a scheduler was down); the ``eis_production`` DAG alerts with them or catches up.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path

from eis_core import db

DEFAULT_STALE_AFTER_DAYS = 30
ENV_STALE_AFTER_DAYS = "EIS_STALE_AFTER_DAYS"
_ACCEPTED = ("loaded", "loaded_with_quarantine", "unchanged")


def stale_after_days(value: int | str | None = None) -> int | None:
    """The threshold in days (None: disabled): *value*, else ``$EIS_STALE_AFTER_DAYS``, else 30."""
    raw = value if value is not None else os.environ.get(ENV_STALE_AFTER_DAYS)
    if raw is None or str(raw).strip() == "":
        return DEFAULT_STALE_AFTER_DAYS
    if str(raw).strip().lower() in ("off", "none", "disabled", "-1"):
        return None
    try:
        days = int(raw)
    except ValueError:
        from eis_core.production.scoring import ProductionError

        raise ProductionError(f"{ENV_STALE_AFTER_DAYS}={raw!r} is not a number of days (or 'off')") from None
    return days if days >= 0 else None


def data_extraction(conn=None) -> tuple[date | None, str]:
    """(extraction date of the newest accepted drop or None, where that date comes from)."""
    if conn is None:
        with db.connect() as own:
            return data_extraction(own)
    if conn.execute("SELECT to_regclass('raw.load_log')").fetchone()[0] is None:
        return None, "no drop has been loaded"
    row = conn.execute(
        "SELECT load_id, drop_path, max(finished_at) FROM raw.load_log WHERE status = ANY(%s) "
        "GROUP BY load_id, drop_path ORDER BY load_id DESC LIMIT 1",
        (list(_ACCEPTED),),
    ).fetchone()
    if row is None:
        return None, "no drop has been accepted"
    load_id, drop_path, finished = row
    folder = Path(drop_path)
    manifest = folder / "_drop.json"
    if manifest.is_file():
        try:
            extracted = json.loads(manifest.read_text(encoding="utf-8")).get("extracted_at")
        except (OSError, ValueError):
            extracted = None
        if extracted:
            try:
                return datetime.fromisoformat(str(extracted)).date(), f"extracted_at of {manifest} (load {load_id})"
            except ValueError:
                pass
    if folder.is_dir():  # the loader's rule: no manifest = extracted when loaded
        return finished.date(), f"load {load_id} of {folder} (no extracted_at: the load time)"
    return None, f"the drop folder of load {load_id} ({folder}) is gone"


def check_staleness(
    d: date, max_days: int | str | None = None, conn=None, progress: Callable[[str], object] | None = print
) -> date | None:
    """Refuse to score *d* when it lies more than the threshold after the data's extraction date.

    Returns the extraction date (None when unknown: then nothing is refused and a warning is printed).
    """
    from eis_core.production.scoring import ProductionError

    limit = stale_after_days(max_days)
    extracted, source = data_extraction(conn)
    if extracted is None:
        if progress and limit is not None:
            progress(f"warning: the data's extraction date is unknown ({source}): staleness of {d} not checked")
        return None
    if limit is not None and (d - extracted).days > limit:
        raise ProductionError(
            f"date {d} is {(d - extracted).days} days after the data's extraction date {extracted} "
            f"(more than {limit}; {ENV_STALE_AFTER_DAYS}): its risk list would be stale. Load a newer drop, "
            f"score {extracted} or earlier, or raise the threshold"
        )
    return extracted


def latest_scoring_date(conn=None) -> date:
    """The newest date the data covers (its extraction date): what a new drop's risk list is for."""
    from eis_core.production.scoring import ProductionError

    extracted, source = data_extraction(conn)
    if extracted is None:
        raise ProductionError(f"cannot tell the newest date of the data: {source}")
    return extracted


def missing_dates(d: date, conn=None, lookback_days: int = 366) -> list[date]:
    """Dates after the newest scored date before *d* (within *lookback_days*) and before *d*: no risk list.

    Empty when nothing was scored in the lookback window (a first run is not a gap).
    """
    if conn is None:
        with db.connect() as own:
            return missing_dates(d, own, lookback_days)
    if conn.execute("SELECT to_regclass('production.scoring_runs')").fetchone()[0] is None:
        return []
    (prev,) = conn.execute(
        "SELECT max(as_of_date) FROM production.scoring_runs WHERE as_of_date < %s AND as_of_date >= %s",
        (d, d - timedelta(days=lookback_days)),
    ).fetchone()
    if prev is None:
        return []
    return [prev + timedelta(days=i) for i in range(1, (d - prev).days)]


def format_dates(dates: list[date], limit: int = 60) -> str:
    shown = ", ".join(x.isoformat() for x in dates[:limit])
    return shown + (f", ... and {len(dates) - limit} more" if len(dates) > limit else "")


__all__ = [
    "DEFAULT_STALE_AFTER_DAYS",
    "ENV_STALE_AFTER_DAYS",
    "check_staleness",
    "data_extraction",
    "format_dates",
    "latest_scoring_date",
    "missing_dates",
    "stale_after_days",
]
