"""Fast, deterministic conversion of numpy columns to Arrow arrays and incremental drop writers.

Timestamps and identifiers are formatted by composing fixed-width byte blocks in numpy and handing
the buffer to Arrow without a copy; this keeps the ``cmpd`` scale (tens of millions of rows) fast.
Internally a timestamp is int64 seconds since 1970-01-01 (department local time, no zone) and a
date is int days since 1970-01-01.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from eis_core.contract import Table

ARROW_TYPES = {
    "text": pa.string(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("s"),
    "int": pa.int64(),
    "float": pa.float64(),
    "bool": pa.bool_(),
}


def digits(values: np.ndarray, width: int) -> np.ndarray:
    """Zero-padded decimal digits of non-negative ints as a (n, width) uint8 block."""
    x = np.asarray(values, dtype=np.int64).copy()
    out = np.empty((x.size, width), dtype=np.uint8)
    for j in range(width - 1, -1, -1):
        out[:, j] = (x % 10 + 48).astype(np.uint8)
        x //= 10
    return out


def string_array(blocks: list, n: int, null_mask: np.ndarray | None = None) -> pa.Array:
    """Concatenate fixed-width blocks (bytes constants or (n, w) uint8 arrays) into a string array."""
    parts = []
    for b in blocks:
        if isinstance(b, bytes):
            parts.append(np.broadcast_to(np.frombuffer(b, dtype=np.uint8), (n, len(b))))
        else:
            parts.append(b)
    data = np.ascontiguousarray(np.concatenate(parts, axis=1)) if n else np.zeros((0, 1), np.uint8)
    w = data.shape[1]
    offsets = np.arange(0, (n + 1) * w, w, dtype=np.int64)
    arr = pa.Array.from_buffers(pa.large_string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data)])
    arr = arr.cast(pa.string())
    if null_mask is not None and null_mask.any():
        arr = pc.if_else(pa.array(null_mask), pa.scalar(None, pa.string()), arr)
    return arr


def id_array(prefix: str, numbers: np.ndarray, width: int, null_mask: np.ndarray | None = None) -> pa.Array:
    numbers = np.asarray(numbers, dtype=np.int64)
    safe = np.where(numbers < 0, 0, numbers) if null_mask is not None else numbers
    return string_array([prefix.encode(), digits(safe, width)], numbers.size, null_mask)


_DAY_LO = -25567  # 1900-01-01
_DAY_HI = 47846  # 2100-12-31
_DAY_TABLE: np.ndarray | None = None


def _day_table() -> np.ndarray:
    """'YYYY-MM-DD' bytes of every day 1900..2100, one row per day."""
    global _DAY_TABLE
    if _DAY_TABLE is None:
        days = np.arange(_DAY_LO, _DAY_HI + 1).astype("datetime64[D]")
        s = np.datetime_as_string(days, unit="D").astype("S10")
        _DAY_TABLE = np.frombuffer(s.tobytes(), dtype=np.uint8).reshape(-1, 10)
    return _DAY_TABLE


def timestamp_strings(ts: np.ndarray, null_mask: np.ndarray | None = None) -> pa.Array:
    """int64 epoch seconds -> 'YYYY-MM-DDTHH:MM:SS' strings (NULL where null_mask)."""
    ts = np.asarray(ts, dtype=np.int64)
    n = ts.size
    if n == 0:
        return pa.array([], type=pa.string())
    if null_mask is not None:
        ts = np.where(null_mask, 0, ts)
    day = ts // 86400
    sod = ts - day * 86400
    dates = _day_table()[day - _DAY_LO]
    hh, rem = np.divmod(sod, 3600)
    mm, ss = np.divmod(rem, 60)
    return string_array([dates, b"T", digits(hh, 2), b":", digits(mm, 2), b":", digits(ss, 2)], n, null_mask)


def _masked(values, mask, typ):
    return pa.array(values, type=typ, mask=mask if mask is not None and mask.any() else None)


def to_arrow_table(spec: Table, cols: dict, fmt: str) -> pa.Table:
    """Build an Arrow table in contract column order.

    ``cols[name]`` is one of: a pyarrow Array; ``(values, null_mask)``; ``("codes", categories, idx)``
    with idx -1 meaning NULL; or a bare numpy array (no NULLs).
    """
    # contract v2 optional columns (e.g. ia_cases.allegation) the generator did not emit are left out
    names = [n for n, c in spec.columns.items() if n in cols or not c.optional]
    if set(cols) != set(names):
        raise ValueError(f"{spec.name}: columns {sorted(cols)} differ from contract {names}")
    arrays = []
    for name in names:
        col = spec.columns[name]
        v = cols[name]
        typ = ARROW_TYPES[col.type]
        if isinstance(v, (pa.Array, pa.ChunkedArray)):
            arr = v
        else:
            if isinstance(v, tuple) and len(v) == 3 and isinstance(v[0], str) and v[0] == "codes":
                _, cats, idx = v
                idx = np.asarray(idx)
                mask = idx < 0
                arr = pc.take(
                    pa.array(list(cats), type=pa.string()),
                    pa.array(np.where(mask, 0, idx).astype(np.int32), mask=mask if mask.any() else None),
                )
            else:
                values, mask = v if isinstance(v, tuple) else (v, None)
                values = np.asarray(values)
                if col.type == "timestamp":
                    arr = (
                        timestamp_strings(values, mask)
                        if fmt == "csv"
                        else _masked(values.astype(np.int64), mask, pa.int64()).cast(typ)
                    )
                elif col.type == "date":
                    arr = _masked(values.astype(np.int32), mask, pa.int32()).cast(pa.date32())
                else:
                    arr = _masked(values, mask, typ)
        if fmt == "csv" and col.type == "timestamp" and arr.type != pa.string():
            arr = pc.strftime(arr, format="%Y-%m-%dT%H:%M:%S")
        if fmt != "csv" and col.type != "timestamp" and arr.type != typ:
            arr = arr.cast(typ)
        arrays.append(arr)
    return pa.table(arrays, names=names)


class DropWriter:
    """One incremental writer per contract table; counts rows."""

    def __init__(self, out_dir: Path, fmt: str, tables: dict[str, Table]):
        if fmt not in ("csv", "parquet"):
            raise ValueError(f"unknown format {fmt!r} (csv or parquet)")
        self.out_dir, self.fmt, self.specs = out_dir, fmt, tables
        self.rows = {name: 0 for name in tables}
        self._writers: dict[str, object] = {}

    def schema(self, name: str) -> pa.Schema:
        spec = self.specs[name]
        fields = []
        for c in spec.column_list:
            if c.optional:  # v2 optional columns are not emitted (see to_arrow_table)
                continue
            typ = pa.string() if (self.fmt == "csv" and c.type == "timestamp") else ARROW_TYPES[c.type]
            fields.append(pa.field(c.name, typ))
        return pa.schema(fields)

    def _writer(self, name: str):
        if name not in self._writers:
            path = self.out_dir / f"{name}.{self.fmt}"
            if self.fmt == "csv":
                self._writers[name] = pacsv.CSVWriter(
                    str(path), self.schema(name), write_options=pacsv.WriteOptions(include_header=True)
                )
            else:
                self._writers[name] = pq.ParquetWriter(str(path), self.schema(name), compression="zstd")
        return self._writers[name]

    def write(self, name: str, cols: dict) -> int:
        table = to_arrow_table(self.specs[name], cols, self.fmt)
        writer = self._writer(name)
        if table.num_rows:
            table = table.cast(self.schema(name))
            writer.write_table(table)
            self.rows[name] += table.num_rows
        return table.num_rows

    def close(self) -> None:
        for name in self.specs:
            self._writer(name)  # every table gets a file, even an empty one (header only)
        for w in self._writers.values():
            w.close()
        self._writers.clear()


def pa_ids(ids: list[str]):
    import pyarrow as pa

    return pa.array(ids, type=pa.string())


def pa_take(ids: list[str], idx: np.ndarray):
    """officer ids by index; index -1 gives NULL."""
    import pyarrow as pa
    import pyarrow.compute as pc

    idx = np.asarray(idx, np.int64)
    mask = idx < 0
    return pc.take(pa.array(ids, type=pa.string()), pa.array(np.where(mask, 0, idx), mask=mask if mask.any() else None))


def pa_take_str(values: list[str]):
    import pyarrow as pa

    return pa.array(values, type=pa.string())


#: tables added by contract v2, not part of the simulated v1 drop
