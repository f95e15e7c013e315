"""The dbt staging files are generated from the contract and committed: they must not drift."""

from __future__ import annotations

import yaml

from eis_core.contract import load_contract
from eis_core.contract.render_dbt import (
    MODELS_FILE, SOURCES_FILE, STAGING_DIR, check_dbt_files, render_dbt_files, render_sources_yml,
    render_staging_models_yml, write_dbt_files,
)
from eis_core.paths import dbt_project_dir

CONTRACT = load_contract()


def test_committed_dbt_files_match_the_contract():
    drift = check_dbt_files(CONTRACT, dbt_project_dir())
    assert not drift, (
        "dbt_project/ is out of date with eis_core/contract/contract.yaml: "
        f"{', '.join(str(p) for p in drift)}. Run `eis contract sync` and commit the result."
    )


def test_render_is_deterministic():
    assert render_dbt_files(CONTRACT) == render_dbt_files(CONTRACT)
    assert render_sources_yml(CONTRACT) == render_sources_yml(load_contract.__wrapped__())


def test_sources_list_every_table_and_column_with_descriptions():
    doc = yaml.safe_load(render_sources_yml(CONTRACT))
    (source,) = doc["sources"]
    assert source["name"] == "raw" and source["schema"] == "raw"
    tables = {t["name"]: t for t in source["tables"]}
    assert list(tables) == CONTRACT.load_order
    for name, table in CONTRACT.tables.items():
        assert tables[name]["description"].startswith(table.description)
        cols = tables[name]["columns"]
        assert [c["name"] for c in cols] == list(table.columns) + ["_load_id", "_row_number"]
        assert all(c["description"].strip() for c in cols)


def test_staging_models_carry_the_contract_tests():
    models = {m["name"]: m for m in yaml.safe_load(render_staging_models_yml(CONTRACT))["models"]}
    assert set(models) == {f"stg_{t}" for t in CONTRACT.tables}
    for name, table in CONTRACT.tables.items():
        model = models[f"stg_{name}"]
        tests = {c["name"]: c.get("data_tests", []) for c in model["columns"]}
        assert all(c["description"].strip() for c in model["columns"])
        if len(table.primary_key) == 1:
            assert "unique" in tests[table.primary_key[0]]
        else:
            assert model["data_tests"] == [{"unique_combination": {"arguments": {"columns": table.primary_key}}}]
        for col in table.column_list:
            assert ("not_null" in tests[col.name]) == (not col.nullable), f"{name}.{col.name}"
            accepted = [t for t in tests[col.name] if isinstance(t, dict) and "accepted_values" in t]
            if col.codes:
                assert accepted[0]["accepted_values"]["arguments"]["values"] == CONTRACT.codes[col.codes]
            else:
                assert not accepted
            rel = [t for t in tests[col.name] if isinstance(t, dict) and "relationships" in t]
            if col.name in table.officer_fk:
                assert rel == [{"relationships": {"arguments": {"to": "ref('stg_officers')", "field": "officer_id"}}}]
            else:
                assert not rel


def test_write_dbt_files_writes_and_prunes(tmp_path):
    written = write_dbt_files(CONTRACT, tmp_path)
    assert set(written) == set(render_dbt_files(CONTRACT))
    assert {SOURCES_FILE, MODELS_FILE} <= set(written)
    assert check_dbt_files(CONTRACT, tmp_path) == []
    assert write_dbt_files(CONTRACT, tmp_path) == []  # idempotent: nothing rewritten

    stale = tmp_path / STAGING_DIR / "stg_gone.sql"
    stale.write_text((tmp_path / STAGING_DIR / "stg_officers.sql").read_text())
    hand_written = tmp_path / STAGING_DIR / "stg_custom.sql"
    hand_written.write_text("select 1 as x\n")
    assert check_dbt_files(CONTRACT, tmp_path) == [STAGING_DIR / "stg_gone.sql"]
    assert write_dbt_files(CONTRACT, tmp_path) == [STAGING_DIR / "stg_gone.sql"]
    assert not stale.exists() and hand_written.exists()  # only generated files are pruned
