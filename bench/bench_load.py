"""Benchmark the loader: rows per second, client CPU and the client's peak memory, per scale.

Each load runs ``eis load`` as a child of a small runner process, so ``getrusage(RUSAGE_CHILDREN)`` gives
that load's own peak resident memory (the client: reader, COPY, Great Expectations) and CPU seconds; the
PostgreSQL server's CPU seconds are read from the postmaster (its live children and the backends it has
reaped), so client + server CPU per row is comparable even on a shared machine.  Before every run the warehouse's raw tables, load log and
quarantine are emptied, so each run loads every table of the drop (none is "unchanged").  The load
average (1 minute) is recorded before and after each run: the machine may be shared.

    python bench/bench_load.py                    # medium (6.34M rows), 3 runs, median reported
    python bench/bench_load.py --scale cmpd --runs 1
    python bench/bench_load.py --code /path/to/other/checkout --label before   # an older loader, same drop

Figures go to docs/benchmarks/load_<scale>[_<label>].json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs" / "benchmarks"
sys.path.insert(0, str(REPO / "bench"))

RUNNER = (
    "import json, resource, subprocess, sys, time\n"
    "t = time.perf_counter()\n"
    "rc = subprocess.call(sys.argv[1:], stdout=subprocess.DEVNULL)\n"
    "wall = time.perf_counter() - t\n"
    "ru = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "print(json.dumps({'rc': rc, 'wall_s': wall, 'peak_kb': ru.ru_maxrss, 'cpu_s': ru.ru_utime + ru.ru_stime}))\n"
)


def reset_warehouse() -> None:
    from psycopg import sql

    from eis_core import db
    from eis_core.load.loader import ensure_raw_schema

    ensure_raw_schema()
    with db.connect() as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'raw' AND table_type = 'BASE TABLE'")]
        conn.execute(sql.SQL("TRUNCATE {}").format(sql.SQL(", ").join(sql.Identifier("raw", t) for t in tables)))
    with db.connect(autocommit=True) as conn:
        conn.execute("VACUUM")  # the truncated tables' space is reused, not grown, run after run


def server_cpu() -> float:
    """CPU seconds the PostgreSQL server has used so far: the postmaster, its live children, and the
    children it has reaped (each backend of a finished connection adds its time to ``children_*``)."""
    import psutil

    from eis_core.paths import pgdata_dir

    pid = int((pgdata_dir() / "postmaster.pid").read_text().split()[0])
    post = psutil.Process(pid)
    t = post.cpu_times()
    total = t.user + t.system + t.children_user + t.children_system
    for child in post.children():
        try:
            c = child.cpu_times()
            total += c.user + c.system
        except psutil.NoSuchProcess:
            continue
    return total


def one_run(drop: Path, code: Path) -> dict:
    reset_warehouse()
    env = dict(os.environ, PYTHONPATH=str(code), OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-c", RUNNER, sys.executable, "-m", "eis_core.cli", "load", "--reject-share", "0.05",
           "--allow-shrink", str(drop)]
    load_before = os.getloadavg()[0]
    cpu0 = server_cpu()
    res = subprocess.run(cmd, cwd=code, env=env, capture_output=True, text=True)
    cpu1 = server_cpu()
    load_after = os.getloadavg()[0]
    stats = json.loads(res.stdout.strip().splitlines()[-1])
    if stats["rc"] != 0:
        raise SystemExit(f"eis load exited {stats['rc']}:\n{res.stderr[-3000:]}")
    from eis_core import db

    with db.connect() as conn:
        load_id = conn.execute("SELECT max(load_id) FROM raw.load_log").fetchone()[0]
        per_table = {r[0]: {"rows_in": r[1], "status": r[2], "seconds": round(r[3], 1)} for r in conn.execute(
            "SELECT table_name, rows_in, status, extract(epoch FROM finished_at - started_at)::float FROM raw.load_log "
            "WHERE load_id = %s AND table_name <> '(load)'", (load_id,))}
    rows = sum(t["rows_in"] for t in per_table.values())
    return {"wall_s": round(stats["wall_s"], 1), "client_cpu_s": round(stats["cpu_s"], 1),
            "server_cpu_s": round(cpu1 - cpu0, 1), "cpu_s": round(stats["cpu_s"] + cpu1 - cpu0, 1),
            "rows_per_cpu_s": round(rows / (stats["cpu_s"] + cpu1 - cpu0)),
            "client_peak_mb": round(stats["peak_kb"] / 1024), "rows": rows,
            "rows_per_s": round(rows / stats["wall_s"]), "loadavg_before": round(load_before, 2),
            "loadavg_after": round(load_after, 2), "tables": per_table}


def main() -> int:
    from _measure import machine, use_home

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", default="medium", choices=["small", "medium", "cmpd"])
    ap.add_argument("--runs", type=int, default=None, help="runs (median reported); default 3, cmpd 1")
    ap.add_argument("--home", default=None, help="EIS_HOME (default: a temp dir); its drops/<scale> is reused")
    ap.add_argument("--code", default=str(REPO), help="checkout whose eis_core runs the loads (default: this one)")
    ap.add_argument("--label", default="", help="suffix of the output files (e.g. 'before')")
    args = ap.parse_args()
    runs = args.runs or (1 if args.scale == "cmpd" else 3)
    home = use_home(f"eis_bench_load_{args.scale}_", args.home)
    from eis_core import db
    from eis_core.synth import generate

    db.start()
    drop = home / "drops" / args.scale
    if not (drop / "_drop.json").exists():
        print(f"generating the {args.scale} drop in {drop} ...", flush=True)
        generate(args.scale, 42, drop, progress=None)
    results = []
    for i in range(runs):
        r = one_run(drop, Path(args.code))
        print(f"run {i + 1}/{runs}: {r['rows']:,} rows in {r['wall_s']} s ({r['rows_per_s']:,} rows/s), client peak "
              f"{r['client_peak_mb']} MB, CPU client {r['client_cpu_s']} s + server {r['server_cpu_s']} s, load average {r['loadavg_before']}"
              f"→{r['loadavg_after']}", flush=True)
        results.append(r)
    med = {k: statistics.median(r[k] for r in results)
           for k in ("wall_s", "client_cpu_s", "server_cpu_s", "cpu_s", "rows_per_cpu_s", "client_peak_mb", "rows_per_s",
                     "loadavg_before", "loadavg_after")}
    out = {"benchmark": "eis load", "scale": args.scale, "runs": runs, "code": str(args.code), "label": args.label,
           "machine": machine(), "median": med, "rows": results[0]["rows"], "results": results}
    stem = f"load_{args.scale}" + (f"_{args.label}" if args.label else "")
    DOCS.mkdir(parents=True, exist_ok=True)
    (DOCS / f"{stem}.json").write_text(json.dumps(out, indent=2) + "\n")
    lines = [f"# Loader benchmark: {args.scale}{' (' + args.label + ')' if args.label else ''}", "",
             f"Measured {out['machine']['date']} with `python bench/bench_load.py --scale {args.scale}` "
             f"({runs} run(s), median; each run loads every table of the drop into an emptied warehouse).",
             f"Code: `{args.code}`" + (" (this checkout)" if Path(args.code).resolve() == REPO else "") + ".",
             f"Machine: {out['machine']['cpus']} CPUs, {out['machine']['memory_gb']} GB RAM, shared with other "
             "sessions: the load average (1 min) is recorded with each run.", "",
             "| | median |", "|---|---:|",
             f"| rows | {results[0]['rows']:,} |", f"| wall s | {med['wall_s']} |",
             f"| rows per second (wall) | {int(med['rows_per_s']):,} |",
             f"| client CPU s | {med['client_cpu_s']} |", f"| PostgreSQL server CPU s | {med['server_cpu_s']} |",
             f"| rows per CPU second (client + server; comparable on a shared machine) | {int(med['rows_per_cpu_s']):,} |",
             f"| client peak RSS MB | {med['client_peak_mb']:.0f} |",
             f"| load average before → after | {med['loadavg_before']} → {med['loadavg_after']} |", "",
             "| run | wall s | rows/s | client peak MB | client CPU s | server CPU s | load average |",
             "|---:|---:|---:|---:|---:|---:|---|"]
    for i, r in enumerate(results, 1):
        lines.append(f"| {i} | {r['wall_s']} | {r['rows_per_s']:,} | {r['client_peak_mb']} | {r['client_cpu_s']} | "
                     f"{r['server_cpu_s']} | "
                     f"{r['loadavg_before']} → {r['loadavg_after']} |")
    lines += ["", "Seconds per table (first run, `raw.load_log` started → finished):", "",
              "| table | rows | seconds |", "|---|---:|---:|"]
    for name, t in sorted(results[0]["tables"].items(), key=lambda kv: -kv[1]["rows_in"]):
        lines.append(f"| {name} | {t['rows_in']:,} | {t['seconds']} |")
    (DOCS / f"{stem}.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {DOCS / stem}.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
