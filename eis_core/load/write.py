"""How a table's accepted rows go into ``raw.<table>`` (issue 19.2): appended, or the table replaced.

A department drop is a full export of each table.  When every row ``raw.<table>`` holds is in the new file
unchanged (the usual case for event tables: yesterday's export plus today's events), the rows stay where
they are, with the ``_load_id`` of the load that brought them, and only the file's new rows are inserted
under this load's id: an **append**.  When any row the table holds is missing from the file or differs in
any column (a changed disposition, a corrected timestamp, a deleted record), the table is **replaced**
(``TRUNCATE`` + ``INSERT`` of every accepted row, as before).  Both happen inside the table's one load
transaction.  ``raw.load_log`` records the mode and the counts (``write_mode``, ``rows_added``,
``rows_removed``; migration 0011), and the incremental running totals (``eis_core.features.incremental``)
read them: only an append since a model's last build lets that model update incrementally.  Every
statement that writes a raw table is also logged by a trigger in ``raw.table_writes``; the loader tags its
own (:func:`tag`), so a write by anything else is seen too.

The comparison is over every data column of ``raw.<table>`` (the contract's and any extra columns; an
extra column the file lacks counts as NULL), with ``EXCEPT ALL``, so it needs no key and treats NULLs as
equal.  The appended rows are the file's rows whose primary key the table does not hold (keys are unique
in the file and never NULL: the loader's suite checks both), which keeps their source line numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import sql

from eis_core.contract import Table
from eis_core.load.ddl import META_COLUMNS, RAW_SCHEMA
from eis_core.load.parse import ROW_COL

APPEND, REPLACE = "append", "replace"


@dataclass
class Written:
    mode: str  # APPEND | REPLACE
    rows_loaded: int  # rows of the file now in the table (kept + added)
    rows_added: int  # rows this load inserted
    rows_removed: int  # rows of earlier loads gone or changed (0 on an append)


def _data_columns(conn, table: str) -> list[str]:
    meta = {n for n, _ in META_COLUMNS}
    return [
        r[0]
        for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s "
            "ORDER BY ordinal_position",
            (RAW_SCHEMA, table),
        )
        if r[0] not in meta
    ]


def tag(conn, mode: str, load_id: int) -> None:
    """Name the loader as the writer of this transaction's raw writes (raw.table_writes.writer)."""
    conn.execute("SELECT set_config('eis.raw_write', %s, true)", (f"{mode}:{load_id}",))


def write_table(conn, spec: Table, file_columns: list[str], good: sql.Composable, load_id: int) -> Written:
    """Put the accepted rows (*good*: a query over the file's *file_columns* and ``_row_number``) into
    ``raw.<spec.name>`` in *conn*'s transaction: appended when the table's rows are all in them unchanged,
    else replacing the table."""
    raw = sql.SQL("{}.{}").format(sql.Identifier(RAW_SCHEMA), sql.Identifier(spec.name))
    have = _data_columns(conn, spec.name)
    given = set(file_columns)
    cols = sql.SQL(", ").join(sql.Identifier(c) for c in file_columns + [ROW_COL])
    old_side = sql.SQL(", ").join(sql.Identifier(c) for c in have)
    new_side = sql.SQL(", ").join(sql.Identifier(c) if c in given else sql.SQL("NULL::text") for c in have)
    held = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(raw)).fetchone()[0]
    removed = 0
    if held:
        removed = conn.execute(
            sql.SQL("SELECT count(*) FROM (SELECT {} FROM {} EXCEPT ALL SELECT {} FROM ({}) g) gone").format(
                old_side, raw, new_side, good
            )
        ).fetchone()[0]
    if removed == 0:
        tag(conn, APPEND, load_id)
        same_key = sql.SQL(" AND ").join(sql.SQL("r.{k} = g.{k}").format(k=sql.Identifier(k)) for k in spec.primary_key)
        added = conn.execute(
            sql.SQL(
                "INSERT INTO {raw} ({cols}, _load_id) SELECT {cols}, %s FROM ({good}) g "
                "WHERE NOT EXISTS (SELECT 1 FROM {raw} r WHERE {same_key})"
            ).format(raw=raw, cols=cols, good=good, same_key=same_key),
            (load_id,),
        ).rowcount
        total = conn.execute(sql.SQL("SELECT count(*) FROM ({}) g").format(good)).fetchone()[0]
        if held + added != total:  # cannot happen with a unique, non-NULL key; never leave a wrong table
            raise RuntimeError(
                f"append to raw.{spec.name} kept {held:,} and added {added:,} rows, but the file has {total:,} "
                f"accepted rows (key {spec.primary_key})"
            )
        return Written(APPEND, total, added, 0)
    tag(conn, REPLACE, load_id)
    conn.execute(sql.SQL("TRUNCATE {}").format(raw))
    loaded = conn.execute(
        sql.SQL("INSERT INTO {} ({}, _load_id) SELECT {}, %s FROM ({}) g").format(raw, cols, cols, good),
        (load_id,),
    ).rowcount
    return Written(REPLACE, loaded, loaded, removed)
