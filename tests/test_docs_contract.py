"""docs/data-contract.md must describe exactly the contract in eis_core/contract/contract.yaml.

The human page and the machine-readable contract are written separately; these tests make any drift
(a table or column added, renamed, retyped or made nullable in one and not the other) fail loudly.
A few light checks keep the other two docs honest about the repository they describe.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "data-contract.md"
CONTRACT = ROOT / "eis_core" / "contract" / "contract.yaml"


def _contract() -> dict:
    return yaml.safe_load(CONTRACT.read_text(encoding="utf-8"))


def _doc() -> str:
    return DOC.read_text(encoding="utf-8")


def _sections() -> dict[str, tuple[str, str]]:
    """table name -> (heading suffix, section text) for every `### <name>` heading of the doc."""
    parts = re.split(r"^### +(\S+)(.*)$", _doc(), flags=re.M)
    # parts = [before, name1, suffix1, body1, name2, suffix2, body2, ...]
    out = {}
    for i in range(1, len(parts), 3):
        body = re.split(r"^## ", parts[i + 2], flags=re.M)[0]  # a section ends at the next `##` heading
        out[parts[i]] = (parts[i + 1], body)
    return out


def _column_rows(body: str) -> dict[str, list[str]]:
    """column name -> the cells of its row in the section's markdown table."""
    rows = {}
    for line in body.splitlines():
        m = re.match(r"^\|\s*`([a-z0-9_]+)`\s*\|(.*)\|\s*$", line)
        if m:
            assert m.group(1) not in rows, f"column {m.group(1)} documented twice"
            rows[m.group(1)] = [c.strip() for c in m.group(2).split("|")]
    return rows


def test_every_table_and_column_name_appears_in_the_doc():
    doc = _doc()
    for table, spec in _contract()["tables"].items():
        assert re.search(rf"\b{re.escape(table)}\b", doc), f"table {table} is not in docs/data-contract.md"
        for column in spec["columns"]:
            assert re.search(rf"\b{re.escape(column)}\b", doc), f"{table}.{column} is not in docs/data-contract.md"


def test_each_table_has_its_own_section_in_load_order():
    contract = _contract()
    sections = _sections()
    documented = [name for name in sections if name in contract["tables"]]
    assert set(contract["tables"]) - set(documented) == set(), "tables without a `### <table>` section"
    stray = [name for name in sections if name.strip("`") not in contract["tables"]]
    assert not stray, f"sections for tables the contract does not have: {stray}"
    assert documented == contract["load_order"], "table sections are not in the contract's load order"


@pytest.mark.parametrize("table", list(yaml.safe_load(CONTRACT.read_text(encoding="utf-8"))["tables"]))
def test_table_section_matches_the_contract(table):
    contract = _contract()
    spec = contract["tables"][table]
    suffix, body = _sections()[table]
    optional = table not in contract["required_tables"]  # contract v2: every other table is optional
    assert ("optional" in suffix) == optional, f"{table}: optional marker in heading is wrong"

    rows = _column_rows(body)
    assert list(rows) == list(spec["columns"]), f"{table}: documented columns {list(rows)} != contract {list(spec['columns'])}"
    for column, cspec in spec["columns"].items():
        type_cell, empty_cell, rule_cell = rows[column][:3]
        assert type_cell == cspec["type"], f"{table}.{column}: type {type_cell!r} != {cspec['type']!r}"
        assert empty_cell == ("yes" if cspec.get("nullable") else "no"), f"{table}.{column}: nullable wrong"
        for code in contract["codes"].get(cspec.get("codes"), []):
            assert re.search(rf"\b{re.escape(code)}\b", rule_cell), f"{table}.{column}: code {code} missing"
        if cspec.get("range"):
            lo, hi = cspec["range"]
            assert f"{lo} to {hi}" in rule_cell, f"{table}.{column}: range {lo}..{hi} missing"

    key = re.search(r"^- Key: (.*)$", body, re.M)
    assert key, f"{table}: no `- Key:` line"
    assert re.findall(r"`([a-z0-9_]+)`", key.group(1)) == spec["primary_key"], f"{table}: key differs"
    fk = re.search(r"^- Must name a known officer: (.*)$", body, re.M)
    assert (re.findall(r"`([a-z0-9_]+)`", fk.group(1)) if fk else []) == spec.get("officer_fk", []), f"{table}: officer check"
    order = re.search(r"^- Date order: (.*)$", body, re.M)
    documented_order = re.findall(r"`([a-z0-9_]+)` >= `([a-z0-9_]+)`", order.group(1)) if order else []
    assert documented_order == [tuple(p) for p in spec.get("order", [])], f"{table}: date-order rules differ"
    if spec.get("known_from"):
        assert f"Known from: `{spec['known_from']}`" in body


def test_code_sets_and_adverse_definition_are_documented():
    contract = _contract()
    doc = _doc()
    for name, values in contract["codes"].items():
        row = re.search(rf"^\|\s*`{name}`\s*\|(.*)\|\s*$", doc, re.M)
        assert row, f"code set {name} has no row in the code-set table"
        assert [v.strip() for v in row.group(1).split(",")] == values, f"code set {name} differs"
    adverse = doc.split("## The adverse-event definition", 1)[1].split("\n## ", 1)[0]
    for event_type, dispositions in contract["adverse_definition"].items():
        line = next((ln for ln in adverse.splitlines() if re.search(rf"\b{event_type}\b", ln) and ln.startswith("|")), None)
        assert line, f"adverse event type {event_type} is not in the adverse-event table"
        for d in dispositions:
            assert re.search(rf"\b{d}\b", line.rsplit("|", 2)[-2]), f"{event_type}: disposition {d} missing"
    minor = set(contract["codes"]["event_type"]) - set(contract["adverse_definition"])
    for event_type in minor:
        assert re.search(rf"\b{event_type}\b", adverse), f"excluded event type {event_type} not mentioned"


def test_loader_behaviour_is_documented():
    text = _doc().lower()
    for phrase in ("missing", "wrong type", "duplicate key", "empty", "encoding", "unknown code", "future",
                   "unknown officer", "1%", "raw.load_log", "raw.quarantine", "extra columns", "previous good data"):
        assert phrase in text, f"docs/data-contract.md does not mention {phrase!r}"


def test_architecture_doc_has_both_diagrams_and_real_paths():
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    assert "```mermaid" in text, "architecture.md needs a mermaid diagram"
    assert re.search(r"```(text)?\n[^`]*drop[^`]*->", text), "architecture.md needs a plain-text diagram"
    for path in ("eis_core/", "dbt_project/", "expectations/", "dags/", "docker-compose.yml"):
        assert path in text, f"architecture.md does not say where {path} is"
        assert (ROOT / path).exists(), f"architecture.md names {path}, which does not exist"


def test_external_postgres_doc_matches_db_module():
    from eis_core import db

    text = (ROOT / "docs" / "external-postgres.md").read_text(encoding="utf-8")
    assert "EIS_DATABASE_URL" in text and "sslmode" in text
    assert f"`{db.WAREHOUSE_DB}`" in text and f"`{db.AIRFLOW_DB}`" in text
    assert "database_url" in text and "with_database" in text
