"""Render the dbt staging layer from the data contract.

The contract (``contract.yaml``) is the single source of truth; the files below are generated from it
and committed so that dbt, code review and ``dbt docs`` see them like hand-written files:

* ``dbt_project/models/staging/_sources.yml``     -- source ``raw``: every contract table and column
* ``dbt_project/models/staging/_stg_models.yml``  -- docs of the staging models (their rows are validated by the loader)
* ``dbt_project/models/staging/stg_<table>.sql``  -- one view per contract table (select, type, rename)
* ``dbt_project/macros/eis_contract.sql``         -- macros ``eis_codes()`` (the code sets, plus
  ``disposition_final``: the dispositions of a closed case) and ``eis_stress_call_types()``

``eis contract sync`` calls :func:`write_dbt_files`; ``tests/test_contract_dbt_sync.py`` fails when a
committed file differs from :func:`render_dbt_files`.  Rendering is pure and deterministic: the same
contract always gives byte-identical text.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from eis_core.contract import Column, Contract, Table

#: Where the generated files live, relative to the dbt project directory.
STAGING_DIR = Path("models") / "staging"
SOURCES_FILE = STAGING_DIR / "_sources.yml"
MODELS_FILE = STAGING_DIR / "_stg_models.yml"
MACROS_FILE = Path("macros") / "eis_contract.sql"

SOURCE_NAME = "raw"
OFFICERS_TABLE = "officers"
OFFICER_KEY = "officer_id"

#: The loader's bookkeeping columns and their names in staging.
META_RENAMES: list[tuple[str, str, str, str]] = [
    # raw name, staging name, PostgreSQL type, description
    ("_load_id", "load_id", "bigint", "Id of the load that wrote this row (raw.load_log.load_id)."),
    (
        "_row_number",
        "source_row",
        "bigint",
        "Line of the department's source file this row came from (header = line 1, first data row = 2).",
    ),
]

GENERATED_NOTE = "Generated from eis_core/contract/contract.yaml by `eis contract sync`; do not edit by hand."
SQL_MARKER = "-- " + GENERATED_NOTE


class _FlowList(list):
    """A list that YAML writes inline (``[a, b]``): code lists and key columns stay readable."""


class _Dumper(yaml.SafeDumper):
    def increase_indent(self, flow: bool = False, indentless: bool = False):  # noqa: D401
        # Indent block sequences under their key (jaffle-shop / dbt docs style).
        return super().increase_indent(flow, False)


_Dumper.add_representer(
    _FlowList, lambda dumper, data: dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=True)
)


def _dump(doc: dict) -> str:
    body = yaml.dump(doc, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=4096, allow_unicode=True)
    return f"# {GENERATED_NOTE}\n{body}"


# --------------------------------------------------------------------------------------- descriptions
def column_description(contract: Contract, table: Table, column: Column) -> str:
    """A one-paragraph description of a contract column, built from what the contract says about it."""
    parts: list[str] = []
    if column.name in table.primary_key:
        if len(table.primary_key) == 1:
            parts.append("Primary key.")
        else:
            parts.append(f"Part of the primary key ({', '.join(table.primary_key)}).")
    if column.name in table.officer_fk:
        parts.append(f"References {OFFICERS_TABLE}.{OFFICER_KEY}.")
    parts.append(f"Type {column.type}, {'nullable' if column.nullable else 'required'}.")
    codes = contract.codes_for(column)
    if codes:
        parts.append(f"One of code set `{column.codes}`: {', '.join(codes)}.")
    if column.range is not None:
        lo, hi = (int(v) if float(v).is_integer() else v for v in column.range)
        parts.append(f"Between {lo} and {hi}.")
    for later, earlier in table.order:
        if column.name == later:
            parts.append(f"Not before {earlier} when both are present.")
    for col, other, value in table.null_iff:
        if column.name == col:
            parts.append(f"Empty exactly when {other} is {value}.")
    if table.known_from == column.name:
        parts.append("The date the department knew of the record (used for point-in-time features).")
    return " ".join(parts)


def _model_name(table: Table) -> str:
    return f"stg_{table.name}"


# --------------------------------------------------------------------------------------- _sources.yml
def render_sources_yml(contract: Contract) -> str:
    """``_sources.yml``: source ``raw`` with every contract table and column, described."""
    tables = []
    for table in contract.ordered_tables():
        description = table.description
        if table.optional:
            description += " Optional: the loader creates the table empty when a drop lacks it."
        columns = [
            {"name": c.name, "data_type": c.pg_type, "description": column_description(contract, table, c)}
            for c in table.column_list
        ]
        columns += [{"name": raw, "data_type": typ, "description": desc} for raw, _, typ, desc in META_RENAMES]
        tables.append({"name": table.name, "description": description, "columns": columns})
    doc = {
        "version": 2,
        "sources": [
            {
                "name": SOURCE_NAME,
                "schema": SOURCE_NAME,
                "description": (
                    f"Department exports as loaded by `eis load` (contract v{contract.version}): one table per "
                    "contract table, contract columns typed, then any extra columns a department sent (text), "
                    "then the loader's bookkeeping columns. A load replaces a table's rows in one transaction."
                ),
                "tables": tables,
            }
        ],
    }
    return _dump(doc)


# ----------------------------------------------------------------------------------- _stg_models.yml
def render_staging_models_yml(contract: Contract) -> str:
    """``_stg_models.yml``: docs of the staging models, without data tests.

    Keys, required values, codes, ranges, date order and officer references are checked once, by the
    loader's Great Expectations suite (eis_core/load/suites.py) on the very rows staging selects 1:1;
    dbt tests only what dbt makes: relationships across models and the marts' invariants (docs/dbt.md,
    "One validation pass")."""
    models = []
    for table in contract.ordered_tables():
        model: dict = {
            "name": _model_name(table),
            "description": (
                f"{table.description} Staged 1:1 from raw.{table.name}: contract columns with their contract "
                f"types and names, loader bookkeeping renamed to load_id and source_row, extra columns dropped."
            ),
        }
        columns = [
            {"name": c.name, "data_type": c.pg_type, "description": column_description(contract, table, c)}
            for c in table.column_list
        ]
        columns += [{"name": stg, "data_type": typ, "description": desc} for _, stg, typ, desc in META_RENAMES]
        model["columns"] = columns
        models.append(model)
    return _dump({"version": 2, "models": models})


# ------------------------------------------------------------------------------------ stg_<table>.sql
def render_staging_sql(contract: Contract, table: Table) -> str:
    """``stg_<table>.sql``: select the contract columns of raw.<table>, typed, bookkeeping renamed."""
    selects = [f"cast({c.name} as {c.pg_type}) as {c.name}" for c in table.column_list]
    selects += [f"cast({raw} as {typ}) as {stg}" for raw, stg, typ, _ in META_RENAMES]
    select_list = ",\n        ".join(selects)
    return (
        f"{SQL_MARKER}\n"
        f"-- {table.description}\n"
        "\n"
        "with source as (\n"
        "\n"
        f"    select * from {{{{ source('{SOURCE_NAME}', '{table.name}') }}}}\n"
        "\n"
        "),\n"
        "\n"
        "renamed as (\n"
        "\n"
        "    select\n"
        f"        {select_list}\n"
        "    from source\n"
        "\n"
        ")\n"
        "\n"
        "select * from renamed\n"
    )


# --------------------------------------------------------------------------------------- macros
def _jinja_list(values: list[str]) -> str:
    return "[" + ", ".join("'" + v.replace("'", "\\'") + "'" for v in values) + "]"


def render_contract_macros(contract: Contract) -> str:
    """``macros/eis_contract.sql``: the contract's code sets and stress call types as dbt macros."""
    codes = dict(contract.codes)
    codes["disposition_final"] = contract.final_dispositions
    width = max(len(k) for k in codes)
    rows = ",\n".join(f"        '{k}':{' ' * (width - len(k))} {_jinja_list(v)}" for k, v in codes.items())
    return (
        f"{{# {GENERATED_NOTE} #}}\n\n"
        "{# Code sets of the department contract (`codes`), used to generate one-hot / by-type columns;\n"
        "   disposition_final = every disposition but the open one (`open_disposition`). #}\n"
        "{% macro eis_codes() %}\n    {{ return({\n" + rows + "\n    }) }}\n{% endmacro %}\n\n\n"
        "{# Call types counted as stress calls (`stress_call_types`): officer features and the dispatch dataset. #}\n"
        "{% macro eis_stress_call_types() %}\n"
        f"    {{{{ return({_jinja_list(contract.stress_call_types)}) }}}}\n"
        "{% endmacro %}\n"
    )


# --------------------------------------------------------------------------------------- whole set
def render_dbt_files(contract: Contract) -> dict[Path, str]:
    """Every generated file, as {path relative to the dbt project: text}, in a stable order."""
    files: dict[Path, str] = {
        SOURCES_FILE: render_sources_yml(contract),
        MODELS_FILE: render_staging_models_yml(contract),
        MACROS_FILE: render_contract_macros(contract),
    }
    for table in contract.ordered_tables():
        files[STAGING_DIR / f"{_model_name(table)}.sql"] = render_staging_sql(contract, table)
    return files


def stale_dbt_files(contract: Contract, project_dir: Path) -> list[Path]:
    """Generated ``stg_*.sql`` files in *project_dir* whose table is no longer in the contract."""
    expected = set(render_dbt_files(contract))
    stale = []
    for path in sorted((Path(project_dir) / STAGING_DIR).glob("stg_*.sql")):
        rel = path.relative_to(project_dir)
        if rel not in expected and path.read_text(encoding="utf-8").startswith(SQL_MARKER):
            stale.append(rel)
    return stale


def check_dbt_files(contract: Contract, project_dir: Path) -> list[Path]:
    """Paths (relative to *project_dir*) that differ from the render, are missing or are stale."""
    project_dir = Path(project_dir)
    drift = []
    for rel, text in render_dbt_files(contract).items():
        path = project_dir / rel
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            drift.append(rel)
    return drift + stale_dbt_files(contract, project_dir)


def write_dbt_files(contract: Contract, project_dir: Path) -> list[Path]:
    """Write the generated files into *project_dir* and delete generated models of dropped tables.

    Returns the paths (relative to *project_dir*) that were created, changed or deleted; files whose
    text is already right are left untouched.
    """
    project_dir = Path(project_dir)
    changed: list[Path] = []
    for rel, text in render_dbt_files(contract).items():
        path = project_dir / rel
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        changed.append(rel)
    for rel in stale_dbt_files(contract, project_dir):
        (project_dir / rel).unlink()
        changed.append(rel)
    return changed


__all__ = [
    "MACROS_FILE",
    "MODELS_FILE",
    "SOURCES_FILE",
    "STAGING_DIR",
    "check_dbt_files",
    "column_description",
    "render_contract_macros",
    "render_dbt_files",
    "render_sources_yml",
    "render_staging_models_yml",
    "render_staging_sql",
    "stale_dbt_files",
    "write_dbt_files",
]
