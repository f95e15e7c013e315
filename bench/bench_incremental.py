"""Benchmark of incremental by load (issue 19.2): one new day's drop, loaded and turned into that day's marts.

The warehouse holds the department's export as it was before day D (``eis_core.synth.cut``: every row
fully known before D; marts built for D).  Each repetition then takes the export one day later (the same
files plus the day's events, a full export as a department sends it) and measures, through the CLI as the
daily DAG runs it:

1. ``eis load <drop of D+1>``: the loader validates the whole export and appends the day's rows
   (``write_mode`` append);
2. ``eis features build --as-of-date D+1`` (incremental: the running totals of the officers with a new row,
   from their first affected day; the marts for D+1, and D again, which was built from the previous load);
3. the same marts by a full rebuild: ``eis features build --as-of-date D --as-of-date D+1 --full-refresh``
   (every running total and both dates from scratch), for comparison.

Wall time and CPU-seconds (the ``eis`` processes AND the PostgreSQL server: postmaster with reaped
children + live children), medians over ``--repeat`` days; the load average is recorded at each step.
Writes docs/benchmarks/incremental_<scale>.json and .md.  Run: ``python bench/bench_incremental.py
[--scale small|medium|cmpd] [--home DIR] [--repeat N]``; reusing --home reuses the generated drop.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

OUT = HERE.parent / "docs" / "benchmarks"
EIS = str(Path(sys.executable).with_name("eis"))


def children_cpu() -> float:
    t = os.times()
    return t.children_user + t.children_system


def step(args: list[str]) -> dict:
    """Run `eis <args>` and return its wall time, CPU (the process and the database server) and load average."""
    from bench_dbt import server_cpu

    c0, s0, w0 = children_cpu(), server_cpu(), time.monotonic()
    proc = subprocess.run([EIS, *args], capture_output=True, text=True)
    c1, s1, w1 = children_cpu(), server_cpu(), time.monotonic()
    if proc.returncode:
        raise SystemExit(f"eis {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    lines = [x for x in proc.stdout.splitlines() if x.startswith(("running totals:", "dbt build:"))]
    slowest = []
    if args[0] == "features":  # where the build's time went (dbt's node times)
        from eis_core.transform import target_dir

        nodes = json.loads((target_dir() / "run_results.json").read_text())["results"]
        slowest = [(n["unique_id"].split(".")[2], round(n["execution_time"], 2))
                   for n in sorted(nodes, key=lambda n: -n["execution_time"])[:6]]
    return {"slowest_nodes": slowest, "wall_s": round(w1 - w0, 2), "cpu_s": round(c1 - c0 + s1 - s0, 2), "client_cpu_s": round(c1 - c0, 2),
            "server_cpu_s": round(s1 - s0, 2), "load_average": [round(x, 2) for x in os.getloadavg()], "lines": lines}


def _med(runs: list[dict], part: str, key: str) -> float:
    return round(statistics.median(r[part][key] for r in runs), 2)


def main() -> int:
    import argparse

    from _measure import machine, use_home

    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", default="medium", choices=["small", "medium", "cmpd"])
    ap.add_argument("--home", default=None)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    home = use_home(f"eis_bench_incremental_{args.scale}_", args.home)
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    from eis_core import db
    from eis_core.synth import generate
    from eis_core.synth.cut import cut_drop

    db.start()
    full = home / "drops" / args.scale
    if not (full / "_drop.json").exists():
        generate(args.scale, 42, full, progress=None)
    end = date.fromisoformat(json.loads((full / "_drop.json").read_text())["extracted_at"][:10])
    days = [end - timedelta(days=args.repeat - i) for i in range(args.repeat + 1)]  # D0 < D1 < ... <= end
    cuts = home / "cuts"
    shutil.rmtree(cuts, ignore_errors=True)

    def cut(day: date) -> Path:
        out = cuts / day.isoformat()
        cut_drop(full, out, day)
        return out

    # the warehouse before the first measured day: the export cut before D0, marts for D0 (not measured)
    print(f"setup: load the export as of {days[0]} and build its marts", flush=True)
    setup = [step(["load", str(cut(days[0]))]), step(["features", "build", "--as-of-date", days[0].isoformat()])]
    runs = []
    for prev, day in zip(days, days[1:]):
        drop = cut(day)
        rows = json.loads((drop / "_drop.json").read_text())
        load = step(["load", str(drop)])
        incr = step(["features", "build", "--as-of-date", day.isoformat()])
        rebuild = step(["features", "build", "--as-of-date", prev.isoformat(), "--as-of-date", day.isoformat(),
                        "--full-refresh"])
        shutil.rmtree(drop, ignore_errors=True)
        with db.connect() as conn:
            appended = conn.execute(
                "SELECT coalesce(sum(rows_added), 0) FROM raw.load_log WHERE load_id = (SELECT max(load_id) FROM "
                "raw.load_log) AND write_mode = 'append'").fetchone()[0]
        runs.append({"day": day.isoformat(), "rows_appended": int(appended),
                     "cut_before": rows.get("cut_before"), "load": load, "incremental": incr, "full_rebuild": rebuild})
        print(json.dumps(runs[-1]), flush=True)
    with db.connect() as conn:
        raw_rows = sum(conn.execute(f"SELECT count(*) FROM raw.{t}").fetchone()[0] for t in
                       ("dispatches", "calls_for_service", "traffic_stops", "arrests", "citations", "crime_reports"))
    result = {
        "scale": args.scale, "repeat": args.repeat, "raw_event_rows": raw_rows, "setup": setup, "runs": runs,
        "median": {
            "rows_appended": statistics.median(r["rows_appended"] for r in runs),
            "load_wall_s": _med(runs, "load", "wall_s"), "load_cpu_s": _med(runs, "load", "cpu_s"),
            "incremental_wall_s": _med(runs, "incremental", "wall_s"),
            "incremental_cpu_s": _med(runs, "incremental", "cpu_s"),
            "full_rebuild_wall_s": _med(runs, "full_rebuild", "wall_s"),
            "full_rebuild_cpu_s": _med(runs, "full_rebuild", "cpu_s"),
            "day_wall_s": round(statistics.median(r["load"]["wall_s"] + r["incremental"]["wall_s"] for r in runs), 2),
            "day_cpu_s": round(statistics.median(r["load"]["cpu_s"] + r["incremental"]["cpu_s"] for r in runs), 2),
            "day_full_wall_s": round(statistics.median(r["load"]["wall_s"] + r["full_rebuild"]["wall_s"] for r in runs), 2),
            "day_full_cpu_s": round(statistics.median(r["load"]["cpu_s"] + r["full_rebuild"]["cpu_s"] for r in runs), 2),
        },
        "load_average_end": [round(x, 2) for x in os.getloadavg()], "machine": machine(),
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"incremental_{args.scale}.json").write_text(json.dumps(result, indent=2))
    _write_md(result)
    shutil.rmtree(cuts, ignore_errors=True)
    return 0


def _write_md(r: dict) -> None:
    m = r["median"]
    la = [x["incremental"]["load_average"][0] for x in r["runs"]] + [x["load"]["load_average"][0] for x in r["runs"]]
    md = [f"# Incremental by load: one new day ({r['scale']}, {r['raw_event_rows']:,} raw event rows)", "",
          "`bench/bench_incremental.py`: the warehouse holds the export as of day D (marts for D); the export one "
          "day later (the same files plus the day's events) is loaded and turned into the marts for D+1 "
          f"through the CLI.  Medians of {r['repeat']} consecutive days ({m['rows_appended']:,.0f} rows appended "
          "per day); CPU = the `eis` process + the PostgreSQL server.", "",
          "| step | wall s | CPU-s |", "|---|---|---|",
          f"| `eis load` (whole export validated, the day's rows appended) | {m['load_wall_s']} | {m['load_cpu_s']} |",
          f"| `eis features build --as-of-date D+1` (incremental running totals; marts for D+1, and D rebuilt) "
          f"| {m['incremental_wall_s']} | {m['incremental_cpu_s']} |",
          f"| same marts by a full rebuild (`--full-refresh`, both dates) | {m['full_rebuild_wall_s']} | "
          f"{m['full_rebuild_cpu_s']} |",
          f"| **new day: load + incremental features** | **{m['day_wall_s']}** | **{m['day_cpu_s']}** |",
          f"| new day: load + full rebuild | {m['day_full_wall_s']} | {m['day_full_cpu_s']} |", "",
          f"Load average (1 min) during the runs: {min(la):.1f}-{max(la):.1f} on {r['machine']['cpus']} cores "
          f"(shared machine; end: {', '.join(str(x) for x in r['load_average_end'])}).", ""]
    for x in r["runs"]:
        md.append(f"* {x['day']}: {x['rows_appended']:,} rows appended; " + " / ".join(x["incremental"]["lines"]))
    (OUT / f"incremental_{r['scale']}.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    sys.exit(main())
