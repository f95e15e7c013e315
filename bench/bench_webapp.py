"""Benchmark: server-side render time of the web app's risk list with 1,800 scored officers (the
`cmpd`-sized department), target < 1 s.

A private EIS_HOME and embedded PostgreSQL; the warehouse is seeded by tests/webapp_data.py with 1,800
officers in 13 divisions scored on 42 as-of dates (daily for 30 days, then monthly for a year: ~76k
predictions, ~380k risk factors, ~380k rank changes) and 400 past reviews.  Then, logged in as an
analyst, each page is requested --repeat times (after one warm-up):

* in-process: the ASGI app through Starlette's TestClient (no network);
* loopback: uvicorn serving the app on 127.0.0.1, requested with httpx (a real HTTP round trip).

The median is what counts.  Writes docs/benchmarks/webapp.md and .json.
"""

from __future__ import annotations

import argparse
import json
import re
import socket
import statistics
import sys
import threading
import time
from datetime import date, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

from _measure import PeakMemory, machine, use_home  # noqa: E402

TARGET_S = 1.0


def _dates(latest: date) -> list[date]:
    daily = [latest - timedelta(days=i) for i in range(30)]
    monthly = [latest - timedelta(days=30 * k) for k in range(2, 14)]
    return sorted(set(daily + monthly))


def _timed(get, path: str, repeat: int) -> dict:
    r = get(path)  # warm-up (template compilation, plan caching)
    assert r.status_code == 200, (path, r.status_code, r.text[:300])
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        r = get(path)
        times.append(time.perf_counter() - t0)
        assert r.status_code == 200, (path, r.status_code)
    return {"path": path, "median_s": round(statistics.median(times), 4), "min_s": round(min(times), 4),
            "max_s": round(max(times), 4), "bytes": len(r.content), "repeat": repeat}


def _login(client, password: str) -> None:
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    r = client.post("/login", data={"username": "benchana", "password": password, "csrf_token": token})
    assert r.status_code == 303, r.text[:300]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--officers", type=int, default=1800)
    ap.add_argument("--repeat", type=int, default=9)
    ap.add_argument("--home", default=None, help="EIS_HOME for the benchmark (default: a temp dir)")
    ap.add_argument("--existing", action="store_true",
                    help="measure the warehouse of --home as it is (e.g. the cmpd warehouse that "
                         "bench/bench_production.py scored) instead of seeding one; writes webapp_existing.md/json")
    args = ap.parse_args()
    if args.existing:
        if not args.home:
            ap.error("--existing needs --home")
        return existing(Path(args.home), args.repeat)
    home = use_home("eis_bench_webapp_", args.home)

    from eis_core import db

    db.start()
    import webapp_data as wd

    cleanup = wd.isolated_database("eis_bench_webapp")
    try:
        latest = date(2024, 6, 1)
        dates = _dates(latest)
        print(f"seeding {args.officers} officers x {len(dates)} as-of dates ...", flush=True)
        t0 = time.perf_counter()
        seeded = wd.seed_all(n_officers=args.officers, n_divisions=13, dates=dates)
        with db.connect() as conn:
            for i, o in enumerate(seeded["officers"][:400]):
                conn.execute("INSERT INTO production.reviews (as_of_date, officer_id, reviewer, agrees_with_score, "
                             "factor_agreement, intervention) VALUES (%s, %s, 'bench', true, '{\"x\": true}', 'none')",
                             (dates[-1 - (i % 20)], o["officer_id"]))
            conn.execute("ANALYZE")
            n_pred = conn.execute("SELECT count(*) FROM production.predictions").fetchone()[0]
            n_latest = conn.execute("SELECT count(*) FROM production.predictions WHERE as_of_date = %s",
                                    (latest,)).fetchone()[0]
        seed_s = time.perf_counter() - t0
        print(f"seeded in {seed_s:.1f} s: {n_pred} predictions, {n_latest} on {latest}", flush=True)

        from starlette.testclient import TestClient

        from eis_core.webapp import store
        from eis_core.webapp.app import create_app

        password = store.add_user("benchana", "analyst")
        app = create_app()
        pages = ["/risk", "/risk?division=NORTH", "/risk.csv", "/officers/OF00001", "/units", "/models"]
        results = {"in_process": [], "loopback": []}
        with PeakMemory() as mem:
            client = TestClient(app, follow_redirects=False)
            _login(client, password)
            for p in pages:
                results["in_process"].append(_timed(client.get, p, args.repeat))
                print(f"in-process {p:<24} median {results['in_process'][-1]['median_s']:.3f} s", flush=True)

            import httpx
            import uvicorn

            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
            th = threading.Thread(target=server.run, daemon=True)
            th.start()
            while not server.started:
                time.sleep(0.05)
            try:
                with httpx.Client(base_url=f"http://127.0.0.1:{port}", follow_redirects=False, timeout=30) as hc:
                    _login(hc, password)
                    for p in pages:
                        results["loopback"].append(_timed(hc.get, p, args.repeat))
                        print(f"loopback   {p:<24} median {results['loopback'][-1]['median_s']:.3f} s", flush=True)
            finally:
                server.should_exit = True
                th.join(timeout=10)
        risk = results["in_process"][0]
        out = {"officers_scored": n_latest, "as_of_dates": len(dates), "predictions": n_pred,
               "seed_seconds": round(seed_s, 1), "repeat": args.repeat, "target_s": TARGET_S,
               "risk_list_median_s": risk["median_s"], "risk_list_loopback_median_s": results["loopback"][0]["median_s"],
               "meets_target": risk["median_s"] < TARGET_S and results["loopback"][0]["median_s"] < TARGET_S,
               "peak_mb": mem.peak_mb, "results": results, "machine": machine()}
    finally:
        cleanup()
        db.stop()
        if not args.home:
            import shutil

            shutil.rmtree(home, ignore_errors=True)
    bench_dir = HERE.parent / "docs" / "benchmarks"
    bench_dir.mkdir(parents=True, exist_ok=True)
    (bench_dir / "webapp.json").write_text(json.dumps(out, indent=2) + "\n")
    lines = ["# Web app: server-side render time", "",
             f"`bench/bench_webapp.py` on {out['machine']['date']} ({out['machine']['cpus']} CPUs, "
             f"{out['machine']['memory_gb']} GB, Python {out['machine']['python']}). "
             f"{n_latest} officers scored on the latest date ({len(dates)} as-of dates, {n_pred} predictions in "
             f"the warehouse, 400 past reviews), logged in as an analyst; median of {args.repeat} requests after "
             f"a warm-up. Target: the full risk list in under {TARGET_S:.0f} s.", "",
             "| page | in-process median (s) | loopback HTTP median (s) | response size (kB) |", "|---|---|---|---|"]
    for a, b in zip(results["in_process"], results["loopback"]):
        lines.append(f"| `{a['path']}` | {a['median_s']:.3f} | {b['median_s']:.3f} | {a['bytes'] / 1024:.0f} |")
    lines += ["", f"Risk list with all {n_latest} officers: **{risk['median_s']:.3f} s** in-process, "
              f"**{results['loopback'][0]['median_s']:.3f} s** over loopback HTTP "
              f"({'meets' if out['meets_target'] else 'MISSES'} the {TARGET_S:.0f} s target). "
              f"Peak memory of the process: {out['peak_mb']} MB.", ""]
    (bench_dir / "webapp.md").write_text("\n".join(lines))
    print("\n".join(lines))
    return 0 if out["meets_target"] else 1


def existing(home: Path, repeat: int) -> int:
    """Render times on a real scored warehouse (no seeding): the latest scored date's risk list."""
    use_home("", home)
    from starlette.testclient import TestClient

    from eis_core import db
    from eis_core.webapp import store
    from eis_core.webapp.app import create_app

    db.start()
    with db.connect() as conn:
        latest = conn.execute("SELECT max(as_of_date) FROM production.predictions").fetchone()[0]
        n = conn.execute("SELECT count(*) FROM production.predictions WHERE as_of_date = %s", (latest,)).fetchone()[0]
        n_pred = conn.execute("SELECT count(*) FROM production.predictions").fetchone()[0]
        top, div = conn.execute("SELECT officer_id, division FROM production.predictions WHERE as_of_date = %s "
                                "ORDER BY rank_abs LIMIT 1", (latest,)).fetchone()
    store.ensure_webapp_schema()
    password = store.add_user("benchana", "analyst", replace=True)
    client = TestClient(create_app(), follow_redirects=False)
    _login(client, password)
    pages = ["/risk", f"/risk?division={div}", "/risk.csv", f"/officers/{top}", "/units", "/models"]
    res = [_timed(client.get, p, repeat) for p in pages]
    for r in res:
        print(f"{r['path']:<32} median {r['median_s']:.3f} s", flush=True)
    out = {"warehouse": str(home), "as_of_date": str(latest), "officers_scored": n, "predictions": n_pred,
           "repeat": repeat, "target_s": TARGET_S, "risk_list_median_s": res[0]["median_s"],
           "meets_target": res[0]["median_s"] < TARGET_S, "results": res, "machine": machine()}
    bench_dir = HERE.parent / "docs" / "benchmarks"
    (bench_dir / "webapp_existing.json").write_text(json.dumps(out, indent=2, default=str) + "\n")
    lines = ["# Web app on a real scored warehouse", "",
             f"`bench/bench_webapp.py --existing --home H` on {out['machine']['date']} "
             f"({out['machine']['cpus']} CPUs): the `cmpd` warehouse that `bench/bench_production.py` scored "
             f"({n:,} officers on {latest}, {n_pred:,} predictions in all), in-process, median of {repeat} "
             "requests after a warm-up, logged in as an analyst.", "",
             "| page | median (s) | response size (kB) |", "|---|---:|---:|"]
    lines += [f"| `{r['path']}` | {r['median_s']:.3f} | {r['bytes'] / 1024:.0f} |" for r in res]
    lines += ["", f"Risk list with all {n:,} officers: **{res[0]['median_s']:.3f} s** "
              f"({'meets' if out['meets_target'] else 'MISSES'} the {TARGET_S:.0f} s target).", ""]
    (bench_dir / "webapp_existing.md").write_text("\n".join(lines))
    print("\n".join(lines))
    return 0 if out["meets_target"] else 1


if __name__ == "__main__":
    sys.exit(main())
