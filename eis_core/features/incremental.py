"""Incremental running totals (issue 19.2): which intermediate models a dbt build may update by load.

The running-total models (``intermediate.int_<src>_daily`` and ``int_dsp_day``) are dbt incremental models
(strategy ``eis_running_totals``, ``dbt_project/macros/eis_incremental.sql``).  Each keeps, as its table
comment, the raw load id and the position in ``raw.table_writes`` it was last built through (``eis running
totals through load N write S``, written by its post-hook in the model's own transaction).  Before dbt runs, :func:`plan` decides per model, from the
loader's bookkeeping (``raw.load_log.write_mode``, migration 0011; ``eis_core.load.write``):

* ``append`` -- every write to one of the model's source tables since its build was a loader append
  (``raw.table_writes``, a trigger on each raw table; the loader tags its own writes): the rows of
  earlier loads are all still there, unchanged, and the model recomputes only the officers with a row of a
  later load, from their first affected knowledge day onward, carrying the totals of the day before;
* ``full`` -- a source table was replaced since (rows of earlier loads changed or deleted), or written
  outside the loader (an UPDATE by hand, a TRUNCATE, a restore), or the model has no recorded build: the
  model recomputes everything.  :func:`summary_line` names the table (and load) that forced it, in one line.

The decision is passed to dbt as ``var('eis_incr')``; ``eis transform --full-refresh`` (and a changed feature
shape) rebuilds the tables from scratch regardless.  What a model reads is in :data:`SOURCES`
(``tests/test_incremental_load.py`` checks it against dbt's manifest).
"""

from __future__ import annotations

import re

#: every running-total model and the raw tables it reads (through their staging views)
SOURCES: dict[str, tuple[str, ...]] = {
    "int_ia_daily": ("ia_cases",),
    "int_uof_daily": ("use_of_force",),
    "int_dsp_day": ("dispatches", "calls_for_service"),
    "int_dsp_daily": ("dispatches", "calls_for_service"),
    "int_crs_daily": ("crime_reports",),
    "int_arr_daily": ("arrests",),
    "int_ts_daily": ("traffic_stops",),
    "int_fi_daily": ("field_interviews",),
    "int_cit_daily": ("citations",),
    "int_sec_daily": ("secondary_employment",),
    "int_trn_daily": ("training",),
    "int_flg_daily": ("eis_flags",),
}
SCHEMA = "intermediate"
COMMENT_PREFIX = "eis running totals through load "
#: load_log statuses of a table a load changed (eis_core.features.state.DATA_CHANGING)
CHANGED = ("loaded", "loaded_with_quarantine")


def _one(c, query: str, params: tuple = ()) -> tuple:
    """The one row an aggregate query returns."""
    row = c.execute(query, params).fetchone()
    assert row is not None
    return row


def built_through(model: str, conn=None) -> tuple[bool, int | None, int | None]:
    """(the model's table exists, the raw load id and the raw.table_writes position it was last built
    through, or None when not recorded)."""
    from eis_core import db

    with db.connection(conn) as c:
        (exists, comment) = _one(
            c,
            "SELECT to_regclass(%s) IS NOT NULL, obj_description(to_regclass(%s), 'pg_class')",
            (f"{SCHEMA}.{model}", f"{SCHEMA}.{model}"),
        )
    m = re.fullmatch(re.escape(COMMENT_PREFIX) + r"(\d+) write (\d+)", comment or "")
    return bool(exists), (int(m.group(1)) if m else None), (int(m.group(2)) if m else None)


def _forcing_write(c, seq: int, tables: tuple[str, ...]) -> str | None:
    """Why a write to one of *tables* after position *seq* of raw.table_writes forces a full rebuild (None:
    every such write was a loader append)."""
    row = c.execute(
        "SELECT table_name, op, writer FROM raw.table_writes WHERE seq > %s AND table_name = ANY(%s) "
        "AND (writer IS NULL OR writer NOT LIKE 'append:%%') ORDER BY seq LIMIT 1",
        (seq, list(tables)),
    ).fetchone()
    if row is None:
        return None
    table, op, writer = row
    if writer and writer.startswith("replace:"):
        lid = int(writer.split(":", 1)[1])
        removed = c.execute(
            "SELECT rows_removed FROM raw.load_log WHERE load_id = %s AND table_name = %s", (lid, table)
        ).fetchone()
        n = f"{removed[0]:,}" if removed and removed[0] is not None else "some"
        return f"raw.{table} was replaced by load {lid} ({n} row(s) of earlier loads changed or deleted)"
    return f"raw.{table} was written outside the loader ({op})"


def through_load(conn=None) -> int | None:
    """The load id a build now is built through: the newest load that changed a table, below any load still
    running (a running load may commit more tables under its id after dbt has read them; its rows then count
    as new for the next build)."""
    from eis_core import db

    with db.connection(conn) as c:
        if not _one(c, "SELECT to_regclass('raw.load_log') IS NOT NULL")[0]:
            return None
        (lid,) = _one(
            c,
            "SELECT max(load_id) FROM raw.load_log WHERE status = ANY(%s) AND load_id < coalesce("
            "(SELECT min(load_id) FROM raw.load_log WHERE table_name = '(load)' AND status = 'running'), "
            "9223372036854775807)",
            (list(CHANGED),),
        )
    return None if lid is None else int(lid)


def plan(conn=None) -> dict:
    """``{'load': N, 'writes': S, 'models': {model: {'mode': 'append', 'since': L} | {'mode': 'full', 'reason':
    ...}}}`` (what ``var('eis_incr')`` carries; N: :func:`through_load`, S: the last raw.table_writes position;
    models without a table are left out: dbt builds them from scratch)."""
    from eis_core import db

    models: dict[str, dict] = {}
    with db.connection(conn) as c:
        through = through_load(c)
        logged = _one(c, "SELECT to_regclass('raw.table_writes') IS NOT NULL")[0]
        writes = _one(c, "SELECT coalesce(max(seq), 0) FROM raw.table_writes")[0] if logged else None
        watched = set()
        if logged:
            watched = {
                r[0]
                for r in c.execute(
                    "SELECT c.relname FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid JOIN pg_namespace n "
                    "ON n.oid = c.relnamespace WHERE n.nspname = 'raw' AND g.tgname = 'eis_note_write'"
                )
            }
        for model, tables in SOURCES.items():
            exists, since, seq = built_through(model, c)
            if not exists:
                continue
            unwatched = [t for t in tables if t not in watched]
            if since is None or seq is None:
                models[model] = {"mode": "full", "reason": "no recorded build (built before writes were tracked)"}
            elif through is None or writes is None or since > through or seq > writes:
                models[model] = {"mode": "full", "reason": f"built through load {since}, raw is load {through}"}
            elif unwatched:
                models[model] = {"mode": "full", "reason": f"raw.{unwatched[0]} has no write log (run `eis load`)"}
            elif (why := _forcing_write(c, seq, tables)) is not None:
                models[model] = {"mode": "full", "reason": why}
            else:
                models[model] = {"mode": "append", "since": since}
    return {"load": through, "writes": writes, "models": models}


def summary_line(p: dict) -> str | None:
    """One line: which models append from which load, which are rebuilt in full and which table forced it."""
    models = p["models"]
    if not models:
        return None
    full = {m: v["reason"] for m, v in models.items() if v["mode"] == "full"}
    appends = sorted({v["since"] for v in models.values() if v["mode"] == "append"})
    parts = []
    if full:
        by_reason: dict[str, list[str]] = {}
        for m, reason in full.items():
            by_reason.setdefault(reason, []).append(m)
        parts.append("; ".join(f"{', '.join(ms)} rebuilt in full: {reason}" for reason, ms in by_reason.items()))
    n_app = len(models) - len(full)
    if n_app:
        since = appends[0] if len(appends) == 1 else f"{appends[0]}-{appends[-1]}"
        parts.append(f"{n_app} model(s) updated with the rows appended after load {since}")
    return "running totals: " + "; ".join(parts)


def checksums(schemas: tuple[str, ...] = ("intermediate", "features", "labels"), conn=None) -> dict[str, str]:
    """md5 of every table of *schemas* (``schema.table`` -> md5 over its rows as JSON, keys sorted, rows in
    sorted order): two builds with equal checksums hold the same rows whatever the column order, every float
    to the last bit (PostgreSQL writes the shortest text that reads back exactly).  Bookkeeping tables
    (``marts_*``) are left out."""
    from eis_core import db

    out = {}
    with db.connection(conn) as c:
        tables = c.execute(
            "SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema = ANY(%s) "
            "AND table_type = 'BASE TABLE' AND table_name NOT LIKE 'marts\\_%%' ORDER BY 1, 2",
            (list(schemas),),
        ).fetchall()
        for schema, table in tables:
            (h,) = _one(
                c,
                f"SELECT md5(coalesce(string_agg(h, '' ORDER BY h), '')) FROM "
                f'(SELECT md5(to_jsonb(t)::text) AS h FROM "{schema}"."{table}" t) x',
            )
            out[f"{schema}.{table}"] = h
    return out


__all__ = ["COMMENT_PREFIX", "SOURCES", "built_through", "checksums", "plan", "summary_line", "through_load"]
