"""The artifact store: every file a run keeps beyond the warehouse (model files, matrices), on a local
folder or on S3-compatible object storage, written atomically, and model files verified before loading.

``storage`` (where: ``EIS_ARTIFACT_ROOT``, locations, atomic writes, pyarrow access) and ``models``
(joblib model files with a sha256 + library-versions sidecar, refused unless they verify).
See docs/architecture.md#the-artifact-store.
"""

from eis_core.artifacts.models import (
    ArtifactError,
    ArtifactVerificationError,
    library_versions,
    load_model,
    model_exists,
    read_record,
    save_model,
    verify_model,
)
from eis_core.artifacts.storage import (
    ENDPOINT_ENV,
    ROOT_ENV,
    Location,
    StorageError,
    artifact_root,
    atomic_write,
    is_remote,
    location,
    resolve,
)

__all__ = [
    "ENDPOINT_ENV",
    "ROOT_ENV",
    "ArtifactError",
    "ArtifactVerificationError",
    "Location",
    "StorageError",
    "artifact_root",
    "atomic_write",
    "is_remote",
    "library_versions",
    "load_model",
    "location",
    "model_exists",
    "read_record",
    "resolve",
    "save_model",
    "verify_model",
]
