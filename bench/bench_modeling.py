"""Benchmark of the modeling run (issue 4): the default grid on a synthetic department.

Generates and loads the department (default `medium`), then runs `eis_core.modeling.pipeline.run_all`
with the repository's configs (features → matrices → every model of the grid on every split →
evaluation → selection), measuring wall time and peak memory (PSS of this process, its children and
the PostgreSQL server).  Writes the figures, the leaderboard and Table 3 to
docs/benchmarks/modeling_<scale>.md / .json.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from _measure import PeakMemory, bench_args, machine  # noqa: E402

OUT = HERE.parent / "docs" / "benchmarks"


def main() -> int:
    args, home, drop = bench_args("medium", "modeling")

    from eis_core import db
    from eis_core.load.loader import load_drop
    from eis_core.modeling.pipeline import run_all
    from eis_core.modeling.selection import leaderboard_text, table3_text
    from eis_core.synth import generate

    if not (drop / "_drop.json").exists():
        generate(args.scale, 42, drop)
    rep = load_drop(drop, progress=lambda m: None)
    if not rep.ok:
        print(rep.summary())
        return 1
    t0 = time.perf_counter()
    with PeakMemory() as mem:
        result = run_all(progress=lambda m: print(m, flush=True))
    wall = time.perf_counter() - t0
    with db.connect() as conn:
        experiment_id = conn.execute("SELECT experiment_id FROM results.selections WHERE chosen "
                                     "ORDER BY selection_id DESC LIMIT 1").fetchone()[0]
        n_models = conn.execute("SELECT count(*) FROM results.models").fetchone()[0]
    lb, t3 = leaderboard_text(experiment_id, top=12), table3_text(experiment_id)
    db.stop()
    figures = {"scale": args.scale, "machine": machine(), "wall_seconds": round(wall, 1), "peak_mb": mem.peak_mb,
               "models": n_models, "experiment_id": experiment_id,
               "chosen": {k: v for k, v in result.items() if isinstance(v, (str, int, float))}}
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"modeling_{args.scale}.json").write_text(json.dumps(figures, indent=2, default=str) + "\n")
    md = [f"# Modeling run, default grid — `{args.scale}` department", "",
          f"Measured {figures['machine']['date']} on {figures['machine']['cpus']} CPUs / {figures['machine']['memory_gb']} GB "
          "(`bench/bench_modeling.py`): features for the split dates, matrices, every model of the default grid "
          "on every split, evaluation and selection, in one process.", "",
          f"- wall time: **{figures['wall_seconds']} s**; peak memory: **{figures['peak_mb']:,} MB**; models trained: {n_models}", "",
          "```", lb, "```", "", "```", t3, "```", ""]
    (OUT / f"modeling_{args.scale}.md").write_text("\n".join(md))
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
