"""Benchmark of the dispatch-level dataset (issue 9): build dispatch.dispatch_officer_days and
dispatch.dispatch_dataset with dbt on a loaded department (default `cmpd`, 14M dispatch rows).

1. generate the department if its drop is missing, and load it (an unchanged drop is a no-op, so a
   warehouse already loaded in --home is reused);
2. build the staging views, then the two dispatch models and their tests (`eis dispatch build`):
   wall time and peak memory (PSS of this process, its children and the PostgreSQL server) - the
   target is 15 minutes and 8 GB on the cmpd department;
3. optionally (`--train`) the training run: sampling, subset comparison, unsampled scoring.

Figures go to docs/benchmarks/dispatch[_<scale>].json and .md.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

OUT = HERE.parent / "docs" / "benchmarks"


def main() -> int:
    train_too = "--train" in sys.argv
    if train_too:
        sys.argv.remove("--train")
    from _measure import PeakMemory, bench_args, machine

    args, home, drop = bench_args("cmpd", "dispatch")
    from eis_core import db
    from eis_core.dispatch.dataset import build_dataset
    from eis_core.load.loader import load_drop
    from eis_core.synth import generate
    from eis_core.transform import dbt_build

    figures: dict = {"scale": args.scale, "machine": machine(), "home": str(home)}
    if not (drop / "_drop.json").exists():
        t0 = time.perf_counter()
        generate(args.scale, 42, drop)
        figures["generate_seconds"] = round(time.perf_counter() - t0, 1)
    t0 = time.perf_counter()
    rep = load_drop(drop, progress=lambda m: print(m, flush=True))
    figures["load_seconds"] = round(time.perf_counter() - t0, 1)
    if not rep.ok:
        print(rep.summary())
        return 1
    dbt_build(select="path:models/staging", exclude="resource_type:test", progress=None)

    runs = []
    for _ in range(1):  # one build: ~10 min at cmpd scale; the figure is that single run
        t0 = time.perf_counter()
        with PeakMemory() as mem:
            s = build_dataset(progress=lambda m: print(m, flush=True))
        runs.append({"seconds": round(time.perf_counter() - t0, 1), "peak_mb": mem.peak_mb})
        figures["dataset_rows"], figures["positives"] = s["rows"], s["positives"]
        figures["nodes"] = {n["name"]: n["execution_time"] for n in s["nodes"]}
    figures["build"] = runs
    figures["build_seconds"] = sorted(r["seconds"] for r in runs)[len(runs) // 2]
    figures["build_peak_mb"] = max(r["peak_mb"] for r in runs)
    if train_too:
        from eis_core.dispatch.model import train

        t0 = time.perf_counter()
        with PeakMemory() as mem:
            res = train(progress=lambda m: print(m, flush=True))
        figures["train_seconds"] = round(time.perf_counter() - t0, 1)
        figures["train_peak_mb"] = mem.peak_mb
        figures["train_rows"] = [{k: r[k] for k in ("model_kind", "subset", "f1", "random_f1", "roc_auc", "unsampled")}
                                 for r in res["rows"]]
    db.stop()

    OUT.mkdir(parents=True, exist_ok=True)
    name = "dispatch" if args.scale == "cmpd" else f"dispatch_{args.scale}"
    (OUT / f"{name}.json").write_text(json.dumps(figures, indent=2, default=str) + "\n")
    ok = figures["build_seconds"] <= 900 and figures["build_peak_mb"] <= 8192
    md = [f"# Dispatch-level dataset — `{args.scale}` department", "",
          f"Measured {figures['machine']['date']} on {figures['machine']['cpus']} CPUs / "
          f"{figures['machine']['memory_gb']} GB (`python bench/bench_dispatch.py --scale {args.scale}`).", "",
          f"{figures['dataset_rows']:,} dispatch rows ({figures['positives']:,} linked to an adverse IA case).", "",
          "| step | wall | peak memory |", "| --- | ---: | ---: |",
          f"| `eis dispatch build` (dbt: dispatch_officer_days, dispatch_dataset, their tests) | "
          f"{figures['build_seconds']:.0f} s | {figures['build_peak_mb'] / 1024:.2f} GB |"]
    if train_too:
        md.append(f"| `eis dispatch train` (sample, 7 forests, unsampled scoring, report) | "
                  f"{figures['train_seconds']:.0f} s | {figures['train_peak_mb'] / 1024:.2f} GB |")
    md += ["", "dbt node times (s): " + ", ".join(f"{k} {v:.1f}" for k, v in figures["nodes"].items()
                                                if k.startswith("dispatch_") or k.startswith("unique_combination")),
           "", f"Target (cmpd): 15 minutes and 8 GB — {'met' if ok else 'NOT met'} at this scale."]
    (OUT / f"{name}.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
