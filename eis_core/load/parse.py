"""Finding a table's file in a drop, and what the loader may read: the contract's value formats, the
file's checksum, and whether a path stays inside the drop folder.

Reading is ``stream`` (file -> side table as text), checking the values against ``FORMATS`` is
``typecheck`` (in the database).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

ROW_COL = "_row_number"

#: the contract's value formats: the words the reports use, and the exact shape of a valid value (a
#: PostgreSQL regular expression; ASCII digits only).  ``typecheck`` adds what a shape cannot say: the day
#: exists, the integer fits 64 bits, the number is finite.
FORMATS = {
    "date": ("YYYY-MM-DD", r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"),
    "timestamp": (
        "YYYY-MM-DDTHH:MM:SS",
        r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]$",
    ),
    "int": ("an integer", r"^-?[0-9]+$"),
    "float": ("a number", r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$"),
    "bool": ("true/false", r"^(true|false)$"),
}


@dataclass
class Problem:
    rule: str
    message: str
    column: str | None = None
    examples: list[str] = field(default_factory=list)
    count: int = 0


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


def parse_extracted_at(value, source: str) -> str:
    """``extracted_at`` as ``YYYY-MM-DDTHH:MM:SS``; a date alone means its midnight.  Strict: no
    offset, no impossible day, no leap second."""
    from datetime import datetime

    from eis_core.load.report import ManifestError

    if isinstance(value, str):
        for fmt in ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"):
            try:
                return datetime.strptime(value, fmt).strftime("%Y-%m-%dT%H:%M:%S")
            except ValueError:
                continue
    raise ManifestError(f"{source}: extracted_at must be YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS, not {value!r}")


def drop_manifest(drop_dir: Path) -> dict:
    """``_drop.json`` of the drop ({} when absent); a manifest that cannot be used is a ``ManifestError``."""
    import json

    from eis_core.load.report import ManifestError

    p = drop_dir / "_drop.json"
    if not os.path.lexists(p):
        return {}
    prob = path_problem(drop_dir, p)
    if prob:
        raise ManifestError(f"{p}: {prob.message}")
    try:
        manifest = json.loads(p.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ManifestError(f"{p}: not valid UTF-8 JSON ({str(exc).splitlines()[0]})") from None
    if not isinstance(manifest, dict):
        raise ManifestError(
            f'{p}: must be a JSON object such as {{"extracted_at": "2016-01-01T00:00:00"}}, '
            f"not a {type(manifest).__name__}"
        )
    return manifest
