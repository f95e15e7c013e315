"""Build the dispatch-level dataset with dbt (models in dbt_project/models/dispatch/, schema ``dispatch``).

The default ``dbt build`` (``eis transform``) excludes these models; they are built here, explicitly,
with their upstream staging views (``+path:models/dispatch``, plus ``stg_assignments`` for the suggestions)
and their own data tests (the staging views' tests belong to ``eis transform``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from eis_core.config import DEFAULT_LABELS_CONFIG, DEFAULT_OFFICER_CONFIG
from eis_core.contract import load_contract

SELECTOR = "+path:models/dispatch stg_assignments"  # the suggestions read the assignments too
#: a gap longer than this between two dispatches of an officer starts a new duty session
DEFAULT_SESSION_GAP_HOURS = 8.0
#: call types counted as stress calls (suicide, domestic violence, child involved): the contract's
#: ``stress_call_types``, the same list the officer features count (dbt macro eis_stress_call_types())
DEFAULT_STRESS_CALL_TYPES = tuple(load_contract().stress_call_types)


def dispatch_vars(
    session_gap_hours: float = DEFAULT_SESSION_GAP_HOURS,
    stress_call_types: tuple[str, ...] | list[str] = DEFAULT_STRESS_CALL_TYPES,
) -> dict:
    if not (0 < float(session_gap_hours) <= 48):
        raise ValueError(f"session_gap_hours must be in (0, 48], got {session_gap_hours!r}")
    types = [str(t).strip().upper() for t in stress_call_types]
    bad = [t for t in types if not t or not all(ch.isalnum() or ch in "-_ " for ch in t)]
    if bad or not types:
        raise ValueError(f"stress_call_types: invalid call type code(s) {bad or types!r}")
    return {"session_gap_hours": float(session_gap_hours), "stress_call_types": types}


def build_dataset(
    labels: Path | str = DEFAULT_LABELS_CONFIG,
    config: Path | str = DEFAULT_OFFICER_CONFIG,
    session_gap_hours: float = DEFAULT_SESSION_GAP_HOURS,
    stress_call_types=DEFAULT_STRESS_CALL_TYPES,
    select: str = SELECTOR,
    progress: Callable[[str], object] | None = print,
) -> dict:
    """Run dbt for the dispatch models; returns the dbt summary plus ``rows``, ``positives``,
    ``wall_seconds``.  The adverse-event definition comes from the labels config."""
    from eis_core import db
    from eis_core.config import dbt_vars, load_labels_config, load_officer_config
    from eis_core.transform import dbt_build

    v = dbt_vars(load_officer_config(config), load_labels_config(labels), as_of_dates=[])
    v["dispatch"] = dispatch_vars(session_gap_hours, stress_call_types)
    if progress:
        progress(f"building the dispatch dataset (dbt {select}; session gap {v['dispatch']['session_gap_hours']} h)")
    t0 = time.perf_counter()
    # the staging views' own tests belong to eis_transform (the load validated the data): not rerun here
    summary = dbt_build(
        select=select,
        exclude="path:models/staging,resource_type:test",
        dbt_vars=v,
        progress=progress,
        indirect_selection="cautious",
    )
    with db.connect() as conn:
        rows, pos = db.first_row(conn, "SELECT count(*), coalesce(sum(label), 0) FROM dispatch.dispatch_dataset")
    summary.update(rows=int(rows), positives=int(pos), wall_seconds=round(time.perf_counter() - t0, 2))
    if progress:
        progress(
            f"dispatch.dispatch_dataset: {rows:,} dispatches, {pos:,} linked to an adverse IA case "
            f"({summary['wall_seconds']:.1f} s)"
        )
    return summary
