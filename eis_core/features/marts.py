"""The feature and label marts around a dbt build: their shape, their as-of dates, and asking for them.

* :func:`ensure_marts` is the ONE function through which modeling (``matrices.ensure_features``) and
  production scoring ask for marts: it builds the as-of dates the marts lack (dbt, incremental; only the
  marts when raw data and configuration are unchanged since the last build) and returns them.
* :func:`prepare` and :func:`record` run inside :func:`eis_core.transform.dbt_build`, under its
  cross-process advisory lock: before dbt, a changed feature shape (a full refresh of every held date)
  and dates built from another load (rebuilt too); after dbt, which load the marts are from
  (:mod:`eis_core.features.state`).

The shape of the marts (which columns) depends only on the configuration: the dbt vars without the
as-of dates.  Its hash is passed to dbt as var ``eis_shape`` and written by ``officer_features``'s
post-hook as the comment of that table, so the shape lives on the relation it describes (no
bookkeeping table): a different comment means the configuration changed since the table was built.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from datetime import date

#: dbt selector of everything the feature and label marts need: the marts with everything upstream, and
#: every staging view (a config that switches a block off leaves that table's staging view outside the
#: marts' lineage, but feature_blocks still reads it to say whether the drop provides the table)
MARTS_SELECTOR = "path:models/staging +path:models/marts"
MARTS_ONLY_SELECTOR = "path:models/marts"

#: the dbt models whose build is recorded in features.state (the incremental marts)
MART_MODELS = frozenset(
    {"officer_cohort", "officer_features", "officer_protected", "officer_labels", "pending_cases_by_as_of"}
)

SHAPE_PREFIX = "eis feature shape "


def shape_hash(dbt_vars: dict) -> str:
    """Hash of everything that shapes the marts' columns and meaning: the dbt vars except the as-of
    dates (those only select which rows are computed).  Never the data."""
    eis = {k: v for k, v in (dbt_vars.get("eis") or {}).items() if k != "as_of_dates"}
    return hashlib.sha256(json.dumps(eis, sort_keys=True, default=str).encode()).hexdigest()[:16]


def stored_shape(conn=None) -> str | None:
    """The shape hash features.officer_features was last built with (its table comment); None before."""
    from eis_core import db

    with db.connection(conn) as c:
        (comment,) = db.first_row(c, "SELECT obj_description(to_regclass('features.officer_features'), 'pg_class')")
    return comment[len(SHAPE_PREFIX) :] if comment and comment.startswith(SHAPE_PREFIX) else None


def _mart_exists() -> bool:
    from eis_core import db

    with db.connect() as c:
        return db.scalar(c, "SELECT to_regclass('features.officer_features') IS NOT NULL")


def _with_dates(dbt_vars: dict, dates: Iterable[str]) -> dict:
    return {**dbt_vars, "eis": {**dbt_vars.get("eis", {}), "as_of_dates": sorted(set(dates))}}


def prepare(dbt_vars: dict, full_refresh: bool, progress: Callable[[str], object] | None) -> dict:
    """Before dbt (under the dbt lock): the vars, full-refresh flag and raw load id for this build.

    A shape other than the stored one (first build, or the feature/label definition changed: windows,
    blocks, rules, labels) rebuilds the marts from scratch for the requested as-of dates AND every date
    they already hold, so that no date is lost.  Issue 17.8: every as-of date the marts hold must come
    from the load raw holds now; dates built from another load (or whose last build failed) are
    rebuilt with the requested ones.  For a selection without the marts these only widen the as-of dates
    dbt is given, which nothing else reads."""
    from eis_core.features import state

    shape = shape_hash(dbt_vars)
    requested = set(dbt_vars.get("eis", {}).get("as_of_dates", []))
    held = {d.isoformat() for d in state.present_dates()}
    if not full_refresh and _mart_exists() and stored_shape() != shape:
        dbt_vars = _with_dates(dbt_vars, requested | held)
        if progress:
            progress(
                f"feature configuration changed since the marts were built: full refresh of "
                f"{len(dbt_vars['eis']['as_of_dates'])} as-of date(s)"
            )
        full_refresh = True
    raw_id = state.raw_load_id()
    if not full_refresh:
        stale = {d.isoformat() for d in state.stale_dates(raw_id)} - requested
        if stale:
            dbt_vars = _with_dates(dbt_vars, requested | stale)
            if progress:
                progress(
                    f"raw is load {raw_id}: {len(stale)} as-of date(s) in the marts were built from another "
                    f"load (or their build failed): rebuilding them too ({len(dbt_vars['eis']['as_of_dates'])} in all)"
                )
    return {
        "dbt_vars": {**dbt_vars, "eis_shape": SHAPE_PREFIX + shape},
        "full_refresh": full_refresh,
        "raw_id": raw_id,
        "dates": list(dbt_vars.get("eis", {}).get("as_of_dates", [])),
    }


def touched(nodes: list[dict]) -> bool:
    """Did the build select any incremental mart (run, failed or skipped)?"""
    return any(n["resource_type"] == "model" and n["name"] in MART_MODELS for n in nodes)


def record(plan: dict, nodes: list[dict], ok: bool, reason: str | None = None) -> str:
    """After dbt: when the build selected a mart, record which load its dates are from; on failure return
    the state line ("marts are from load N, raw is load M: ...") to append to the error."""
    from eis_core.features import state

    if not touched(nodes) and (ok or nodes):
        return ""  # the marts were not part of this build (a dbt that could not run at all has no nodes)
    state.record_build(plan["dates"], plan["raw_id"], ok, reason, full_refresh=plan["full_refresh"])
    line = "" if ok else (state.out_of_step_message() or "")
    return f"\n{line}" if line else ""


# ------------------------------------------------------------------------------------- asking for marts
def _label_names(labels_cfg) -> list[str]:
    """labels.officer_labels.label_name of each label window (officer_labels.sql: adverse_<short name>)."""
    from eis_core.config import Duration

    return [f"adverse_{Duration.parse(w).name}" for w in labels_cfg.label_windows]


def dates_with_marts(dates: list[date], labels_cfg, conn=None) -> set[date]:
    """The *dates* for which the feature mart and every configured label exist."""
    from eis_core import db

    with db.connection(conn) as c:
        (ok,) = db.first_row(
            c,
            "SELECT to_regclass('features.officer_features') IS NOT NULL "
            "AND to_regclass('labels.officer_labels') IS NOT NULL",
        )
        if not ok:
            return set()
        have = {
            d
            for (d,) in c.execute(
                "SELECT DISTINCT as_of_date FROM features.officer_features WHERE as_of_date = ANY(%s)", (dates,)
            )
        }
        for name in _label_names(labels_cfg):
            have &= {
                d
                for (d,) in c.execute(
                    "SELECT DISTINCT as_of_date FROM labels.officer_labels "
                    "WHERE as_of_date = ANY(%s) AND label_name = %s",
                    (dates, name),
                )
            }
    return have


def in_step(dbt_vars: dict) -> bool:
    """Are staging and the running totals current: the last build of the marts succeeded, from the load raw
    holds now, with this shape?  Then a new as-of date needs only the marts."""
    from eis_core.features import state

    s = state.marts_state()
    return bool(
        s["ok"]
        and s["marts_load_id"] is not None
        and s["marts_load_id"] == s["raw_load_id"]
        and stored_shape() == shape_hash(dbt_vars)
    )


def ensure_marts(
    dates: Iterable[date], officer_cfg, labels_cfg, progress: Callable[[str], object] | None = print
) -> list[date]:
    """Build the marts for the *dates* they lack (dbt, incremental); returns the dates built.

    The one way modeling and production scoring get marts.  When raw data and configuration are unchanged
    since the last successful build (:func:`in_step`), only the mart models run (one new as-of date in
    seconds); otherwise staging and the running totals are rebuilt too."""
    from eis_core.config import dbt_vars
    from eis_core.transform import dbt_build

    dates = sorted(set(dates))
    missing = sorted(set(dates) - dates_with_marts(dates, labels_cfg))
    if not missing:
        return []
    if progress:
        progress(f"the marts lack {len(missing)} as-of date(s) ({missing[0]} … {missing[-1]}): building them")
    variables = dbt_vars(officer_cfg, labels_cfg, missing)
    current = in_step(variables)
    if progress and current:
        progress("raw data and configuration unchanged since the marts were built: marts only")
    dbt_build(select=MARTS_ONLY_SELECTOR if current else MARTS_SELECTOR, progress=progress, dbt_vars=variables)
    return missing


__all__ = [
    "MARTS_ONLY_SELECTOR",
    "MARTS_SELECTOR",
    "MART_MODELS",
    "dates_with_marts",
    "ensure_marts",
    "in_step",
    "prepare",
    "record",
    "shape_hash",
    "stored_shape",
    "touched",
]
