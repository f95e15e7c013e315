"""The shape of the migration-owned schemas, read from the catalogue: columns (in order, with type,
nullability and default), constraints (their definitions), indexes and sequences.

``tests/fixtures/schema_baseline.json`` was written once by running the *old* per-module DDL
(``CREATE TABLE IF NOT EXISTS`` strings in eis_core before alembic, commit 1d475ae) on an empty
database and calling :func:`snapshot`; test_migrations compares a fresh ``eis db upgrade`` with it.
Regenerate only deliberately: ``python tests/schema_snapshot.py > tests/fixtures/schema_baseline.json``
against a database at the baseline revision.
"""

from __future__ import annotations

import json
import re

#: the schemas whose tables the migrations create (raw: only the loader's bookkeeping tables)
SCHEMAS = ("raw", "raw_incoming", "results", "production", "webapp", "severity", "dispatch", "forecast", "platform",
           "features")
#: tables in those schemas that are *not* alembic's: generated from the contract or built by dbt
RAW_CONTROL = ("load_log", "quarantine", "load_id_seq")
FEATURES_OWNED = ("marts_loads", "marts_status")


def _owned(schema: str, name: str) -> bool:
    if schema == "raw":
        return name in RAW_CONTROL
    if schema == "features":
        return name in FEATURES_OWNED
    return True


def snapshot(conn) -> dict:
    cols = [r for r in conn.execute(
        "SELECT c.table_schema, c.table_name, c.ordinal_position, c.column_name, c.data_type, c.is_nullable, "
        "c.column_default FROM information_schema.columns c JOIN information_schema.tables t "
        "USING (table_schema, table_name) WHERE c.table_schema = ANY(%s) AND t.table_type = 'BASE TABLE' "
        "ORDER BY 1, 2, 3", (list(SCHEMAS),)) if _owned(r[0], r[1])]
    cons = [r for r in conn.execute(
        "SELECT n.nspname, t.relname, c.conname, c.contype::text, pg_get_constraintdef(c.oid) "
        "FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace "
        "WHERE n.nspname = ANY(%s) ORDER BY 1, 2, 3", (list(SCHEMAS),)) if _owned(r[0], r[1])]
    idx = [r for r in conn.execute(
        "SELECT schemaname, tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = ANY(%s) "
        "ORDER BY 1, 2, 3", (list(SCHEMAS),)) if _owned(r[0], r[1])]
    seqs = [r for r in conn.execute(
        "SELECT sequence_schema, sequence_name FROM information_schema.sequences WHERE sequence_schema = ANY(%s) "
        "ORDER BY 1, 2", (list(SCHEMAS),))]
    schemas = [r[0] for r in conn.execute(
        "SELECT nspname FROM pg_namespace WHERE nspname = ANY(%s) ORDER BY 1", (list(SCHEMAS),))]
    seqs = [r for r in seqs if r[0] != "raw" or r[1] == "load_id_seq"]
    return {"schemas": schemas,
            "columns": [f"{s}.{t} {pos:03d} {c} {typ} null={n} default={d}" for s, t, pos, c, typ, n, d in cols],
            "constraints": [f"{s}.{t} {name} {kind} {_norm(d)}" for s, t, name, kind, d in cons],
            "indexes": [f"{s}.{t} {name} {_norm(d)}" for s, t, name, d in idx],
            "sequences": [f"{s}.{n}" for s, n in seqs]}


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


if __name__ == "__main__":
    from eis_core import db

    with db.connect() as c:
        print(json.dumps(snapshot(c), indent=1))
