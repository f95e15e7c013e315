"""The department export contract as data.

``contract.yaml`` beside this module is the one source of truth for tables, columns, types, codes,
keys, date-ordering rules, the default adverse-event definition and which call types are stress calls.
The loader reads it directly; the Great Expectations suites, dbt's ``_sources.yml`` and staging models
and dbt's ``eis_codes()`` / ``eis_stress_call_types()`` macros are generated from it (``eis contract sync``)
and ``tests/test_contract_sync.py`` fails when a committed copy drifts.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, model_validator

CONTRACT_PATH = Path(__file__).with_name("contract.yaml")

ColumnType = Literal["text", "date", "timestamp", "int", "float", "bool"]

#: PostgreSQL type of each contract type, used for the typed raw tables.
PG_TYPES: dict[str, str] = {
    "text": "text",
    "date": "date",
    "timestamp": "timestamp",
    "int": "bigint",
    "float": "double precision",
    "bool": "boolean",
}


class Column(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = ""
    type: ColumnType
    nullable: bool = False
    codes: str | None = None
    range: tuple[float, float] | None = None
    optional: bool = False  # v2: the column may be absent from the file (then all NULL); implies nullable

    @property
    def pg_type(self) -> str:
        return PG_TYPES[self.type]


class Table(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = ""
    description: str
    optional: bool = False
    primary_key: list[str]
    officer_fk: list[str] = []
    known_from: str | None = None
    columns: dict[str, Column]
    order: list[tuple[str, str]] = []  # (later, earlier): later >= earlier when both are present
    null_iff: list[tuple[str, str, str]] = []  # (col, other, value): col IS NULL  <=>  other = value

    @model_validator(mode="after")
    def _check(self) -> Table:
        for n, c in self.columns.items():
            c.name = n
        names = set(self.columns)
        refs = list(self.primary_key) + list(self.officer_fk) + [c for pair in self.order for c in pair]
        refs += [t[0] for t in self.null_iff] + [t[1] for t in self.null_iff]
        unknown = [r for r in refs if r not in names]
        if unknown:
            raise ValueError(f"table {self.name or '?'} refers to unknown columns {unknown}")
        return self

    @property
    def column_list(self) -> list[Column]:
        return list(self.columns.values())

    @property
    def temporal_columns(self) -> list[Column]:
        return [c for c in self.columns.values() if c.type in ("date", "timestamp")]


class Contract(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int
    required_tables: list[str]
    load_order: list[str]
    codes: dict[str, list[str]]
    tables: dict[str, Table]
    adverse_definition: dict[str, list[str]]
    stress_call_types: list[str]
    open_disposition: str

    @model_validator(mode="after")
    def _check(self) -> Contract:
        for n, t in self.tables.items():
            t.name = n
            t.optional = n not in self.required_tables
            for c in t.columns.values():
                if c.optional and not c.nullable:
                    raise ValueError(f"{n}.{c.name}: an optional column must be nullable")
                if c.codes and c.codes not in self.codes:
                    raise ValueError(f"{n}.{c.name}: unknown code set {c.codes!r}")
        if set(self.required_tables) - set(self.tables):
            raise ValueError("required_tables names unknown tables")
        if sorted(self.load_order) != sorted(self.tables):
            raise ValueError("load_order must list every table exactly once")
        for ev, dispositions in self.adverse_definition.items():
            if ev not in self.codes["event_type"]:
                raise ValueError(f"adverse_definition: unknown event type {ev}")
            bad = set(dispositions) - set(self.codes["disposition"])
            if bad:
                raise ValueError(f"adverse_definition[{ev}]: unknown dispositions {sorted(bad)}")
        if self.open_disposition not in self.codes["disposition"]:
            raise ValueError(f"open_disposition: unknown disposition {self.open_disposition}")
        if not self.stress_call_types or any(not t.strip() or t != t.strip().upper() for t in self.stress_call_types):
            raise ValueError(
                f"stress_call_types: a non-empty list of upper-case call type codes, not {self.stress_call_types}"
            )
        return self

    @property
    def final_dispositions(self) -> list[str]:
        """The dispositions of a closed case: every disposition but the open one."""
        return [d for d in self.codes["disposition"] if d != self.open_disposition]

    def codes_for(self, column: Column) -> list[str] | None:
        return self.codes[column.codes] if column.codes else None

    def ordered_tables(self) -> list[Table]:
        return [self.tables[n] for n in self.load_order]


@lru_cache(maxsize=1)
def load_contract(path: Path = CONTRACT_PATH) -> Contract:
    with open(path, encoding="utf-8") as fh:
        return Contract.model_validate(yaml.safe_load(fh))
