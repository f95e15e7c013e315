"""Where artifacts live: a local folder or S3-compatible object storage, behind one interface (fsspec).

One setting chooses it: ``EIS_ARTIFACT_ROOT``.

* unset (the default): ``$EIS_HOME``, a local folder; locations are plain :class:`pathlib.Path` objects,
  so everything behaves exactly as without this module;
* ``s3://bucket/prefix``: every artifact goes to that bucket under that prefix; locations are
  :class:`upath.UPath` objects (the pathlib API over fsspec's ``s3fs``).  Credentials come from the
  standard AWS variables (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``,
  ``AWS_DEFAULT_REGION``, profiles, instance roles); ``EIS_S3_ENDPOINT_URL`` points at a server other
  than AWS (MinIO, Ceph, a test server).

Writes are atomic: :func:`atomic_write` hands out a local temporary file and only publishes it when the
block ends without an error - locally with ``os.replace`` in the target's folder, on object storage with
one upload of the finished file (an object is visible only once its upload completed).  A reader never
sees half a file.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Union

if TYPE_CHECKING:
    from typing_extensions import TypeIs  # typing.TypeIs is Python 3.13; only the type checker reads it
    from upath import UPath

ROOT_ENV = "EIS_ARTIFACT_ROOT"
ENDPOINT_ENV = "EIS_S3_ENDPOINT_URL"

#: a location: a local Path, or a UPath on object storage (both have the pathlib API)
Location = Union[Path, "UPath"]


class StorageError(RuntimeError):
    """An artifact location cannot be used (bad setting, unreachable store, missing object)."""


def is_remote(where) -> bool:
    """True for a URL with a scheme other than ``file`` (``s3://...``) or a UPath on such a store."""
    s = str(where)
    return "://" in s and not s.startswith("file://")


def is_upath(where: object) -> TypeIs[UPath]:
    """True for a UPath (a location on a file system of fsspec's) rather than a str or Path."""
    return hasattr(where, "fs") and hasattr(where, "protocol")


def on_store(loc: Location) -> TypeIs[UPath]:
    """:func:`is_remote` for a location; tells the type checker that *loc* is then a UPath (else a Path)."""
    return is_remote(loc)


def storage_options(url: str) -> dict:
    """fsspec options for *url*: for ``s3://`` the endpoint of ``EIS_S3_ENDPOINT_URL`` when it is set."""
    if url.startswith(("s3://", "s3a://")):
        endpoint = os.environ.get(ENDPOINT_ENV)
        return {"endpoint_url": endpoint} if endpoint else {}
    return {}


def location(where: str | os.PathLike | Location) -> Location:
    """A Path for a local path (or ``file://`` URL), a UPath for an object-store URL."""
    if is_upath(where):
        return where
    s = os.fspath(where) if not isinstance(where, str) else where
    if s.startswith("file://"):
        s = s[len("file://") :]
    if not is_remote(s):
        return Path(s)
    try:
        from upath import UPath
    except ImportError as exc:  # pragma: no cover - universal-pathlib is in the lock
        raise StorageError(f"{s}: object storage needs universal-pathlib and s3fs ({exc})") from None
    return UPath(s, **storage_options(s))


def artifact_root() -> Location:
    """The root of the current department's artifacts: ``EIS_ARTIFACT_ROOT`` (plus ``departments/NAME``
    for a department other than ``default``) or the department's folder (:func:`eis_core.paths.eis_home`)."""
    from eis_core import departments
    from eis_core.paths import eis_home

    value = os.environ.get(ROOT_ENV, "").strip()
    if not value:
        return eis_home()
    if is_remote(value) and not value.startswith(("s3://", "s3a://")):
        raise StorageError(f"{ROOT_ENV}={value}: only a local folder or s3://bucket/prefix is supported")
    if not departments.is_default():
        value = value.rstrip("/") + "/departments/" + departments.current()
    loc = location(value)
    if isinstance(loc, Path):
        loc = loc.expanduser().resolve()
        loc.mkdir(parents=True, exist_ok=True)
    return loc


def resolve(path: str | os.PathLike | Location, base: Location | None = None) -> Location:
    """*path* as a location: URLs and absolute paths as they are, a relative path under *base*
    (default: :func:`artifact_root`)."""
    if is_upath(path):
        return path
    s = os.fspath(path) if not isinstance(path, str) else path
    if is_remote(s) or s.startswith("file://"):
        return location(s)
    p = Path(s)
    if p.is_absolute():
        return p
    return (base if base is not None else artifact_root()) / p


def ensure_dir(loc: Location) -> None:
    """Create a local folder (object stores have no folders: nothing to do)."""
    if isinstance(loc, Path) and not is_remote(loc):
        loc.mkdir(parents=True, exist_ok=True)


def local_path(loc: Location) -> Path | None:
    """The local file system path of *loc*, or None on object storage."""
    return None if on_store(loc) else Path(loc)


def local_dir(loc: Location) -> Path:
    """A local folder for the files that stay on the local disk (reports and their plots): *loc* itself
    when it is local, else its mirror ``$EIS_HOME/remote/<protocol>/<bucket>/<prefix>/...``."""
    if not on_store(loc):
        return Path(loc)
    from eis_core.paths import eis_home

    protocol = loc.protocol if isinstance(loc.protocol, str) else loc.protocol[0]
    return eis_home() / "remote" / protocol / loc.path.strip("/")


@contextlib.contextmanager
def atomic_write(target: Location) -> Iterator[Path]:
    """Yield a local temporary path; when the block succeeds, publish it as *target* in one step.

    Local: the temporary file is in the target's folder and ``os.replace`` moves it there.  Object
    storage: the finished file is uploaded with one ``put_file`` (a multipart upload is completed only at
    its end).  On an error nothing is published and the temporary file is removed.
    """
    if on_store(target):
        fd, name = tempfile.mkstemp(prefix=".eis-artifact-", suffix=".tmp")
    else:
        folder = Path(target).parent
        folder.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{Path(target).name}.", suffix=".tmp", dir=folder)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        if on_store(target):
            target.fs.put_file(str(tmp), target.path)
        else:
            os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def write_bytes(target: Location, data: bytes) -> None:
    """Write *data* to *target* atomically."""
    with atomic_write(target) as tmp:
        tmp.write_bytes(data)


def read_bytes(loc: Location) -> bytes:
    try:
        return loc.read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(f"{loc} is missing") from None


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def signature(loc: Location) -> tuple | None:
    """A cheap identity of the stored file (size and modification time / ETag), or None when absent."""
    try:
        if not on_store(loc):
            st = Path(loc).stat()
            return (st.st_size, st.st_mtime_ns)
        info = loc.fs.info(loc.path)
        return (info.get("size"), info.get("ETag") or str(info.get("LastModified")))
    except (FileNotFoundError, OSError):
        return None


def arrow_source(loc: Location):
    """``(path, filesystem)`` for pyarrow: a local path with no filesystem, or the store's fsspec one."""
    if not on_store(loc):
        return str(loc), None
    return loc.path, loc.fs


__all__ = [
    "ENDPOINT_ENV",
    "Location",
    "is_upath",
    "on_store",
    "ROOT_ENV",
    "StorageError",
    "arrow_source",
    "artifact_root",
    "atomic_write",
    "ensure_dir",
    "is_remote",
    "local_dir",
    "local_path",
    "location",
    "read_bytes",
    "resolve",
    "sha256_bytes",
    "signature",
    "storage_options",
    "write_bytes",
]
