"""Shared helpers for the benchmarks: a peak-memory sampler and the machine description."""

from __future__ import annotations

import os
import platform
import threading
import time

import psutil


class PeakMemory:
    """Samples, every *interval* seconds, the summed PSS (proportional set size: shared pages split
    between the processes sharing them, so the sum is not inflated by PostgreSQL's shared buffers)
    of this process, its children and every PostgreSQL server process; keeps the peak."""

    def __init__(self, interval: float = 0.5) -> None:
        self.interval = interval
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _procs(self) -> list[psutil.Process]:
        me = psutil.Process(os.getpid())
        procs = [me] + me.children(recursive=True)
        for p in psutil.process_iter(["name"]):
            if (p.info.get("name") or "").startswith("postgres"):
                procs.append(p)
        return procs

    def sample(self) -> int:
        total = 0
        for p in self._procs():
            try:
                mi = p.memory_full_info()
                total += getattr(mi, "pss", mi.rss)
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_bytes = max(self.peak_bytes, self.sample())
            self._stop.wait(self.interval)

    def __enter__(self) -> "PeakMemory":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak_mb(self) -> float:
        return round(self.peak_bytes / 2**20, 1)


def machine() -> dict:
    return {"cpus": os.cpu_count(), "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
            "python": platform.python_version(), "platform": platform.platform(),
            "date": time.strftime("%Y-%m-%d")}


def use_home(prefix: str, home: str | os.PathLike | None = None):
    """Point EIS_HOME at *home* (default: a new temp folder named *prefix*…), world-traversable (the embedded
    server runs as its own user), and drop EIS_DATABASE_URL so the benchmark uses that home's server."""
    import tempfile
    from pathlib import Path

    path = Path(home or tempfile.mkdtemp(prefix=prefix))
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o755)
    os.environ["EIS_HOME"] = str(path)
    os.environ.pop("EIS_DATABASE_URL", None)
    return path


def bench_args(default_scale: str, name: str):
    """Parse --scale/--home, point EIS_HOME at a private (world-traversable) folder, start its
    embedded PostgreSQL and return (args, home, drop folder of the scale, generated now or reused)."""
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", default=default_scale, choices=["small", "medium", "cmpd"])
    ap.add_argument("--home", default=None, help="EIS_HOME for the benchmark (default: a temp dir)")
    args = ap.parse_args()
    home = use_home(f"eis_bench_{name}_{args.scale}_", args.home)
    from eis_core import db

    db.start()
    return args, home, home / "drops" / args.scale
