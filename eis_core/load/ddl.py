"""DDL of the tables whose columns come from the contract, built with psycopg.sql (identifiers quoted,
never string-formatted): ``raw.<table>`` per contract table and the per-load side tables of
``raw_incoming`` (the loader, :mod:`eis_core.load.loader`, runs these statements and drops or trims its
own side tables).  These tables are not the migrations': their columns follow the contract.  The loader's
fixed bookkeeping tables (``raw.load_log``, ``raw.quarantine``, ``raw.load_id_seq``) are (revision 0001).

``raw.<table>`` has the contract's columns with their PostgreSQL types, in contract order, then any
extra columns a department sent (text), then the loader's bookkeeping columns ``_load_id`` and
``_row_number`` (the line of the source file, header = line 1, so the first data row is 2).
"""

from __future__ import annotations

from psycopg import sql

from eis_core.contract import Table

RAW_SCHEMA = "raw"
META_COLUMNS = [("_load_id", "bigint"), ("_row_number", "bigint")]


def create_raw_table(schema: str, name: str, table: Table, extra_columns: list[str]) -> sql.Composed:
    cols = [sql.SQL("{} {}").format(sql.Identifier(c.name), sql.SQL(c.pg_type)) for c in table.column_list]
    cols += [sql.SQL("{} text").format(sql.Identifier(e)) for e in extra_columns]
    cols += [sql.SQL("{} {}").format(sql.Identifier(n), sql.SQL(t)) for n, t in META_COLUMNS]
    return sql.SQL("CREATE TABLE {}.{} ({})").format(
        sql.Identifier(schema), sql.Identifier(name), sql.SQL(", ").join(cols)
    )


def add_column(schema: str, name: str, column: str, pg_type: str) -> sql.Composed:
    """A column the contract gained since the table was created (``pg_type`` is the contract's)."""
    return sql.SQL("ALTER TABLE {}.{} ADD COLUMN {} {}").format(
        sql.Identifier(schema), sql.Identifier(name), sql.Identifier(column), sql.SQL(pg_type)
    )


# -- a load's side tables in schema raw_incoming (one set per load and table, dropped when the table is done) --------
#: per table and load: ``<side>__text`` (the file's values verbatim, every column text), ``<side>`` (typed, what
#: Great Expectations and the row rules see) and ``<side>__why`` (one row per broken rule of a row)
TEXT_SUFFIX, WHY_SUFFIX = "__text", "__why"
#: a side table lives for one load: no autovacuum (the loader runs ANALYZE itself once the table is typed)
SIDE_OPTIONS = "WITH (autovacuum_enabled = false)"


def create_side_text_table(schema: str, name: str, columns: list[str]) -> sql.Composed:
    """The file's columns as text, in file order, then ``_row_number`` (the source line). UNLOGGED: a side
    table is rebuilt from the file by any later load, so it need not survive a crash (no WAL is written)."""
    cols = [sql.SQL("{} text").format(sql.Identifier(c)) for c in columns]
    cols.append(sql.SQL("{} bigint").format(sql.Identifier(META_COLUMNS[1][0])))
    return sql.SQL("CREATE UNLOGGED TABLE {}.{} ({}) " + SIDE_OPTIONS).format(
        sql.Identifier(schema), sql.Identifier(name), sql.SQL(", ").join(cols)
    )


def create_side_typed_table(schema: str, name: str, table: Table, extra_columns: list[str]) -> sql.Composed:
    """The contract's columns typed (as in ``raw.<table>``), extras as text, ``_row_number``; UNLOGGED."""
    cols = [sql.SQL("{} {}").format(sql.Identifier(c.name), sql.SQL(c.pg_type)) for c in table.column_list]
    cols += [sql.SQL("{} text").format(sql.Identifier(e)) for e in extra_columns]
    cols.append(sql.SQL("{} bigint").format(sql.Identifier(META_COLUMNS[1][0])))
    return sql.SQL("CREATE UNLOGGED TABLE {}.{} ({}) " + SIDE_OPTIONS).format(
        sql.Identifier(schema), sql.Identifier(name), sql.SQL(", ").join(cols)
    )


def create_why_table(schema: str, name: str) -> sql.Composed:
    """Every (row, rule) a row breaks: ``seq`` orders a row's rules as the suite lists them."""
    return sql.SQL(
        "CREATE UNLOGGED TABLE {}.{} (row_number bigint NOT NULL, seq int NOT NULL, rule text NOT NULL, "
        "reason text NOT NULL) " + SIDE_OPTIONS
    ).format(sql.Identifier(schema), sql.Identifier(name))
