"""Reading a drop file strictly: encoding, header, and the contract's value formats.

A CSV is read with every column as text (so nothing is coerced behind the reader's back), then each
contract column is parsed with the contract's exact format.  Any value that does not parse is a
*table-level* failure ("wrong type"): the report names the column, the expected format, how many
values failed and a few of them with their line numbers.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from eis_core.contract import Table

ROW_COL = "_row_number"

FORMATS = {
    "date": ("YYYY-MM-DD", r"^\d{4}-\d{2}-\d{2}$"),
    "timestamp": ("YYYY-MM-DDTHH:MM:SS", r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$"),
    "int": ("an integer", r"^-?\d+$"),
    "float": ("a number", r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$"),
    "bool": ("true/false", r"^(true|false)$"),
}


@dataclass
class Problem:
    rule: str
    message: str
    column: str | None = None
    examples: list[str] = field(default_factory=list)
    count: int = 0


@dataclass
class ParsedFile:
    path: Path
    sha256: str
    text: pa.Table | None = None  # every column as text, plus _row_number
    typed: pa.Table | None = None  # contract columns typed, extras as text, plus _row_number
    extra_columns: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)  # table-level problems
    warnings: list[str] = field(default_factory=list)
    #: the source line of each row (CSV: physical line, header = 1; Parquet: row index + 2)
    line_numbers: pa.Array | None = None
    #: rows that break a table-level rule, by line: [(rule, reason)] (quarantined with that rule)
    row_reasons: dict[int, list[tuple[str, str]]] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return self.text.num_rows if self.text is not None else 0


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def find_files(drop_dir: Path, table: str) -> list[Path]:
    """Every candidate file of *table* in the drop (``.csv``, ``.parquet``), dangling links included."""
    return [p for p in (drop_dir / f"{table}.csv", drop_dir / f"{table}.parquet") if os.path.lexists(p)]


def find_file(drop_dir: Path, table: str) -> Path | None:
    found = find_files(drop_dir, table)
    return found[0] if found else None


def path_problem(drop_dir: Path, path: Path) -> Problem | None:
    """A file the loader must not read: one resolving outside the drop folder (a symbolic link to a
    system file), or anything that is not a regular file (a folder named ``officers.csv``)."""
    root = drop_dir.resolve()
    try:
        real = path.resolve(strict=True)
    except (OSError, RuntimeError):
        return Problem("regular file in the drop", f"{path.name} is a broken or looping symbolic link")
    if root != real and root not in real.parents:
        return Problem(
            "file inside the drop folder",
            f"{path.name} resolves outside the drop folder (a symbolic link); it was not read",
        )
    if not real.is_file():
        return Problem("regular file in the drop", f"{path.name} is not a regular file (a folder?)")
    return None


def _line_numbers(path: Path, nrows: int) -> pa.Array:
    """The physical line (header = 1) on which each of the *nrows* parsed records starts.

    The CSV reader skips blank lines and lets quoted values hold newlines, so the n-th record is not
    always on line n + 1: the line of each record is found from the positions of newlines outside
    quotes.
    """
    import numpy as np

    data = np.fromfile(path, dtype=np.uint8)
    nl = np.flatnonzero(data == 10)
    lines = len(nl) + (0 if len(data) and data[-1] == 10 else 1)
    if lines - 1 == nrows:  # every line after the header is one record
        return pa.array(np.arange(2, nrows + 2, dtype=np.int64))
    quotes = np.flatnonzero(data == 34)
    term = nl[(np.searchsorted(quotes, nl) & 1) == 0]  # newlines outside quoted values end a record
    term_idx = np.searchsorted(nl, term)  # which newline (0-based) each terminator is
    starts = np.concatenate([[0], term + 1])
    ends = np.concatenate([term, [len(data)]])
    line_of = np.concatenate([[1], term_idx + 2])
    length = ends - starts
    cr_only = (length == 1) & (data[np.minimum(starts, len(data) - 1)] == 13)
    keep = (length > 0) & ~cr_only
    rec_lines = line_of[keep][1:]  # drop the header record
    if len(rec_lines) != nrows:  # should not happen; fall back to counting records
        return pa.array(np.arange(2, nrows + 2, dtype=np.int64))
    return pa.array(rec_lines.astype(np.int64))


RESERVED = ("_row_number", "_load_id")


def _header_problem(path: Path, header: list[str]) -> Problem | None:
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


def _read_csv(path: Path, pf: ParsedFile) -> pa.Table | None:
    import csv

    with open(path, "rb") as fh:
        head = fh.readline()
    if not head.strip():
        pf.problems.append(Problem("file not empty", f"{path.name} is empty: no header row"))
        return None
    try:
        header_line = head.decode("utf-8").lstrip("\ufeff").rstrip("\r\n")
    except UnicodeDecodeError as exc:
        pf.problems.append(
            Problem("UTF-8 encoding", f"{path.name}: header is not UTF-8 ({exc.reason} at byte {exc.start})")
        )
        return None
    if _has_nul(path):
        pf.problems.append(
            Problem("no NUL bytes", f"{path.name} contains a NUL byte (\\x00), which no text value may hold")
        )
        return None
    # names around which the export put blanks are matched without them; values are never touched
    header = [h.strip() for h in next(csv.reader([header_line]))]
    hp = _header_problem(path, header)
    if hp:
        pf.problems.append(hp)
        return None
    positional = [f"c{i}" for i in range(len(header))]
    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(
                encoding="utf8", use_threads=True, block_size=1 << 24, column_names=positional, skip_rows=1
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
    except pa.ArrowInvalid as exc:
        msg = str(exc)
        rule = "UTF-8 encoding" if "UTF8" in msg or "utf8" in msg.lower() else "CSV format"
        pf.problems.append(Problem(rule, f"{path.name}: cannot be read as UTF-8 CSV: {msg.splitlines()[0]}"))
        return None
    table = table.rename_columns(header)
    pf.line_numbers = _line_numbers(path, table.num_rows)
    return table


def _read_parquet(path: Path, pf: ParsedFile, spec: Table) -> pa.Table | None:
    try:
        table = pq.read_table(path)
    except Exception as exc:  # noqa: BLE001 - any unreadable parquet is a file problem
        pf.problems.append(
            Problem("Parquet format", f"{path.name}: cannot be read as Parquet: {str(exc).splitlines()[0]}")
        )
        return None
    hp = _header_problem(path, list(table.column_names))
    if hp:
        pf.problems.append(hp)
        return None
    cols = []
    for name in table.column_names:
        col = table[name]
        c = spec.columns.get(name)
        if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
            cols.append(col.cast(pa.string()))
        elif c is not None and c.type == "date" and pa.types.is_date(col.type):
            cols.append(pc.strftime(col.cast(pa.date32()), format="%Y-%m-%d"))
        elif c is not None and c.type == "timestamp" and pa.types.is_timestamp(col.type):
            try:  # whole seconds stored at a finer unit (Parquet writers like ms) are fine
                col = col.cast(pa.timestamp("s", tz=col.type.tz), safe=True)
            except pa.ArrowInvalid:
                pass  # sub-second values: formatted with their fraction and reported as a wrong type
            # a time-zone-aware timestamp keeps its offset, so it is rejected like an offset in a CSV
            cols.append(pc.strftime(col, format="%Y-%m-%dT%H:%M:%S" + ("%z" if col.type.tz else "")))
        elif pa.types.is_boolean(col.type):
            cols.append(pc.if_else(col, "true", "false"))
        else:
            cols.append(col.cast(pa.string()))
    for name, col in zip(table.column_names, cols):
        if pc.any(pc.match_substring(col, "\x00")).as_py():
            pf.problems.append(
                Problem("no NUL bytes", f"{path.name}: column {name} holds a NUL byte (\\x00)", column=name)
            )
            return None
    return pa.table(cols, names=table.column_names)


INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def read_table_file(path: Path, spec: Table, sha256: str | None = None) -> ParsedFile:
    pf = ParsedFile(path=path, sha256=sha256 or sha256_of(path))
    if path.stat().st_size == 0:
        pf.problems.append(Problem("file not empty", f"{path.name} is empty (0 bytes): no header, no rows"))
        return pf
    table = _read_parquet(path, pf, spec) if path.suffix == ".parquet" else _read_csv(path, pf)
    if table is None:
        return pf
    n = table.num_rows
    lines = pf.line_numbers if pf.line_numbers is not None else pa.array(range(2, n + 2), type=pa.int64())
    table = table.append_column(ROW_COL, lines)
    # v2: a column marked optional may be left out of the file; it then loads as all NULL
    for c in spec.column_list:
        if c.optional and c.name not in table.column_names:
            table = table.append_column(c.name, pa.nulls(n, type=pa.string()))
    table = table.combine_chunks()
    pf.text = table
    present = set(table.column_names)
    missing = [c.name for c in spec.column_list if c.name not in present]
    if missing:
        pf.problems.append(
            Problem(
                "required columns present",
                f"missing column(s) {missing}; the file has {sorted(present - {ROW_COL})}",
                column=missing[0],
                examples=missing,
                count=len(missing),
            )
        )
    pf.extra_columns = [c for c in table.column_names if c not in spec.columns and c != ROW_COL]
    if pf.extra_columns:
        pf.warnings.append(f"extra column(s) {pf.extra_columns} kept in raw as text, ignored by the models")
    if missing:
        return pf
    typed_cols, names = [], []
    for c in spec.column_list:
        arr = table[c.name].combine_chunks() if isinstance(table[c.name], pa.ChunkedArray) else table[c.name]
        if c.type == "text":
            typed_cols.append(arr)
        else:
            label, pattern = FORMATS[c.type]
            ok = pc.or_kleene(pc.is_null(arr), pc.match_substring_regex(arr, pattern))
            candidate = pc.if_else(ok, arr, pa.scalar(None, pa.string()))
            if c.type == "bool":
                typed = pc.equal(arr, "true")
            elif c.type == "int":
                try:
                    typed = pc.cast(candidate, pa.int64())
                except pa.ArrowInvalid:  # a value beyond the 64-bit range: find which, one by one
                    fits = [v is None or INT64_MIN <= int(v) <= INT64_MAX for v in candidate.to_pylist()]
                    ok = pc.and_kleene(ok, pa.array(fits))
                    typed = pc.cast(pc.if_else(ok, arr, pa.scalar(None, pa.string())), pa.int64())
            elif c.type == "float":
                typed = pc.cast(candidate, pa.float64())
                ok = pc.and_kleene(ok, pc.or_kleene(pc.is_null(typed), pc.is_finite(typed)))  # 1e999 is not a number
            else:
                # strict: the parsed value, printed again, must be the text itself (Arrow's parser rolls
                # 2013-02-30 over to 2013-03-02 and 23:59:60 to the next day); year 0000 does not exist
                fmt = "%Y-%m-%d" if c.type == "date" else "%Y-%m-%dT%H:%M:%S"
                parsed = pc.strptime(candidate, format=fmt, unit="s", error_is_null=True)
                same = pc.equal(pc.strftime(parsed, format=fmt), arr)
                ok = pc.and_kleene(
                    ok,
                    pc.or_kleene(
                        pc.is_null(arr),
                        pc.and_kleene(pc.fill_null(same, False), pc.invert(pc.starts_with(arr, "0000"))),
                    ),
                )
                typed = pc.if_else(ok, parsed, pa.scalar(None, parsed.type))
                if c.type == "date":
                    typed = typed.cast(pa.date32())
            bad = pc.invert(pc.fill_null(ok, False))
            nbad = pc.sum(bad).as_py() or 0
            if nbad:
                idx = pc.indices_nonzero(bad)
                rows = pc.take(table[ROW_COL], idx).to_pylist()
                vals = pc.take(arr, idx.slice(0, 5)).to_pylist()
                reason = f"column type ({c.name} must be {c.type}, {label})"
                for rn in rows:
                    pf.row_reasons.setdefault(rn, []).append(("column type", reason))
                pf.problems.append(
                    Problem(
                        "column type",
                        f"column {c.name} must be {c.type} ({label}); {nbad} value(s) are not, e.g. "
                        + ", ".join(f"{v!r} (line {r})" for v, r in zip(vals, rows)),
                        column=c.name,
                        examples=[str(v) for v in vals],
                        count=nbad,
                    )
                )
            typed_cols.append(typed)
        names.append(c.name)
    if pf.problems:
        return pf
    for e in pf.extra_columns:
        typed_cols.append(table[e])
        names.append(e)
    typed_cols.append(table[ROW_COL])
    names.append(ROW_COL)
    pf.typed = pa.table(typed_cols, names=names)
    return pf
