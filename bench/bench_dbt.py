"""Benchmark of the dbt build's CPU (issue 19 items 3 and 5): where dbt's work goes.

1. generate the department (default `medium`) and load it (validation by the loader's GE suites);
2. `dbt build` of staging, the running totals and the marts for 13 semi-annual as-of dates
   (2009-01-01 … 2015-01-01) with the default config's 6 windows, full refresh;
3. the dispatch running totals (`int_dsp_daily`, with the per-officer-day model it reads) alone,
   `--repeat` times (median).

CPU-seconds are counted for this process (dbt runs in it) AND the PostgreSQL server (the postmaster, its
live children and the children it reaped: `/proc` utime + stime + cutime + cstime), so a query that moves
work from the client into the database is not counted as free.  Per-node times come from dbt's results
(the same figures as target/run_results.json): model time, test time, and int_dsp_daily's share.

Figures go to docs/benchmarks/dbt.json and docs/benchmarks/dbt.md.  Run: `python bench/bench_dbt.py
[--scale small|medium|cmpd] [--home DIR] [--repeat N]`; reusing --home skips generation and loading.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

OUT = HERE.parent / "docs" / "benchmarks"
DATES = [date(y, m, 1) for y in range(2009, 2016) for m in (1, 7)][:13]
DSP_SELECTOR = "+int_dsp_daily"


def server_cpu() -> float:
    """CPU-seconds of the PostgreSQL server so far: postmaster (with reaped children) + live children."""
    import psutil

    from eis_core.paths import pgdata_dir

    pid = int((pgdata_dir() / "postmaster.pid").read_text().split()[0])
    pm = psutil.Process(pid)
    t = pm.cpu_times()
    total = t.user + t.system + t.children_user + t.children_system
    for child in pm.children(recursive=True):
        try:
            c = child.cpu_times()
            total += c.user + c.system
        except psutil.NoSuchProcess:
            continue
    return total


def client_cpu() -> float:
    t = os.times()
    return t.user + t.system


def measured(fn):
    c0, s0, w0 = client_cpu(), server_cpu(), time.monotonic()
    out = fn()
    c1, s1, w1 = client_cpu(), server_cpu(), time.monotonic()
    return out, {"client_cpu_s": round(c1 - c0, 2), "server_cpu_s": round(s1 - s0, 2),
                 "cpu_s": round(c1 - c0 + s1 - s0, 2), "wall_s": round(w1 - w0, 2)}


def node_times(summary: dict) -> dict:
    nodes = summary["nodes"]
    models = [n for n in nodes if n["resource_type"] == "model"]
    tests = [n for n in nodes if n["resource_type"] == "test"]
    dsp = sum(n["execution_time"] for n in models if n["name"] in ("int_dsp_daily", "int_dsp_day"))
    model_s = sum(n["execution_time"] for n in models)
    return {"models": len(models), "tests": len(tests), "model_s": round(model_s, 2),
            "test_s": round(sum(n["execution_time"] for n in tests), 2), "int_dsp_s": round(dsp, 2),
            "int_dsp_share": round(dsp / model_s, 3) if model_s else None,
            "slowest": sorted(((n["name"], n["execution_time"]) for n in nodes), key=lambda x: -x[1])[:8]}


def main() -> int:
    import argparse

    from _measure import use_home

    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", default="medium", choices=["small", "medium", "cmpd"])
    ap.add_argument("--home", default=None)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--label", default="", help="a name for this run in the output (e.g. before/after)")
    args = ap.parse_args()
    home = use_home(f"eis_bench_dbt_{args.scale}_", args.home)
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    from eis_core import db
    from eis_core.config import dbt_vars, load_labels_config, load_officer_config

    db.start()
    drop = home / "drops" / args.scale
    with db.connect() as conn:
        loaded = conn.execute("SELECT to_regclass('raw.dispatches') IS NOT NULL").fetchone()[0] and \
            conn.execute("SELECT EXISTS (SELECT 1 FROM raw.dispatches)").fetchone()[0]
    if not loaded:
        from eis_core.load.loader import load_drop
        from eis_core.synth import generate

        if not (drop / "_drop.json").exists():
            generate(args.scale, 42, drop, progress=None)
        load_drop(drop)
    with db.connect() as conn:
        rows = sum(conn.execute(f"SELECT count(*) FROM raw.{t}").fetchone()[0]
                   for t in ("dispatches", "calls_for_service"))
    variables = dbt_vars(load_officer_config(), load_labels_config(), DATES)
    # autovacuum off while measuring: the CPU counted is the build's own, not a vacuum of the tables the
    # previous repetition built (which starts at a random moment and doubled single figures)
    with db.connect(autocommit=True) as conn:
        conn.execute("ALTER SYSTEM SET autovacuum = off")
        conn.execute("SELECT pg_reload_conf()")
    try:
        result = _measure(args, variables, rows)
    finally:
        with db.connect(autocommit=True) as conn:
            conn.execute("ALTER SYSTEM RESET autovacuum")
            conn.execute("SELECT pg_reload_conf()")
    OUT.mkdir(parents=True, exist_ok=True)
    _write(args, result)
    return 0


def _measure(args, variables: dict, rows: int) -> dict:
    from _measure import machine

    from eis_core.transform import dbt_build

    full, full_cpu = measured(lambda: dbt_build(select="path:models/staging +path:models/marts", full_refresh=True,
                                                progress=None, dbt_vars=variables))
    dsp_runs = []
    for _ in range(args.repeat):
        s, cpu = measured(lambda: dbt_build(select=DSP_SELECTOR, exclude="resource_type:test path:models/staging",
                                            progress=None, dbt_vars=variables))
        dsp_runs.append({**cpu, **node_times(s)})
    result = {
        "label": args.label, "scale": args.scale, "as_of_dates": len(DATES), "dispatch_and_call_rows": rows,
        "full_build": {**full_cpu, **node_times(full)},
        "int_dsp": {"runs": dsp_runs,
                    "median_cpu_s": statistics.median(r["cpu_s"] for r in dsp_runs),
                    "median_model_s": statistics.median(r["int_dsp_s"] for r in dsp_runs)},
        "load_average": os.getloadavg(), "machine": machine(), "autovacuum": "off while measuring",
    }
    return result


def _write(args, result: dict) -> None:
    name = f"dbt{('_' + args.label) if args.label else ''}"
    (OUT / f"{name}.json").write_text(json.dumps(result, indent=2))
    f = result["full_build"]
    md = [f"# dbt build CPU ({args.scale}, {len(DATES)} as-of dates{', ' + args.label if args.label else ''})", "",
          f"Full build (staging + running totals + marts + tests): {f['cpu_s']} CPU-s "
          f"(client {f['client_cpu_s']}, PostgreSQL {f['server_cpu_s']}), {f['wall_s']} s wall; "
          f"models {f['model_s']} s, tests {f['test_s']} s ({f['tests']} tests), int_dsp_daily {f['int_dsp_s']} s "
          f"({f['int_dsp_share']} of model time).", "",
          f"Dispatch running totals alone, median of {args.repeat}: {result['int_dsp']['median_cpu_s']} CPU-s, "
          f"model time {result['int_dsp']['median_model_s']} s.", "",
          f"Load average at the end: {', '.join(f'{x:.2f}' for x in result['load_average'])}; autovacuum off "
          "while measuring."]
    (OUT / f"{name}.md").write_text("\n".join(md) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    sys.exit(main())
