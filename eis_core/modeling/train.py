"""Train one model of the grid on one temporal split, score its test matrix, and record everything.

``train_and_score`` is the unit of work of the modeling DAG.  It is idempotent and resumable: the model
id is a hash of (model group, train matrix, seed), and a model whose ``results.models`` row says
``done`` is returned without any work, so re-running a crashed run finishes the missing models and
never duplicates rows.  A model's rows (models, predictions, feature_importances) are written in ONE
transaction with COPY; a crash before the commit leaves nothing behind.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
from psycopg.types.json import Jsonb

from eis_core import db
from eis_core.artifacts.models import save_model
from eis_core.artifacts.storage import Location, read_bytes, signature
from eis_core.modeling.estimators import fit_model, importance_rows, predict_scores
from eis_core.modeling.evaluate import rank_scores
from eis_core.modeling.grid import make_estimator
from eis_core.modeling.results import (
    copy_rows,
    delete_model_rows,
    ensure_results_schema,
    link_run_model,
    matrix_row,
    run_info,
    stable_hash,
)

PREDICTION_COLUMNS = (
    "model_id",
    "officer_id",
    "as_of_date",
    "score",
    "label",
    "rank_abs_no_ties",
    "rank_pct_no_ties",
    "rank_abs_with_ties",
    "rank_pct_with_ties",
)
MODEL_TABLES = ("table3", "evaluations", "feature_importances", "predictions", "run_models", "models")


#: the kind recorded in the sidecar of an officer model file (modeling grid and production retrain)
MODEL_KIND = "officer-model"


def resolve_project_path(project_path: str | Path) -> Location:
    """The project folder: a relative path is under the artifact root (``EIS_ARTIFACT_ROOT``/``$EIS_HOME``)."""
    from eis_core.modeling.matrix_io import project_dir

    return project_dir(project_path)


def model_artifact(project: Location, model_id: str) -> Location:
    """``<project>/models/<model_id>.joblib``."""
    return project / "models" / f"{model_id}.joblib"


def save_officer_model(estimator, project: Location, model_id: str) -> Location:
    """Dump *estimator* atomically with its verification record (:mod:`eis_core.artifacts.models`)."""
    artifact = model_artifact(project, model_id)
    save_model(estimator, artifact, kind=MODEL_KIND, extra={"model_id": model_id})
    return artifact


#: the last train and the last test matrix read in this process (a batch of tasks of one split reads
#: them once); keyed by id, folder and the file's mtime/size, one per role so memory stays bounded
_matrix_cache: dict[str, tuple[tuple, tuple]] = {}


def _load_matrix(matrix_id: str, project_path: Location, role: str | None = None):
    """(X, y, meta, index) of a matrix: the matrices module of the modeling package.  With *role*
    (``train``/``test``) the last matrix of that role is kept for the next task of this process."""
    from eis_core.modeling.matrices import load_matrix, matrix_paths

    if role is None:
        return load_matrix(matrix_id, project_path)
    sig = signature(matrix_paths(matrix_id, project_path)[0])
    key = None if sig is None else (matrix_id, str(project_path), sig)
    cached = _matrix_cache.get(role)
    if key is not None and cached is not None and cached[0] == key:
        return cached[1]
    _matrix_cache.pop(role, None)  # free the previous one before reading the next
    value = load_matrix(matrix_id, project_path)
    if key is not None:
        _matrix_cache[role] = (key, value)
    return value


def _meta_features(matrix_id: str, project_path: Location) -> tuple[list[str] | None, str | None]:
    """The feature list and label name of a matrix from its metadata (JSON file or results.matrices),
    without reading the matrix; (None, label) when the metadata does not list the features."""
    meta: dict = {}
    try:
        meta = json.loads(read_bytes(project_path / "matrices" / f"{matrix_id}.json"))
    except (FileNotFoundError, ValueError):
        meta = {}
    if not meta:
        row = matrix_row(matrix_id)
        meta = (row or {}).get("metadata") or {}
    for key in ("feature_names", "features", "feature_columns", "feature_list"):
        v = meta.get(key)
        if isinstance(v, list) and all(isinstance(x, str) for x in v):
            return v, meta.get("label_name")
    return None, meta.get("label_name")


def feature_list_hash(features: list[str]) -> str:
    return stable_hash(list(features), length=16)


def model_group_id(model_config: dict, features: list[str], label_name: str | None) -> str:
    return stable_hash(
        model_config["class_path"], model_config.get("hyperparameters") or {}, feature_list_hash(features), label_name
    )


def model_id_for(group_id: str, train_matrix_id: str, seed: int | None) -> str:
    return stable_hash(group_id, train_matrix_id, seed)


def _existing(model_id: str) -> dict | None:
    with db.connect() as conn:
        row = conn.execute(
            "SELECT model_group_id, split_id, status, train_seconds FROM results.models WHERE model_id = %s",
            (model_id,),
        ).fetchone()
    if row is None:
        return None
    return {
        "model_id": model_id,
        "model_group_id": row[0],
        "split_id": row[1],
        "status": row[2],
        "train_seconds": row[3],
    }


def _upsert_group(conn, group_id: str, mc: dict, features: list[str], label_name: str | None) -> None:
    conn.execute(
        "INSERT INTO results.model_groups (model_group_id, class_path, hyperparameters, feature_list_hash, "
        "label_name, is_baseline, feature_names) VALUES (%s, %s, %s, %s, %s, %s, %s) "
        "ON CONFLICT (model_group_id) DO NOTHING",
        (
            group_id,
            mc["class_path"],
            Jsonb(mc.get("hyperparameters") or {}),
            feature_list_hash(features),
            label_name,
            bool(mc.get("is_baseline", False)),
            Jsonb(list(features)),
        ),
    )


def train_and_score(experiment_id: str, run_id: int, task: dict, project_path: str | Path) -> dict:
    """Fit ``task['model_config']`` on the train matrix, score the test matrix, record it; see module doc.

    ``task = {split_id, train_matrix_id, test_matrix_id, model_config[, random_seed]}``; the seed
    defaults to the run's.  Returns {model_id, model_group_id, split_id, status, train_seconds, reused}.
    """
    ensure_results_schema()
    project = resolve_project_path(project_path)
    mc = task["model_config"]
    split_id = None if task.get("split_id") is None else str(task["split_id"])
    train_id, test_id = task["train_matrix_id"], task["test_matrix_id"]
    seed = task.get("random_seed")
    if seed is None:
        seed = run_info(run_id)["random_seed"]

    features, label_name = _meta_features(train_id, project)
    train = None
    if features is None:
        train = _load_matrix(train_id, project, "train")
        features = [str(c) for c in train[0].columns]
        label_name = label_name or train[2].get("label_name")
    group_id = model_group_id(mc, features, label_name)
    model_id = model_id_for(group_id, train_id, seed)
    done = _existing(model_id)
    if done and done["status"] == "done":
        with db.connect() as conn:
            link_run_model(conn, run_id, model_id)
        return {**done, "reused": True}

    if train is None:
        train = _load_matrix(train_id, project, "train")
    X, y, meta, index = train
    if [str(c) for c in X.columns] != list(features):
        raise ValueError(f"train matrix {train_id}: its columns differ from its metadata's feature list")
    X_test, y_test, _, index_test = _load_matrix(test_id, project, "test")
    missing = [c for c in features if c not in X_test.columns]
    if missing:
        raise ValueError(
            f"test matrix {test_id} lacks {len(missing)} feature(s) of the train matrix, e.g. {missing[:5]}"
        )
    X_test = X_test[list(features)]

    estimator = make_estimator(mc, seed)
    t0 = time.perf_counter()
    try:
        fit_model(estimator, X, y, index)
        train_seconds = time.perf_counter() - t0
        scores = predict_scores(estimator, X_test, index_test)
    except Exception as exc:
        _record_failure(model_id, group_id, mc, features, label_name, run_id, split_id, train_id, test_id, seed, exc)
        raise
    if np.isnan(scores).any():
        exc = ValueError(f"model {model_id} produced NaN scores on {test_id}")
        _record_failure(model_id, group_id, mc, features, label_name, run_id, split_id, train_id, test_id, seed, exc)
        raise exc

    artifact = save_officer_model(estimator, project, model_id)

    pred_rows = _prediction_rows(model_id, index_test, scores, y_test, seed)
    imp_rows = importance_rows(model_id, estimator, features)
    with db.connect() as conn:
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (model_id,))
        st = conn.execute("SELECT status FROM results.models WHERE model_id = %s", (model_id,)).fetchone()
        if st and st[0] == "done":  # another worker finished it meanwhile
            link_run_model(conn, run_id, model_id)
            conn.commit()
            return {**_existing(model_id), "reused": True}
        _upsert_group(conn, group_id, mc, features, label_name)
        delete_model_rows(conn, [model_id], MODEL_TABLES)
        conn.execute(
            "INSERT INTO results.models (model_id, model_group_id, run_id, split_id, train_matrix_id, test_matrix_id, "
            "artifact_path, train_seconds, status, random_seed) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,'done',%s)",
            (model_id, group_id, run_id, split_id, train_id, test_id, str(artifact), train_seconds, seed),
        )
        link_run_model(conn, run_id, model_id)
        copy_rows(conn, "predictions", PREDICTION_COLUMNS, pred_rows)
        copy_rows(conn, "feature_importances", ("model_id", "feature", "importance", "method", "rank"), imp_rows)
    return {
        "model_id": model_id,
        "model_group_id": group_id,
        "split_id": split_id,
        "status": "done",
        "train_seconds": train_seconds,
        "reused": False,
    }


def _record_failure(
    model_id, group_id, mc, features, label_name, run_id, split_id, train_id, test_id, seed, exc
) -> None:
    with db.connect() as conn:
        _upsert_group(conn, group_id, mc, features, label_name)
        delete_model_rows(conn, [model_id], MODEL_TABLES)
        conn.execute(
            "INSERT INTO results.models (model_id, model_group_id, run_id, split_id, train_matrix_id, test_matrix_id, "
            "status, random_seed, message) VALUES (%s,%s,%s,%s,%s,%s,'failed',%s,%s)",
            (model_id, group_id, run_id, split_id, train_id, test_id, seed, f"{type(exc).__name__}: {exc}"[:2000]),
        )
        link_run_model(conn, run_id, model_id)


def _prediction_rows(model_id: str, index: pd.DataFrame, scores: np.ndarray, labels, seed: int | None):
    abs_nt, pct_nt, abs_wt, pct_wt = rank_scores(scores, seed)
    officers = index["officer_id"].astype(str).to_numpy()
    dates = pd.to_datetime(index["as_of_date"]).dt.date.to_numpy()
    lab = pd.Series(labels).reset_index(drop=True)
    lab = [None if pd.isna(v) else int(v) for v in lab]
    for i in range(len(scores)):
        yield (
            model_id,
            officers[i],
            dates[i],
            float(scores[i]),
            lab[i],
            int(abs_nt[i]),
            float(pct_nt[i]),
            int(abs_wt[i]),
            float(pct_wt[i]),
        )
