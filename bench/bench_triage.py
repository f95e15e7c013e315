"""The platform's feature marts against triage 6.0.0's feature generation, on the same drop (issue 19).

1. generate the department (default `medium`; `--scale cmpd`), load it, build staging (not timed);
2. ours: the intermediate running totals and the feature marts with configs/presets/triage_equivalent.yaml
   (the blocks of triage's feature set, 6 windows), full refresh: wall and CPU-seconds of this process,
   its children and every PostgreSQL server process (read from /proc/<pid>/stat before and after; the
   postmaster's cutime/cstime holds the backends that ended in between);
3. triage, **when installed** in a separate venv (it is not a dependency; see docs/benchmarks/triage.md):
   the same source rows, materialised once (not timed) with an integer entity_id, and a
   feature_aggregations config with the same definitions (IA cases by event type; dispatch count and
   travel time; arrests count and discretionary-only; stops count, searched, use of force; training
   hours; the same 6 windows, the same cohort and as-of dates); triage's FeatureGenerator builds its
   aggregation and imputed tables, measured the same way;
4. checks that the features both compute agree row by row, and writes docs/benchmarks/triage.{json,md}
   with the load average at the time (`--scale cmpd`: docs/benchmarks/triage_cmpd.*).

The triage venv: ``--triage-python`` (default ``$TRIAGE_PYTHON`` or /tmp/triage-venv/bin/python).  Without
it the benchmark records our side only and says "triage not installed" (exit 0).
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

OUT = HERE.parent / "docs" / "benchmarks"
PRESET = HERE.parent / "configs" / "presets" / "triage_equivalent.yaml"
INSTALL = "python -m venv /tmp/triage-venv && /tmp/triage-venv/bin/pip install triage==6.0.0 'pyarrow<16'"
#: (our window name, triage interval)
WINDOWS = [("1m", "1month"), ("3m", "3month"), ("6m", "6month"), ("1y", "1year"), ("5y", "5year"), ("all", "all")]
EVENT_TYPES = ["CITIZEN_COMPLAINT", "OFFICER_COMPLAINT", "VEHICLE_ACCIDENT", "INJURY", "USE_OF_FORCE",
               "RAID_AND_SEARCH", "PURSUIT", "FIREARM_DISCHARGE", "TIRE_DEFLATION", "RULE_VIOLATION", "SICK_LEAVE"]
SCHEMA = "triage_bench"


# --------------------------------------------------------------------------------------------- CPU
def _stat(pid: int) -> tuple[int, float, float] | None:
    """(ppid, utime+stime, cutime+cstime) of *pid* in seconds, or None when it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    f = raw[raw.rindex(")") + 2:].split()
    tck = os.sysconf("SC_CLK_TCK")
    return int(f[1]), (int(f[11]) + int(f[12])) / tck, (int(f[13]) + int(f[14])) / tck


def server_cpu(postmaster: int) -> float:
    """CPU-seconds of the PostgreSQL server: the postmaster, its live children, and (cutime/cstime of the
    postmaster) the children it has reaped - backends of connections that ended."""
    total = 0.0
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        st = _stat(int(name))
        if st is None:
            continue
        if int(name) == postmaster:
            total += st[1] + st[2]
        elif st[0] == postmaster:
            total += st[1]
    return total


def client_cpu() -> float:
    """CPU-seconds of this process and its waited-for children."""
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


class Measure:
    def __init__(self, postmaster: int) -> None:
        self.pm = postmaster

    def __enter__(self) -> "Measure":
        self.load_before = os.getloadavg()
        self.c0, self.s0, self.t0 = client_cpu(), server_cpu(self.pm), time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.wall = time.perf_counter() - self.t0
        self.client = client_cpu() - self.c0
        self.server = server_cpu(self.pm) - self.s0
        self.load_after = os.getloadavg()

    def figures(self) -> dict:
        return {"wall_s": round(self.wall, 1), "client_cpu_s": round(self.client, 1),
                "server_cpu_s": round(self.server, 1), "cpu_s": round(self.client + self.server, 1),
                "loadavg_1m_before": round(self.load_before[0], 2), "loadavg_1m_after": round(self.load_after[0], 2)}


# ------------------------------------------------------------------------------------------ triage
def triage_python(explicit: str | None) -> tuple[str | None, str]:
    """The triage venv's Python and triage's version, or (None, why not)."""
    py = explicit or os.environ.get("TRIAGE_PYTHON") or "/tmp/triage-venv/bin/python"
    if not Path(py).exists():
        return None, "triage not installed"
    r = subprocess.run([py, "-c", "import importlib.metadata as m; print(m.version('triage'))"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        return None, "triage not installed"
    return py, r.stdout.strip()


def triage_inputs(conn) -> None:
    """The source rows for triage, materialised once with an integer entity_id (triage's convention),
    and its cohort table (entity_id, as_of_date) = our cohort."""
    conn.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
    conn.execute(f"CREATE SCHEMA {SCHEMA}")
    conn.execute(f"CREATE TABLE {SCHEMA}.entities AS SELECT officer_id, "
                 "(row_number() OVER (ORDER BY officer_id))::int AS entity_id FROM staging.stg_officers")
    conn.execute(f"CREATE UNIQUE INDEX ON {SCHEMA}.entities (officer_id)")
    inputs = {
        "cohort": "SELECT e.entity_id, c.as_of_date::timestamp AS as_of_date, true AS active "
                  "FROM features.officer_cohort c JOIN {S}.entities e USING (officer_id)",
        "ia": "SELECT e.entity_id, i.reported_date::timestamp AS knowledge_date, i.event_type "
              "FROM staging.stg_ia_cases i JOIN {S}.entities e USING (officer_id)",
        "dispatches": "SELECT e.entity_id, d.dispatched_at AS knowledge_date FROM staging.stg_dispatches d "
                      "JOIN {S}.entities e USING (officer_id)",
        "arrivals": "SELECT e.entity_id, d.arrived_at AS knowledge_date, "
                    "extract(epoch FROM d.arrived_at - d.dispatched_at) / 60.0 AS travel_min "
                    "FROM staging.stg_dispatches d JOIN {S}.entities e USING (officer_id) WHERE d.arrived_at IS NOT NULL",
        "arrests": "SELECT e.entity_id, a.arrested_at AS knowledge_date, a.discretionary_only::int AS discretionary "
                   "FROM staging.stg_arrests a JOIN {S}.entities e USING (officer_id)",
        "stops": "SELECT e.entity_id, s.stopped_at AS knowledge_date, s.searched::int AS searched, "
                 "s.use_of_force::int AS force FROM staging.stg_traffic_stops s JOIN {S}.entities e USING (officer_id)",
        "training": "SELECT e.entity_id, t.completed_on::timestamp AS knowledge_date, t.credit_hours AS hours "
                    "FROM staging.stg_training t JOIN {S}.entities e USING (officer_id)",
    }
    for name, q in inputs.items():
        conn.execute(f"CREATE TABLE {SCHEMA}.{name} AS " + q.format(S=SCHEMA))
        conn.execute(f"CREATE INDEX ON {SCHEMA}.{name} (entity_id)")
        conn.execute(f"ANALYZE {SCHEMA}.{name}")


def triage_config() -> list[dict]:
    """triage's feature_aggregations: the definitions of the shared feature set."""
    intervals = [t for _, t in WINDOWS]
    zero = {"all": {"type": "zero_noflag"}}

    def agg(prefix, from_obj, aggregates, categoricals=(), imputation=zero):
        return {"prefix": prefix, "from_obj": f"{SCHEMA}.{from_obj}", "knowledge_date_column": "knowledge_date",
                "aggregates_imputation": imputation, "categoricals_imputation": zero,
                "aggregates": list(aggregates), "categoricals": list(categoricals),
                "intervals": intervals}

    return [
        agg("ia", "ia", [{"quantity": {"total": "*"}, "metrics": ["count"]}],
            [{"column": "event_type", "choices": EVENT_TYPES, "metrics": ["sum"]}]),
        agg("dsp", "dispatches", [{"quantity": {"calls": "*"}, "metrics": ["count"]}]),
        agg("dsptravel", "arrivals", [{"quantity": "travel_min", "metrics": ["sum", "avg"]}],
            imputation={"sum": {"type": "zero_noflag"}, "avg": {"type": "zero"}}),
        agg("arr", "arrests", [{"quantity": {"total": "*"}, "metrics": ["count"]},
                               {"quantity": "discretionary", "metrics": ["sum"]}]),
        agg("ts", "stops", [{"quantity": {"stops": "*"}, "metrics": ["count"]},
                            {"quantity": "searched", "metrics": ["sum"]}, {"quantity": "force", "metrics": ["sum"]}]),
        agg("trn", "training", [{"quantity": "hours", "metrics": ["sum"]}]),
    ]


#: our mart column (window appended) -> triage column (interval in {i}), for the agreement check
SHARED = {"ia_cases_{w}": "ia_entity_id_{i}_total_count", "dsp_calls_{w}": "dsp_entity_id_{i}_calls_count",
          "arr_total_{w}": "arr_entity_id_{i}_total_count", "arr_discretionary_{w}": "arr_entity_id_{i}_discretionary_sum",
          "ts_stops_{w}": "ts_entity_id_{i}_stops_count", "ts_searches_{w}": "ts_entity_id_{i}_searched_sum",
          "ts_uof_{w}": "ts_entity_id_{i}_force_sum", "trn_hours_{w}": "trn_entity_id_{i}_hours_sum"}


def run_triage(py: str, dates: list[date], pm: int) -> dict:
    from eis_core import db

    spec = {"db_url": db.sqlalchemy_url(), "schema": SCHEMA,
            "cohort_table": f"{SCHEMA}.cohort", "as_of_dates": [d.isoformat() for d in dates],
            "feature_aggregations": triage_config()}
    with tempfile.TemporaryDirectory() as tmp:
        sp, op = Path(tmp) / "spec.json", Path(tmp) / "out.json"
        sp.write_text(json.dumps(spec))
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        with Measure(pm) as m:
            r = subprocess.run([py, str(HERE / "_triage_run.py"), str(sp), str(op)], env=env,
                               capture_output=True, text=True)
        if r.returncode != 0:
            return {"error": (r.stderr or r.stdout).strip().splitlines()[-1][:300], **m.figures()}
        out = json.loads(op.read_text())
    f = m.figures()
    # like our side (dbt imported and warm in this process), triage's client is counted from after its
    # imports: the generation's own CPU; the whole subprocess (Python start, imports) is kept apart
    f["client_cpu_with_startup_s"] = f["client_cpu_s"]
    f["client_cpu_s"] = round(out.pop("generation_client_cpu_s"), 1)
    f["cpu_s"] = round(f["client_cpu_s"] + f["server_cpu_s"], 1)
    f["wall_with_startup_s"] = f["wall_s"]
    f["wall_s"] = round(out.pop("generation_wall_s"), 1)
    return {**f, **out}


# ---------------------------------------------------------------------------------------------- main
def main() -> int:
    import argparse

    from _measure import machine, use_home

    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", default="medium", choices=["small", "medium", "cmpd"])
    ap.add_argument("--home", default=None, help="EIS_HOME for the benchmark (default: a temp dir)")
    ap.add_argument("--repeats", type=int, default=3, help="runs of each side; medians are reported")
    ap.add_argument("--triage-python", default=None, help="Python of the venv with triage 6.0.0")
    args = ap.parse_args()
    home = use_home(f"eis_bench_triage_{args.scale}_", args.home)

    from eis_core import db
    from eis_core.config import dbt_vars, load_labels_config, load_officer_config
    from eis_core.load.loader import load_drop
    from eis_core.synth import generate
    from eis_core.transform import dbt_build

    st = db.start()
    pm = st.pid
    drop = home / "drops" / args.scale
    figures: dict = {"scale": args.scale, "machine": machine(), "preset": str(PRESET.relative_to(HERE.parent)),
                     "loadavg_start": [round(x, 2) for x in os.getloadavg()]}
    if not (drop / "_drop.json").exists():
        generate(args.scale, 42, drop)
    with db.connect() as conn:
        loaded = conn.execute("SELECT to_regclass('raw.load_log') IS NOT NULL").fetchone()[0] and conn.execute(
            "SELECT count(*) FROM raw.load_log WHERE status = 'loaded'").fetchone()[0] > 0
    if not loaded:
        rep = load_drop(drop, progress=lambda m: print(m, flush=True))
        if not rep.ok:
            print(rep.summary())
            return 1

    officer, labels = load_officer_config(PRESET), load_labels_config()
    if args.scale == "cmpd":
        dates = [date(2006 + i // 2, 1 + 6 * (i % 2), 1) for i in range(19)]   # 2006-01-01 … 2015-01-01
    else:
        dates = officer.as_of_dates.dates()                                    # 13: 2009-07-01 … 2015-07-01
    figures["as_of_dates"] = len(dates)
    figures["windows"] = [w.name for w in officer.feature_windows]
    v = dbt_vars(officer, labels, dates)
    dbt_build(select="path:models/staging", progress=None, dbt_vars=v, indirect_selection="cautious")

    ours = []
    for k in range(args.repeats):
        with Measure(pm) as m:
            dbt_build(select="path:models/intermediate path:models/marts", full_refresh=True, progress=None,
                      dbt_vars=v, indirect_selection="cautious")
        ours.append(m.figures())
        print(f"ours, run {k + 1}: {ours[-1]}", flush=True)
    with db.connect() as conn:
        rows = conn.execute("SELECT count(*) FROM features.officer_features").fetchone()[0]
        cols = [r[0] for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'features' "
            "AND table_name = 'officer_features' AND column_name NOT IN ('officer_id', 'as_of_date')")]
        blocks = dict(conn.execute("SELECT block, count(*) FROM features.feature_dictionary "
                                   "WHERE feature IS NOT NULL GROUP BY block ORDER BY block").fetchall())
    figures["ours"] = {"runs": ours, "median_cpu_s": statistics.median(r["cpu_s"] for r in ours),
                       "median_wall_s": statistics.median(r["wall_s"] for r in ours),
                       "rows": rows, "features": len(cols), "features_by_block": blocks}
    figures["ours"]["values_per_cpu_s"] = round(rows * len(cols) / max(figures["ours"]["median_cpu_s"], 0.1))

    py, version = triage_python(args.triage_python)
    figures["triage"] = {"installed": py is not None, "version": version if py else None}
    if py is None:
        figures["triage"]["note"] = f"triage not installed; install: {INSTALL}"
        print("triage not installed: recording our side only", flush=True)
    else:
        with db.connect() as conn:
            triage_inputs(conn)
        runs = []
        for k in range(args.repeats):
            with db.connect() as conn:   # each run starts from an empty feature schema (triage's own tables)
                for (t,) in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s AND tablename NOT IN "
                                         "('entities','cohort','ia','dispatches','arrivals','arrests','stops','training')",
                                         (SCHEMA,)).fetchall():
                    conn.execute(f'DROP TABLE {SCHEMA}."{t}"')
            runs.append(run_triage(py, dates, pm))
            print(f"triage, run {k + 1}: { {x: y for x, y in runs[-1].items() if x != 'tables'} }", flush=True)
            if "error" in runs[-1]:
                break
        tr = figures["triage"]
        tr["runs"] = [{x: y for x, y in r.items() if x != "tables"} for r in runs]
        if "error" not in runs[-1]:
            tables = runs[-1]["tables"]
            imputed = [t for t in tables if t["table"].endswith("_imputed")] or tables
            tr["tables"] = [t["table"] for t in imputed]
            tr["features"] = sum(len(t["features"]) for t in imputed)
            tr["rows"] = max((t["rows"] for t in imputed), default=0)
            tr["median_cpu_s"] = statistics.median(r["cpu_s"] for r in runs)
            tr["median_wall_s"] = statistics.median(r["wall_s"] for r in runs)
            tr["values_per_cpu_s"] = round(tr["rows"] * tr["features"] / max(tr["median_cpu_s"], 0.1))
            figures["agreement"] = agreement(imputed)
            figures["cpu_ratio_triage_over_ours"] = round(tr["median_cpu_s"] / figures["ours"]["median_cpu_s"], 2)
    figures["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    db.stop()
    write(figures)
    return 0


def agreement(imputed: list[dict]) -> dict:
    """The features both sides compute, compared per (officer, as-of date): how many values differ."""
    from eis_core import db

    where = {c: t["table"] for t in imputed for c in t["features"]}
    checked, differ, missing = 0, 0, []
    with db.connect() as conn:
        for ours_c, theirs_c in SHARED.items():
            for w, i in WINDOWS:
                a, b = ours_c.format(w=w), theirs_c.format(i=i)
                if b not in where:
                    missing.append(b)
                    continue
                n, bad = conn.execute(
                    f'SELECT count(*), count(*) FILTER (WHERE abs(coalesce(f."{a}", 0) - coalesce(t."{b}", 0)) > 1e-6) '
                    f'FROM features.officer_features f JOIN {SCHEMA}.entities e USING (officer_id) '
                    f'JOIN {SCHEMA}."{where[b]}" t ON t.entity_id = e.entity_id AND t.as_of_date::date = f.as_of_date'
                ).fetchone()
                checked += n
                differ += bad
    return {"features_compared": len(SHARED) * len(WINDOWS) - len(missing), "values_compared": checked,
            "values_differing": differ, "triage_columns_not_found": missing[:10]}


def write(f: dict) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    name = "triage" if f["scale"] == "medium" else f"triage_{f['scale']}"
    (OUT / f"{name}.json").write_text(json.dumps(f, indent=2, default=str) + "\n")
    o, t = f["ours"], f["triage"]
    md = [f"# Feature marts against triage 6.0.0 — `{f['scale']}` department", "",
          f"Measured {f['machine']['date']} on {f['machine']['cpus']} CPUs / {f['machine']['memory_gb']} GB "
          f"(`bench/bench_triage.py`, medians of {len(o['runs'])} runs); load average (1 min) "
          f"{f['loadavg_start'][0]} at the start, {f['loadavg_end'][0]} at the end: the machine was shared, so "
          "compare CPU-seconds (client + PostgreSQL backends), not wall.", "",
          f"{f['as_of_dates']} as-of dates × {len(f['windows'])} windows ({', '.join(f['windows'])}); "
          f"features built with `{f['preset']}`.", "",
          "| side | features | rows | CPU-s (client + server) | wall s | feature values per CPU-s |",
          "| --- | ---: | ---: | ---: | ---: | ---: |",
          f"| platform (dbt: running totals + marts) | {o['features']} | {o['rows']:,} | {o['median_cpu_s']} | "
          f"{o['median_wall_s']} | {o['values_per_cpu_s']:,} |"]
    if t.get("median_cpu_s") is not None:
        md.append(f"| triage {t['version']} (FeatureGenerator: aggregation + imputed tables) | {t['features']} | "
                  f"{t['rows']:,} | {t['median_cpu_s']} | {t['median_wall_s']} | {t['values_per_cpu_s']:,} |")
        md += ["", f"CPU ratio triage / platform: **{f['cpu_ratio_triage_over_ours']}** (above 1: the platform "
               "needs less CPU for its superset of triage's features).", ""]
        startup = statistics.median(r.get("client_cpu_with_startup_s", 0) - r["client_cpu_s"] for r in t["runs"])
        md += [f"Both sides are counted warm: ours from after dbt's import and parse in the benchmark process (the "
               f"staging build before the clock), triage's client from after its imports; its subprocess start-up "
               f"(Python, triage, pandas, torch imports) took another {startup:.1f} CPU-s per run, not counted.", ""]
        a = f.get("agreement", {})
        md.append(f"Agreement on the {a.get('features_compared')} features both compute: "
                  f"{a.get('values_differing')} of {a.get('values_compared'):,} values differ.")
    elif t.get("runs"):
        md += ["", f"triage {t['version']} failed: `{t['runs'][-1].get('error')}`"]
    else:
        md += ["", f"**triage not installed**: only the platform's side was measured. Install it in a separate venv "
               f"(it pulls torch; it is not a dependency of the platform): `{INSTALL}`, then "
               "`TRIAGE_PYTHON=/tmp/triage-venv/bin/python make bench` (or `python bench/bench_triage.py`)."]
    md += ["", "Per block on our side: " + ", ".join(f"{b} {n}" for b, n in o["features_by_block"].items()) + ".", "",
           "Runs (CPU-s client + server, wall, load average before → after):", ""]
    for side, runs in (("platform", o["runs"]), ("triage", t.get("runs") or [])):
        for r in runs:
            md.append(f"- {side}: {r.get('client_cpu_s')} + {r.get('server_cpu_s')} = {r.get('cpu_s')} CPU-s, "
                      f"{r.get('wall_s')} s wall, load {r.get('loadavg_1m_before')} → {r.get('loadavg_1m_after')}")
    md += ["", "## What the preset cannot express", "",
           "The config switches whole feature blocks; it cannot pick columns inside a block. With the five blocks "
           "of triage's set on, the platform also builds: IA cases closed by disposition and adverse closures "
           "(known from closed_date); dispatch priority bands, call-type groups, officer-initiated share, night and "
           "stress calls, hours on calls, and the crime-report counts of the dispatches block; arrests without "
           "probable cause and by charge category; stops with contraband hits and ending in arrest; training "
           "courses and hours by topic; plus the ratio/imputation columns of each. triage's config here has "
           "exactly the shared definitions; both sides read the same rows, cohort, as-of dates and windows "
           "([as_of_date − window, as_of_date)). Its input tables (the staging rows with an integer "
           "entity_id) are materialised before the clock starts, as our staging is.", "",
           "## Installing triage for this benchmark", "",
           f"`{INSTALL}` — a separate venv (triage 6.0.0 pins old pandas/SQLAlchemy and pulls torch), then "
           "`TRIAGE_PYTHON=/tmp/triage-venv/bin/python python bench/bench_triage.py [--scale cmpd]`.", ""]
    (OUT / f"{name}.md").write_text("\n".join(md))
    print("\n".join(md))


if __name__ == "__main__":
    sys.exit(main())
