"""DDL of the loader's tables, built with psycopg.sql (identifiers quoted, never string-formatted).

``raw.<table>`` has the contract's columns with their PostgreSQL types, in contract order, then any
extra columns a department sent (text), then the loader's bookkeeping columns ``_load_id`` and
``_row_number`` (the line of the source file, header = line 1, so the first data row is 2).
"""

from __future__ import annotations

from psycopg import sql

from eis_core.contract import Table

RAW_SCHEMA = "raw"
META_COLUMNS = [("_load_id", "bigint"), ("_row_number", "bigint")]

CONTROL_DDL = """
CREATE SCHEMA IF NOT EXISTS raw;
CREATE SCHEMA IF NOT EXISTS raw_incoming;
CREATE TABLE IF NOT EXISTS raw.load_log (
    load_id        bigint NOT NULL,
    drop_path      text NOT NULL,
    table_name     text NOT NULL,
    file_name      text,
    file_sha256    text,
    rows_in        bigint NOT NULL DEFAULT 0,
    rows_loaded    bigint NOT NULL DEFAULT 0,
    rows_quarantined bigint NOT NULL DEFAULT 0,
    status         text NOT NULL,
    message        text,
    warnings       text,
    report_path    text,
    started_at     timestamptz NOT NULL,
    finished_at    timestamptz NOT NULL,
    PRIMARY KEY (load_id, table_name),
    CHECK (rows_in = rows_loaded + rows_quarantined)
);
-- the status list grew with contract v2 ('not_provided') and with the load row '(load)' (running, finished,
-- rejected, aborted): (re)state it so older warehouses follow
ALTER TABLE raw.load_log DROP CONSTRAINT IF EXISTS load_log_status_check;
ALTER TABLE raw.load_log ADD CONSTRAINT load_log_status_check CHECK (status IN (
    'loaded', 'loaded_with_quarantine', 'unchanged', 'rejected', 'missing', 'skipped', 'not_provided',
    'running', 'finished', 'aborted'));
CREATE SEQUENCE IF NOT EXISTS raw.load_id_seq;
CREATE TABLE IF NOT EXISTS raw.quarantine (
    load_id     bigint NOT NULL,
    table_name  text NOT NULL,
    row_number  bigint NOT NULL,
    rules       text[] NOT NULL,
    reasons     text[] NOT NULL,
    row_data    jsonb NOT NULL,
    PRIMARY KEY (load_id, table_name, row_number)
);
"""


def create_raw_table(schema: str, name: str, table: Table, extra_columns: list[str]) -> sql.Composed:
    cols = [sql.SQL("{} {}").format(sql.Identifier(c.name), sql.SQL(c.pg_type)) for c in table.column_list]
    cols += [sql.SQL("{} text").format(sql.Identifier(e)) for e in extra_columns]
    cols += [sql.SQL("{} {}").format(sql.Identifier(n), sql.SQL(t)) for n, t in META_COLUMNS]
    return sql.SQL("CREATE TABLE {}.{} ({})").format(
        sql.Identifier(schema), sql.Identifier(name), sql.SQL(", ").join(cols)
    )
