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


def test_staging_models_carry_docs_and_leave_validation_to_the_loader():
    """One validation pass (issue 19.3): staging selects the loaded rows 1:1, so dbt does not re-test them;
    every rule a staging test would check (key, required value, code, officer reference) is in the
    loader's Great Expectations suite of that table."""
    from eis_core.load.suites import build_suite

    models = {m["name"]: m for m in yaml.safe_load(render_staging_models_yml(CONTRACT))["models"]}
    assert set(models) == {f"stg_{t}" for t in CONTRACT.tables}
    for name, table in CONTRACT.tables.items():
        model = models[f"stg_{name}"]
        assert "data_tests" not in model and not any("data_tests" in c for c in model["columns"])
        assert all(c["description"].strip() for c in model["columns"])
        rules = {(e["meta"]["rule"], e["meta"].get("column")) for e in build_suite(table, CONTRACT)["expectations"]}
        assert ("unique key", "+".join(table.primary_key)) in rules
        for col in table.column_list:
            assert (("required value", col.name) in rules) == (not col.nullable), f"{name}.{col.name}"
            if col.codes:
                assert (f"code in {col.codes}", col.name) in rules
        for fk in table.officer_fk:
            assert ("known officer", fk) in rules


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
