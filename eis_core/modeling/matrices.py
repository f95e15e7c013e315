"""Train and test matrices: one Parquet file per matrix *definition*, built from the feature and label marts.

A matrix is defined by a :class:`MatrixSpec` (as-of dates, label, feature columns, cohort rules, protected
columns and the data version) and named by the content hash of that definition::

    matrix_id = sha256(canonical JSON of the spec)[:16]

``data_version`` is, for every raw table, the id of the latest load that *changed* it (``raw.load_log``
rows with status ``loaded`` or ``loaded_with_quarantine``; an ``unchanged`` reload of the same file
does not change the data, so it does not change the version).  A new load therefore means new matrix
ids, and a matrix whose id exists already is reused, not rebuilt.

Files: ``<project_path>/matrices/<matrix_id>.parquet`` and ``<matrix_id>.json`` (metadata: the spec,
rows, positives, columns, dtypes, timings).  Columns, in order:

* ``officer_id`` (string), ``as_of_date`` (date32);
* the feature columns: ``float32`` unless a column's largest absolute value in the matrix exceeds
  2**24 (16,777,216), in which case ``float64`` (integers below 2**24 are exact in float32, any other
  value is rounded with a relative error below 6e-8; scikit-learn's tree ensembles work in float32
  anyway);
* ``label`` (int8, 0/1: ``labels.officer_labels.label`` of the spec's label);
* ``_protected_race``, ``_protected_sex`` (strings from ``features.officer_protected``): NOT features;
  :func:`load_matrix` returns them in ``index`` (bias audits, the simple logistic baseline).

Legacy threshold rules are ordinary feature columns of the mart (``leg_<rule>_cases`` and
``leg_<rule>_flag``).

Reading is bounded in memory: the rows come from PostgreSQL through ``COPY (SELECT …) TO STDOUT`` in
CSV, parsed by pyarrow's streaming CSV reader block by block and written to Parquet one row group at a
time, so a matrix never needs to fit in memory as Python objects (only its row groups do).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from eis_core.config import Duration, LabelsConfig, OfficerConfig

#: data columns of officer_features that are not features
KEY_COLUMNS = ("officer_id", "as_of_date")
#: protected attributes read from features.officer_protected, stored with this prefix
PROTECTED_COLUMNS = ("race", "sex")
PROTECTED_PREFIX = "_protected_"
#: rows per Parquet row group (also the COPY/CSV parsing granularity, roughly)
ROW_GROUP_ROWS = 20_000
#: float32 keeps integers exact up to this magnitude
FLOAT32_EXACT_INT = 2 ** 24
#: statuses of raw.load_log that changed a table's data
DATA_CHANGING = ("loaded", "loaded_with_quarantine")

Progress = Callable[[str], object] | None


class MatrixError(RuntimeError):
    """A matrix cannot be built (marts missing or inconsistent with the config) or read."""


# ----------------------------------------------------------------------------------------- spec

@dataclass(frozen=True)
class MatrixSpec:
    """The definition of a matrix; its canonical JSON's sha256 is the matrix id."""

    as_of_dates: tuple[str, ...]
    label_name: str
    label_window: str
    feature_columns: tuple[str, ...]
    cohort: dict = field(default_factory=dict)
    protected_columns: tuple[str, ...] = PROTECTED_COLUMNS
    data_version: dict = field(default_factory=dict)
    #: what the label and the legacy-rule columns mean (same names, other definitions = another matrix)
    label_definition: dict = field(default_factory=dict)
    legacy_rules: tuple = ()

    def to_dict(self) -> dict:
        d = asdict(self)
        for k in ("as_of_dates", "feature_columns", "protected_columns", "legacy_rules"):
            d[k] = list(d[k])
        return d

    @classmethod
    def from_dict(cls, d: dict) -> MatrixSpec:
        return cls(as_of_dates=tuple(d["as_of_dates"]), label_name=d["label_name"],
                   label_window=d.get("label_window", d.get("label_timespan")), feature_columns=tuple(d["feature_columns"]),
                   cohort=dict(d.get("cohort") or {}), protected_columns=tuple(d.get("protected_columns") or ()),
                   data_version=dict(d.get("data_version") or {}),
                   label_definition=dict(d.get("label_definition") or {}),
                   legacy_rules=tuple(d.get("legacy_rules") or ()))

    @property
    def dates(self) -> list[date]:
        return [date.fromisoformat(x) for x in self.as_of_dates]


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)


def matrix_id(spec: MatrixSpec) -> str:
    """sha256 of the canonical JSON of the spec, first 16 hex digits."""
    return hashlib.sha256(canonical_json(spec.to_dict()).encode()).hexdigest()[:16]


def label_name_for(label_window: Duration | str) -> str:
    """``labels.officer_labels.label_name`` of a label window: ``adverse_<short name>`` (adverse_1y)."""
    return f"adverse_{Duration.parse(label_window).name}"


# ----------------------------------------------------------------------------------------- warehouse reads

def data_version(conn) -> dict[str, int]:
    """{raw table: id of the latest load that changed it} from raw.load_log."""
    try:
        rows = conn.execute("SELECT table_name, max(load_id) FROM raw.load_log WHERE status = ANY(%s) "
                            "GROUP BY table_name ORDER BY table_name", (list(DATA_CHANGING),)).fetchall()
    except Exception as exc:  # noqa: BLE001 - no raw schema yet
        conn.rollback()
        raise MatrixError(f"cannot read raw.load_log ({exc}); load a drop first (`eis load DROP`)") from None
    if not rows:
        raise MatrixError("raw.load_log has no accepted load: load a drop first (`eis load DROP`)")
    return {t: int(i) for t, i in rows}


def _relation_exists(conn, qualified: str) -> bool:
    return conn.execute("SELECT to_regclass(%s) IS NOT NULL", (qualified,)).fetchone()[0]


def mart_feature_columns(conn) -> list[str]:
    """Every column of features.officer_features except officer_id/as_of_date, in table order."""
    rows = conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'features' "
        "AND table_name = 'officer_features' ORDER BY ordinal_position").fetchall()
    return [r[0] for r in rows if r[0] not in KEY_COLUMNS]


def default_feature_columns(conn, officer_cfg: OfficerConfig) -> list[str]:
    """The default feature list: the mart's columns, without the protected one-hots (``prot_*``) unless
    ``protected_attributes_as_features``; checks that the mart matches the config where it can tell."""
    cols = mart_feature_columns(conn)
    if not cols:
        raise MatrixError("features.officer_features does not exist or has no feature column: "
                          "build it with `eis features build`")
    prot = [c for c in cols if c.startswith("prot_")]
    if officer_cfg.protected_attributes_as_features:
        if not prot:
            raise MatrixError("protected_attributes_as_features is true but features.officer_features has no "
                              "prot_* column: rebuild it with `eis features build --full-refresh`")
    else:
        cols = [c for c in cols if not c.startswith("prot_")]
    if officer_cfg.feature_blocks.get("legacy_rules", True):
        want = [f"leg_{r.name}_flag" for r in officer_cfg.legacy_rules]
        missing = [c for c in want if c not in cols]
        if missing and any(c.startswith("leg_") for c in cols):
            raise MatrixError(f"features.officer_features lacks {missing}: it was built with other legacy_rules; "
                              "rebuild it with `eis features build --full-refresh`")
    return cols


def dates_present(conn, dates: list[date], label_name: str) -> set[date]:
    """As-of dates for which both the features and the label *label_name* exist."""
    if not (_relation_exists(conn, "features.officer_features") and _relation_exists(conn, "labels.officer_labels")):
        return set()
    f = {r[0] for r in conn.execute("SELECT DISTINCT as_of_date FROM features.officer_features "
                                    "WHERE as_of_date = ANY(%s)", (dates,))}
    lab = {r[0] for r in conn.execute("SELECT DISTINCT as_of_date FROM labels.officer_labels "
                                      "WHERE as_of_date = ANY(%s) AND label_name = %s", (dates, label_name))}
    return f & lab


def ensure_features(dates: Iterable[date], officer_cfg: OfficerConfig, labels_cfg: LabelsConfig,
                    progress: Progress = print) -> list[date]:
    """Build the marts for the *dates* they lack; returns the dates built (:func:`eis_core.features.ensure_marts`)."""
    from eis_core.features import ensure_marts

    return ensure_marts(dates, officer_cfg, labels_cfg, progress)


def make_spec(as_of_dates: Iterable[date], officer_cfg: OfficerConfig, labels_cfg: LabelsConfig,
              label_window: Duration | str | None = None, feature_columns: list[str] | None = None,
              conn=None) -> MatrixSpec:
    """The spec of a matrix on *as_of_dates* for these configs and the warehouse's current data."""
    from eis_core import db

    tc = officer_cfg.temporal_config
    span = Duration.parse(label_window if label_window is not None else
                          (tc.label_window if tc else labels_cfg.label_windows[0]))
    if span.name not in {w.name for w in labels_cfg.label_windows}:
        raise MatrixError(f"label_window {span} is not one of the labels config's label_windows "
                          f"{[str(w) for w in labels_cfg.label_windows]}")
    with db.connection(conn) as c:
        cols = list(feature_columns) if feature_columns is not None else default_feature_columns(c, officer_cfg)
        version = data_version(c)
    return MatrixSpec(
        as_of_dates=tuple(sorted({d.isoformat() for d in as_of_dates})),
        label_name=label_name_for(span), label_window=span.text, feature_columns=tuple(cols),
        cohort=officer_cfg.cohort.model_dump(mode="json"), protected_columns=PROTECTED_COLUMNS,
        data_version=version,
        label_definition={"adverse_events": {k: sorted(v) for k, v in sorted(labels_cfg.adverse_events.items())}},
        legacy_rules=tuple(canonical_json(r.model_dump(mode="json")) for r in officer_cfg.legacy_rules))


# ----------------------------------------------------------------------------------------- build

def project_dir(project_path: str | Path | OfficerConfig) -> Path:
    """``project_path`` of the config (or a path): relative paths are relative to $EIS_HOME."""
    from eis_core.paths import eis_home

    p = Path(project_path.project_path if isinstance(project_path, OfficerConfig) else project_path)
    return p if p.is_absolute() else eis_home() / p


def matrix_paths(mid: str, project_path: str | Path) -> tuple[Path, Path]:
    d = project_dir(project_path) / "matrices"
    return d / f"{mid}.parquet", d / f"{mid}.json"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _select_sql(spec: MatrixSpec) -> str:
    feats = ", ".join(f"f.{_ident(c)}" for c in spec.feature_columns)
    prot = ", ".join(f"p.{_ident(c)} AS {_ident(PROTECTED_PREFIX + c)}" for c in spec.protected_columns)
    return (f"SELECT f.officer_id, f.as_of_date{', ' + feats if feats else ''}, l.label"
            f"{', ' + prot if prot else ''} "
            "FROM features.officer_features f "
            "JOIN labels.officer_labels l ON l.officer_id = f.officer_id AND l.as_of_date = f.as_of_date "
            "AND l.label_name = %(label)s "
            "LEFT JOIN features.officer_protected p ON p.officer_id = f.officer_id AND p.as_of_date = f.as_of_date "
            "WHERE f.as_of_date = ANY(%(dates)s::date[]) ORDER BY f.as_of_date, f.officer_id")


def _profile(conn, spec: MatrixSpec) -> dict:
    """One aggregate pass: rows and positives per as-of date, max |x| per feature column."""
    per_date = conn.execute(
        "SELECT f.as_of_date, count(*), count(l.label), coalesce(sum(l.label), 0) "
        "FROM features.officer_features f LEFT JOIN labels.officer_labels l ON l.officer_id = f.officer_id "
        "AND l.as_of_date = f.as_of_date AND l.label_name = %(label)s "
        "WHERE f.as_of_date = ANY(%(dates)s::date[]) GROUP BY 1 ORDER BY 1",
        {"label": spec.label_name, "dates": spec.dates}).fetchall()
    unlabelled = {d.isoformat(): n - nl for d, n, nl, _ in per_date if n != nl}
    if unlabelled:
        raise MatrixError(f"labels.officer_labels lacks {spec.label_name} for cohort rows {unlabelled}: "
                          "the label and feature marts are out of step; rebuild them with `eis features build`")
    maxabs: dict[str, float] = {}
    cols = list(spec.feature_columns)
    for i in range(0, len(cols), 400):  # PostgreSQL allows 1,664 target columns
        part = cols[i:i + 400]
        row = conn.execute(
            "SELECT " + ", ".join(f"max(abs({_ident(c)}))" for c in part)
            + " FROM features.officer_features WHERE as_of_date = ANY(%(dates)s::date[])",
            {"dates": spec.dates}).fetchone()
        maxabs.update({c: (None if v is None else float(v)) for c, v in zip(part, row)})
    return {"rows_per_date": {d.isoformat(): int(n) for d, n, _, _ in per_date},
            "positives_per_date": {d.isoformat(): int(p) for d, _, _, p in per_date},
            "maxabs": maxabs}


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
            b[got:got + n] = self._buf[:n]
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
            convert_options=pacsv.ConvertOptions(column_types=parse_types, strings_can_be_null=True,
                                                 quoted_strings_can_be_null=False))
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


def _meta_ok(meta: dict, mid: str, spec: MatrixSpec, parquet: Path) -> bool:
    if meta.get("matrix_id") != mid or meta.get("spec") != json.loads(canonical_json(spec.to_dict())):
        return False
    try:
        import pyarrow.parquet as pq

        return pq.ParquetFile(parquet).metadata.num_rows == meta.get("n_rows")
    except Exception:  # noqa: BLE001 - unreadable file: rebuild it
        return False


def read_meta(mid: str, project_path: str | Path) -> dict:
    _, meta_path = matrix_paths(mid, project_path)
    try:
        return json.loads(meta_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MatrixError(f"no matrix {mid} under {meta_path.parent}") from None


def build_matrix(spec: MatrixSpec, project_path: str | Path, progress: Progress = print,
                 force: bool = False) -> dict:
    """Write ``<project>/matrices/<id>.parquet`` and ``<id>.json``; reuse them when they exist and match.

    Returns the metadata dict (``reused`` tells whether the files were there already).
    The spec's as-of dates must be in the marts (see :func:`ensure_features`).
    """
    from eis_core import db

    mid = matrix_id(spec)
    parquet, meta_path = matrix_paths(mid, project_path)
    if not force and parquet.exists() and meta_path.exists():
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except ValueError:
            meta = {}
        if _meta_ok(meta, mid, spec, parquet):
            if progress:
                progress(f"  matrix {mid}: reused ({meta['n_rows']:,} rows, {meta['n_positive']:,} positive)")
            return {**meta, "reused": True}
    parquet.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with db.connect() as conn:
        from eis_core.features.state import out_of_step_message

        if out_of_step := out_of_step_message(conn):  # marts of another load than raw (issue 17.8)
            raise MatrixError(out_of_step)
        present = set(mart_feature_columns(conn))
        missing = [c for c in spec.feature_columns if c not in present]
        if missing:
            raise MatrixError(f"features.officer_features lacks {len(missing)} column(s) of the spec, e.g. {missing[:5]}")
        prof = _profile(conn, spec)
        absent = [d for d in spec.as_of_dates if d not in prof["rows_per_date"]]
        if absent:
            warnings.warn(f"matrix {mid}: no cohort row on as-of date(s) {absent} (not in the marts or an empty "
                          "cohort)", stacklevel=2)
        total = sum(prof["rows_per_date"].values())
        if total == 0:
            raise MatrixError(f"matrix {mid}: no cohort rows on any of its as-of dates {spec.as_of_dates}; build "
                              "the features for them first (`eis features build --as-of-date …`)")
        schema = _arrow_schema(spec, prof["maxabs"])
        if progress:
            progress(f"  matrix {mid}: {len(spec.as_of_dates)} as-of date(s), {total:,} rows x "
                     f"{len(spec.feature_columns)} features ...")
        tmp = parquet.with_name(f".{parquet.name}.{os.getpid()}.tmp")
        try:
            n = _write(conn, spec, schema, tmp, progress, total)
            if n != total:
                raise MatrixError(f"matrix {mid}: wrote {n} rows, expected {total} (did the marts change meanwhile?)")
            os.replace(tmp, parquet)
        finally:
            tmp.unlink(missing_ok=True)
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
        "bytes": parquet.stat().st_size,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "build_seconds": round(time.perf_counter() - t0, 3),
    }
    tmp_meta = meta_path.with_name(f".{meta_path.name}.{os.getpid()}.tmp")
    tmp_meta.write_text(json.dumps(meta, indent=1), encoding="utf-8")
    os.replace(tmp_meta, meta_path)
    if progress:
        progress(f"  matrix {mid}: built {total:,} rows ({meta['n_positive']:,} positive), "
                 f"{meta['bytes'] / 2**20:.1f} MB in {meta['build_seconds']:.1f} s")
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
        table = pq.read_table(parquet, columns=side + feats)
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

def _record(meta: dict, kind: str, split_id: str | None) -> None:
    try:
        from eis_core.modeling.results import record_matrix
    except ImportError:  # pragma: no cover - the results module ships with the modeling package
        warnings.warn("eis_core.modeling.results is not available: matrix not recorded in results.matrices",
                      stacklevel=3)
        return
    record_matrix({**{k: v for k, v in meta.items() if k != "reused"}, "kind": kind, "split_id": split_id})


def build_split_matrices(split, officer_cfg: OfficerConfig, labels_cfg: LabelsConfig, project_path: str | Path,
                         progress: Progress = print, feature_columns: list[str] | None = None,
                         ensure: bool = True) -> tuple[dict, dict]:
    """Build (or reuse) the train and test matrices of one :class:`~eis_core.modeling.splits.Split`;
    records both in results.matrices and returns ``(train_meta, test_meta)``."""
    from eis_core import db

    if ensure:
        ensure_features(list(split.train_as_of_dates) + list(split.test_as_of_dates), officer_cfg, labels_cfg,
                        progress)
    with db.connect() as conn:
        cols = feature_columns if feature_columns is not None else default_feature_columns(conn, officer_cfg)
        train_spec = make_spec(split.train_as_of_dates, officer_cfg, labels_cfg, split.label_window, cols, conn)
        test_spec = make_spec(split.test_as_of_dates, officer_cfg, labels_cfg, split.label_window, cols, conn)
    if progress:
        progress(f"{split.split_id}: train {len(split.train_as_of_dates)} as-of date(s), "
                 f"test {len(split.test_as_of_dates)}")
    train_meta = build_matrix(train_spec, project_path, progress)
    test_meta = build_matrix(test_spec, project_path, progress)
    _record(train_meta, "train", split.split_id)
    _record(test_meta, "test", split.split_id)
    return train_meta, test_meta


def list_matrices(project_path: str | Path) -> list[dict]:
    """Metadata of every matrix under ``<project>/matrices``, newest first."""
    d = project_dir(project_path) / "matrices"
    out = []
    for p in sorted(d.glob("*.json")) if d.exists() else []:
        try:
            out.append(json.loads(p.read_text(encoding="utf-8")))
        except ValueError:
            continue
    return sorted(out, key=lambda m: m.get("created_at", ""), reverse=True)


__all__ = ["MatrixError", "MatrixSpec", "build_matrix", "build_split_matrices", "data_version",
           "default_feature_columns", "ensure_features", "label_name_for", "list_matrices", "load_matrix",
           "make_spec", "matrix_id", "matrix_paths", "project_dir", "read_meta"]
