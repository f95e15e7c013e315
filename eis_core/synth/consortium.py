"""A synthetic consortium: several departments of different sizes and base rates, written in one run.

Every department is the ordinary simulation (:func:`eis_core.synth.generator.generate`) with its own
:class:`~eis_core.synth.params.Scale`: head count, divisions and beats, the share of officers with an
adverse incident per year (the base rate), the weights of the shared risk drivers (latent propensity,
beat crime, short-term stress, hours worked, training: the same drivers everywhere, each department its
own mix) and its dispatch volume per officer.  So pooling can help (a shared core of drivers) and is
not trivially right (different weights, base rates and activity levels; raw counts are not comparable
across departments).  All departments cover the same four years, so one as-of grid fits them all.

Each department's seed is derived from the consortium seed and its name: a department's drop does not
change when another one is added.  Officer ids are hashed from that seed: no two departments share one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from eis_core.synth.params import GENERATOR_VERSION, SCALES, Scale

_TINY = SCALES["tiny"]
_START, _END = dt.date(2012, 1, 1), dt.date(2015, 12, 31)

#: name -> Scale.  Three small departments (40-80 officers), two larger contributors.
CONSORTIUM: dict[str, Scale] = {
    "small_a": replace(
        _TINY,
        name="small_a",
        n_sworn=45,
        n_divisions=2,
        beats_per_division=4,
        adverse_share=0.10,
        risk_weights=(1.15, 0.3, 0.3, 0.35, 0.3),
        activity=0.8,
    ),
    "small_b": replace(
        _TINY,
        name="small_b",
        n_sworn=60,
        n_divisions=3,
        beats_per_division=3,
        adverse_share=0.07,
        risk_weights=(1.0, 0.15, 0.5, 0.2, 0.3),
        activity=1.25,
    ),
    "small_c": replace(
        _TINY,
        name="small_c",
        n_sworn=75,
        n_divisions=2,
        beats_per_division=5,
        adverse_share=0.12,
        risk_weights=(1.3, 0.1, 0.2, 0.5, 0.2),
        activity=1.0,
    ),
    "medium_a": replace(
        _TINY,
        name="medium_a",
        n_sworn=300,
        n_divisions=6,
        beats_per_division=6,
        adverse_share=0.087,
        activity=1.0,
    ),
    "medium_b": replace(
        _TINY,
        name="medium_b",
        n_sworn=200,
        n_divisions=4,
        beats_per_division=6,
        adverse_share=0.08,
        risk_weights=(1.1, 0.2, 0.35, 0.3, 0.35),
        activity=0.9,
    ),
}
for _s in CONSORTIUM.values():
    assert _s.start == _START and _s.end == _END


def department_seed(seed: int, name: str) -> int:
    """The seed of department *name* in the consortium of *seed* (independent of the other members)."""
    return int.from_bytes(hashlib.blake2b(f"eis-consortium:{seed}:{name}".encode(), digest_size=4).digest(), "big")


def generate_consortium(
    out_dir: Path,
    seed: int = 42,
    names: list[str] | None = None,
    fmt: str = "csv",
    contract_version: int = 1,
    progress: Callable[[str, float], None] | None = None,
) -> dict:
    """Write one drop per department into ``out_dir/<name>/`` and ``out_dir/_consortium.json``; returns
    the consortium manifest (department -> officers, divisions, base rate, seed, rows per table)."""
    from eis_core.synth import generator

    names = list(names or CONSORTIUM)
    unknown = [n for n in names if n not in CONSORTIUM]
    if unknown:
        raise ValueError(f"unknown consortium department(s) {unknown}; choose from {sorted(CONSORTIUM)}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    members = {}
    for name in names:
        t0 = time.perf_counter()
        cfg = CONSORTIUM[name]
        dseed = department_seed(seed, name)
        manifest = generator.generate(cfg, dseed, out_dir / name, fmt=fmt, contract_version=contract_version)
        manifest["department"] = f"Synthetic consortium department {name}"
        manifest["consortium_seed"] = int(seed)
        with open(out_dir / name / "_drop.json", "w", encoding="utf-8") as fh:
            json.dump(manifest, fh, indent=2)
            fh.write("\n")
        members[name] = {
            "folder": name,
            "seed": dseed,
            "n_sworn": cfg.n_sworn,
            "n_divisions": cfg.n_divisions,
            "beats_per_division": cfg.beats_per_division,
            "adverse_share": cfg.adverse_share,
            "risk_weights": list(cfg.risk_weights),
            "activity": cfg.activity,
            "tables": manifest["tables"],
        }
        if progress is not None:
            progress(name, time.perf_counter() - t0)
    out = {
        "consortium_seed": int(seed),
        "generator_version": GENERATOR_VERSION,
        "start": _START.isoformat(),
        "end": _END.isoformat(),
        "format": fmt,
        "departments": members,
    }
    with open(out_dir / "_consortium.json", "w", encoding="utf-8") as fh:
        json.dump(out, fh, indent=2)
        fh.write("\n")
    return out
