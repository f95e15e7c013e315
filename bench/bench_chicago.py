"""Benchmark the real Chicago sample: `eis import cpdp`, `eis load`, and the feature and label marts of
configs/chicago/, each stage timed (wall and CPU of this process) with the peak memory (PSS of this process
and the PostgreSQL server) over REPEATS runs in one fresh warehouse; medians are reported.

    python bench/bench_chicago.py [--src ../shared/data/cpdp] [--repeats 3]

Figures go to docs/benchmarks/chicago.json and docs/benchmarks/chicago.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
from _measure import PeakMemory, machine, use_home  # noqa: E402

DOCS = REPO / "docs" / "benchmarks"


def _timed(fn):
    with PeakMemory(0.2) as mem:
        w0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    return out, {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "peak_mb": mem.peak_mb}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--src", type=Path, default=REPO.parent / "shared" / "data" / "cpdp")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    if not args.src.is_dir():
        print(f"bench_chicago: {args.src} does not exist", file=sys.stderr)
        return 2
    home = use_home("eis_bench_chicago_")
    from eis_core import db
    from eis_core.features import build_features
    from eis_core.importers.cpdp import run_import
    from eis_core.load.loader import load_drop
    from eis_core.real_demo import REAL

    dept = REAL["chicago"]
    db.start()
    runs: dict[str, list[dict]] = {"import": [], "load": [], "marts": []}
    rows = {}
    try:
        for i in range(args.repeats):
            drop = home / f"drop{i}"
            # a salt per run: new officer ids, so every load really loads (an unchanged file is a no-op)
            res, m = _timed(lambda: run_import(args.src, drop, salt=f"bench-{i}"))
            runs["import"].append(m)
            rows = {t: v["rows_out"] for t, v in res.report["tables"].items()}
            rep, m = _timed(lambda: load_drop(drop, progress=lambda s: None))
            assert rep.ok, rep.summary()
            runs["load"].append(m)
            _, m = _timed(lambda: build_features(dept.config, dept.labels, full_refresh=True, progress=None))
            runs["marts"].append(m)
            shutil.rmtree(drop, ignore_errors=True)
            print(f"run {i + 1}: " + ", ".join(f"{k} {v[-1]['wall_s']} s" for k, v in runs.items()), flush=True)
    finally:
        db.stop()
    med = {k: {f: statistics.median(r[f] for r in v) for f in ("wall_s", "cpu_s", "peak_mb")} for k, v in runs.items()}
    total = round(sum(v["wall_s"] for v in med.values()), 2)
    out = {"machine": machine(), "repeats": args.repeats, "rows": rows, "median": med, "runs": runs,
           "total_wall_s": total}
    DOCS.mkdir(parents=True, exist_ok=True)
    (DOCS / "chicago.json").write_text(json.dumps(out, indent=2) + "\n")
    lines = ["# Chicago sample (CPDP): import, load, marts", "",
             f"`python bench/bench_chicago.py` on {out['machine']['cpus']} CPUs, {out['machine']['date']}; "
             f"median of {args.repeats} runs in one fresh embedded PostgreSQL. CPU = this process only "
             "(the server's work is in the wall time); peak = PSS of this process plus the PostgreSQL server.", "",
             "Rows written by the import: " + ", ".join(f"{t} {n:,}" for t, n in rows.items()) + ".", "",
             "| stage | wall (s) | CPU (s) | peak memory (MB) |", "|---|---:|---:|---:|"]
    for k, v in med.items():
        lines.append(f"| {k} | {v['wall_s']:.2f} | {v['cpu_s']:.2f} | {v['peak_mb']:.0f} |")
    lines.append(f"| **import + load + marts** | **{total:.2f}** | | |")
    (DOCS / "chicago.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
