"""The model registry: joblib artifacts under ``<artifact root>/models/severity/`` and rows in ``severity.models``.

The files go through the artifact store (:mod:`eis_core.artifacts`): written atomically with a sha256 +
library-versions record beside them, verified before they are unpickled; the registry row keeps the
sha256 too, so a file replaced together with its record is still refused.

An artifact is a dictionary ``{"format": "eis-severity-model", "format_version": 1, "pipeline": ...,
"metadata": {...}}``; the metadata repeats what the registry row says (version, training window, data
hash, library versions, metrics) and adds the feature list, the training window's reference
distributions (for drift) and reference rows (to check the fast scorer).

:func:`load_model` refuses - with a message saying why and what to do - an unknown version, a missing
file, a file whose sha256 differs from the one registered (checked *before* unpickling), an artifact of
another format, feature version, model version or data hash, one trained with another scikit-learn
minor version, or one whose fast scorer does not reproduce the pipeline.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from eis_core.artifacts.models import ArtifactError, library_versions  # noqa: F401 - re-exported (train)
from eis_core.artifacts.storage import Location, artifact_root, location
from eis_core.severity import SEVERITIES
from eis_core.severity.features import FEATURE_VERSION, FEATURES

if TYPE_CHECKING:
    from eis_core.severity.model import FastScorer

FORMAT = "eis-severity-model"
FORMAT_VERSION = 1
#: the kind recorded in the artifact store's sidecar
ARTIFACT_KIND = "severity-model"


class IncompatibleModelError(RuntimeError):
    """The artifact cannot be used by this code / environment (the message says why)."""


def models_dir() -> Location:
    """``<artifact root>/models/severity`` (``EIS_ARTIFACT_ROOT``, default ``$EIS_HOME``)."""
    return artifact_root() / "models" / "severity"


def _minor(v: str) -> str:
    return ".".join(str(v).split(".")[:2])


@dataclass
class LoadedModel:
    version: str
    pipeline: Any  # the fitted scikit-learn Pipeline
    metadata: dict
    status: str
    scorer: FastScorer = field(repr=False)

    def predict_one(self, row: dict) -> tuple[str, dict[str, float]]:
        p = self.scorer.proba(row)
        best = max(p, key=lambda c: p[c])
        return best, {c: p[c] for c in SEVERITIES}


def make_version(train_end, data_hash: str, params: dict) -> str:
    digest = hashlib.sha256((data_hash + json.dumps(params, sort_keys=True, default=str)).encode()).hexdigest()
    return f"sev-{dt.date.fromisoformat(str(train_end)[:10]):%Y%m%d}-{digest[:8]}"


def save_model(pipeline, metadata: dict, status: str = "challenger", conn=None) -> dict:
    """Write the artifact and register it (idempotent: an existing version is returned unchanged)."""
    from eis_core import db
    from eis_core.artifacts.models import save_model as store_model
    from eis_core.severity.store import ensure_severity_schema

    if status not in ("champion", "challenger", "retired"):
        raise ValueError(f"status must be champion, challenger or retired, got {status!r}")
    version = metadata["version"]
    with db.connection(conn) as c:
        ensure_severity_schema(c)
        row = c.execute(
            "SELECT version, status, artifact_path FROM severity.models WHERE version = %s", (version,)
        ).fetchone()
        if row:
            return {"version": row[0], "status": row[1], "artifact_path": row[2], "created": False}
        path = models_dir() / f"{version}.joblib"
        sha = store_model(
            {"format": FORMAT, "format_version": FORMAT_VERSION, "pipeline": pipeline, "metadata": metadata},
            path,
            kind=ARTIFACT_KIND,
            compress=3,
            extra={"version": version},
        )["sha256"]
        if status == "champion":
            c.execute("UPDATE severity.models SET status = 'retired' WHERE status = 'champion'")
        c.execute(
            "INSERT INTO severity.models (version, train_start, train_end, data_hash, library_versions, metrics, "
            "artifact_path, status, artifact_sha256, feature_version, n_train, params) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                version,
                metadata["train_start"],
                metadata["train_end"],
                metadata["data_hash"],
                json.dumps(metadata["library_versions"]),
                json.dumps(metadata["metrics"]),
                str(path),
                status,
                sha,
                metadata["feature_version"],
                metadata["n_train"],
                json.dumps(metadata.get("params", {})),
            ),
        )
        return {"version": version, "status": status, "artifact_path": str(path), "created": True}


def registry_row(version: str, conn) -> dict | None:
    cur = conn.execute(
        "SELECT version, status, artifact_path, artifact_sha256, data_hash, train_start, train_end, "
        "metrics, library_versions, created_at FROM severity.models WHERE version = %s",
        (version,),
    )
    row = cur.fetchone()
    if row is None:
        return None
    return dict(zip([d.name for d in cur.description], row))


def champion_version(conn) -> str | None:
    row = conn.execute("SELECT version FROM severity.models WHERE status = 'champion'").fetchone()
    return row[0] if row else None


def list_models(conn) -> list[dict]:
    cur = conn.execute(
        "SELECT version, status, created_at, train_start, train_end, n_train, "
        "metrics->'model'->>'macro_f1' AS macro_f1 FROM severity.models ORDER BY created_at, version"
    )
    cols = [d.name for d in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]


def check_artifact(obj, row: dict) -> None:
    """Raise IncompatibleModelError unless the unpickled artifact *obj* matches registry *row* and this code."""
    version = row["version"]
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise IncompatibleModelError(f"model {version}: {row['artifact_path']} is not an EIS severity model artifact")
    if obj.get("format_version") != FORMAT_VERSION:
        raise IncompatibleModelError(
            f"model {version}: artifact format {obj.get('format_version')} is not supported "
            f"(this code reads format {FORMAT_VERSION}); retrain with `eis severity train`"
        )
    meta = obj.get("metadata") or {}
    if meta.get("version") != version:
        raise IncompatibleModelError(f"model {version}: the artifact says it is version {meta.get('version')!r}")
    if meta.get("data_hash") != row["data_hash"]:
        raise IncompatibleModelError(f"model {version}: the artifact's data hash differs from the registry's")
    if meta.get("feature_version") != FEATURE_VERSION or list(meta.get("features") or []) != FEATURES:
        raise IncompatibleModelError(
            f"model {version}: built for feature version {meta.get('feature_version')}, this code computes feature "
            f"version {FEATURE_VERSION}; retrain with `eis severity train`"
        )
    import sklearn

    trained = (meta.get("library_versions") or {}).get("scikit-learn", "?")
    if _minor(trained) != _minor(sklearn.__version__):
        raise IncompatibleModelError(
            f"model {version}: trained with scikit-learn {trained}, this environment has {sklearn.__version__} "
            "(pickles are only safe within one minor version); retrain with `eis severity train`"
        )
    pipe = obj.get("pipeline")
    classes = sorted(str(c) for c in getattr(pipe, "classes_", []))
    if classes != sorted(SEVERITIES) or not hasattr(pipe, "predict_proba"):
        raise IncompatibleModelError(f"model {version}: the pipeline predicts {classes}, expected {sorted(SEVERITIES)}")


def load_model(version: str | None = None, conn=None) -> LoadedModel:
    """Load *version* (default: the champion) after checking it against the registry and this code."""
    import pandas as pd

    from eis_core import db
    from eis_core.artifacts.models import load_model as load_artifact
    from eis_core.severity.model import FastScorer
    from eis_core.severity.store import ensure_severity_schema

    with db.connection(conn) as c:
        ensure_severity_schema(c)
        if version is None:
            version = champion_version(c)
            if version is None:
                raise LookupError("no champion severity model in the registry: train one with `eis severity train`")
        row = registry_row(version, c)
    if row is None:
        raise LookupError(f"unknown severity model version {version!r} (`eis severity status` lists the registry)")
    path = location(row["artifact_path"])
    if not path.exists():
        raise IncompatibleModelError(f"model {version}: artifact {path} is missing")
    try:  # sha256 against the registry and the sidecar, library versions - before unpickling
        obj = load_artifact(path, expected_sha256=row["artifact_sha256"], kind=ARTIFACT_KIND)
    except ArtifactError as e:
        raise IncompatibleModelError(f"model {version}: {e}") from None
    check_artifact(obj, row)
    pipe = obj["pipeline"]
    try:
        scorer = FastScorer(pipe)
        scorer.check(pipe, pd.DataFrame(obj["metadata"]["check_rows"]))
    except (KeyError, AttributeError, ValueError) as e:
        raise IncompatibleModelError(f"model {version}: the pipeline has an unexpected structure ({e})") from e
    return LoadedModel(version=version, pipeline=pipe, metadata=obj["metadata"], status=row["status"], scorer=scorer)


def set_champion(version: str, conn, decided_by: str, reason: str, kind: str = "promote") -> int:
    """Make *version* the champion (the old one retires) and record the decision; returns its id."""
    from eis_core.severity.store import record_decision

    row = registry_row(version, conn)
    if row is None:
        raise LookupError(f"unknown severity model version {version!r} (`eis severity status` lists the registry)")
    old = champion_version(conn)
    if old == version:
        raise ValueError(f"{version} is already the champion")
    conn.execute("UPDATE severity.models SET status = 'retired' WHERE status = 'champion'")
    conn.execute("UPDATE severity.models SET status = 'champion' WHERE version = %s", (version,))
    f1 = lambda r: (r["metrics"] or {}).get("model", {}).get("macro_f1") if r else None  # noqa: E731
    return record_decision(
        conn,
        champion_version=old,
        challenger_version=version,
        champion_f1=f1(registry_row(old, conn)) if old else None,
        challenger_f1=f1(row),
        margin=None,
        promoted=True,
        decided_by=decided_by,
        reason=f"{kind}: {reason}",
    )
