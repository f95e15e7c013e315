"""Streaming a drop file into its side table ``raw_incoming.<table>__load<id>__text``: every value as text.

Nothing is typed or coerced here.  A CSV is read by pyarrow's streaming reader (``open_csv``: one block of
a few MB at a time, every column as text) and each batch, with the source line of each record, goes to
PostgreSQL through ``COPY ... FROM STDIN`` (psycopg's ``cursor.copy()``); a Parquet file is read by record
batches and each column is turned into the text the contract's formats describe.  Client memory is a few
batches, whatever the size of the file.  The values are then checked and typed in the database
(``typecheck``).

File-level problems reject the table before anything is copied: an empty file, a header that is not UTF-8,
a NUL byte anywhere, an empty, reserved or duplicate column name, an unreadable Parquet file.  A CSV that
turns out malformed or not UTF-8 part way through rolls its COPY back.  Either way the file counts as
unreadable (it is kept byte for byte by the loader).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from psycopg import sql

from eis_core.contract import Table
from eis_core.load.ddl import create_side_text_table
from eis_core.load.lines import RecordLines
from eis_core.load.parse import ROW_COL, Problem
from eis_core.load.suites import INCOMING_SCHEMA

RESERVED = ("_row_number", "_load_id")
#: CSV block (and so batch) size of the streaming reader (the reader holds about 40 times this at its
#: peak: measured 76 MB at 1 MB, 297 MB at 8 MB), and Parquet rows per batch
CSV_BLOCK = 1 << 20
PARQUET_BATCH = 131_072


@dataclass
class StreamedFile:
    path: Path
    sha256: str
    #: the side table holds the file's rows (False: unreadable, nothing copied)
    readable: bool = False
    rows: int = 0
    columns: list[str] = field(default_factory=list)  # the side table's columns (file order, then absent optional ones)
    extra_columns: list[str] = field(default_factory=list)  # columns the contract does not know
    missing: list[str] = field(default_factory=list)  # contract columns absent (and not optional)
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def header_problem(path: Path, header: list[str]) -> Problem | None:
    empty = [i + 1 for i, h in enumerate(header) if not h]
    if empty:
        return Problem(
            "column names not empty",
            f"{path.name}: header column(s) {empty} have no name (a trailing comma or ', ' in the header?)",
            examples=[str(i) for i in empty],
            count=len(empty),
        )
    reserved = [h for h in header if h in RESERVED]
    if reserved:
        return Problem(
            "reserved column names",
            f"{path.name}: column(s) {reserved} are reserved for the loader's bookkeeping",
            column=reserved[0],
            examples=reserved,
            count=len(reserved),
        )
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        return Problem("unique column names", f"{path.name}: duplicate column names {dupes}", examples=dupes)
    return None


def _has_nul(path: Path) -> bool:
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 24), b""):
            if b"\x00" in chunk:
                return True
    return False


def _csv_header(path: Path, sf: StreamedFile) -> list[str] | None:
    with open(path, "rb") as fh:
        head = fh.readline()
    if not head.strip():
        sf.problems.append(Problem("file not empty", f"{path.name} is empty: no header row"))
        return None
    try:
        header_line = head.decode("utf-8").lstrip("\ufeff").rstrip("\r\n")
    except UnicodeDecodeError as exc:
        sf.problems.append(
            Problem("UTF-8 encoding", f"{path.name}: header is not UTF-8 ({exc.reason} at byte {exc.start})")
        )
        return None
    if _has_nul(path):
        sf.problems.append(
            Problem("no NUL bytes", f"{path.name} contains a NUL byte (\\x00), which no text value may hold")
        )
        return None
    # names around which the export put blanks are matched without them; values are never touched
    header = [h.strip() for h in next(csv.reader([header_line]))]
    hp = header_problem(path, header)
    if hp:
        sf.problems.append(hp)
        return None
    return header


def _csv_batches(path: Path, header: list[str], sf: StreamedFile, state: dict):
    """(record batch of text columns named as the header, line numbers) per block of the file; sets
    ``state["renumber"]`` when the line scan and the reader disagree (then rows are numbered by order)."""
    positional = [f"c{i}" for i in range(len(header))]
    reader = pacsv.open_csv(
        path,
        read_options=pacsv.ReadOptions(
            encoding="utf8", use_threads=True, block_size=CSV_BLOCK, column_names=positional, skip_rows=1
        ),
        parse_options=pacsv.ParseOptions(newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(
            column_types={h: pa.string() for h in positional},
            strings_can_be_null=True,
            null_values=[""],
            quoted_strings_can_be_null=True,
            check_utf8=True,
        ),
    )
    lines = RecordLines(path)
    try:
        for batch in reader:
            yield batch.rename_columns(header), lines.take(batch.num_rows)
        if not lines.consistent:
            sf.warnings.append("quarantine line numbers are record numbers + 1 (a quote inside an unquoted value?)")
            state["renumber"] = True
    finally:
        lines.close()


def _text_of(col: pa.ChunkedArray | pa.Array, c) -> pa.Array:
    """One Parquet column as the text the contract's format for it describes."""
    if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
        return col.cast(pa.string())
    if c is not None and c.type == "date" and pa.types.is_date(col.type):
        return pc.strftime(col.cast(pa.date32()), format="%Y-%m-%d")
    if c is not None and c.type == "timestamp" and pa.types.is_timestamp(col.type):
        try:  # whole seconds stored at a finer unit (Parquet writers like ms) are fine
            col = col.cast(pa.timestamp("s", tz=col.type.tz), safe=True)
        except pa.ArrowInvalid:
            pass  # sub-second values: formatted with their fraction and reported as a wrong type
        # a time-zone-aware timestamp keeps its offset, so it is rejected like an offset in a CSV
        return pc.strftime(col, format="%Y-%m-%dT%H:%M:%S" + ("%z" if col.type.tz else ""))
    if pa.types.is_boolean(col.type):
        return pc.if_else(col, "true", "false")
    return col.cast(pa.string())


class _NulInParquet(Exception):
    pass


def _parquet_batches(path: Path, spec: Table, names: list[str], pfile: pq.ParquetFile):
    done = 0
    for batch in pfile.iter_batches(batch_size=PARQUET_BATCH):
        cols = [_text_of(batch.column(i), spec.columns.get(n)) for i, n in enumerate(names)]
        for n, col in zip(names, cols):
            if pc.any(pc.match_substring(col, "\x00")).as_py():
                raise _NulInParquet(n)
        out = pa.RecordBatch.from_arrays(cols, names=names)
        yield out, pa.array(range(done + 2, done + 2 + out.num_rows), type=pa.int64())
        done += out.num_rows


def _copy(conn, side: str, names: list[str], batches) -> int:
    """COPY the batches (text columns + line numbers) into the side table; returns the row count."""
    cols = sql.SQL(", ").join(sql.Identifier(c) for c in names + [ROW_COL])
    stmt = sql.SQL("COPY {}.{} ({}) FROM STDIN (FORMAT csv, NULL '')").format(
        sql.Identifier(INCOMING_SCHEMA), sql.Identifier(side), cols
    )
    opts = pacsv.WriteOptions(include_header=False, quoting_style="needed")
    rows = 0
    with conn.cursor().copy(stmt) as cp:
        for batch, lines in batches:
            batch = batch.append_column(ROW_COL, pa.array(lines, type=pa.int64()))
            buf = io.BytesIO()
            pacsv.write_csv(batch, buf, write_options=opts)
            cp.write(buf.getbuffer())
            rows += batch.num_rows
    return rows


def stream_into_side(conn, path: Path, spec: Table, sha256: str, side_text: str) -> StreamedFile:
    """Read *path* into ``raw_incoming.<side_text>`` (created here, in *conn*'s transaction, which the
    caller commits).  On a problem nothing is left: the caller's transaction is rolled back to before it."""
    sf = StreamedFile(path=path, sha256=sha256)
    if path.stat().st_size == 0:
        sf.problems.append(Problem("file not empty", f"{path.name} is empty (0 bytes): no header, no rows"))
        return sf
    pfile = None
    names: list[str] | None
    if path.suffix == ".parquet":
        try:
            pfile = pq.ParquetFile(path)
            names = list(pfile.schema_arrow.names)
        except Exception as exc:  # noqa: BLE001 - any unreadable parquet is a file problem
            sf.problems.append(
                Problem("Parquet format", f"{path.name}: cannot be read as Parquet: {str(exc).splitlines()[0]}")
            )
            return sf
        hp = header_problem(path, names)
        if hp:
            sf.problems.append(hp)
            return sf
    else:
        names = _csv_header(path, sf)
        if names is None:
            return sf
    # v2: a column marked optional may be left out of the file; it then loads as all NULL
    absent_optional = [c.name for c in spec.column_list if c.optional and c.name not in names]
    sf.columns = names + absent_optional
    sf.missing = [c.name for c in spec.column_list if c.name not in sf.columns]
    sf.extra_columns = [n for n in names if n not in spec.columns]
    if sf.extra_columns:
        sf.warnings.append(f"extra column(s) {sf.extra_columns} kept in raw as text, ignored by the models")
    state = {"renumber": False}
    try:
        with conn.transaction():  # a savepoint: a file that breaks part way leaves no side table
            conn.execute(create_side_text_table(INCOMING_SCHEMA, side_text, sf.columns))
            batches = (
                _parquet_batches(path, spec, names, pfile)
                if pfile is not None
                else _csv_batches(path, names, sf, state)
            )
            sf.rows = _copy(conn, side_text, names, batches)
            if state["renumber"]:
                _renumber(conn, side_text)
    except _NulInParquet as exc:
        sf.problems.append(
            Problem("no NUL bytes", f"{path.name}: column {exc} holds a NUL byte (\\x00)", column=str(exc))
        )
    except (pa.ArrowInvalid, OSError) as exc:
        msg = str(exc)
        if pfile is not None:
            sf.problems.append(
                Problem("Parquet format", f"{path.name}: cannot be read as Parquet: {msg.splitlines()[0]}")
            )
        elif isinstance(exc, pa.ArrowInvalid):
            rule = "UTF-8 encoding" if "UTF8" in msg or "utf8" in msg.lower() else "CSV format"
            sf.problems.append(Problem(rule, f"{path.name}: cannot be read as UTF-8 CSV: {msg.splitlines()[0]}"))
        else:
            raise
    if sf.problems:
        sf.warnings = [w for w in sf.warnings if not w.startswith("quarantine line numbers")]
        return sf
    sf.readable = True
    return sf


def _renumber(conn, side_text: str) -> int:
    """Rows of a freshly copied table, in copy order (ctid), numbered as lines 2, 3, …"""
    side = sql.Identifier(INCOMING_SCHEMA, side_text)
    cur = conn.execute(
        sql.SQL(
            "UPDATE {} s SET {} = o.n + 1 FROM (SELECT ctid, row_number() OVER (ORDER BY ctid) AS n FROM {}) o "
            "WHERE s.ctid = o.ctid"
        ).format(side, sql.Identifier(ROW_COL), side)
    )
    return cur.rowcount
