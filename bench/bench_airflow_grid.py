"""Benchmark: the same small model grid through the real Airflow scheduler and in one process (issue 18, item 4).

1. a private EIS_HOME with its embedded PostgreSQL; the small synthetic department (seed 42) loaded; a
   grid config (2 temporal splits x 6 model configurations = 12 train_and_score tasks: the kinds of the
   default grid, sized so that the models train in well under a second to a few seconds, where per-task
   overhead shows most); features and matrices built once beforehand, so both runs reuse them;
2. **in one process**: ``prepare_run`` / ``run_task`` for every task / ``finish_run`` (what ``run_all``
   does), each task timed;
3. **through Airflow**: ``eis airflow start`` (scheduler, dag-processor, triggerer, api-server;
   LocalExecutor, ``AIRFLOW__CORE__PARALLELISM=2``), the ``eis_modeling`` DAG triggered through the REST
   API and waited for; every task instance's duration read from Airflow's metadata; the stack stopped.

The two runs use the same grid with different random seeds, so neither reuses the other's models.
Reports medians (per task) and the grid's wall time (first train_and_score start to last end) for both,
and the ratio; writes docs/benchmarks/airflow_grid.md / .json.

    .venv/bin/python bench/bench_airflow_grid.py [--home /tmp/h18b-grid] [--port 8793] [--repeat 1]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from contextlib import ExitStack
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from _measure import machine, use_home  # noqa: E402

OUT = HERE.parent / "docs" / "benchmarks"

GRID = {
    "sklearn.tree.DecisionTreeClassifier": {"max_depth": [5], "min_samples_leaf": [10]},
    "eis_core.modeling.estimators.ScaledLogisticRegression": {"penalty": ["l2"], "C": [1.0]},
    "sklearn.ensemble.RandomForestClassifier": {"n_estimators": [100], "min_samples_leaf": [5], "n_jobs": [1]},
    "sklearn.ensemble.HistGradientBoostingClassifier": {"max_iter": [100], "learning_rate": [0.05],
                                                        "max_leaf_nodes": [15]},
}
BASELINES = {"eis_core.modeling.baselines.PriorBaseline": {}, "eis_core.modeling.baselines.RandomBaseline": {}}


def write_config(folder: Path, project: Path, seed: int, grid: dict | None = None, baselines: dict | None = None) -> Path:
    import yaml

    from eis_core.config import DEFAULT_OFFICER_CONFIG

    cfg = yaml.safe_load(Path(DEFAULT_OFFICER_CONFIG).read_text())
    cfg["project_path"] = str(project)
    cfg["as_of_dates"] = {"start": "2013-01-01", "end": "2014-07-01", "frequency": "6 months"}
    cfg["feature_windows"] = ["1 year", "all"]
    cfg["temporal_config"].update({"label_start_time": "2013-01-01", "label_end_time": "2014-07-01",
                                   "max_training_history": "2 years", "training_as_of_frequency": "6 months"})
    cfg["model_grid"] = GRID if grid is None else grid
    cfg["baselines"] = BASELINES if baselines is None else baselines
    cfg["evaluation"] = {"top_k_absolute": [10, 25], "top_k_percent": [10], "tie_orderings": 3}
    cfg["random_seed"] = seed
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"officer_config_seed{seed}.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def setup(home: Path) -> Path:
    from eis_core import db
    from eis_core.load.loader import load_drop
    from eis_core.synth import generate

    db.start()
    drop = home / "drops" / "small"
    if not (drop / "_drop.json").exists():
        generate("small", 42, drop, progress=None)
    with db.connect() as conn:
        loaded = conn.execute("SELECT to_regclass('raw.load_log') IS NOT NULL").fetchone()[0] and \
            conn.execute("SELECT count(*) FROM raw.load_log").fetchone()[0]
    if not loaded:
        load_drop(drop, progress=lambda m: None).raise_for_status()
    return home / "bench_grid"


def in_process(config: Path, labels: str) -> dict:
    from eis_core.modeling.pipeline import finish_run, mark_failed, prepare_run, run_info_of, run_task

    t0 = time.perf_counter()
    times, kinds = [], []
    with ExitStack() as leases:
        prepared = prepare_run(config, labels, None, leases)
        info = {**run_info_of(prepared), "prepare_seconds": prepared.get("prepare_seconds")}
        t_grid = time.perf_counter()
        results = []
        for task in prepared["tasks"]:
            t1 = time.perf_counter()
            try:
                res = run_task(info, task)
            except BaseException:
                mark_failed(info)
                raise
            times.append(time.perf_counter() - t1)
            kinds.append(task["model_config"]["class_path"].rsplit(".", 1)[1])
            results.append(res)
        grid = time.perf_counter() - t_grid
        t_fin = time.perf_counter()
        finish_run(info, results, None)
        fin = time.perf_counter() - t_fin
    return {"tasks": len(times), "task_median_s": round(statistics.median(times), 2),
            "task_seconds": [round(t, 2) for t in times], "task_kinds": kinds,
            "train_seconds": [round(float(r["train_seconds"]), 3) for r in results],
            "reused": sum(1 for r in results if r.get("reused")),
            "prepare_s": round(prepared["prepare_seconds"], 2), "grid_wall_s": round(grid, 2),
            "finish_s": round(fin, 2), "total_s": round(time.perf_counter() - t0, 2)}


def through_airflow(config: Path, labels: str, port: int, warmup: Path | None) -> dict:
    from eis_core import db
    from eis_core.orchestration import stack

    t_start = time.perf_counter()
    stack.start(port, timeout=300, progress=lambda m: print("  " + m, flush=True))
    started = time.perf_counter() - t_start
    warm_s = None
    try:
        if warmup is not None:
            # a freshly started api-server's workers answer their first Task Execution API calls slowly
            # (18-25 s measured under load: lazy imports); a production stack runs for weeks, so the
            # measured run comes after one small run (baselines only), timed but not counted
            t0 = time.perf_counter()
            stack.trigger("eis_modeling", {"config": str(warmup), "labels": labels}, wait=True, timeout=1800,
                          progress=lambda m: None)
            warm_s = round(time.perf_counter() - t0, 1)
            print(f"  warm-up run: {warm_s} s", flush=True)
        t0 = time.perf_counter()
        run = stack.trigger("eis_modeling", {"config": str(config), "labels": labels}, wait=True, timeout=3600,
                            progress=lambda m: None)
        wall = time.perf_counter() - t0
    finally:
        stack.stop(progress=lambda m: print("  " + m, flush=True))
    if run["state"] != "success":
        raise SystemExit(f"eis_modeling run {run['dag_run_id']} ended {run['state']}")
    with db.connect(db.AIRFLOW_DB) as conn:
        rows = conn.execute(
            "SELECT task_id, map_index, start_date, end_date, duration, queued_dttm FROM task_instance "
            "WHERE dag_id = 'eis_modeling' AND run_id = %s ORDER BY task_id, map_index",
            (run["dag_run_id"],)).fetchall()
        batches = conn.execute(
            "SELECT x.value FROM xcom x JOIN dag_run r ON r.id = x.dag_run_id WHERE x.dag_id = 'eis_modeling' "
            "AND x.task_id = 'prepare' AND x.key = 'return_value' AND r.run_id = %s", (run["dag_run_id"],)).fetchone()[0]
    batches = json.loads(batches) if isinstance(batches, (str, bytes)) else batches
    sizes = [len(b) if isinstance(b, list) else 1 for b in batches]
    mapped = [r for r in rows if r[0] == "train_and_score"]
    by_id = {r[0]: r for r in rows if r[1] == -1}
    durations = [float(r[4]) for r in mapped]
    per_model = [float(r[4]) / sizes[r[1]] for r in mapped]
    grid_wall = (max(r[3] for r in mapped) - min(r[2] for r in mapped)).total_seconds()
    return {"tasks": sum(sizes), "instances": len(mapped), "models_per_instance": sizes,
            "instance_median_s": round(statistics.median(durations), 2),
            "task_median_s": round(statistics.median(per_model), 2),
            "instance_seconds": [round(d, 2) for d in durations],
            "prepare_s": round(float(by_id["prepare"][4]), 2), "finish_s": round(float(by_id["finish"][4]), 2),
            "grid_wall_s": round(grid_wall, 2), "dag_run_wall_s": round(wall, 2), "stack_start_s": round(started, 1),
            "warmup_run_s": warm_s,
            "queued_to_start_median_s": round(statistics.median(
                (r[2] - r[5]).total_seconds() for r in mapped if r[5] is not None), 2)}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--home", default=None, help="EIS_HOME (default: a new temp folder)")
    ap.add_argument("--port", type=int, default=8793)
    ap.add_argument("--parallelism", default="2", help="AIRFLOW__CORE__PARALLELISM (2 cores: 2)")
    ap.add_argument("--no-write", action="store_true", help="do not write docs/benchmarks/airflow_grid.*")
    ap.add_argument("--no-warmup", action="store_true", help="measure the first run of a fresh stack")
    args = ap.parse_args()
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    os.environ["AIRFLOW__CORE__PARALLELISM"] = args.parallelism
    os.environ.setdefault("EIS_MODELING_PARALLEL_TASKS", args.parallelism)
    home = use_home("eis_bench_airflow_grid_", args.home)
    from eis_core import db
    from eis_core.config import DEFAULT_LABELS_CONFIG
    from eis_core.modeling.pipeline import build_all_matrices

    root = setup(home)
    project = root / "project"
    seed = int(time.time()) % 100000  # fresh models on every invocation (model ids hash the seed)
    cfg_local, cfg_airflow = write_config(root, project, seed), write_config(root, project, seed + 1)
    t0 = time.perf_counter()
    build_all_matrices(cfg_local, DEFAULT_LABELS_CONFIG, progress=None)  # features + matrices, shared by both
    warm = time.perf_counter() - t0
    print(f"features and matrices: {warm:.1f} s", flush=True)

    print("in one process ...", flush=True)
    local = in_process(cfg_local, str(DEFAULT_LABELS_CONFIG))
    print(json.dumps(local), flush=True)
    print("through the Airflow scheduler ...", flush=True)
    cfg_warm = None if args.no_warmup else write_config(root, project, seed + 2, grid={},
                                                     baselines={"eis_core.modeling.baselines.PriorBaseline": {}})
    airflow = through_airflow(cfg_airflow, str(DEFAULT_LABELS_CONFIG), args.port, cfg_warm)
    print(json.dumps(airflow), flush=True)
    db.stop()

    figures = {"machine": machine(), "grid": {"models": {**GRID, **BASELINES}, "splits": 2},
               "parallelism": int(args.parallelism), "features_and_matrices_s": round(warm, 1),
               "in_process": local, "airflow": airflow,
               "ratio_task_median": round(airflow["task_median_s"] / local["task_median_s"], 2),
               "ratio_grid_wall": round(airflow["grid_wall_s"] / local["grid_wall_s"], 2)}
    figures["load_average_1min_at_end"] = round(os.getloadavg()[0], 2)
    print(json.dumps({k: figures[k] for k in ("ratio_task_median", "ratio_grid_wall", "load_average_1min_at_end")}))
    if args.no_write:
        return 0
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "airflow_grid.json").write_text(json.dumps(figures, indent=2, default=str) + "\n")
    m = figures["machine"]
    md = ["# The model grid through Airflow vs in one process", "",
          f"Measured {m['date']} on {m['cpus']} CPUs / {m['memory_gb']} GB (`bench/bench_airflow_grid.py`): the small "
          f"synthetic department, {local['tasks']} `train_and_score` tasks (2 splits x {len(GRID) + len(BASELINES)} "
          "model configurations), features and matrices built beforehand; the same run in one process and through "
          f"the real Airflow 3 scheduler (LocalExecutor, parallelism {args.parallelism}), one after the other.", "",
          "| | in one process | through Airflow | ratio |", "|---|---:|---:|---:|",
          f"| train_and_score, median per model | {local['task_median_s']} s | {airflow['task_median_s']} s "
          f"(instance duration / its models) | {figures['ratio_task_median']} |",
          f"| mapped task instances (models each) | {local['tasks']} calls in one process | {airflow['instances']} "
          f"({', '.join(map(str, airflow['models_per_instance']))}); median {airflow['instance_median_s']} s | |",
          f"| the grid (first task start to last task end) | {local['grid_wall_s']} s | {airflow['grid_wall_s']} s | "
          f"{figures['ratio_grid_wall']} |",
          f"| prepare | {local['prepare_s']} s | {airflow['prepare_s']} s | |",
          f"| finish | {local['finish_s']} s | {airflow['finish_s']} s | |", "",
          f"Airflow: a mapped task waits a median {airflow['queued_to_start_median_s']} s from queued to running; the "
          f"DAG run took {airflow['dag_run_wall_s']} s from the REST trigger to its end; starting the stack "
          f"{airflow['stack_start_s']} s and a warm-up run before the measured one ({airflow['warmup_run_s']} s; a "
          "fresh api-server answers its first Task Execution API calls slowly) are not counted.  In one process the tasks run one after another; through "
          f"Airflow {args.parallelism} at a time.  Load average at the end: {figures['load_average_1min_at_end']} "
          "(the machine was shared with other jobs).", ""]
    (OUT / "airflow_grid.md").write_text("\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
