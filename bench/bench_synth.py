"""Benchmark the synthetic department generator: wall time and peak memory per scale.

Each scale runs in a fresh child process (``python -m eis_core.cli synth ...``) so its peak resident
memory can be read with ``resource.getrusage(RUSAGE_CHILDREN)``.  Results go to
docs/benchmarks/synth.json and docs/benchmarks/synth.md.

    python bench/bench_synth.py                      # small, medium, cmpd; drops under a temp dir
    python bench/bench_synth.py --scales small medium --keep /tmp/drops
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs" / "benchmarks"
LIMITS = {"cmpd": {"wall_s": 600, "peak_mb": 8192}}


def machine() -> dict:
    info = {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count()}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["ram_gb"] = round(int(line.split()[1]) / 1024 ** 2, 1)
                break
    except OSError:
        pass
    import numpy
    import pyarrow

    info["numpy"], info["pyarrow"] = numpy.__version__, pyarrow.__version__
    return info


def run_scale(scale: str, seed: int, out: Path, fmt: str) -> dict:
    """Run one scale in a child process; the child's own peak RSS is isolated by forking a runner."""
    # A tiny runner forks the generator and reports that child's ru_maxrss, so several scales run
    # from this process do not see each other's peaks (RUSAGE_CHILDREN keeps the maximum so far).
    runner = (
        "import resource, subprocess, sys, json, time\n"
        "t = time.perf_counter()\n"
        "rc = subprocess.call(sys.argv[1:])\n"
        "wall = time.perf_counter() - t\n"
        "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
        "print(json.dumps({'rc': rc, 'wall_s': wall, 'peak_kb': peak}))\n"
    )
    cmd = [sys.executable, "-c", runner, sys.executable, "-m", "eis_core.cli", "synth", "--scale", scale,
           "--seed", str(seed), "--out", str(out), "--format", fmt, "--quiet"]
    t0 = time.perf_counter()
    res = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    wall_outer = time.perf_counter() - t0
    if res.returncode != 0:
        raise SystemExit(f"{scale} failed:\n{res.stdout}\n{res.stderr}")
    stats = json.loads(res.stdout.strip().splitlines()[-1])
    if stats["rc"] != 0:
        raise SystemExit(f"{scale}: generator exited {stats['rc']}:\n{res.stderr}")
    manifest = json.loads((out / "_drop.json").read_text())
    size = sum(p.stat().st_size for p in out.iterdir())
    return {
        "scale": scale, "seed": seed, "format": fmt,
        "wall_s": round(stats["wall_s"], 1), "wall_s_incl_startup": round(wall_outer, 1),
        "peak_mb": round(stats["peak_kb"] / 1024, 0),
        "drop_mb": round(size / 1024 ** 2, 0),
        "rows": manifest["tables"], "total_rows": sum(manifest["tables"].values()),
        "generator_version": manifest["generator_version"],
    }


def write_reports(results: list[dict], info: dict) -> None:
    DOCS.mkdir(parents=True, exist_ok=True)
    payload = {"benchmark": "eis synth", "measured_on": dt.date.today().isoformat(), "machine": info,
               "limits": LIMITS, "results": results}
    (DOCS / "synth.json").write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    tables = list(results[0]["rows"])
    lines = [
        "# Synthetic department generator: benchmark",
        "",
        f"Measured {payload['measured_on']} with `python bench/bench_synth.py` (each scale in a fresh child process;",
        "peak memory is the child's maximum resident set size from `getrusage(RUSAGE_CHILDREN)`).",
        "",
        f"Machine: {info.get('cpu', '?')}, {info.get('cpus')} CPUs, {info.get('ram_gb', '?')} GB RAM, "
        f"{info['platform']}, Python {info['python']}, numpy {info['numpy']}, pyarrow {info['pyarrow']}.",
        "",
        "| scale | format | wall s | peak MB | drop MB | total rows |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(f"| {r['scale']} | {r['format']} | {r['wall_s']} | {r['peak_mb']:.0f} | {r['drop_mb']:.0f} | {r['total_rows']:,} |")
    lines += ["", "Rows per table:", "", "| table | " + " | ".join(r["scale"] for r in results) + " |",
              "|---|" + "---:|" * len(results)]
    for t in tables:
        lines.append(f"| {t} | " + " | ".join(f"{r['rows'][t]:,}" for r in results) + " |")
    lines += ["", "Limits for `cmpd`: under 600 s wall time and 8 GB peak memory.", ""]
    (DOCS / "synth.md").write_text("\n".join(lines), encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scales", nargs="+", default=["small", "medium", "cmpd"])
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--format", default="csv", choices=["csv", "parquet"])
    ap.add_argument("--keep", type=Path, help="keep the drops under this folder (default: temp dir, deleted)")
    ap.add_argument("--no-write", action="store_true", help="print results, do not update docs/benchmarks")
    args = ap.parse_args()
    base = args.keep or Path(tempfile.mkdtemp(prefix="eis-bench-synth-"))
    results = []
    try:
        for scale in args.scales:
            out = base / scale
            if out.exists():
                shutil.rmtree(out)
            r = run_scale(scale, args.seed, out, args.format)
            print(f"{scale:>7}: {r['wall_s']:7.1f} s  peak {r['peak_mb']:6.0f} MB  {r['total_rows']:,} rows", flush=True)
            lim = LIMITS.get(scale)
            if lim and (r["wall_s"] > lim["wall_s"] or r["peak_mb"] > lim["peak_mb"]):
                print(f"  !! {scale} exceeds its limits {lim}", flush=True)
            results.append(r)
            if not args.keep:
                shutil.rmtree(out, ignore_errors=True)
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    if not args.no_write:
        write_reports(results, machine())
        print(f"wrote {DOCS / 'synth.json'} and {DOCS / 'synth.md'}")


if __name__ == "__main__":
    main()
