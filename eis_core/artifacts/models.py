"""Model files: dump atomically, record what they are, and verify every file before it is unpickled.

:func:`save_model` writes ``<name>.joblib`` atomically (:func:`eis_core.artifacts.storage.atomic_write`)
and, beside it, the sidecar ``<name>.joblib.meta.json``::

    {"format": "eis-model-artifact", "sha256": "...", "bytes": 12345, "kind": "officer-model",
     "library_versions": {"python": "3.11.9", "scikit-learn": "1.7.2", "numpy": "2.3.4", ...},
     "created_at": "...", ...extra}

:func:`load_model` reads the file's bytes once, and refuses them - one line naming the file and what
differs, :class:`ArtifactVerificationError` - unless

* the sidecar exists and its sha256 is the sha256 of these bytes (and equals the registry's, when the
  caller passes one: the severity registry keeps it in ``severity.models.artifact_sha256``);
* every library of :data:`COMPARED` has the same version, to the precision given there, as this
  environment: scikit-learn and Python to the minor version, numpy and pandas to the major version
  (pickles of estimators are only safe within one scikit-learn minor version);

and only then unpickles *the same bytes* (no second read that could differ from the verified one).
"""

from __future__ import annotations

import io
import json
import platform
from datetime import UTC, datetime

from eis_core.artifacts.storage import Location, atomic_write, location, read_bytes, sha256_bytes, write_bytes

FORMAT = "eis-model-artifact"
SIDECAR_SUFFIX = ".meta.json"
#: library -> how many leading version components must match before a pickle is loaded
COMPARED = {"python": 2, "scikit-learn": 2, "numpy": 1, "pandas": 1}


class ArtifactError(RuntimeError):
    """A model file cannot be written or read."""


class ArtifactVerificationError(ArtifactError):
    """A model file failed verification (missing record, hash or library version mismatch)."""


def library_versions() -> dict:
    """The versions of what a pickled model depends on, as recorded beside every artifact."""
    import joblib
    import numpy
    import pandas
    import sklearn

    return {
        "python": platform.python_version(),
        "scikit-learn": sklearn.__version__,
        "numpy": numpy.__version__,
        "pandas": pandas.__version__,
        "joblib": joblib.__version__,
    }


def _prefix(version: object, parts: int) -> str:
    return ".".join(str(version).split(".")[:parts])


def version_mismatches(recorded: dict, current: dict | None = None) -> list[str]:
    """``["scikit-learn 1.6.1 (this environment: 1.7.2)", ...]`` for every compared library that differs."""
    current = current or library_versions()
    out = []
    for lib, parts in COMPARED.items():
        was, now = recorded.get(lib), current.get(lib)
        if was is None:
            out.append(f"{lib} not recorded (this environment: {now})")
        elif _prefix(was, parts) != _prefix(now, parts):
            out.append(f"{lib} {was} (this environment: {now})")
    return out


def sidecar_of(artifact: Location) -> Location:
    return artifact.with_name(artifact.name + SIDECAR_SUFFIX)


def save_model(obj, artifact: Location | str, *, kind: str, extra: dict | None = None, compress: int = 0) -> dict:
    """Dump *obj* with joblib to *artifact* atomically and write its sidecar; returns the sidecar's record."""
    import joblib

    artifact = location(artifact)
    with atomic_write(artifact) as tmp:
        joblib.dump(obj, tmp, compress=compress)
        data = tmp.read_bytes()
    record = {
        "format": FORMAT,
        "kind": kind,
        "artifact": artifact.name,
        "sha256": sha256_bytes(data),
        "bytes": len(data),
        "library_versions": library_versions(),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        **(extra or {}),
    }
    write_bytes(sidecar_of(artifact), json.dumps(record, indent=1, sort_keys=True).encode())
    return record


def read_record(artifact: Location | str) -> dict:
    """The sidecar of *artifact* (raises ArtifactVerificationError when it is missing or unreadable)."""
    artifact = location(artifact)
    side = sidecar_of(artifact)
    try:
        record = json.loads(read_bytes(side))
    except FileNotFoundError:
        raise ArtifactVerificationError(
            f"model file {artifact}: no verification record {side.name} beside it (written by another version of "
            "the code, or not by the EIS); refusing to load it - retrain the model"
        ) from None
    except ValueError as exc:
        raise ArtifactVerificationError(
            f"model file {artifact}: its verification record {side.name} is not valid JSON ({exc}); refusing to load it"
        ) from None
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise ArtifactVerificationError(f"model file {artifact}: {side.name} is not an EIS artifact record")
    return record


def verify_bytes(
    artifact: Location, data: bytes, record: dict, expected_sha256: str | None = None, kind: str | None = None
) -> None:
    """Raise ArtifactVerificationError unless *data* is what *record* (and the registry) say."""
    sha = sha256_bytes(data)
    if expected_sha256 and sha != expected_sha256:
        raise ArtifactVerificationError(
            f"model file {artifact} was modified after registration (sha256 {sha[:12]}... != registered "
            f"{expected_sha256[:12]}...); refusing to load it"
        )
    if sha != record.get("sha256"):
        raise ArtifactVerificationError(
            f"model file {artifact} was modified after it was written (sha256 {sha[:12]}... != recorded "
            f"{str(record.get('sha256'))[:12]}...); refusing to load it"
        )
    if kind is not None and record.get("kind") != kind:
        raise ArtifactVerificationError(
            f"model file {artifact}: it is a {record.get('kind')!r} artifact, expected {kind!r}"
        )
    diff = version_mismatches(record.get("library_versions") or {})
    if diff:
        raise ArtifactVerificationError(
            f"model file {artifact}: trained with {', '.join(diff)}; pickles are only safe with the same library "
            "versions - retrain the model in this environment"
        )


def _verified_bytes(artifact: Location, expected_sha256: str | None, kind: str | None) -> tuple[bytes, dict]:
    """The file's bytes, read once, and its record - after they verified."""
    record = read_record(artifact)
    try:
        data = read_bytes(artifact)
    except FileNotFoundError:
        raise ArtifactVerificationError(f"model file {artifact} is missing") from None
    verify_bytes(artifact, data, record, expected_sha256, kind)
    return data, record


def verify_model(artifact: Location | str, expected_sha256: str | None = None, kind: str | None = None) -> dict:
    """Verify *artifact* without loading it; returns its record."""
    return _verified_bytes(location(artifact), expected_sha256, kind)[1]


def load_model(artifact: Location | str, expected_sha256: str | None = None, kind: str | None = None):
    """Verify *artifact* (see the module doc) and unpickle the verified bytes."""
    import joblib

    artifact = location(artifact)
    data, _ = _verified_bytes(artifact, expected_sha256, kind)
    try:
        return joblib.load(io.BytesIO(data))
    except Exception as exc:  # noqa: BLE001 - a verified file that does not unpickle is still unusable
        raise ArtifactError(f"model file {artifact}: cannot unpickle it ({type(exc).__name__}: {exc})") from exc


def model_exists(artifact: Location | str) -> bool:
    """True when the file and its sidecar both exist (not verified: :func:`load_model` does that)."""
    artifact = location(artifact)
    return artifact.exists() and sidecar_of(artifact).exists()


__all__ = [
    "COMPARED",
    "FORMAT",
    "SIDECAR_SUFFIX",
    "ArtifactError",
    "ArtifactVerificationError",
    "library_versions",
    "load_model",
    "model_exists",
    "read_record",
    "save_model",
    "sidecar_of",
    "verify_bytes",
    "verify_model",
    "version_mismatches",
]
