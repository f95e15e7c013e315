"""Benchmark: fit and backtest the hourly call models on the synthetic ``medium`` department
(8 years of hourly data, city-wide + every division), and record the backtest table.

    python bench/bench_forecast.py [--drop DIR] [--origins 4]

Reads the drop folder directly (no warehouse); writes docs/benchmarks/forecast.md and .json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--drop", default=None, help="medium drop folder (generated with seed 42 when absent)")
    ap.add_argument("--origins", type=int, default=4)
    ap.add_argument("--jobs", type=int, default=2, help="worker processes (series in parallel)")
    args = ap.parse_args()
    from eis_core.forecast.backtest import summary_table
    from eis_core.forecast.run import run_calls_forecast
    from eis_core.synth import generate

    drop = Path(args.drop) if args.drop else Path(tempfile.gettempdir()) / "eis_bench_forecast_medium"
    if not (drop / "calls_for_service.csv").exists():
        t = time.perf_counter()
        generate("medium", 42, drop)
        print(f"generated medium drop in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    t0 = time.perf_counter()
    res = run_calls_forecast(drop_dir=drop, n_origins=args.origins, store=False, n_jobs=args.jobs,
                             progress=lambda m: print(m, file=sys.stderr))
    wall = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    scores = res["scores"]
    per_series = {s: summary_table(scores, s).round(4).reset_index().to_dict("records") for s in res["series"]}
    mean_tab = summary_table(scores)  # mean over series
    chosen = res["chosen"]
    gains = {s: next(r["rmse_vs_snaive_%"] for r in per_series[s] if r["model"] == chosen[s]) for s in res["series"]}
    out = {"measured": time.strftime("%Y-%m-%d"), "drop": str(drop), "series": res["series"], "origins": args.origins,
           "hours": int(8 * 8766), "jobs": args.jobs, "wall_seconds": round(wall, 1), "peak_rss_mb": round(peak_mb),
           "cpus": os.cpu_count(), "machine": platform.platform(), "python": platform.python_version(),
           "chosen": chosen, "chosen_rmse_gain_vs_snaive_pct": {k: round(v, 1) for k, v in gains.items()},
           "table_all": per_series["ALL"], "table_mean_over_series": mean_tab.round(4).reset_index().to_dict("records"),
           "per_series": per_series}
    bdir = ROOT / "docs" / "benchmarks"
    (bdir / "forecast.json").write_text(json.dumps(out, indent=2, default=str) + "\n")

    def md(tab):
        lines = ["| model | RMSE | MAE | MASE | cover. 80 % | cover. 95 % | RMSE vs seasonal naive |", "|---|---:|---:|---:|---:|---:|---:|"]
        for r in tab.reset_index().itertuples(index=False):
            lines.append(f"| {r[0]} | {r[1]:.3f} | {r[2]:.3f} | {r[3]:.3f} | {r[4]:.3f} | {r[5]:.3f} | {r[6]:+.1f} % |")
        return "\n".join(lines)

    text = [
        "# Forecasting benchmark (hourly calls, synthetic medium department)", "",
        f"Measured {out['measured']} with `python bench/bench_forecast.py`: fit and rolling-origin backtest "
        f"({args.origins} weekly origins, 168 h horizon, every model, intervals included) plus the final 7-day "
        f"forecast (series in {args.jobs} worker processes, one OpenMP thread per GBM fit), "
        f"for {len(res['series'])} series (ALL + {len(res['series']) - 1} divisions), 8 years of hourly data "
        "read from the drop folder.", "",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}, "
        f"Python {platform.python_version()}.", "",
        f"**Wall time: {wall:.1f} s** (budget 300 s); peak RSS {peak_mb:.0f} MB.", "",
        "## Backtest, city-wide series ALL", "", md(summary_table(scores, "ALL")), "",
        "## Backtest, mean over the 9 series", "", md(mean_tab), "",
        "## Chosen model per series and its RMSE gain over seasonal naive", "",
        "| series | chosen | RMSE gain |", "|---|---|---:|",
        *[f"| {s} | {chosen[s]} | {gains[s]:+.1f} % |" for s in res["series"]], "",
    ]
    (bdir / "forecast.md").write_text("\n".join(text))
    print("\n".join(text))


if __name__ == "__main__":
    main()
