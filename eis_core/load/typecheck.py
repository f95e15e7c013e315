"""Checking and typing a side table's text values in PostgreSQL, strictly: nothing is coerced.

A value is valid when it has the exact shape of its type (``parse.FORMATS``: ``YYYY-MM-DD``, an integer
without ``+``, a finite decimal number, ``true``/``false``), its year is not ``0000``, and PostgreSQL
reads it without complaint (the day exists, the integer fits 64 bits, the number is finite).  The shapes
exclude what PostgreSQL would otherwise roll over: ``23:59:60`` (a leap second, read as the next minute)
and ``24:00:00`` (the next day).

The fast path types the whole table in one ``INSERT … SELECT`` whose casts raise on the first bad value
(a value of the wrong shape is never cast: it raises a division by zero instead, because PostgreSQL's
date input would skip stray punctuation and drop an offset).  Only when that fails,
inside a savepoint, is every value checked with ``pg_input_is_valid`` (PostgreSQL 16+) to find and name
the bad ones: the rows and their lines go to the load's ``__why`` table with rule ``column type``, and
the report quotes a few values verbatim with their lines.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from eis_core.contract import Table
from eis_core.load.ddl import create_side_typed_table
from eis_core.load.parse import FORMATS, ROW_COL, Problem
from eis_core.load.suites import INCOMING_SCHEMA

#: ``__why.seq`` of a type failure: before every row rule (a column's index in the contract)
TYPE_SEQ = 0


def _guarded(c) -> sql.Composable:
    """The text column cast to the contract type; raises on any value that is not strictly valid."""
    col = sql.Identifier(c.name)
    if c.type == "text":
        return col
    # a value of the wrong shape divides by zero (never cast: PostgreSQL's date input skips stray
    # punctuation and drops an offset); the expression depends on the value, so it is not folded at plan time
    fail = sql.SQL("1 / (length({}) * 0)").format(col)
    if c.type == "bool":
        return sql.SQL("CASE {} WHEN 'true' THEN true WHEN 'false' THEN false ELSE ({})::boolean END").format(col, fail)
    shape = sql.SQL("{} ~ {}").format(col, sql.Literal(FORMATS[c.type][1]))
    if c.type in ("date", "timestamp"):
        shape = sql.SQL("{} AND left({}, 4) <> '0000'").format(shape, col)
    return sql.SQL("(CASE WHEN {} THEN {} ELSE ({})::text END)::{}").format(shape, col, fail, sql.SQL(c.pg_type))


def _valid(c) -> sql.Composable:
    """True when the value is NULL or strictly valid; never raises."""
    col = sql.Identifier(c.name)
    if c.type == "bool":
        return sql.SQL("({} IS NULL OR {} IN ('true', 'false'))").format(col, col)
    shape = sql.SQL("{} ~ {}").format(col, sql.Literal(FORMATS[c.type][1]))
    if c.type in ("date", "timestamp"):
        shape = sql.SQL("{} AND left({}, 4) <> '0000'").format(shape, col)
    return sql.SQL("({} IS NULL OR ({} AND pg_input_is_valid({}, {})))").format(col, shape, col, sql.Literal(c.pg_type))


def type_side(
    conn, spec: Table, extra_columns: list[str], text_side: str, typed_side: str, why_side: str
) -> list[Problem]:
    """Fill ``typed_side`` from ``text_side``; return the ``column type`` problems (none: typed)."""
    inc = sql.Identifier(INCOMING_SCHEMA)
    text_t = sql.SQL("{}.{}").format(inc, sql.Identifier(text_side))
    conn.execute(create_side_typed_table(INCOMING_SCHEMA, typed_side, spec, extra_columns))
    names = [c.name for c in spec.column_list] + extra_columns + [ROW_COL]
    exprs = [_guarded(c) for c in spec.column_list] + [sql.Identifier(e) for e in extra_columns + [ROW_COL]]
    try:
        with conn.transaction():
            conn.execute(
                sql.SQL("INSERT INTO {}.{} ({}) SELECT {} FROM {}").format(
                    inc,
                    sql.Identifier(typed_side),
                    sql.SQL(", ").join(map(sql.Identifier, names)),
                    sql.SQL(", ").join(exprs),
                    text_t,
                )
            )
        conn.execute(sql.SQL("ANALYZE {}.{}").format(inc, sql.Identifier(typed_side)))  # plans for the rules
        return []
    except psycopg.DataError as exc:  # SQLSTATE class 22: a value the type does not take
        first_error = (str(exc).strip().splitlines() or [""])[0]
    checked = [c for c in spec.column_list if c.type != "text"]
    counts = conn.execute(
        sql.SQL("SELECT {} FROM {}").format(
            sql.SQL(", ").join(sql.SQL("count(*) FILTER (WHERE NOT {})").format(_valid(c)) for c in checked), text_t
        )
    ).fetchone()
    problems = []
    for c, nbad in zip(checked, counts):
        if not nbad:
            continue
        label = FORMATS[c.type][0]
        reason = f"column type ({c.name} must be {c.type}, {label})"
        conn.execute(
            sql.SQL(
                "INSERT INTO {}.{} (row_number, seq, rule, reason) SELECT {}, %s, 'column type', %s "
                "FROM {} WHERE NOT {}"
            ).format(inc, sql.Identifier(why_side), sql.Identifier(ROW_COL), text_t, _valid(c)),
            (TYPE_SEQ + spec.column_list.index(c), reason),
        )
        shown = conn.execute(
            sql.SQL("SELECT {}, {} FROM {} WHERE NOT {} ORDER BY {} LIMIT 5").format(
                sql.Identifier(c.name), sql.Identifier(ROW_COL), text_t, _valid(c), sql.Identifier(ROW_COL)
            )
        ).fetchall()
        problems.append(
            Problem(
                "column type",
                f"column {c.name} must be {c.type} ({label}); {nbad} value(s) are not, e.g. "
                + ", ".join(f"{v!r} (line {r})" for v, r in shown),
                column=c.name,
                examples=[str(v) for v, _ in shown],
                count=nbad,
            )
        )
    if not problems:  # the cast failed on something the checks accept: still never coerced, and named
        problems.append(Problem("column type", f"a value could not be typed: {first_error}"))
    return problems
