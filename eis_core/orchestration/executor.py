"""``PreloadingLocalExecutor``: Airflow's LocalExecutor whose worker processes import the modeling stack once.

On Linux, a LocalExecutor worker runs every task in a process it forks from itself (``os.fork``, no new
interpreter), so whatever the worker has imported, the task process has too.  Stock workers have
imported only Airflow; every ``train_and_score`` then paid numpy, pandas, pyarrow and scikit-learn
(scipy.stats) again: 3 s on an idle 2-core machine, 8-10 s on a loaded one, for models that train in
0.05-2 s.  This executor imports :data:`PRELOAD` once in the scheduler before it forks its workers
(so all of them share those pages copy-on-write); the tasks start warm.  Nothing is computed, no thread pool started and no database connection opened by the imports,
so forking afterwards is safe (OpenBLAS and OpenMP create their threads on first use).

``EIS_AIRFLOW_PRELOAD`` (comma-separated module names) replaces the list; empty disables it.  A module
that fails to import is logged and skipped: the task then imports (and fails) as before.
"""

from __future__ import annotations

import importlib
import logging
import os
import time

from airflow.executors.local_executor import LocalExecutor

#: what a modeling task imports (train.py pulls numpy, pandas, psycopg, scikit-learn's base and the
#: project's estimators; the grid's estimator modules and the matrix reader come with them)
PRELOAD = (
    "eis_core.modeling.pipeline",
    "eis_core.modeling.train",
    "eis_core.modeling.matrices",
    "pyarrow.parquet",
    "sklearn.ensemble",
    "sklearn.tree",
    "sklearn.linear_model",
)

log = logging.getLogger(__name__)


def preload_modules() -> list[str]:
    raw = os.environ.get("EIS_AIRFLOW_PRELOAD")
    names = PRELOAD if raw is None else tuple(n.strip() for n in raw.split(",") if n.strip())
    return list(names)


def preload(names: list[str] | None = None) -> dict[str, float]:
    """Import *names* (default :func:`preload_modules`); returns seconds per module (skipped ones: -1)."""
    took: dict[str, float] = {}
    for name in preload_modules() if names is None else names:
        t0 = time.perf_counter()
        try:
            importlib.import_module(name)
            took[name] = round(time.perf_counter() - t0, 2)
        except Exception as exc:  # noqa: BLE001 - a task that needs it will report the real error
            log.warning("preload of %s failed: %s: %s", name, type(exc).__name__, exc)
            took[name] = -1.0
    return took


class PreloadingLocalExecutor(LocalExecutor):
    """LocalExecutor that imports :data:`PRELOAD` in the scheduler before it forks its workers (see the
    module doc): the workers and the task processes they fork share those pages copy-on-write."""

    def start(self) -> None:
        took = preload()
        self.log.info("PreloadingLocalExecutor preloaded %s", took)
        super().start()


__all__ = ["PRELOAD", "PreloadingLocalExecutor", "preload", "preload_modules"]
