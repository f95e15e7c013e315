"""Matrix specs and ids: what a matrix is (as-of dates, label, feature columns, cohort, data version) and
the warehouse reads that define it.  Building and reading the Parquet files is in
:mod:`eis_core.modeling.matrix_io`; :mod:`eis_core.modeling.matrices` re-exports both (see its doc).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import date
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
FLOAT32_EXACT_INT = 2**24
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
        return cls(
            as_of_dates=tuple(d["as_of_dates"]),
            label_name=d["label_name"],
            label_window=d.get("label_window", d.get("label_timespan")),
            feature_columns=tuple(d["feature_columns"]),
            cohort=dict(d.get("cohort") or {}),
            protected_columns=tuple(d.get("protected_columns") or ()),
            data_version=dict(d.get("data_version") or {}),
            label_definition=dict(d.get("label_definition") or {}),
            legacy_rules=tuple(d.get("legacy_rules") or ()),
        )

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
        rows = conn.execute(
            "SELECT table_name, max(load_id) FROM raw.load_log WHERE status = ANY(%s) "
            "GROUP BY table_name ORDER BY table_name",
            (list(DATA_CHANGING),),
        ).fetchall()
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
        "AND table_name = 'officer_features' ORDER BY ordinal_position"
    ).fetchall()
    return [r[0] for r in rows if r[0] not in KEY_COLUMNS]


def default_feature_columns(conn, officer_cfg: OfficerConfig) -> list[str]:
    """The default feature list: the mart's columns, without the protected one-hots (``prot_*``) unless
    ``protected_attributes_as_features``; checks that the mart matches the config where it can tell."""
    cols = mart_feature_columns(conn)
    if not cols:
        raise MatrixError(
            "features.officer_features does not exist or has no feature column: build it with `eis features build`"
        )
    prot = [c for c in cols if c.startswith("prot_")]
    if officer_cfg.protected_attributes_as_features:
        if not prot:
            raise MatrixError(
                "protected_attributes_as_features is true but features.officer_features has no "
                "prot_* column: rebuild it with `eis features build --full-refresh`"
            )
    else:
        cols = [c for c in cols if not c.startswith("prot_")]
    if officer_cfg.feature_blocks.get("legacy_rules", True):
        want = [f"leg_{r.name}_flag" for r in officer_cfg.legacy_rules]
        missing = [c for c in want if c not in cols]
        if missing and any(c.startswith("leg_") for c in cols):
            raise MatrixError(
                f"features.officer_features lacks {missing}: it was built with other legacy_rules; "
                "rebuild it with `eis features build --full-refresh`"
            )
    return cols


def dates_present(conn, dates: list[date], label_name: str) -> set[date]:
    """As-of dates for which both the features and the label *label_name* exist."""
    if not (_relation_exists(conn, "features.officer_features") and _relation_exists(conn, "labels.officer_labels")):
        return set()
    f = {
        r[0]
        for r in conn.execute(
            "SELECT DISTINCT as_of_date FROM features.officer_features WHERE as_of_date = ANY(%s)", (dates,)
        )
    }
    lab = {
        r[0]
        for r in conn.execute(
            "SELECT DISTINCT as_of_date FROM labels.officer_labels WHERE as_of_date = ANY(%s) AND label_name = %s",
            (dates, label_name),
        )
    }
    return f & lab


def ensure_features(
    dates: Iterable[date], officer_cfg: OfficerConfig, labels_cfg: LabelsConfig, progress: Progress = print
) -> list[date]:
    """Build the marts for the *dates* they lack; returns the dates built (:func:`eis_core.features.ensure_marts`)."""
    from eis_core.features import ensure_marts

    return ensure_marts(dates, officer_cfg, labels_cfg, progress)


def make_spec(
    as_of_dates: Iterable[date],
    officer_cfg: OfficerConfig,
    labels_cfg: LabelsConfig,
    label_window: Duration | str | None = None,
    feature_columns: list[str] | None = None,
    conn=None,
) -> MatrixSpec:
    """The spec of a matrix on *as_of_dates* for these configs and the warehouse's current data."""
    from eis_core import db

    tc = officer_cfg.temporal_config
    span = Duration.parse(
        label_window if label_window is not None else (tc.label_window if tc else labels_cfg.label_windows[0])
    )
    if span.name not in {w.name for w in labels_cfg.label_windows}:
        raise MatrixError(
            f"label_window {span} is not one of the labels config's label_windows "
            f"{[str(w) for w in labels_cfg.label_windows]}"
        )
    with db.connection(conn) as c:
        cols = list(feature_columns) if feature_columns is not None else default_feature_columns(c, officer_cfg)
        version = data_version(c)
    return MatrixSpec(
        as_of_dates=tuple(sorted({d.isoformat() for d in as_of_dates})),
        label_name=label_name_for(span),
        label_window=span.text,
        feature_columns=tuple(cols),
        cohort=officer_cfg.cohort.model_dump(mode="json"),
        protected_columns=PROTECTED_COLUMNS,
        data_version=version,
        label_definition={"adverse_events": {k: sorted(v) for k, v in sorted(labels_cfg.adverse_events.items())}},
        legacy_rules=tuple(canonical_json(r.model_dump(mode="json")) for r in officer_cfg.legacy_rules),
    )
