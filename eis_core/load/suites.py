"""Great Expectations suites, generated from the contract.

Each expectation carries ``meta.level``: ``table`` (a failure rejects the whole table) or ``row``
(failing rows are quarantined with the rule as their reason).  ``meta.rule`` names the rule in the
words the loader reports.  The committed JSON files in ``expectations/suites/`` are what the loader
validates with; ``eis contract sync`` rewrites them and ``tests/test_contract_sync.py`` fails when
they differ from this render.
"""

from __future__ import annotations

import json
from pathlib import Path

from eis_core.contract import Contract, Table
from eis_core.paths import expectations_dir

INCOMING_SCHEMA = "raw_incoming"


def suites_dir() -> Path:
    return expectations_dir() / "suites"


def _exp(etype: str, kwargs: dict, level: str, rule: str, column: str | None = None) -> dict:
    meta = {"level": level, "rule": rule}
    if column:
        meta["column"] = column
    return {"type": etype, "kwargs": kwargs, "meta": meta}


def build_suite(table: Table, contract: Contract) -> dict:
    """The suite for one contract table, as a plain dict (GE 1.x ExpectationSuite fields)."""
    exps: list[dict] = []
    cols = table.column_list
    exps.append(
        _exp(
            "expect_table_columns_to_match_set",
            {"column_set": [c.name for c in cols], "exact_match": False},
            "table",
            "required columns present",
        )
    )
    exps.append(
        _exp(
            "expect_table_row_count_to_be_between",
            {"min_value": 0 if table.optional else 1},
            "table",
            "table not empty",
        )
    )
    if len(table.primary_key) == 1:
        pk = table.primary_key[0]
        exps.append(_exp("expect_column_values_to_be_unique", {"column": pk}, "table", "unique key", pk))
    else:
        exps.append(
            _exp(
                "expect_compound_columns_to_be_unique",
                {"column_list": list(table.primary_key)},
                "table",
                "unique key",
                "+".join(table.primary_key),
            )
        )
    for c in cols:
        if not c.nullable:
            exps.append(
                _exp("expect_column_values_to_not_be_null", {"column": c.name}, "row", "required value", c.name)
            )
    for c in cols:
        codes = contract.codes_for(c)
        if codes:
            exps.append(
                _exp(
                    "expect_column_values_to_be_in_set",
                    {"column": c.name, "value_set": codes},
                    "row",
                    f"code in {c.codes}",
                    c.name,
                )
            )
        if c.range is not None:
            lo, hi = c.range
            if c.type == "int":
                lo, hi = int(lo), int(hi)
            exps.append(
                _exp(
                    "expect_column_values_to_be_between",
                    {"column": c.name, "min_value": lo, "max_value": hi},
                    "row",
                    "value in range",
                    c.name,
                )
            )
    for c in table.temporal_columns:
        exps.append(
            _exp(
                "expect_column_values_to_be_between",
                {"column": c.name, "max_value": {"$PARAMETER": "extracted_at"}},
                "row",
                "no future date",
                c.name,
            )
        )
    for later, earlier in table.order:
        if table.columns[later].type != table.columns[earlier].type:
            # a date against a timestamp: compare calendar days (a review on the day of the event is fine)
            exps.append(
                _exp(
                    "unexpected_rows_expectation",
                    {
                        "unexpected_rows_query": f"SELECT * FROM {{batch}} WHERE CAST({later} AS date) < CAST({earlier} AS date)",
                        "description": f"{later} is not before the day of {earlier}",
                    },
                    "row",
                    f"date order {later} >= {earlier}",
                    later,
                )
            )
            continue
        exps.append(
            _exp(
                "expect_column_pair_values_a_to_be_greater_than_b",
                {"column_A": later, "column_B": earlier, "or_equal": True, "ignore_row_if": "either_value_is_missing"},
                "row",
                f"date order {later} >= {earlier}",
                later,
            )
        )
    for col, other, value in table.null_iff:
        exps.append(
            _exp(
                "unexpected_rows_expectation",
                {
                    "unexpected_rows_query": f"SELECT * FROM {{batch}} WHERE ({col} IS NULL) <> ({other} = '{value}')",
                    "description": f"{col} is empty exactly when {other} is {value}",
                },
                "row",
                f"{col} empty iff {other} = {value}",
                col,
            )
        )
    for fk in table.officer_fk:
        exps.append(
            _exp(
                "unexpected_rows_expectation",
                {
                    "unexpected_rows_query": f"SELECT * FROM {{batch}} WHERE {fk} IS NOT NULL AND {fk} NOT IN "
                    f"(SELECT officer_id FROM raw.officers)",
                    "description": f"every {fk} exists in officers",
                },
                "row",
                "known officer",
                fk,
            )
        )
    if table.name == "assignments":
        exps.append(
            _exp(
                "unexpected_rows_expectation",
                {
                    "unexpected_rows_query": "SELECT * FROM {batch} WHERE end_date IS NULL AND officer_id IN "
                    "(SELECT officer_id FROM {batch} WHERE end_date IS NULL GROUP BY officer_id HAVING count(*) > 1)",
                    "description": "at most one open assignment per officer",
                },
                "row",
                "one open assignment",
                "end_date",
            )
        )
    return {
        "name": f"raw_{table.name}",
        "expectations": exps,
        "meta": {"generated_from": "eis_core/contract/contract.yaml", "table": table.name},
    }


def render_suite(table: Table, contract: Contract) -> str:
    return json.dumps(build_suite(table, contract), indent=2, sort_keys=True) + "\n"


def write_suites(contract: Contract, directory: Path | None = None) -> list[Path]:
    directory = directory or suites_dir()
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for t in contract.ordered_tables():
        p = directory / f"{t.name}.json"
        p.write_text(render_suite(t, contract), encoding="utf-8")
        written.append(p)
    return written


def read_suite(table_name: str) -> dict:
    path = suites_dir() / f"{table_name}.json"
    return json.loads(path.read_text(encoding="utf-8"))
