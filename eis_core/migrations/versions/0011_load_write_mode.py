"""0011: how a load wrote each raw table (issue 19.2, incremental by load).

``raw.load_log`` gains, for the tables a load changed (``loaded`` / ``loaded_with_quarantine``):

* ``write_mode`` -- ``append``: every row the table held is in the new file unchanged, so the loader kept
  them (with their ``_load_id``) and inserted only the new rows under this load's id; ``replace``: rows of
  earlier loads were changed or deleted, so the table was replaced as a whole (TRUNCATE + INSERT);
* ``rows_added`` -- rows of the file the table did not hold (all of them on a replace);
* ``rows_removed`` -- rows the table held that the file does not have unchanged (0 on an append).

``raw.table_writes`` logs every statement that writes a raw contract table (a statement-level trigger,
``raw.eis_note_write()``, that :func:`eis_core.load.loader.ensure_raw_schema` puts on each of them): the
loader tags its own writes (``writer`` = ``append:<load id>`` / ``replace:<load id>``, from the setting
``eis.raw_write`` of its transaction); any other write (an UPDATE by hand, a restore, a test) has no writer.

The running totals (``eis_core.features.incremental``) read them: a table only appended to by the loader
since a model was built updates that model from the first affected day onward; a replaced one, or one
written outside the loader, rebuilds it.  Idempotent.
"""

from __future__ import annotations

from eis_core.migrations import execute_sql

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_sql("""
ALTER TABLE raw.load_log ADD COLUMN IF NOT EXISTS write_mode text;
ALTER TABLE raw.load_log ADD COLUMN IF NOT EXISTS rows_added bigint;
ALTER TABLE raw.load_log ADD COLUMN IF NOT EXISTS rows_removed bigint;
ALTER TABLE raw.load_log DROP CONSTRAINT IF EXISTS load_log_write_mode_check;
ALTER TABLE raw.load_log ADD CONSTRAINT load_log_write_mode_check CHECK (write_mode IN ('append', 'replace'));
CREATE TABLE IF NOT EXISTS raw.table_writes (
    seq        bigserial PRIMARY KEY,
    table_name text NOT NULL,
    op         text NOT NULL,
    writer     text,
    at         timestamptz NOT NULL DEFAULT now()
);
CREATE OR REPLACE FUNCTION raw.eis_note_write() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    INSERT INTO raw.table_writes (table_name, op, writer)
    VALUES (TG_TABLE_NAME, TG_OP, nullif(current_setting('eis.raw_write', true), ''));
    RETURN NULL;
END
$fn$;
""")


def downgrade() -> None:
    execute_sql("""
DROP FUNCTION IF EXISTS raw.eis_note_write() CASCADE;
DROP TABLE IF EXISTS raw.table_writes;
ALTER TABLE raw.load_log DROP CONSTRAINT IF EXISTS load_log_write_mode_check;
ALTER TABLE raw.load_log DROP COLUMN IF EXISTS rows_removed;
ALTER TABLE raw.load_log DROP COLUMN IF EXISTS rows_added;
ALTER TABLE raw.load_log DROP COLUMN IF EXISTS write_mode;
""")
