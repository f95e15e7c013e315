"""Matrix files: build ``<project>/matrices/<id>.parquet`` + ``<id>.json`` from the marts, read them back.

The files live under the project folder of the artifact store (:mod:`eis_core.artifacts.storage`): a
local folder by default, ``s3://bucket/prefix/...`` when ``EIS_ARTIFACT_ROOT`` says so.  A Parquet file
is written to a local temporary file and published in one step (``os.replace`` locally, one upload on
object storage), so a reader never sees half a matrix; it is read with pyarrow through the store's
fsspec file system.  The format is described in :mod:`eis_core.modeling.matrices`.
"""

from __future__ import annotations

import io
import json
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path

from eis_core.artifacts.storage import (
    Location,
    arrow_source,
    atomic_write,
    ensure_dir,
    read_bytes,
    resolve,
    write_bytes,
)
from eis_core.config import LabelsConfig, OfficerConfig
from eis_core.modeling.matrix_spec import (
    FLOAT32_EXACT_INT,
    PROTECTED_PREFIX,
    ROW_GROUP_ROWS,
    MatrixError,
    MatrixSpec,
    Progress,
    canonical_json,
    default_feature_columns,
    ensure_features,
    make_spec,
    mart_feature_columns,
    matrix_id,
)

# ----------------------------------------------------------------------------------------- build


def project_dir(project_path: str | Path | OfficerConfig) -> Location:
    """``project_path`` of the config (or a path or URL): relative paths are relative to the artifact root
    (``EIS_ARTIFACT_ROOT``, default ``$EIS_HOME``)."""
    p = project_path.project_path if isinstance(project_path, OfficerConfig) else project_path
    return resolve(p)


def matrix_paths(mid: str, project_path: str | Path) -> tuple[Location, Location]:
    d = project_dir(project_path) / "matrices"
    return d / f"{mid}.parquet", d / f"{mid}.json"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _select_sql(spec: MatrixSpec) -> str:
    feats = ", ".join(f"f.{_ident(c)}" for c in spec.feature_columns)
    prot = ", ".join(f"p.{_ident(c)} AS {_ident(PROTECTED_PREFIX + c)}" for c in spec.protected_columns)
    return (
        f"SELECT f.officer_id, f.as_of_date{', ' + feats if feats else ''}, l.label"
        f"{', ' + prot if prot else ''} "
        "FROM features.officer_features f "
        "JOIN labels.officer_labels l ON l.officer_id = f.officer_id AND l.as_of_date = f.as_of_date "
        "AND l.label_name = %(label)s "
        "LEFT JOIN features.officer_protected p ON p.officer_id = f.officer_id AND p.as_of_date = f.as_of_date "
        "WHERE f.as_of_date = ANY(%(dates)s::date[]) ORDER BY f.as_of_date, f.officer_id"
    )


def _profile(conn, spec: MatrixSpec) -> dict:
    """One aggregate pass: rows and positives per as-of date, max |x| per feature column."""
    per_date = conn.execute(
        "SELECT f.as_of_date, count(*), count(l.label), coalesce(sum(l.label), 0) "
        "FROM features.officer_features f LEFT JOIN labels.officer_labels l ON l.officer_id = f.officer_id "
        "AND l.as_of_date = f.as_of_date AND l.label_name = %(label)s "
        "WHERE f.as_of_date = ANY(%(dates)s::date[]) GROUP BY 1 ORDER BY 1",
        {"label": spec.label_name, "dates": spec.dates},
    ).fetchall()
    unlabelled = {d.isoformat(): n - nl for d, n, nl, _ in per_date if n != nl}
    if unlabelled:
        raise MatrixError(
            f"labels.officer_labels lacks {spec.label_name} for cohort rows {unlabelled}: "
            "the label and feature marts are out of step; rebuild them with `eis features build`"
        )
    maxabs: dict[str, float] = {}
    cols = list(spec.feature_columns)
    for i in range(0, len(cols), 400):  # PostgreSQL allows 1,664 target columns
        part = cols[i : i + 400]
        row = conn.execute(
            "SELECT "
            + ", ".join(f"max(abs({_ident(c)}))" for c in part)
            + " FROM features.officer_features WHERE as_of_date = ANY(%(dates)s::date[])",
            {"dates": spec.dates},
        ).fetchone()
        maxabs.update({c: (None if v is None else float(v)) for c, v in zip(part, row)})
    return {
        "rows_per_date": {d.isoformat(): int(n) for d, n, _, _ in per_date},
        "positives_per_date": {d.isoformat(): int(p) for d, _, _, p in per_date},
        "maxabs": maxabs,
    }


class _CopyStream(io.RawIOBase):
    """A read-only file over psycopg's COPY TO STDOUT blocks (for pyarrow's streaming CSV reader)."""

    def __init__(self, copy) -> None:
        self._it = iter(copy)
        self._buf = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        """Fill *b* as far as the data goes (COPY yields one row per block; short reads would make
        pyarrow parse, and the writer write, one tiny batch per row)."""
        want, got = len(b), 0
        while got < want:
            if not self._buf:
                try:
                    self._buf = memoryview(bytes(next(self._it)))
                except StopIteration:
                    break
            n = min(want - got, len(self._buf))
            b[got : got + n] = self._buf[:n]
            self._buf = self._buf[n:]
            got += n
        return got


def _arrow_schema(spec: MatrixSpec, maxabs: dict[str, float | None]):
    import pyarrow as pa

    fields = [pa.field("officer_id", pa.string(), nullable=False), pa.field("as_of_date", pa.date32(), nullable=False)]
    for c in spec.feature_columns:
        m = maxabs.get(c)
        wide = m is not None and m > FLOAT32_EXACT_INT
        fields.append(pa.field(c, pa.float64() if wide else pa.float32()))
    fields.append(pa.field("label", pa.int8(), nullable=False))
    fields += [pa.field(PROTECTED_PREFIX + c, pa.string()) for c in spec.protected_columns]
    return pa.schema(fields)


def _write(conn, spec: MatrixSpec, schema, path: Path, progress: Progress, total: int) -> int:
    """COPY the rows as CSV, parse them block by block with pyarrow, write Parquet row groups."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    names = schema.names
    # parse types: floats as float64 (then cast), the label as int8, the rest as declared
    parse_types = {f.name: (pa.float64() if pa.types.is_floating(f.type) else f.type) for f in schema}
    query = "COPY (" + _select_sql(spec) + ") TO STDOUT WITH (FORMAT csv)"
    params = {"label": spec.label_name, "dates": spec.dates}
    bytes_per_row = 12 + 8 * len(spec.feature_columns)
    block = max(1 << 20, min(64 << 20, bytes_per_row * ROW_GROUP_ROWS))
    n = 0
    next_note = time.monotonic() + 5
    with conn.cursor() as cur, cur.copy(query, params) as cp:
        reader = pacsv.open_csv(
            _CopyStream(cp),
            read_options=pacsv.ReadOptions(column_names=names, block_size=block, use_threads=False),
            parse_options=pacsv.ParseOptions(newlines_in_values=False),
            convert_options=pacsv.ConvertOptions(
                column_types=parse_types, strings_can_be_null=True, quoted_strings_can_be_null=False
            ),
        )
        pending, pending_rows = [], 0
        with pq.ParquetWriter(path, schema, compression="zstd", write_statistics=["officer_id", "as_of_date"]) as w:

            def flush() -> None:
                nonlocal pending, pending_rows
                if pending:
                    w.write_table(pa.Table.from_batches(pending).cast(schema), row_group_size=ROW_GROUP_ROWS)
                    pending, pending_rows = [], 0

            for batch in reader:
                if batch.num_rows == 0:
                    continue
                pending.append(batch)
                pending_rows += batch.num_rows
                n += batch.num_rows
                if pending_rows >= ROW_GROUP_ROWS:
                    flush()
                if progress and time.monotonic() > next_note:
                    progress(f"    {n:,} / {total:,} rows")
                    next_note = time.monotonic() + 5
            flush()
    return n


def _meta_ok(meta: dict, mid: str, spec: MatrixSpec, parquet: Location) -> bool:
    if meta.get("matrix_id") != mid or meta.get("spec") != json.loads(canonical_json(spec.to_dict())):
        return False
    try:
        import pyarrow.parquet as pq

        path, fs = arrow_source(parquet)
        return pq.ParquetFile(path, filesystem=fs).metadata.num_rows == meta.get("n_rows")
    except Exception:  # noqa: BLE001 - unreadable file: rebuild it
        return False


def read_meta(mid: str, project_path: str | Path) -> dict:
    _, meta_path = matrix_paths(mid, project_path)
    try:
        return json.loads(read_bytes(meta_path))
    except FileNotFoundError:
        raise MatrixError(f"no matrix {mid} under {meta_path.parent}") from None


def build_matrix(spec: MatrixSpec, project_path: str | Path, progress: Progress = print, force: bool = False) -> dict:
    """Write ``<project>/matrices/<id>.parquet`` and ``<id>.json``; reuse them when they exist and match.

    Returns the metadata dict (``reused`` tells whether the files were there already).
    The spec's as-of dates must be in the marts (see :func:`ensure_features`).
    """
    from eis_core import db

    mid = matrix_id(spec)
    parquet, meta_path = matrix_paths(mid, project_path)
    if not force and parquet.exists() and meta_path.exists():
        try:
            meta = json.loads(read_bytes(meta_path))
        except ValueError:
            meta = {}
        if _meta_ok(meta, mid, spec, parquet):
            if progress:
                progress(f"  matrix {mid}: reused ({meta['n_rows']:,} rows, {meta['n_positive']:,} positive)")
            return {**meta, "reused": True}
    ensure_dir(parquet.parent)
    t0 = time.perf_counter()
    with db.connect() as conn:
        from eis_core.features.state import out_of_step_message

        if out_of_step := out_of_step_message(conn):  # marts of another load than raw (issue 17.8)
            raise MatrixError(out_of_step)
        present = set(mart_feature_columns(conn))
        missing = [c for c in spec.feature_columns if c not in present]
        if missing:
            raise MatrixError(
                f"features.officer_features lacks {len(missing)} column(s) of the spec, e.g. {missing[:5]}"
            )
        prof = _profile(conn, spec)
        absent = [d for d in spec.as_of_dates if d not in prof["rows_per_date"]]
        if absent:
            warnings.warn(
                f"matrix {mid}: no cohort row on as-of date(s) {absent} (not in the marts or an empty cohort)",
                stacklevel=2,
            )
        total = sum(prof["rows_per_date"].values())
        if total == 0:
            raise MatrixError(
                f"matrix {mid}: no cohort rows on any of its as-of dates {spec.as_of_dates}; build "
                "the features for them first (`eis features build --as-of-date …`)"
            )
        schema = _arrow_schema(spec, prof["maxabs"])
        if progress:
            progress(
                f"  matrix {mid}: {len(spec.as_of_dates)} as-of date(s), {total:,} rows x "
                f"{len(spec.feature_columns)} features ..."
            )
        with atomic_write(parquet) as tmp:  # published only when complete
            n = _write(conn, spec, schema, tmp, progress, total)
            if n != total:
                raise MatrixError(f"matrix {mid}: wrote {n} rows, expected {total} (did the marts change meanwhile?)")
            size = tmp.stat().st_size
    wide = [f.name for f in schema if f.name in set(spec.feature_columns) and str(f.type) == "double"]
    meta = {
        "matrix_id": mid,
        "spec": json.loads(canonical_json(spec.to_dict())),
        "as_of_dates": list(spec.as_of_dates),
        "label_name": spec.label_name,
        "label_window": spec.label_window,
        "n_rows": total,
        "n_positive": sum(prof["positives_per_date"].values()),
        "n_features": len(spec.feature_columns),
        "rows_per_date": prof["rows_per_date"],
        "positives_per_date": prof["positives_per_date"],
        "feature_columns": list(spec.feature_columns),
        "columns": schema.names,
        "float64_features": wide,
        "path": str(parquet),
        "bytes": size,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "build_seconds": round(time.perf_counter() - t0, 3),
    }
    write_bytes(meta_path, json.dumps(meta, indent=1).encode("utf-8"))
    if progress:
        progress(
            f"  matrix {mid}: built {total:,} rows ({meta['n_positive']:,} positive), "
            f"{meta['bytes'] / 2**20:.1f} MB in {meta['build_seconds']:.1f} s"
        )
    return {**meta, "reused": False}


def load_matrix(mid: str, project_path: str | Path, columns: list[str] | None = None):
    """``(X, y, meta, index)``: the feature DataFrame, the label Series (int8, name ``label``), the metadata
    and a DataFrame of ``officer_id``, ``as_of_date`` and the ``_protected_*`` columns (same row order).

    *columns* reads only these feature columns.
    """
    import pyarrow.parquet as pq

    parquet, _ = matrix_paths(mid, project_path)
    meta = read_meta(mid, project_path)
    feats = list(meta["feature_columns"]) if columns is None else list(columns)
    side = ["officer_id", "as_of_date", "label"] + [c for c in meta["columns"] if c.startswith(PROTECTED_PREFIX)]
    try:
        path, fs = arrow_source(parquet)
        table = pq.read_table(path, columns=side + feats, filesystem=fs)
    except FileNotFoundError:
        raise MatrixError(f"matrix {mid}: {parquet} is missing") from None
    import pandas as pd

    index = table.select([c for c in side if c != "label"]).to_pandas(date_as_object=True)
    y = pd.Series(table.column("label").to_numpy(), name="label", dtype="int8")
    table = table.select(feats)
    X = table.to_pandas(self_destruct=True)
    del table
    return X, y, meta, index


# ----------------------------------------------------------------------------------------- splits


def record_matrix_meta(meta: dict, kind: str, split_id: str | None) -> None:
    """Record a built matrix in ``results.matrices``."""
    try:
        from eis_core.modeling.results import record_matrix
    except ImportError:  # pragma: no cover - the results module ships with the modeling package
        warnings.warn(
            "eis_core.modeling.results is not available: matrix not recorded in results.matrices", stacklevel=3
        )
        return
    record_matrix({**{k: v for k, v in meta.items() if k != "reused"}, "kind": kind, "split_id": split_id})


def build_split_matrices(
    split,
    officer_cfg: OfficerConfig,
    labels_cfg: LabelsConfig,
    project_path: str | Path,
    progress: Progress = print,
    feature_columns: list[str] | None = None,
    ensure: bool = True,
) -> tuple[dict, dict]:
    """Build (or reuse) the train and test matrices of one :class:`~eis_core.modeling.splits.Split`;
    records both in results.matrices and returns ``(train_meta, test_meta)``."""
    from eis_core import db

    if ensure:
        ensure_features(list(split.train_as_of_dates) + list(split.test_as_of_dates), officer_cfg, labels_cfg, progress)
    with db.connect() as conn:
        cols = feature_columns if feature_columns is not None else default_feature_columns(conn, officer_cfg)
        train_spec = make_spec(split.train_as_of_dates, officer_cfg, labels_cfg, split.label_window, cols, conn)
        test_spec = make_spec(split.test_as_of_dates, officer_cfg, labels_cfg, split.label_window, cols, conn)
    if progress:
        progress(
            f"{split.split_id}: train {len(split.train_as_of_dates)} as-of date(s), test {len(split.test_as_of_dates)}"
        )
    train_meta = build_matrix(train_spec, project_path, progress)
    test_meta = build_matrix(test_spec, project_path, progress)
    record_matrix_meta(train_meta, "train", split.split_id)
    record_matrix_meta(test_meta, "test", split.split_id)
    return train_meta, test_meta


def list_matrices(project_path: str | Path) -> list[dict]:
    """Metadata of every matrix under ``<project>/matrices``, newest first."""
    d = project_dir(project_path) / "matrices"
    out = []
    for p in sorted(d.glob("*.json")) if d.exists() else []:
        try:
            out.append(json.loads(read_bytes(p)))
        except ValueError:
            continue
    return sorted(out, key=lambda m: m.get("created_at", ""), reverse=True)


__all__ = [
    "build_matrix",
    "build_split_matrices",
    "list_matrices",
    "load_matrix",
    "matrix_paths",
    "project_dir",
    "read_meta",
    "record_matrix_meta",
]
