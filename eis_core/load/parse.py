"""Reading a drop file strictly: encoding, header, and the contract's value formats.

A CSV is read with every column as text (so nothing is coerced behind the reader's back), then each
contract column is parsed with the contract's exact format.  Any value that does not parse is a
*table-level* failure ("wrong type"): the report names the column, the expected format, how many
values failed and a few of them with their line numbers.
"""

from __future__ import annotations

import hashlib
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
    "int": ("an integer", r"^[+-]?\d+$"),
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
    text: pa.Table | None = None   # every column as text, plus _row_number
    typed: pa.Table | None = None  # contract columns typed, extras as text, plus _row_number
    extra_columns: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)  # table-level problems
    warnings: list[str] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return self.text.num_rows if self.text is not None else 0


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def find_file(drop_dir: Path, table: str) -> Path | None:
    for ext in (".csv", ".parquet"):
        p = drop_dir / f"{table}{ext}"
        if p.exists():
            return p
    return None


def _read_csv(path: Path, pf: ParsedFile) -> pa.Table | None:
    with open(path, "rb") as fh:
        head = fh.readline()
    if not head.strip():
        pf.problems.append(Problem("file not empty", f"{path.name} is empty: no header row"))
        return None
    try:
        header = head.decode("utf-8").lstrip("\ufeff").rstrip("\r\n").split(",")
    except UnicodeDecodeError as exc:
        pf.problems.append(Problem("UTF-8 encoding", f"{path.name}: header is not UTF-8 ({exc.reason} at byte {exc.start})"))
        return None
    header = [h.strip().strip('"') for h in header]
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        pf.problems.append(Problem("unique column names", f"{path.name}: duplicate column names {dupes}", examples=dupes))
        return None
    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(encoding="utf8", use_threads=True, block_size=1 << 24),
            parse_options=pacsv.ParseOptions(newlines_in_values=False),
            convert_options=pacsv.ConvertOptions(
                column_types={h: pa.string() for h in header}, strings_can_be_null=True,
                quoted_strings_can_be_null=True, check_utf8=True),
        )
    except pa.ArrowInvalid as exc:
        msg = str(exc)
        rule = "UTF-8 encoding" if "UTF8" in msg or "utf8" in msg.lower() else "CSV format"
        pf.problems.append(Problem(rule, f"{path.name}: cannot be read as UTF-8 CSV: {msg.splitlines()[0]}"))
        return None
    # strip surrounding blanks of the header names (the reader keeps them)
    table = table.rename_columns([n.strip() for n in table.column_names])
    return table


def _read_parquet(path: Path, pf: ParsedFile, spec: Table) -> pa.Table | None:
    try:
        table = pq.read_table(path)
    except Exception as exc:  # noqa: BLE001 - any unreadable parquet is a file problem
        pf.problems.append(Problem("Parquet format", f"{path.name}: cannot be read as Parquet: {exc}"))
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
            cols.append(pc.strftime(col, format="%Y-%m-%dT%H:%M:%S"))
        elif pa.types.is_boolean(col.type):
            cols.append(pc.if_else(col, "true", "false"))
        else:
            cols.append(col.cast(pa.string()))
    return pa.table(cols, names=table.column_names)


def read_table_file(path: Path, spec: Table, sha256: str | None = None) -> ParsedFile:
    pf = ParsedFile(path=path, sha256=sha256 or sha256_of(path))
    if path.stat().st_size == 0:
        pf.problems.append(Problem("file not empty", f"{path.name} is empty (0 bytes): no header, no rows"))
        return pf
    table = _read_parquet(path, pf, spec) if path.suffix == ".parquet" else _read_csv(path, pf)
    if table is None:
        return pf
    n = table.num_rows
    table = table.append_column(ROW_COL, pa.array(range(2, n + 2), type=pa.int64()))
    # v2: a column marked optional may be left out of the file; it then loads as all NULL
    for c in spec.column_list:
        if c.optional and c.name not in table.column_names:
            table = table.append_column(c.name, pa.nulls(n, type=pa.string()))
    pf.text = table
    present = set(table.column_names)
    missing = [c.name for c in spec.column_list if c.name not in present]
    if missing:
        pf.problems.append(Problem("required columns present",
                                   f"missing column(s) {missing}; the file has {sorted(present - {ROW_COL})}",
                                   column=missing[0], examples=missing, count=len(missing)))
    pf.extra_columns = [c for c in table.column_names if c not in spec.columns and c != ROW_COL]
    if pf.extra_columns:
        pf.warnings.append(f"extra column(s) {pf.extra_columns} kept in raw as text, ignored by the models")
    if missing:
        return pf
    typed_cols, names = [], []
    for c in spec.column_list:
        arr = table[c.name]
        if c.type == "text":
            typed_cols.append(arr)
        else:
            label, pattern = FORMATS[c.type]
            ok = pc.or_(pc.is_null(arr), pc.match_substring_regex(arr, pattern))
            if c.type == "bool":
                typed = pc.equal(arr, "true")
            elif c.type == "int":
                typed = pc.cast(pc.if_else(ok, arr, None), pa.int64(), safe=False) if n else arr.cast(pa.int64())
            elif c.type == "float":
                typed = pc.cast(pc.if_else(ok, arr, None), pa.float64(), safe=False) if n else arr.cast(pa.float64())
            elif c.type == "date":
                parsed = pc.strptime(pc.if_else(ok, arr, None), format="%Y-%m-%d", unit="s", error_is_null=True)
                ok = pc.and_(ok, pc.or_(pc.is_null(arr), pc.is_valid(parsed)))
                typed = parsed.cast(pa.date32())
            else:  # timestamp
                parsed = pc.strptime(pc.if_else(ok, arr, None), format="%Y-%m-%dT%H:%M:%S", unit="s", error_is_null=True)
                ok = pc.and_(ok, pc.or_(pc.is_null(arr), pc.is_valid(parsed)))
                typed = parsed
            bad = pc.invert(ok)
            nbad = pc.sum(bad).as_py() or 0
            if nbad:
                idx = pc.indices_nonzero(bad).slice(0, 5)
                rows = pc.take(table[ROW_COL], idx).to_pylist()
                vals = pc.take(arr, idx).to_pylist()
                pf.problems.append(Problem(
                    "column type", f"column {c.name} must be {c.type} ({label}); {nbad} value(s) are not, e.g. "
                    + ", ".join(f"{v!r} (line {r})" for v, r in zip(vals, rows)),
                    column=c.name, examples=[str(v) for v in vals], count=nbad))
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
