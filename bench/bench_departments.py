"""Six departments on one installation (issue 15): marts and grid together vs one after another, and the
marts of one department alone vs with five others on the server.

1. six small synthetic departments (seeds 1-6) are registered (a database each on one embedded server)
   and loaded (not timed); the first is loaded alone first, and its marts (full refresh) timed alone;
2. with all six loaded, the first department's marts are timed again ("present": the other databases
   hold their data, idle);
3. per pass: **single runs** - each department's marts (full refresh) and model grid (the demo's small
   grid, a fresh project folder and seed per pass so nothing is reused), one department after another,
   each in its own process; then **together** - the six processes at once;
4. each measured as wall, CPU-seconds (the processes + the PostgreSQL backends: /proc of the postmaster
   and its children, as bench/bench_triage.py counts them) and peak memory (summed PSS of the processes
   and this server's PostgreSQL processes); medians over the passes; load average recorded.

Writes docs/benchmarks/departments.{json,md}.  ``--departments N`` and ``--passes N`` to change the size.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

OUT = HERE.parent / "docs" / "benchmarks"
GRID = {
    "sklearn.tree.DecisionTreeClassifier": {"max_depth": [5], "min_samples_leaf": [10]},
    "eis_core.modeling.estimators.ScaledLogisticRegression": {"penalty": ["l2"], "C": [1.0]},
}


def worker(name: str, config: str) -> int:
    """In a process of its own: department *name*'s marts (full refresh) and grid; prints its timings."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from eis_core import departments
    from eis_core.features import build_features
    from eis_core.modeling.pipeline import run_all

    out = {"department": name}
    with departments.use(name):
        t0 = time.perf_counter()
        build_features(config, full_refresh=True, progress=None)
        out["marts_s"] = round(time.perf_counter() - t0, 2)
        t0 = time.perf_counter()
        res = run_all(config, progress=None)
        out["grid_s"] = round(time.perf_counter() - t0, 2)
        out["models"] = res["timings"]["models"]
        out["models_reused"] = res["timings"]["models_reused"]
    print("@@RESULT@@" + json.dumps(out), flush=True)
    return 0


def marts_only(name: str, config: str) -> float:
    from eis_core import departments
    from eis_core.features import build_features

    with departments.use(name):
        t0 = time.perf_counter()
        build_features(config, full_refresh=True, progress=None)
        return round(time.perf_counter() - t0, 2)


class ServerPeak:
    """PeakMemory restricted to this benchmark's own PostgreSQL server (other sessions run theirs)."""

    def __new__(cls, postmaster: int):
        import psutil
        from _measure import PeakMemory

        class _Peak(PeakMemory):
            def _procs(self):
                me = psutil.Process(os.getpid())
                procs = [me] + me.children(recursive=True)
                try:
                    pm = psutil.Process(postmaster)
                    procs += [pm] + pm.children()
                except psutil.NoSuchProcess:
                    pass
                return procs

        return _Peak(0.3)


def measured(pm: int, fn) -> dict:
    from bench_triage import Measure

    with ServerPeak(pm) as peak, Measure(pm) as m:
        extra = fn()
    return {**m.figures(), "peak_mb": peak.peak_mb, **(extra or {})}


def spawn(name: str, config: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, __file__, "--worker", name, "--config", config],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=HERE.parent)


def collect(proc: subprocess.Popen) -> dict:
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"worker failed (exit {proc.returncode}):\n{err[-3000:]}")
    line = next(ln for ln in out.splitlines() if ln.startswith("@@RESULT@@"))
    return json.loads(line[len("@@RESULT@@"):])


def singles(names: list[str], cfg: dict[str, str]) -> dict:
    """One department after another, each in its own process."""
    return {"per_department": [collect(spawn(name, cfg[name])) for name in names]}


def together(names: list[str], cfg: dict[str, str]) -> dict:
    """Every department at once, a process each."""
    procs = [spawn(name, cfg[name]) for name in names]
    return {"per_department": [collect(p) for p in procs]}


def pass_configs(names: list[str], home: Path, k: int) -> dict[str, str]:
    """A config per department for pass *k*: fresh project folder and seed (no matrix or model reused)."""
    import yaml

    from eis_core.demo_departments import demo_config

    out = {}
    for i, name in enumerate(names):
        path = demo_config(home / "bench-configs" / f"pass{k}" / name, home / "departments" / name / f"project{k}")
        cfg = yaml.safe_load(path.read_text())
        cfg["model_grid"] = GRID
        cfg["random_seed"] = 1000 * k + i
        path.write_text(yaml.safe_dump(cfg, sort_keys=False))
        out[name] = str(path)
    return out


def main() -> int:
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("--worker", default=None)
    ap.add_argument("--config", default=None)
    ap.add_argument("--departments", type=int, default=6)
    ap.add_argument("--passes", type=int, default=2, help="passes of single runs + together; medians")
    ap.add_argument("--repeats", type=int, default=3, help="marts alone / present runs; medians")
    ap.add_argument("--home", default=None)
    args = ap.parse_args()
    if args.worker:
        return worker(args.worker, args.config)

    from _measure import machine, use_home

    home = use_home("eis_bench_departments_", args.home)
    from eis_core import db, migrations
    from eis_core.departments import registry
    from eis_core.load.loader import load_drop
    from eis_core.synth import generate

    st = db.start()
    pm = st.pid
    migrations.ensure_schema()
    names = [f"dept{i}" for i in range(1, args.departments + 1)]
    f: dict = {"machine": machine(), "departments": names, "scale": "small", "passes": args.passes,
               "loadavg_start": [round(x, 2) for x in os.getloadavg()], "grid": GRID}
    cfg0 = pass_configs(names, home, 0)

    def prepare(name: str, seed: int) -> None:
        drop = home / "drops" / f"small-{seed}"
        if not (drop / "_drop.json").exists():
            generate("small", seed, drop, progress=None)
        registry.add(name, officer_config=cfg0[name], exist_ok=True)
        from eis_core import departments

        with departments.use(name):
            rep = load_drop(drop, progress=None)
        rep.raise_for_status()
        print(f"{name}: loaded {drop}", flush=True)

    prepare(names[0], 1)
    f["marts_alone_s"] = [marts_only(names[0], cfg0[names[0]]) for _ in range(args.repeats)]
    print(f"marts of {names[0]} alone: {f['marts_alone_s']}", flush=True)
    for i, name in enumerate(names[1:], start=2):
        prepare(name, i)
    f["marts_present_s"] = [marts_only(names[0], cfg0[names[0]]) for _ in range(args.repeats)]
    print(f"marts of {names[0]} with {len(names) - 1} others present: {f['marts_present_s']}", flush=True)

    f["single"], f["together"] = [], []
    for k in range(1, args.passes + 1):
        cfg = pass_configs(names, home, k)
        f["single"].append(measured(pm, lambda cfg=cfg: singles(names, cfg)))
        print(f"pass {k} single runs: {f['single'][-1]['wall_s']} s", flush=True)
        cfg = pass_configs(names, home, k + 100)
        f["together"].append(measured(pm, lambda cfg=cfg: together(names, cfg)))
        print(f"pass {k} together: {f['together'][-1]['wall_s']} s", flush=True)
    f["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    summarise(f)
    write(f)
    db.stop()
    return 0


def _med(xs) -> float:
    return round(statistics.median(xs), 1)


def summarise(f: dict) -> None:
    s = {}
    for side in ("single", "together"):
        runs = f[side]
        s[side] = {k: _med(r[k] for r in runs) for k in ("wall_s", "cpu_s", "client_cpu_s", "server_cpu_s", "peak_mb")}
        s[side]["marts_s_per_department"] = _med(d["marts_s"] for r in runs for d in r["per_department"])
        s[side]["grid_s_per_department"] = _med(d["grid_s"] for r in runs for d in r["per_department"])
        s[side]["models_reused"] = sum(d["models_reused"] for r in runs for d in r["per_department"])
    s["marts_alone_s"] = _med(f["marts_alone_s"])
    s["marts_present_s"] = _med(f["marts_present_s"])
    s["wall_ratio_together_over_sum"] = round(s["together"]["wall_s"] / s["single"]["wall_s"], 2)
    s["cpu_ratio_together_over_sum"] = round(s["together"]["cpu_s"] / s["single"]["cpu_s"], 2)
    f["summary"] = s


def write(f: dict) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "departments.json").write_text(json.dumps(f, indent=2, default=str) + "\n")
    s, n = f["summary"], len(f["departments"])
    one, tog = s["single"], s["together"]
    md = [
        f"# {n} departments on one installation",
        "",
        f"Measured {f['machine']['date']} on {f['machine']['cpus']} CPUs / {f['machine']['memory_gb']} GB "
        f"(`bench/bench_departments.py`, medians of {f['passes']} passes); load average (1 min) "
        f"{f['loadavg_start'][0]} at the start, {f['loadavg_end'][0]} at the end (a shared machine: compare "
        "CPU-seconds as well as wall).",
        "",
        f"{n} small synthetic departments (seeds 1-{n}, ~150 sworn officers, 4 years), each in its own database on "
        "one embedded PostgreSQL server. Per department: the feature and label marts (full refresh, 4 as-of "
        "dates × 3 windows) and a small grid (2 temporal splits × DecisionTree, logistic regression, prior and "
        "legacy baselines), each department in its own process. CPU = the processes + the PostgreSQL backends.",
        "",
        "| marts + grid of all departments | wall s | CPU-s (client + server) | peak memory MB | "
        "marts s per department | grid s per department |",
        "|---|---:|---:|---:|---:|---:|",
        f"| one after another (sum of {n} single runs) | {one['wall_s']} | {one['cpu_s']} "
        f"({one['client_cpu_s']} + {one['server_cpu_s']}) | {one['peak_mb']:,} | {one['marts_s_per_department']} | "
        f"{one['grid_s_per_department']} |",
        f"| together ({n} processes at once) | {tog['wall_s']} | {tog['cpu_s']} "
        f"({tog['client_cpu_s']} + {tog['server_cpu_s']}) | {tog['peak_mb']:,} | {tog['marts_s_per_department']} | "
        f"{tog['grid_s_per_department']} |",
        "",
        f"Together / one after another: wall **{s['wall_ratio_together_over_sum']}**, CPU "
        f"**{s['cpu_ratio_together_over_sum']}** (models reused across passes: "
        f"{one['models_reused'] + tog['models_reused']}).",
        "",
        "Marts of one department (full refresh), alone on the server vs with the other departments' databases "
        "loaded:",
        "",
        "| | marts wall s (median) | runs |",
        "|---|---:|---|",
        f"| only its database loaded | {s['marts_alone_s']} | {f['marts_alone_s']} |",
        f"| {n - 1} other departments loaded (idle) | {s['marts_present_s']} | {f['marts_present_s']} |",
        f"| {n - 1} others building at the same time | {tog['marts_s_per_department']} | (together, per department) |",
        "",
    ]
    (OUT / "departments.md").write_text("\n".join(md))


if __name__ == "__main__":
    sys.exit(main())
