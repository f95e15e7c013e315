"""Baseline 0001: loader and marts bookkeeping.

Contents: the loader's bookkeeping (schemas raw and raw_incoming, raw.load_log,
raw.quarantine, raw.load_id_seq) and the marts' load bookkeeping (features.marts_loads, features.marts_status).

Verbatim DDL of the pre-migration code (why: :mod:`eis_core.migrations`, "adopted").
"""

from __future__ import annotations

from eis_core.migrations import execute_sql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

SQL = r"""
-- from eis_core/load/ddl.py CONTROL_DDL (commit 1d475ae)
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

-- from eis_core/features/state.py _DDL (commit 1d475ae)
CREATE SCHEMA IF NOT EXISTS features;
CREATE TABLE IF NOT EXISTS features.marts_loads (
    as_of_date date PRIMARY KEY,
    load_id    bigint,
    built_at   timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS features.marts_status (
    singleton     boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    raw_load_id   bigint,
    marts_load_id bigint,
    ok            boolean NOT NULL,
    message       text,
    finished_at   timestamptz NOT NULL DEFAULT now()
);
"""


def upgrade() -> None:
    execute_sql(SQL)


def downgrade() -> None:
    raise NotImplementedError("the baseline is not reversible: restore a backup instead (docs/architecture.md)")
