"""Every row that breaks a row-level rule, counted and named by the database itself.

Great Expectations' SQL engine reports at most 20 failing row numbers per expectation (its
``unexpected_index_list`` is a sample, whatever the result format), so the loader does not take that
list as the set of bad rows.  Each row-level expectation of a committed suite is translated here into
one ``WHERE`` clause with the same meaning and run in PostgreSQL against the load's side table: every
failing ``_row_number``, however many, is written to the load's ``__why`` table (never fetched into the
client).  Great Expectations still validates the side
table (Data Docs, table-level rules); the loader compares its ``unexpected_count`` with the count from
the database and rejects the table if the two disagree.

The SQL is composed with ``psycopg.sql`` (identifiers quoted, values bound); the only text spliced in is
the ``unexpected_rows_query`` of a committed suite, which is generated from the contract.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from psycopg import sql

from eis_core.contract import Table
from eis_core.load.parse import ROW_COL

#: the officer set a "known officer" query of a suite names; replaced by the officers after this load
OFFICERS_SUBQUERY = "(SELECT officer_id FROM raw.officers)"


class UnsupportedRule(ValueError):
    """A row-level expectation type the database translation does not know (a table-level failure)."""


#: ``__why.seq`` of the i-th row rule of a suite (after the type failures, before table-level rules)
ROW_RULE_SEQ = 1000


@dataclass
class RowRuleResult:
    rule: str
    column: str | None
    etype: str
    count: int = 0
    #: the first few failing lines and their values (every failing row is in the ``__why`` table)
    row_numbers: list[int] = field(default_factory=list)
    examples: list[str] = field(default_factory=list)


def _where(
    exp: dict, spec: Table, batch: sql.Composable, officers: sql.Composable, extracted_at: str
) -> tuple[sql.Composable, list]:
    etype, kw = exp["type"], exp["kwargs"]
    if etype == "expect_column_values_to_not_be_null":
        return sql.SQL("{} IS NULL").format(sql.Identifier(kw["column"])), []
    if etype == "expect_column_values_to_be_in_set":
        col = sql.Identifier(kw["column"])
        return sql.SQL("{} IS NOT NULL AND NOT ({}::text = ANY(%s::text[]))").format(col, col), [
            [str(v) for v in kw["value_set"]]
        ]
    if etype == "expect_column_values_to_be_between":
        name = kw["column"]
        col = sql.Identifier(name)
        pg_type = sql.SQL(spec.columns[name].pg_type)
        parts, params = [], []
        for key, op in (("min_value", "<"), ("max_value", ">")):
            v = kw.get(key)
            if v is None:
                continue
            if isinstance(v, dict) and v.get("$PARAMETER") == "extracted_at":
                v = extracted_at
            elif isinstance(v, dict):
                raise UnsupportedRule(f"parameter {v} of {etype} on {name}")
            parts.append(sql.SQL("{} " + op + " CAST(%s AS {})").format(col, pg_type))
            params.append(str(v))
        if not parts:
            raise UnsupportedRule(f"{etype} on {name} without bounds")
        return sql.SQL("{} IS NOT NULL AND ({})").format(col, sql.SQL(" OR ").join(parts)), params
    if etype == "expect_column_pair_values_a_to_be_greater_than_b":
        a, b = sql.Identifier(kw["column_A"]), sql.Identifier(kw["column_B"])
        if kw.get("ignore_row_if", "both_values_are_missing") != "either_value_is_missing":
            raise UnsupportedRule(f"{etype} with ignore_row_if={kw.get('ignore_row_if')}")
        op = ">=" if kw.get("or_equal") else ">"
        return sql.SQL("{} IS NOT NULL AND {} IS NOT NULL AND NOT ({} " + op + " {})").format(a, b, a, b), []
    if etype == "unexpected_rows_expectation":
        query = kw["unexpected_rows_query"].replace(OFFICERS_SUBQUERY, "{officers}")
        prefix = "SELECT * FROM {batch} WHERE "
        if not query.startswith(prefix):
            raise UnsupportedRule(f"unexpected_rows_query not of the form {prefix!r}...")
        pieces: list[sql.Composable] = []
        rest = query[len(prefix) :]
        # substitute {batch} and {officers} as composed SQL; everything else is the committed suite's text
        import re

        for tok in re.split(r"(\{batch\}|\{officers\})", rest):
            if tok == "{batch}":
                pieces.append(batch)
            elif tok == "{officers}":
                pieces.append(officers)
            elif tok:
                pieces.append(sql.SQL(tok))
        return sql.SQL("(") + sql.Composed(pieces) + sql.SQL(")"), []
    raise UnsupportedRule(f"no database translation for {etype}")


def row_rules(suite: dict) -> list[dict]:
    return [e for e in suite["expectations"] if (e.get("meta") or {}).get("level") == "row"]


def failing_rows(
    conn,
    suite: dict,
    spec: Table,
    schema: str,
    side_table: str,
    extracted_at: str,
    officers: sql.Composable | None = None,
    why_table: str | None = None,
) -> list[RowRuleResult]:
    """Every row-level rule of *suite* run as SQL against *schema.side_table*.  Each failing row, however
    many, is written to *schema.why_table* (row, rule, reason); the result holds counts and a few examples."""
    batch = sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(side_table))
    why = sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(why_table or side_table + "__why"))
    officers = officers if officers is not None else sql.SQL(OFFICERS_SUBQUERY)
    out = []
    for i, exp in enumerate(row_rules(suite)):
        meta = exp.get("meta") or {}
        where, params = _where(exp, spec, batch, officers, extracted_at)
        col = meta.get("column")
        rule = meta.get("rule", exp["type"])
        reason = f"{rule} ({col})" if col else rule
        n = conn.execute(
            sql.SQL("INSERT INTO {} (row_number, seq, rule, reason) SELECT {}, %s, %s, %s FROM {} WHERE {}").format(
                why, sql.Identifier(ROW_COL), batch, where
            ),
            [ROW_RULE_SEQ + i, rule, reason] + params,
        ).rowcount
        res = RowRuleResult(rule, col, exp["type"], n)
        if n:
            shown = sql.Identifier(col) if col and col in spec.columns else sql.SQL("NULL")
            rows = conn.execute(
                sql.SQL("SELECT {}, {}::text FROM {} WHERE {} ORDER BY {} LIMIT 5").format(
                    sql.Identifier(ROW_COL), shown, batch, where, sql.Identifier(ROW_COL)
                ),
                params,
            ).fetchall()
            res.row_numbers, res.examples = [int(r[0]) for r in rows], [str(r[1]) for r in rows]
        out.append(res)
    return out
