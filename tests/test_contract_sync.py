"""The contract is the single source of truth: the committed Great Expectations suites (and, through
test_contract_dbt_sync, the dbt files) must be exactly what it generates."""

from __future__ import annotations

import json

from eis_core.contract import load_contract
from eis_core.load.suites import build_suite, render_suite, suites_dir


def test_committed_suites_match_contract():
    contract = load_contract()
    stale = [t.name for t in contract.ordered_tables()
             if not (suites_dir() / f"{t.name}.json").exists()
             or (suites_dir() / f"{t.name}.json").read_text(encoding="utf-8") != render_suite(t, contract)]
    assert not stale, f"suites out of date for {stale}: run `eis contract sync` and commit"
    extra = {p.stem for p in suites_dir().glob("*.json")} - set(contract.tables)
    assert not extra, f"suites for tables not in the contract: {extra}"


def test_suites_cover_every_rule_of_the_contract():
    contract = load_contract()
    for t in contract.ordered_tables():
        suite = build_suite(t, contract)
        by_rule = {}
        for e in suite["expectations"]:
            by_rule.setdefault(e["meta"]["rule"], []).append(e)
        required = {e["kwargs"]["column"] for e in by_rule.get("required value", [])}
        assert required == {c.name for c in t.column_list if not c.nullable}, t.name
        for c in t.column_list:
            if c.codes:
                [e] = by_rule[f"code in {c.codes}"] if len(by_rule[f"code in {c.codes}"]) == 1 else \
                    [x for x in by_rule[f"code in {c.codes}"] if x["kwargs"]["column"] == c.name]
                assert e["kwargs"]["value_set"] == contract.codes[c.codes]
        future = {e["kwargs"]["column"] for e in by_rule.get("no future date", [])}
        assert future == {c.name for c in t.temporal_columns}, t.name
        assert len(by_rule.get("known officer", [])) == len(t.officer_fk)
        for later, earlier in t.order:
            assert f"date order {later} >= {earlier}" in by_rule
        assert all(e["meta"]["level"] in ("table", "row") for e in suite["expectations"])


def test_suite_json_is_valid_for_great_expectations():
    from great_expectations.core import ExpectationSuite

    for p in suites_dir().glob("*.json"):
        suite = ExpectationSuite(**json.loads(p.read_text()))
        assert len(suite.expectations) >= 4
