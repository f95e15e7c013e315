"""Validating a typed side table: the committed Great Expectations suite, then every row rule in SQL.

Great Expectations (``gx_runner``) runs its SQL against the side table: table-level failures (required
columns, not empty, unique key) reject the table, and its row-level counts are kept.  Every row-level rule
is then run again as SQL (``rowrules``), writing each failing row to the load's ``__why`` table; the two
counts must agree, or the table is not loaded on an uncertain count.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from psycopg import sql

from eis_core import db
from eis_core.load.parse import ROW_COL
from eis_core.load.rowrules import UnsupportedRule, failing_rows
from eis_core.load.sidetables import bad_rows, create_why, ident, side_names
from eis_core.load.suites import INCOMING_SCHEMA, read_suite

if TYPE_CHECKING:
    from eis_core.load.loader import DropLoader
    from eis_core.load.table_load import TableLoad

#: ``__why.seq`` of the rows a table-level rule names (a duplicate key): after every row rule
TABLE_RULE_SEQ = 100_000


def validate_side(L: DropLoader, tl: TableLoad) -> tuple[list[dict], list[dict], int]:
    """(table-level problems, row-rule problems, rows breaking a rule) of *tl*'s typed side table."""
    spec = tl.spec
    _, typed, why = side_names(tl.side)
    failures, _ = L.runner.validate(spec.name, typed, L.extracted_at, L.officers_table(spec.name))
    table_fail = [f for f in failures if f.level == "table"]
    ge_counts = {(f.etype, f.rule, f.column): f.count for f in failures if f.level == "row"}
    tprobs = [
        {
            "rule": f.rule,
            "column": f.column,
            "count": f.count,
            "examples": f.examples[:5],
            "message": f.message or f"{f.count:,} value(s) break it, e.g. {', '.join(map(repr, f.examples[:3]))}",
        }
        for f in table_fail
    ]
    problems = []
    with db.connect() as conn:
        create_why(conn, tl.side)  # a second validation (officers rejected after all) starts afresh
        try:
            results = failing_rows(
                conn,
                read_suite(spec.name),
                spec,
                INCOMING_SCHEMA,
                typed,
                L.extracted_at,
                L.officers_source(spec.name),
                why_table=why,
            )
        except UnsupportedRule as exc:
            results = []
            tprobs.append(
                {
                    "rule": "row rules checkable",
                    "column": None,
                    "count": 0,
                    "examples": [],
                    "message": f"a row rule cannot be counted in the database: {exc}",
                }
            )
        for r in results:
            ge = ge_counts.get((r.etype, r.rule, r.column), 0)
            if r.etype != "unexpected_rows_expectation" and ge != r.count:
                tprobs.append(
                    {
                        "rule": "rule counts agree",
                        "column": r.column,
                        "count": r.count,
                        "examples": r.examples,
                        "message": f"rule '{r.rule}': Great Expectations counts {ge:,} failing row(s), the "
                        f"database {r.count:,}; the table is not loaded on an uncertain count",
                    }
                )
            if not r.count:
                continue
            msg = (
                f"{r.count:,} row(s) break it, e.g. {', '.join(map(repr, r.examples[:3]))} "
                f"(lines {r.row_numbers[:5]}{' …' if r.count > 5 else ''})"
            )
            problems.append(
                {"rule": r.rule, "column": r.column, "count": r.count, "examples": r.examples, "message": msg}
            )
        if any(p["rule"] == "unique key" for p in tprobs):
            _duplicate_key_rows(conn, tl)
        bad = bad_rows(conn, tl.side)
    return tprobs, problems, bad


def _duplicate_key_rows(conn, tl: TableLoad) -> None:
    """Rows that break a table-level rule carry that rule in quarantine (a duplicate key: both rows)."""
    _, typed, why = side_names(tl.side)
    pk = tl.spec.primary_key
    key = sql.SQL(", ").join(sql.Identifier(c) for c in pk)
    conn.execute(
        sql.SQL(
            "INSERT INTO {} (row_number, seq, rule, reason) SELECT {}, %s, 'unique key', %s FROM {} "
            "WHERE ({}) IN (SELECT {} FROM {} GROUP BY {} HAVING count(*) > 1)"
        ).format(ident(why), sql.Identifier(ROW_COL), ident(typed), key, key, ident(typed), key),
        (TABLE_RULE_SEQ, f"unique key ({'+'.join(pk)})"),
    )
