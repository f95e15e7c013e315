"""`make bench`: run every bench/bench_*.py in turn (never part of `make test`).

Each benchmark writes its own figures (JSON + Markdown) under docs/benchmarks/.  Pass names to run a
subset: `python bench/run_all.py synth`.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
#: extra arguments per benchmark (the rest run with their defaults)
ARGS = {"bench_matrices": ["--scale", "cmpd"], "bench_dispatch": ["--scale", "cmpd"],
        # triage 6.0.0 side by side when $TRIAGE_PYTHON (or /tmp/triage-venv) has it; our side only otherwise
        "bench_triage": ["--scale", "medium"]}
#: run only when named (`make bench-quality`): decision quality, not speed, and about half an hour
ON_REQUEST = {"bench_quality"}


def main(argv: list[str]) -> int:
    wanted = set(argv)
    scripts = sorted(p for p in HERE.glob("bench_*.py")
                     if (p.stem.removeprefix("bench_") in wanted) if wanted else p.stem not in ON_REQUEST)
    failed = []
    for script in scripts:
        print(f"=== {script.stem} ===", flush=True)
        t0 = time.perf_counter()
        code = subprocess.call([sys.executable, str(script), *ARGS.get(script.stem, [])], cwd=HERE.parent)
        print(f"=== {script.stem}: exit {code} after {time.perf_counter() - t0:.0f} s ===", flush=True)
        if code:
            failed.append(script.stem)
    if failed:
        print("failed benchmarks: " + ", ".join(failed), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
