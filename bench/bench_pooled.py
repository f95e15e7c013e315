"""Should a small department pool?  The synthetic consortium, measured.

For each consortium seed: generate the five departments (``eis synth --consortium``), register each as
a department with the consortium config (``configs/presets/consortium.yaml``), load its drop, and run
``eis pool evaluate`` for each small department (small_a, small_b, small_c; every other department
contributes).  Prints per department and split the TP of the department-only model, the pooled model and
the legacy EIS at the legacy EIS's flag count, for the default recipe and every recipe's totals, and
writes the rows as JSON.

    OMP_NUM_THREADS=1 EIS_HOME=/tmp/pool-home .venv/bin/python bench/bench_pooled.py --seeds 42 7 --out var/pooled.json

Tune on some seeds (``--seeds 101 102``), report on others.  A department already loaded for a seed is
reused (``--reload`` loads it again).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SMALL = ("small_a", "small_b", "small_c")
CONFIG = ROOT / "configs" / "presets" / "consortium.yaml"


def load_consortium(seed: int, work: Path, reload: bool) -> dict[str, str]:
    """Department name (``<member>_s<seed>``) per consortium member, loaded."""
    from eis_core import departments
    from eis_core.departments import registry
    from eis_core.load.loader import load_drop
    from eis_core.modeling.pooled import has_data
    from eis_core.synth.consortium import CONSORTIUM, generate_consortium

    out = work / f"consortium-{seed}"
    if not (out / "_consortium.json").exists():
        t0 = time.perf_counter()
        generate_consortium(out, seed)
        print(f"seed {seed}: generated in {time.perf_counter() - t0:.0f}s", flush=True)
    names = {}
    known = {d.name for d in registry.list_departments()}
    for member in CONSORTIUM:
        name = f"{member}_s{seed}"
        names[member] = name
        if name in known and has_data(name) and not reload:
            continue
        registry.add(name, officer_config=CONFIG, exist_ok=True)
        t0 = time.perf_counter()
        with departments.use(name):
            report = load_drop(out / member, progress=None)
        assert report.ok, f"{name}: load failed"
        print(f"seed {seed}: loaded {name} in {time.perf_counter() - t0:.0f}s", flush=True)
    # only this seed's consortium contributes: other seeds' departments opt out for the run
    for d in registry.list_departments():
        if d.name != "default":
            registry.set_contributes(d.name, d.name in names.values())
    registry.set_contributes("default", False)
    return names


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs="+", default=[42])
    ap.add_argument("--work", type=Path, default=ROOT / "var" / "pooled")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--recipe-only", action="store_true")
    ap.add_argument("--reload", action="store_true")
    args = ap.parse_args()
    from eis_core.modeling.pooled import DEFAULT_RECIPE, POOLED_GRID
    from eis_core.modeling.pooled_eval import comparison, evaluate, report_text

    args.work.mkdir(parents=True, exist_ok=True)
    everything = []
    for seed in args.seeds:
        names = load_consortium(seed, args.work, args.reload)
        for member in SMALL:
            t0 = time.perf_counter()
            ev = evaluate(
                names[member], [DEFAULT_RECIPE] if args.recipe_only else POOLED_GRID, store=True, progress=None
            )
            print(f"\n## seed {seed} {member} ({time.perf_counter() - t0:.0f}s)\n" + report_text(ev), flush=True)
            for recipe in dict.fromkeys(r["recipe"] for r in ev["rows"]):
                for r in comparison(ev, recipe):
                    everything.append({"seed": seed, "department": member, "recipe": recipe, **r})
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(everything, indent=1, default=str))
    # totals per recipe over every seed and small department
    print("\n## every recipe: pooled TP / department-only TP / legacy TP; department-splits with pooled >= both")
    for recipe in dict.fromkeys(r["recipe"] for r in everything):
        rows = [r for r in everything if r["recipe"] == recipe]
        ok = sum(r["pooled_tp"] >= max(r["department_only_tp"], r["legacy_tp"]) for r in rows)
        print(
            f"  {recipe:<60} {sum(r['pooled_tp'] for r in rows):>4} / {sum(r['department_only_tp'] for r in rows):>4}"
            f" / {sum(r['legacy_tp'] for r in rows):>4}   {ok}/{len(rows)}"
        )


if __name__ == "__main__":
    main()
