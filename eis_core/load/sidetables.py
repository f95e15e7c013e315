"""A load's side tables (``raw_incoming``), quarantining from them, and the ``raw.load_log`` rows.

Per table and load: ``<table>__load<id>__text`` (the file's values verbatim), ``<table>__load<id>`` (typed)
and ``<table>__load<id>__why`` (every broken rule of every row).  Quarantine rows are built in the database
from the text table joined with the ``__why`` table, so their ``row_data`` holds the values as the file
had them and no row passes through the client.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from psycopg import sql

from eis_core.load.ddl import TEXT_SUFFIX, WHY_SUFFIX, create_why_table
from eis_core.load.parse import ROW_COL
from eis_core.load.suites import INCOMING_SCHEMA


def side_names(base: str) -> tuple[str, str, str]:
    """(text, typed, why) side tables of *base* (``<table>__load<id>``)."""
    return base + TEXT_SUFFIX, base, base + WHY_SUFFIX


def ident(name: str) -> sql.Composed:
    return sql.SQL("{}.{}").format(sql.Identifier(INCOMING_SCHEMA), sql.Identifier(name))


def drop_side(conn, name: str) -> None:
    conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(ident(name)))


def drop_sides(conn, base: str) -> None:
    for name in side_names(base):
        drop_side(conn, name)


def create_why(conn, base: str) -> None:
    why = side_names(base)[2]
    drop_side(conn, why)
    conn.execute(create_why_table(INCOMING_SCHEMA, why))


def bad_rows(conn, base: str) -> int:
    """How many distinct rows break at least one rule."""
    return conn.execute(
        sql.SQL("SELECT count(DISTINCT row_number) FROM {}").format(ident(side_names(base)[2]))
    ).fetchone()[0]


def quarantine(conn, load_id: int, table: str, base: str, every_row: tuple[str, str] | None = None) -> int:
    """Write rows with their rules and reasons (in suite order) to raw.quarantine; returns the count.

    Without *every_row*: the rows in the ``__why`` table.  With ``(rule, reason)``: every row of the file,
    each with its own rules and then that one (a rejected table)."""
    text, _, why = side_names(base)
    reasons = sql.SQL(
        "(SELECT row_number, array_agg(rule ORDER BY seq) AS rules, array_agg(reason ORDER BY seq) "
        "AS reasons FROM {} GROUP BY row_number)"
    ).format(ident(why))
    params: list = [load_id, table]
    if every_row is None:
        rules, why_reasons, join = sql.SQL("w.rules"), sql.SQL("w.reasons"), sql.SQL("JOIN")
    else:
        rules = sql.SQL("coalesce(w.rules, '{}'::text[]) || %s::text")
        why_reasons = sql.SQL("coalesce(w.reasons, '{}'::text[]) || %s::text")
        join = sql.SQL("LEFT JOIN")
        params += list(every_row)
    q = sql.SQL(
        "INSERT INTO raw.quarantine (load_id, table_name, row_number, rules, reasons, row_data) "
        "SELECT %s, %s, t.{rn}, {rules}, {reasons}, to_jsonb(t) - {rnl} FROM {text} t {join} {w} w "
        "ON w.row_number = t.{rn}"
    ).format(
        rn=sql.Identifier(ROW_COL),
        rnl=sql.Literal(ROW_COL),
        rules=rules,
        reasons=why_reasons,
        text=ident(text),
        join=join,
        w=reasons,
    )
    return conn.execute(q, params).rowcount


def last_accepted_sha(conn, table: str, accepted: tuple[str, ...]) -> str | None:
    row = conn.execute(
        "SELECT file_sha256 FROM raw.load_log WHERE table_name = %s AND status = ANY(%s) ORDER BY load_id DESC LIMIT 1",
        (table, list(accepted)),
    ).fetchone()
    return row[0] if row else None


def log(conn, load_id: int, drop: Path, res, sha: str | None, started: datetime, report_path: str | None) -> None:
    conn.execute(
        "INSERT INTO raw.load_log (load_id, drop_path, table_name, file_name, file_sha256, rows_in, rows_loaded, "
        "rows_quarantined, status, message, warnings, report_path, started_at, finished_at) "
        "VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s, now())",
        (
            load_id,
            str(drop),
            res.table,
            res.file,
            sha,
            res.rows_in,
            res.rows_loaded,
            res.rows_quarantined,
            res.status,
            res.message or None,
            "\n".join(res.warnings) or None,
            report_path,
            started,
        ),
    )


def count(conn, schema: str, table: str) -> int:
    return conn.execute(
        sql.SQL("SELECT count(*) FROM {}.{}").format(sql.Identifier(schema), sql.Identifier(table))
    ).fetchone()[0]
