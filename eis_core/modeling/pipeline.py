"""The modeling run, in three steps shared by the ``eis_modeling`` DAG and ``python -m eis_core.run``:

1. :func:`prepare_run`: load and validate the configs, open a run (``results.start_run``), make the
   temporal splits, build the features the splits need, build (or reuse) every train/test matrix and
   expand the model grid; returns a JSON-serialisable dict whose ``tasks`` list has one entry per
   (split × model configuration);
2. :func:`run_task`: train one model configuration on one split's train matrix and score its test
   matrix (``train.train_and_score``); :func:`run_batch` runs a batch of them in one process - the unit
   the DAG maps over (:func:`batch_tasks`: a few balanced batches instead of one task process per
   model, because a task process costs seconds of start-up and imports while most models train in
   well under a second);
3. :func:`finish_run`: evaluate every model of the run and select a model group.

Everything the steps pass to each other is plain JSON (ids and paths); the data itself travels through
the warehouse and the matrix files under ``project_path``, so the steps may run in different processes
or on different machines that share that folder.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

from eis_core.config import DEFAULT_LABELS_CONFIG, DEFAULT_OFFICER_CONFIG, load_labels_config, load_officer_config

Progress = Callable[[str], object] | None


def _jsonable(obj):
    return json.loads(json.dumps(obj, default=str))


def _configs(config_path, labels_path):
    officer_cfg = load_officer_config(config_path)
    labels_cfg = load_labels_config(labels_path)
    if officer_cfg.temporal_config is None:
        from eis_core.config import ConfigError

        raise ConfigError(f"{config_path}: temporal_config is required for modeling")
    return officer_cfg, labels_cfg


def build_all_matrices(
    config_path: Path | str = DEFAULT_OFFICER_CONFIG,
    labels_path: Path | str = DEFAULT_LABELS_CONFIG,
    progress: Progress = print,
    split_ids: list[str] | None = None,
) -> list[dict]:
    """Splits + features + every train/test matrix (``--generatematrices``, ``eis matrices build``).

    Returns one dict per split: split (its dict form), train (metadata), test (metadata).
    """
    from eis_core.modeling.matrices import build_split_matrices, ensure_features, project_dir
    from eis_core.modeling.splits import make_splits

    officer_cfg, labels_cfg = _configs(config_path, labels_path)
    splits = make_splits(officer_cfg.temporal_config)
    if split_ids:
        unknown = sorted(set(split_ids) - {s.split_id for s in splits})
        if unknown:
            raise ValueError(f"unknown split id(s) {unknown}; the config has {[s.split_id for s in splits]}")
        splits = [s for s in splits if s.split_id in split_ids]
    from eis_core import db
    from eis_core.modeling.matrices import data_version

    with db.connect() as conn:
        data_version(conn)  # fails fast (MatrixError) when nothing was loaded yet
    dates = {d for s in splits for d in (*s.train_as_of_dates, *s.test_as_of_dates)}
    ensure_features(dates, officer_cfg, labels_cfg, progress)
    project = project_dir(officer_cfg)
    out = []
    for s in splits:
        train, test = build_split_matrices(s, officer_cfg, labels_cfg, project, progress, ensure=False)
        out.append({"split": s.to_dict(), "train": train, "test": test})
    return out


def prepare_run(
    config_path: Path | str = DEFAULT_OFFICER_CONFIG,
    labels_path: Path | str = DEFAULT_LABELS_CONFIG,
    progress: Progress = print,
    leases: ExitStack | None = None,
) -> dict:
    """Open a run and build everything its tasks need; see the module doc.

    With *leases* (an ExitStack of the caller), the run's lease (``results.RunLease``) is entered into
    it as soon as the run exists, so the calling process owns the run from its first matrix on.

    Returns ``{experiment_id, run_id, config, labels, project_path, random_seed, splits: [{split_id,
    train_matrix_id, test_matrix_id, ...}], tasks: [{split_id, train_matrix_id, test_matrix_id,
    model_config}], prepare_seconds}``.
    """
    from eis_core.modeling.grid import expand_grid
    from eis_core.modeling.matrices import project_dir
    from eis_core.modeling.results import start_run

    t0 = time.perf_counter()
    config_path, labels_path = str(Path(config_path).resolve()), str(Path(labels_path).resolve())
    officer_cfg, labels_cfg = _configs(config_path, labels_path)
    model_configs = expand_grid(officer_cfg)  # fails early on a bad grid, before any work
    if not model_configs:
        raise ValueError(f"{config_path}: model_grid and baselines are both empty: nothing to train")
    experiment_id, run_id = start_run(officer_cfg, labels_cfg)
    if leases is not None:
        from eis_core.modeling.results import RunLease

        leases.enter_context(RunLease(run_id))
    if progress:
        progress(f"experiment {experiment_id}, run {run_id}: {len(model_configs)} model configuration(s)")
    try:
        built = build_all_matrices(config_path, labels_path, progress)
    except BaseException:
        from eis_core.modeling.results import finish_run as _finish

        _finish(run_id, "failed", {"failed_in": "prepare"})
        raise
    splits, tasks = [], []
    for b in built:
        s, train, test = b["split"], b["train"], b["test"]
        splits.append(
            {
                "split_id": s["split_id"],
                "train_matrix_id": train["matrix_id"],
                "test_matrix_id": test["matrix_id"],
                "train_as_of_dates": s["train_as_of_dates"],
                "test_as_of_dates": s["test_as_of_dates"],
                "train_rows": train["n_rows"],
                "train_positives": train["n_positive"],
                "test_rows": test["n_rows"],
                "test_positives": test["n_positive"],
            }
        )
        for mc in model_configs:
            tasks.append(
                {
                    "split_id": s["split_id"],
                    "train_matrix_id": train["matrix_id"],
                    "test_matrix_id": test["matrix_id"],
                    "model_config": mc,
                }
            )
    info = {
        "experiment_id": experiment_id,
        "run_id": run_id,
        "config": config_path,
        "labels": labels_path,
        "project_path": str(project_dir(officer_cfg)),
        "random_seed": officer_cfg.random_seed,
        "splits": splits,
        "tasks": tasks,
        "prepare_seconds": round(time.perf_counter() - t0, 2),
    }
    if progress:
        progress(f"{len(splits)} split(s) x {len(model_configs)} model configuration(s) = {len(tasks)} task(s)")
    return _jsonable(info)


#: rough relative training cost of a model class (only to balance the batches): per estimator or iteration
#: for ensembles and boosting, per model for the rest; anything unknown costs 1
_COST_PER_UNIT = {
    "RandomForestClassifier": 0.02,
    "ExtraTreesClassifier": 0.015,
    "AdaBoostClassifier": 0.02,
    "HistGradientBoostingClassifier": 0.01,
    "GradientBoostingClassifier": 0.03,
}
_COST = {
    "CountGBReference": 2.0,
    "CalibratedLinearSVC": 1.0,
    "ScaledLogisticRegression": 0.5,
    "LogisticRegression": 0.5,
    "DecisionTreeClassifier": 0.3,
}


def task_cost(task: dict) -> float:
    """A rough relative cost of one task (to balance batches; never a promise)."""
    mc = task.get("model_config") or {}
    name = str(mc.get("class_path", "")).rsplit(".", 1)[-1]
    hp = mc.get("hyperparameters") or {}
    if name in _COST_PER_UNIT:
        units = hp.get("n_estimators") or hp.get("max_iter") or 100
        cost = _COST_PER_UNIT[name] * float(units)
    else:
        cost = _COST.get(name, 0.1 if "Baseline" in name else 1.0)
    jobs = hp.get("n_jobs")
    if isinstance(jobs, int) and jobs > 1:
        cost /= jobs
    return max(cost, 0.05)


def default_instances(n_tasks: int, parallel: int | None = None) -> int:
    """How many task processes a grid of *n_tasks* gets: ``EIS_MODELING_INSTANCES`` when set, else twice
    the tasks that run at once (``EIS_MODELING_PARALLEL_TASKS``, default 2), so that every process
    trains several models and the start-up cost is paid a few times per run, not once per model."""
    import os

    env = os.environ.get("EIS_MODELING_INSTANCES")
    if env:
        n = int(env)
    else:
        parallel = parallel or int(os.environ.get("EIS_MODELING_PARALLEL_TASKS", "2"))
        n = 2 * max(parallel, 1)
    return max(1, min(n, n_tasks))


def batch_tasks(tasks: list[dict], instances: int | None = None) -> list[list[dict]]:
    """Split *tasks* into *instances* batches of similar estimated cost (longest first, each to the
    least loaded batch, preferring one that already holds the same split: its matrices are then read
    once); the order inside a batch follows the grid's order."""
    if not tasks:
        return []
    n = default_instances(len(tasks)) if instances is None else max(1, min(int(instances), len(tasks)))
    loads = [0.0] * n
    members: list[list[int]] = [[] for _ in range(n)]
    splits: list[set] = [set() for _ in range(n)]
    order = sorted(range(len(tasks)), key=lambda i: (-task_cost(tasks[i]), i))
    for i in order:
        cost, split = task_cost(tasks[i]), tasks[i].get("split_id")
        least = min(loads)
        # among the batches within 10% of the least loaded, the one that already has this split
        near = [b for b in range(n) if loads[b] <= least * 1.1 + 1e-9]
        pick = next((b for b in near if split in splits[b]), near[0])
        if not members[pick] and any(not m for m in members):
            pick = next(b for b in range(n) if not members[b])
        members[pick].append(i)
        loads[pick] += cost
        splits[pick].add(split)
    return [[tasks[i] for i in sorted(m)] for m in members if m]


def batch_label(batch: list[dict]) -> str:
    """The name of a batch in the Airflow UI: its one model, or how many and which splits."""
    if len(batch) == 1:
        t = batch[0]
        return f"{t['split_id']} {t['model_config'].get('model_group_key')}"
    split_ids = sorted({str(t.get("split_id")) for t in batch})
    return f"{len(batch)} models: {', '.join(split_ids)}"


def run_info_of(prepared: dict) -> dict:
    """What every task needs of the prepared run (no task list: keeps the mapped XComs small)."""
    keys = ("experiment_id", "run_id", "config", "labels", "project_path", "random_seed")
    return {k: prepared[k] for k in keys if k in prepared}


def run_task(run_info: dict, task: dict) -> dict:
    """Train and score one (split × model configuration); returns train_and_score's small JSON dict."""
    from eis_core.modeling.results import heartbeat
    from eis_core.modeling.train import train_and_score

    if task.get("random_seed") is None and run_info.get("random_seed") is not None:
        task = {**task, "random_seed": run_info["random_seed"]}  # the run's seed: no look-up per task
    res = train_and_score(run_info["experiment_id"], int(run_info["run_id"]), task, run_info["project_path"])
    heartbeat(int(run_info["run_id"]))
    return _jsonable(
        {**res, "split_id": task.get("split_id"), "model_group_key": task["model_config"].get("model_group_key")}
    )


def run_batch(run_info: dict, batch: list[dict], progress: Progress = print) -> list[dict]:
    """:func:`run_task` for every task of *batch* in this process (one mapped task of the DAG); a failing
    model fails the batch after recording itself as failed; a re-run reuses the models already done."""
    out = []
    for i, task in enumerate(batch, 1):
        t0 = time.perf_counter()
        res = run_task(run_info, task)
        out.append(res)
        if progress:
            progress(
                f"[{i}/{len(batch)}] {task.get('split_id')} {task['model_config'].get('model_group_key')}: "
                f"{'reused' if res.get('reused') else res.get('status')} (train {float(res.get('train_seconds') or 0):.2f} s, "
                f"task {time.perf_counter() - t0:.2f} s)"
            )
    return out


def _flat(results) -> list[dict]:
    out = []
    for r in results or []:
        out.extend(r if isinstance(r, list) else [r])
    return out


def finish_run(run_info: dict, task_results: list | None = None, progress: Progress = print) -> dict:
    """Evaluate the run's models, select a model group, close the run; returns a JSON summary."""
    from eis_core.modeling.evaluate import evaluate_run
    from eis_core.modeling.results import finish_run as close_run
    from eis_core.modeling.selection import select_model_group

    t0 = time.perf_counter()
    run_id = int(run_info["run_id"])
    task_results = _flat(task_results)  # per model, or per batch (the DAG's mapped results)
    try:
        evaluation = evaluate_run(run_id)
        officer_cfg = load_officer_config(run_info["config"]) if run_info.get("config") else None
        selection = select_model_group(run_info["experiment_id"], officer_cfg, selected_by=f"run {run_id}")
    except BaseException:
        close_run(run_id, "failed", {"failed_in": "finish"})
        raise
    timings = {
        "prepare_seconds": run_info.get("prepare_seconds"),
        "train_seconds": sum(float(r.get("train_seconds") or 0) for r in task_results),
        "models": len(task_results),
        "models_reused": sum(1 for r in task_results if r.get("reused")),
        "finish_seconds": round(time.perf_counter() - t0, 2),
    }
    close_run(run_id, "done", timings)
    summary = {
        "experiment_id": run_info["experiment_id"],
        "run_id": run_id,
        "evaluation": evaluation,
        "model_group_id": selection.get("model_group_id"),
        "rule": selection.get("rule"),
        "metric": selection.get("metric"),
        "winners": selection.get("winners"),
        "report_path": selection.get("report_path"),
        "timings": timings,
    }
    if progress:
        progress(
            f"run {run_id}: {evaluation.get('models')} model(s) evaluated; chosen model group "
            f"{summary['model_group_id']} ({summary['rule']} on {summary['metric']}); report {summary['report_path']}"
        )
    return _jsonable(summary)


def mark_failed(run_info: dict, where: str = "train_and_score") -> None:
    """Close a run as failed (the DAG's clean-up when a task failed)."""
    from eis_core.modeling.results import finish_run as close_run

    close_run(int(run_info["run_id"]), "failed", {"failed_in": where})


def run_all(
    config: Path | str = DEFAULT_OFFICER_CONFIG, labels: Path | str = DEFAULT_LABELS_CONFIG, progress: Progress = print
) -> dict:
    """The whole modeling run in this process, sequentially (``python -m eis_core.run`` with no flag).
    The process holds the run's lease from the first matrix to the last evaluation: if it dies, the next
    run closes this one as failed instead of leaving it ``running``."""
    with ExitStack() as leases:
        prepared = prepare_run(config, labels, progress, leases)
        info = {**run_info_of(prepared), "prepare_seconds": prepared.get("prepare_seconds")}
        results = []
        n = len(prepared["tasks"])
        for i, task in enumerate(prepared["tasks"], 1):
            t0 = time.perf_counter()
            try:
                res = run_task(info, task)
            except BaseException:
                mark_failed(info)
                raise
            results.append(res)
            if progress:
                progress(
                    f"[{i}/{n}] {task['split_id']} {task['model_config'].get('model_group_key')}: "
                    f"{'reused' if res.get('reused') else res.get('status')} ({time.perf_counter() - t0:.1f} s)"
                )
        return finish_run(info, results, progress)


__all__ = [
    "batch_label",
    "batch_tasks",
    "build_all_matrices",
    "default_instances",
    "finish_run",
    "mark_failed",
    "prepare_run",
    "run_all",
    "run_batch",
    "run_info_of",
    "run_task",
    "task_cost",
]
