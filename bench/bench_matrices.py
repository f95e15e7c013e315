"""Benchmark the matrix build: wall time and peak memory of building every train/test matrix of a config.

Needs a warehouse with data (the $EIS_HOME of the run).  With ``--scale`` it first generates, loads
and builds the features of that synthetic scale (slow for ``cmpd``: generation, loading and dbt dominate).
The build itself runs in a fresh child process so its peak resident memory (``ru_maxrss``) is its own;
a second child measures the reuse pass and reading every matrix back with ``load_matrix``.
Results go to docs/benchmarks/matrices.json and docs/benchmarks/matrices.md.

    EIS_HOME=/tmp/h python bench/bench_matrices.py --scale small
    EIS_HOME=/tmp/h python bench/bench_matrices.py                 # data already loaded
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs" / "benchmarks"
LIMITS = {"cmpd": {"peak_mb": 4096}}

CHILD = r"""
import json, resource, sys, time
from eis_core.config import load_officer_config, load_labels_config
from eis_core.modeling.pipeline import build_all_matrices
from eis_core.modeling.matrices import load_matrix, project_dir
config, labels, mode = sys.argv[1], sys.argv[2], sys.argv[3]
t = time.perf_counter()
built = build_all_matrices(config, labels, progress=None)
wall = time.perf_counter() - t
out = {"wall_s": wall, "matrices": [], "reused": sum(int(b[k]["reused"]) for b in built for k in ("train", "test"))}
proj = project_dir(load_officer_config(config))
for b in built:
    for k in ("train", "test"):
        m = b[k]
        out["matrices"].append({"split_id": b["split"]["split_id"], "kind": k, "matrix_id": m["matrix_id"],
                                "rows": m["n_rows"], "features": m["n_features"], "mb": m["bytes"] / 2**20,
                                "build_s": m.get("build_seconds")})
if mode == "read":
    t = time.perf_counter()
    for m in out["matrices"]:
        X, y, meta, index = load_matrix(m["matrix_id"], proj)
        del X, y, index
    out["read_s"] = time.perf_counter() - t
out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print("@@" + json.dumps(out))
"""


def _child(config: Path, labels: str, mode: str) -> dict:
    res = subprocess.run([sys.executable, "-c", CHILD, str(config), labels, mode], cwd=REPO, capture_output=True,
                         text=True)
    if res.returncode != 0:
        raise SystemExit(f"matrix build failed:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}")
    return json.loads(next(ln for ln in res.stdout.splitlines() if ln.startswith("@@"))[2:])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scale", help="generate, load and build features of this synthetic scale first")
    p.add_argument("--config", default=str(REPO / "configs" / "officer_config.yaml"))
    p.add_argument("--labels", default=str(REPO / "configs" / "labels_config.yaml"))
    p.add_argument("--no-write", action="store_true", help="print only; do not update docs/benchmarks")
    args = p.parse_args(argv)

    import yaml

    sys.path.insert(0, str(REPO / "bench"))
    from bench_synth import machine

    setup = {}
    if args.scale:
        from eis_core.features import build_features
        from eis_core.load.loader import load_drop
        from eis_core.synth import generate

        drop = Path(tempfile.mkdtemp(prefix=f"bench_mx_{args.scale}_"))
        t = time.perf_counter()
        generate(args.scale, 42, drop, progress=None)
        setup["generate_s"] = round(time.perf_counter() - t, 1)
        t = time.perf_counter()
        load_drop(drop, progress=None).raise_for_status()
        setup["load_s"] = round(time.perf_counter() - t, 1)
        shutil.rmtree(drop, ignore_errors=True)
        t = time.perf_counter()
        build_features(args.config, args.labels, progress=None)
        setup["features_s"] = round(time.perf_counter() - t, 1)

    work = Path(tempfile.mkdtemp(prefix="bench_matrices_"))
    work.chmod(0o755)
    cfg = yaml.safe_load(Path(args.config).read_text())
    cfg["project_path"] = str(work / "project")
    config = work / "officer_config.yaml"
    config.write_text(yaml.safe_dump(cfg, sort_keys=False))
    try:
        fresh = _child(config, args.labels, "build")
        again = _child(config, args.labels, "read")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result = {
        "measured_at": time.strftime("%Y-%m-%d"), "machine": machine(), "scale": args.scale or "(preloaded)",
        "config": str(Path(args.config).relative_to(REPO)) if Path(args.config).is_relative_to(REPO) else args.config,
        "setup": setup, "build_wall_s": round(fresh["wall_s"], 2), "build_peak_mb": round(fresh["peak_mb"]),
        "reuse_wall_s": round(again["wall_s"], 2), "read_all_s": round(again["read_s"], 2),
        "read_peak_mb": round(again["peak_mb"]), "matrices": fresh["matrices"],
        "total_rows": sum(m["rows"] for m in fresh["matrices"]),
        "total_mb": round(sum(m["mb"] for m in fresh["matrices"]), 1),
    }
    print(json.dumps({k: v for k, v in result.items() if k != "matrices"}, indent=2))
    if not args.no_write:
        DOCS.mkdir(parents=True, exist_ok=True)
        (DOCS / "matrices.json").write_text(json.dumps(result, indent=2) + "\n")
        (DOCS / "matrices.md").write_text(render(result))
    lim = LIMITS.get(args.scale or "")
    if lim and result["build_peak_mb"] > lim["peak_mb"]:
        print(f"peak {result['build_peak_mb']} MB exceeds the {lim['peak_mb']} MB limit", file=sys.stderr)
        return 1
    return 0


def render(r: dict) -> str:
    m = r["machine"]
    lines = [
        "# Matrix build: benchmark", "",
        f"Measured {r['measured_at']} with `python bench/bench_matrices.py"
        + (f" --scale {r['scale']}`" if r["scale"] != "(preloaded)" else "`")
        + f" on config `{r['config']}` (each pass in a fresh child process; peak memory is the child's maximum "
        "resident set size, imports included).", "",
        f"Machine: {m.get('cpu', '?')}, {m.get('cpus')} CPUs, {m.get('ram_gb')} GB RAM, Python {m.get('python')}, "
        f"pyarrow {m.get('pyarrow')}.", "",
        "| pass | wall s | peak MB |", "|---|---:|---:|",
        f"| build every matrix (fresh project folder) | {r['build_wall_s']} | {r['build_peak_mb']} |",
        f"| reuse pass + read every matrix with `load_matrix` | {r['reuse_wall_s']} + {r['read_all_s']} | "
        f"{r['read_peak_mb']} |", "",
        f"{len(r['matrices'])} matrices, {r['total_rows']:,} rows, {r['total_mb']} MB of Parquet (zstd).", "",
        "| split | kind | matrix | rows | features | MB | build s |", "|---|---|---|---:|---:|---:|---:|",
    ]
    for x in r["matrices"]:
        lines.append(f"| {x['split_id']} | {x['kind']} | {x['matrix_id']} | {x['rows']:,} | {x['features']} | "
                     f"{x['mb']:.2f} | {x['build_s']} |")
    if r["setup"]:
        lines += ["", "Setup (not part of the matrix build): " + ", ".join(f"{k} {v}" for k, v in r["setup"].items()) + "."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
