"""Schema ``results``: experiments, runs, matrices, model groups, models, predictions, evaluations,
feature importances, selections and the paper's Table 3.

* An **experiment** is one configuration (officer + labels config); its id is the hash of the config,
  so running the same config again reuses the experiment.
* A **run** is one execution of an experiment (git commit, package versions, seed, timings).  A run
  that dies (kill -9, a lost machine, an Airflow run that never reaches its clean-up) is not left
  ``running``: see :func:`reap_interrupted_runs`.
* A **model group** is an estimator class + hyperparameters + feature list + label; a **model** is a
  model group trained on one train matrix with one seed (one per temporal split).

Every table is created by the migrations (eis_core.migrations, revision 0002); bulk rows are written with
``COPY`` (psycopg ``cursor.copy`` with ``sql.Identifier``), never with string-formatted SQL.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import subprocess
from datetime import date, datetime
from typing import Any, Iterable, Sequence

from psycopg import sql
from psycopg.types.json import Jsonb

from eis_core import db
from eis_core.paths import REPO_ROOT

SCHEMA = "results"


PACKAGES = ("scikit-learn", "pandas", "numpy", "dbt-core", "apache-airflow", "great-expectations")


def ensure_results_schema() -> None:
    """The warehouse schema at the migrations' head (schema ``results`` is revision 0002)."""
    from eis_core.migrations import ensure_schema

    ensure_schema()


# ----------------------------------------------------------------------------------------- hashing


def _json_default(o: Any) -> Any:
    if isinstance(o, (date, datetime)):
        return o.isoformat()
    if hasattr(o, "item"):  # numpy scalars
        return o.item()
    if hasattr(o, "tolist"):
        return o.tolist()
    return str(o)


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=_json_default)


def stable_hash(*parts: Any, length: int = 32) -> str:
    """sha256 of the canonical JSON of *parts* (hex, *length* characters)."""
    return hashlib.sha256(canonical_json(list(parts)).encode()).hexdigest()[:length]


def config_dict(officer_cfg: Any, labels_cfg: Any = None) -> dict:
    def dump(c: Any) -> Any:
        if c is None:
            return None
        if hasattr(c, "model_dump"):
            return c.model_dump(mode="json")
        return json.loads(canonical_json(c))

    return {"officer": dump(officer_cfg), "labels": dump(labels_cfg)}


def config_hash(officer_cfg: Any, labels_cfg: Any = None) -> str:
    return stable_hash(config_dict(officer_cfg, labels_cfg))


# ----------------------------------------------------------------------------------------- runs


def git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return (out.stdout.strip() or None) if out.returncode == 0 else None


def package_versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def start_run(officer_cfg: Any, labels_cfg: Any = None) -> tuple[str, int]:
    """Register (or reuse) the experiment of this config and open a new run; returns (experiment_id, run_id).
    Runs left ``running`` by a dead process are closed as failed first (:func:`reap_interrupted_runs`)."""
    ensure_results_schema()
    reap_interrupted_runs()
    cfg = config_dict(officer_cfg, labels_cfg)
    experiment_id = stable_hash(cfg)
    seed = getattr(officer_cfg, "random_seed", None)
    if seed is None and isinstance(officer_cfg, dict):
        seed = officer_cfg.get("random_seed")
    with db.connect() as conn:
        conn.execute("INSERT INTO results.experiments (experiment_id, config) VALUES (%s, %s) "
                     "ON CONFLICT (experiment_id) DO NOTHING", (experiment_id, Jsonb(cfg)))
        run_id = conn.execute(
            "INSERT INTO results.runs (experiment_id, config_hash, git_commit, package_versions, random_seed, heartbeat_at) "
            "VALUES (%s, %s, %s, %s, %s, now()) RETURNING run_id",
            (experiment_id, experiment_id, git_commit(), Jsonb(package_versions()), seed)).fetchone()[0]
    return experiment_id, int(run_id)


# A run's liveness.  An in-process run (``run_all``: the CLI and the demo) holds a session advisory lock
# (RUN_LOCK_NS, run_id) for its whole life on a connection of its own; PostgreSQL drops the lock when the
# process dies, however it dies.  A run spread over Airflow tasks cannot hold one: each task refreshes
# ``heartbeat_at`` instead, and a run whose heartbeat is older than EIS_RUN_STALE_HOURS (default 6) is
# taken as dead.  Every new run first reaps the dead ones.
RUN_LOCK_NS = 74_110_001
SESSION_OWNER = "session"


def _stale_hours() -> float:
    import os

    raw = os.environ.get("EIS_RUN_STALE_HOURS", "6")
    try:
        hours = float(raw)
    except ValueError:
        raise ValueError(f"EIS_RUN_STALE_HOURS must be a number of hours, not {raw!r}") from None
    if hours <= 0:
        raise ValueError(f"EIS_RUN_STALE_HOURS must be positive, not {raw!r}")
    return hours


def heartbeat(run_id: int) -> None:
    """Mark *run_id* as alive now (every finished task of a run calls this)."""
    ensure_results_schema()
    with db.connect() as conn:
        conn.execute("UPDATE results.runs SET heartbeat_at = now() WHERE run_id = %s AND status = 'running'", (run_id,))


class RunLease:
    """Hold *run_id*'s liveness lock while the block runs (the run belongs to this process)."""

    def __init__(self, run_id: int):
        self.run_id = int(run_id)
        self._conn = None

    def __enter__(self) -> "RunLease":
        import psycopg

        ensure_results_schema()
        self._conn = psycopg.connect(db.database_url(), autocommit=True)
        self._conn.execute("SELECT pg_advisory_lock(%s, %s)", (RUN_LOCK_NS, self.run_id))
        self._conn.execute("UPDATE results.runs SET owner = %s, heartbeat_at = now() WHERE run_id = %s",
                           (SESSION_OWNER, self.run_id))
        return self

    def __exit__(self, *exc) -> None:
        if self._conn is not None:
            self._conn.close()  # closing the session releases the lock
            self._conn = None


def reap_interrupted_runs(stale_hours: float | None = None) -> list[int]:
    """Close every ``running`` run whose owner is gone as ``failed`` (``timings.failed_in = 'interrupted'``);
    returns their ids.  Session-owned runs are dead when their lock is free; other runs when their last
    heartbeat (or start) is older than *stale_hours* (default EIS_RUN_STALE_HOURS, 6)."""
    hours = _stale_hours() if stale_hours is None else float(stale_hours)
    ensure_results_schema()
    dead: list[int] = []
    with db.connect(autocommit=True) as conn:
        rows = conn.execute("SELECT run_id, owner, coalesce(heartbeat_at, started_at) < now() - make_interval(secs => %s) "
                            "FROM results.runs WHERE status = 'running' ORDER BY run_id", (hours * 3600,)).fetchall()
        for run_id, owner, stale in rows:
            if owner == SESSION_OWNER:
                if not conn.execute("SELECT pg_try_advisory_lock(%s, %s)", (RUN_LOCK_NS, int(run_id))).fetchone()[0]:
                    continue  # its process is alive
                conn.execute("SELECT pg_advisory_unlock(%s, %s)", (RUN_LOCK_NS, int(run_id)))
            elif not stale:
                continue
            n = conn.execute("UPDATE results.runs SET status = 'failed', finished_at = now(), timings = "
                             "coalesce(timings, '{}'::jsonb) || jsonb_build_object('failed_in', 'interrupted') "
                             "WHERE run_id = %s AND status = 'running'", (run_id,)).rowcount
            if n:
                dead.append(int(run_id))
    return dead


def finish_run(run_id: int, status: str, timings: dict | None = None) -> None:
    ensure_results_schema()
    with db.connect() as conn:
        conn.execute("UPDATE results.runs SET status = %s, timings = %s, finished_at = now() WHERE run_id = %s",
                     (status, Jsonb(json.loads(canonical_json(timings or {}))), run_id))


def run_info(run_id: int) -> dict:
    with db.connect() as conn:
        row = conn.execute("SELECT experiment_id, random_seed, status FROM results.runs WHERE run_id = %s",
                           (run_id,)).fetchone()
    if row is None:
        raise KeyError(f"results.runs has no run {run_id}")
    return {"experiment_id": row[0], "random_seed": row[1], "status": row[2]}


# ----------------------------------------------------------------------------------------- matrices


def record_matrix(meta: dict) -> None:
    """Upsert one row of results.matrices from a matrix's metadata dict (the whole dict goes to ``metadata``)."""
    ensure_results_schema()
    m = json.loads(canonical_json(meta))
    dates = m.get("as_of_dates") or []
    with db.connect() as conn:
        conn.execute(
            "INSERT INTO results.matrices (matrix_id, kind, split_id, as_of_dates, label_name, n_rows, n_positive, "
            "n_features, path, metadata) VALUES (%s, %s, %s, %s::date[], %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (matrix_id) DO UPDATE SET kind = EXCLUDED.kind, split_id = EXCLUDED.split_id, "
            "as_of_dates = EXCLUDED.as_of_dates, label_name = EXCLUDED.label_name, n_rows = EXCLUDED.n_rows, "
            "n_positive = EXCLUDED.n_positive, n_features = EXCLUDED.n_features, path = EXCLUDED.path, "
            "metadata = EXCLUDED.metadata",
            (m["matrix_id"], m.get("kind"), None if m.get("split_id") is None else str(m.get("split_id")),
             [str(d) for d in dates], m.get("label_name"), m.get("n_rows"), m.get("n_positive"),
             m.get("n_features"), None if m.get("path") is None else str(m.get("path")), Jsonb(m)))


def matrix_row(matrix_id: str) -> dict | None:
    ensure_results_schema()
    with db.connect() as conn:
        row = conn.execute("SELECT path, metadata, label_name, split_id FROM results.matrices WHERE matrix_id = %s",
                           (matrix_id,)).fetchone()
    if row is None:
        return None
    return {"path": row[0], "metadata": row[1] or {}, "label_name": row[2], "split_id": row[3]}


# ----------------------------------------------------------------------------------------- COPY


def copy_rows(conn, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """COPY *rows* into results.<table> (columns named with sql.Identifier); returns the row count."""
    stmt = sql.SQL("COPY {}.{} ({}) FROM STDIN").format(
        sql.Identifier(SCHEMA), sql.Identifier(table), sql.SQL(", ").join(sql.Identifier(c) for c in columns))
    n = 0
    with conn.cursor().copy(stmt) as cp:
        for r in rows:
            cp.write_row(r)
            n += 1
    return n


def link_run_model(conn, run_id: int, model_id: str) -> None:
    conn.execute("INSERT INTO results.run_models (run_id, model_id) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                 (run_id, model_id))


def delete_model_rows(conn, model_ids: Sequence[str], tables: Sequence[str]) -> None:
    for t in tables:
        conn.execute(sql.SQL("DELETE FROM {}.{} WHERE model_id = ANY(%s)").format(
            sql.Identifier(SCHEMA), sql.Identifier(t)), (list(model_ids),))
