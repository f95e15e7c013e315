"""Which load the feature and label marts were built from, and whether that is the load ``raw`` holds.

The incremental marts (``features.officer_cohort``, ``officer_features``, ``officer_protected``,
``labels.officer_labels``, ``labels.pending_cases_by_as_of``) keep every as-of date a run built (a
modeling run adds its monthly dates, scoring adds its day).  After a new drop those dates hold the old
drop's officers and history, so two tables record what the marts were built from:

* ``features.marts_loads``  -- one row per as-of date: the raw load id it was built from (NULL: its last
  build failed or was interrupted, so its rows may mix two loads);
* ``features.marts_status`` -- one row: the raw load id of the last build that touched the marts, the load
  id of the last *successful* one (``marts_load_id``), whether the last one succeeded, and why not.

The raw load id is the newest load that changed a table (status ``loaded`` or ``loaded_with_quarantine``
in ``raw.load_log``): a drop whose files are all unchanged does not move it.

:func:`eis_core.transform.dbt_build` rebuilds every as-of date present in the marts whose recorded load
is not raw's (see :func:`stale_dates`) and records the outcome; :func:`out_of_step_message` is the check
scoring and matrix building run first ("marts are from load N, raw is load N+1: ... run `eis transform`").
"""

from __future__ import annotations

from datetime import date

#: load_log statuses of a load that changed a raw table (eis_core.modeling.matrices.DATA_CHANGING)
DATA_CHANGING = ("loaded", "loaded_with_quarantine")

#: the incremental marts: one row set per as-of date
MART_TABLES = (("features", "officer_cohort"), ("features", "officer_features"), ("features", "officer_protected"),
               ("labels", "officer_labels"), ("labels", "pending_cases_by_as_of"))

FIX_COMMAND = "eis transform"


def _connect(conn):
    from eis_core import db

    return db.connection(conn)


def _exists(conn, qualified: str) -> bool:
    return conn.execute("SELECT to_regclass(%s) IS NOT NULL", (qualified,)).fetchone()[0]


def raw_load_id(conn=None) -> int | None:
    """The id of the newest load that changed a raw table (None: nothing loaded)."""
    with _connect(conn) as c:
        if not _exists(c, "raw.load_log"):
            return None
        (lid,) = c.execute("SELECT max(load_id) FROM raw.load_log WHERE status = ANY(%s)",
                           (list(DATA_CHANGING),)).fetchone()
    return None if lid is None else int(lid)


def present_dates(conn=None, tables=MART_TABLES) -> set[date]:
    """Every as-of date any incremental mart holds."""
    out: set[date] = set()
    with _connect(conn) as c:
        for schema, table in tables:
            if _exists(c, f"{schema}.{table}"):
                out |= {d for (d,) in c.execute(f'SELECT DISTINCT as_of_date FROM "{schema}"."{table}"')}
    return out


def _recorded(c) -> dict[date, int | None]:
    if not _exists(c, "features.marts_loads"):
        return {}
    return {d: lid for d, lid in c.execute("SELECT as_of_date, load_id FROM features.marts_loads")}


def _status(c) -> dict | None:
    if not _exists(c, "features.marts_status"):
        return None
    row = c.execute("SELECT raw_load_id, marts_load_id, ok, message, finished_at FROM features.marts_status").fetchone()
    return None if row is None else dict(zip(("raw_load_id", "marts_load_id", "ok", "message", "finished_at"), row))


def stale_dates(raw_id: int | None, conn=None) -> set[date]:
    """As-of dates in the marts not (known to be) built from load *raw_id*: they must be rebuilt."""
    with _connect(conn) as c:
        recorded = _recorded(c)
        return {d for d in present_dates(c) if d not in recorded or recorded[d] is None or recorded[d] != raw_id}


def record_build(dates, raw_id: int | None, ok: bool, message: str | None = None, full_refresh: bool = False,
                 conn=None) -> None:
    """Record a build of the marts for *dates* from load *raw_id*: on success the dates are from that load
    (and, after a full refresh, the only ones); on failure their rows are of unknown origin (NULL)."""
    from eis_core.migrations import ensure_schema

    days = sorted({date.fromisoformat(str(d)) for d in dates})
    ensure_schema()
    with _connect(conn) as c:
        c.execute("SELECT pg_advisory_xact_lock(hashtext('eis_marts_state'))")  # concurrent builds: one at a time
        previous = _status(c)
        if ok and full_refresh:
            c.execute("DELETE FROM features.marts_loads")
        c.execute("INSERT INTO features.marts_loads (as_of_date, load_id) SELECT d, %s FROM unnest(%s::date[]) d "
                  "ON CONFLICT (as_of_date) DO UPDATE SET load_id = EXCLUDED.load_id, built_at = now()",
                  (raw_id if ok else None, days))
        if ok:  # forget dates no mart holds any more (a pruned or replaced date)
            c.execute("DELETE FROM features.marts_loads WHERE NOT (as_of_date = ANY(%s))", (sorted(present_dates(c)),))
        marts_id = raw_id if ok else (previous or {}).get("marts_load_id")
        c.execute("INSERT INTO features.marts_status (singleton, raw_load_id, marts_load_id, ok, message) "
                  "VALUES (true, %s, %s, %s, %s) ON CONFLICT (singleton) DO UPDATE SET raw_load_id = EXCLUDED.raw_load_id, "
                  "marts_load_id = EXCLUDED.marts_load_id, ok = EXCLUDED.ok, message = EXCLUDED.message, "
                  "finished_at = now()", (raw_id, marts_id, ok, message))


def marts_state(conn=None) -> dict:
    """{raw_load_id (now), marts_load_id, ok, message, finished_at (of the last build), dates {iso: load id}}."""
    with _connect(conn) as c:
        status = _status(c) or {"raw_load_id": None, "marts_load_id": None, "ok": None, "message": None,
                                "finished_at": None}
        return {**status, "built_from_raw_load_id": status["raw_load_id"], "raw_load_id": raw_load_id(c),
                "dates": {d.isoformat(): lid for d, lid in sorted(_recorded(c).items())}}


def _load(lid: int | None) -> str:
    return f"load {lid}" if lid is not None else "no completed build"


def out_of_step_message(conn=None) -> str | None:
    """None when the marts are in step with raw (or hold nothing yet); else one line naming the marts'
    load, raw's load and the command that fixes it."""
    with _connect(conn) as c:
        if not _exists(c, "features.officer_cohort"):
            return None  # nothing built yet: whoever needs a date builds it from the current raw
        raw_id = raw_load_id(c)
        if raw_id is None:
            return None
        status = _status(c)
        if status is None:
            return (f"marts are from an unrecorded load, raw is load {raw_id}: they were built before load ids "
                    f"were recorded; run `{FIX_COMMAND}`")
        marts_id = status["marts_load_id"]
        head = f"marts are from {_load(marts_id)}, raw is load {raw_id}"
        if not status["ok"]:
            when = status["finished_at"].strftime("%Y-%m-%d %H:%M") if status["finished_at"] else "?"
            reason = f" ({status['message']})" if status["message"] else ""
            return (f"{head}: the last transform (of load {status['raw_load_id']}, {when}) failed{reason}; "
                    f"fix that and run `{FIX_COMMAND}`")
        if marts_id != raw_id:
            return f"{head}: the marts have not been rebuilt since load {raw_id}; run `{FIX_COMMAND}`"
        recorded = _recorded(c)
        odd = sorted(d for d in present_dates(c, MART_TABLES[:1]) if recorded.get(d) != raw_id)
        if odd:
            shown = ", ".join(d.isoformat() for d in odd[:3]) + (f" and {len(odd) - 3} more" if len(odd) > 3 else "")
            return (f"marts are from load {marts_id} except as-of date(s) {shown} (from another or an unrecorded "
                    f"load), raw is load {raw_id}; run `{FIX_COMMAND}`")
    return None


__all__ = ["DATA_CHANGING", "FIX_COMMAND", "MART_TABLES", "marts_state", "out_of_step_message", "present_dates",
           "raw_load_id", "record_build", "stale_dates"]
