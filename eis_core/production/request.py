"""The scoring request of one as-of date: parse and check it, resolve the model group, and pick (stored)
or fit (retrain) the model that may score it.  Used by :func:`eis_core.production.scoring.score_day`."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

from eis_core import db
from eis_core.config import LabelsConfig, OfficerConfig

Progress = Callable[[str], object] | None


class ProductionError(ValueError):
    """A scoring request that cannot be served (unknown group, bad date, nothing selected...)."""


def parse_date(value: str | date) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ProductionError(f"date {value!r} is not a date: use YYYY-MM-DD") from None


def resolve_model_group(conn, model_group_id: str | None = None) -> tuple[str, str | None]:
    """(model_group_id, experiment_id or None) of the request; raises ProductionError with what to do."""
    if conn.execute("SELECT to_regclass('results.model_groups')").fetchone()[0] is None:
        raise ProductionError(
            "no model has been trained in this warehouse (schema results is empty): "
            "run the modeling run first (`python -m eis_core.run` or the eis_modeling DAG)"
        )
    if model_group_id:
        row = conn.execute(
            "SELECT model_group_id FROM results.model_groups WHERE model_group_id = %s", (model_group_id,)
        ).fetchone()
        if row is None:
            known = [
                r[0]
                for r in conn.execute(
                    "SELECT model_group_id FROM results.model_groups ORDER BY created_at DESC LIMIT 5"
                )
            ]
            raise ProductionError(f"unknown model group {model_group_id!r}; newest known: {', '.join(known) or 'none'}")
        exp = conn.execute(
            "SELECT experiment_id FROM results.selections WHERE model_group_id = %s ORDER BY selected_at DESC LIMIT 1",
            (model_group_id,),
        ).fetchone()
        return model_group_id, (exp[0] if exp else None)
    row = conn.execute(
        "SELECT model_group_id, experiment_id FROM results.selections WHERE chosen "
        "AND model_group_id IS NOT NULL ORDER BY selected_at DESC, selection_id DESC LIMIT 1"
    ).fetchone()
    if row is None:
        raise ProductionError(
            "no model group has been selected: run `eis select` (or choose one in the web app), "
            "or name one with --model-group"
        )
    return row[0], row[1]


def check_date(d: date, today: date | None = None) -> None:
    today = today or date.today()
    if d > today:
        raise ProductionError(
            f"date {d} is in the future (today is {today}): officers can only be scored on dates whose past is known"
        )


def group_info(conn, group_id: str) -> dict:
    row = conn.execute(
        "SELECT class_path, hyperparameters, feature_names, label_name, is_baseline "
        "FROM results.model_groups WHERE model_group_id = %s",
        (group_id,),
    ).fetchone()
    return {
        "class_path": row[0],
        "hyperparameters": row[1] or {},
        "feature_names": list(row[2] or []),
        "label_name": row[3],
        "is_baseline": bool(row[4]),
    }


def stored_model(conn, group_id: str, d: date, label_span) -> dict:
    """The group's newest done model whose training label windows ended on or before *d*."""
    rows = conn.execute(
        "SELECT m.model_id, m.artifact_path, m.train_matrix_id, mx.as_of_dates, m.created_at "
        "FROM results.models m JOIN results.matrices mx ON mx.matrix_id = m.train_matrix_id "
        "WHERE m.model_group_id = %s AND m.status = 'done' AND m.artifact_path IS NOT NULL",
        (group_id,),
    ).fetchall()
    if not rows:
        raise ProductionError(f"model group {group_id} has no stored model: train it first, or use mode 'retrain'")
    usable = []
    for model_id, path, train_id, dates, created in rows:
        last = max(dates)
        if last + label_span.delta() <= d:
            usable.append((last, created, model_id, path, train_id))
    if not usable:
        earliest = min(max(r[3]) for r in rows) + label_span.delta()
        raise ProductionError(
            f"date {d} is before any training data usable by model group {group_id}: its "
            f"models learnt from outcomes up to {earliest} at the earliest; score {earliest} "
            "or later, or use mode 'retrain'"
        )
    last, _, model_id, path, train_id = max(usable, key=lambda r: (r[0], r[1], r[2]))
    return {"model_id": model_id, "artifact_path": path, "train_matrix_id": train_id, "last_train_as_of": last}


# ----------------------------------------------------------------------------------------- models


def quiet(progress: Progress) -> Progress:
    """*progress* without dbt's one line per model/test (kept: our own lines and failures)."""
    if progress is None:
        return None
    import re

    node = re.compile(r"^\s*(success|pass|warn|skip(ped)?)\s+(model|test|seed|snapshot)\s")

    def inner(line: str):
        if not node.match(str(line)):
            progress(line)

    return inner


def retrain(
    group_id: str,
    info: dict,
    d: date,
    officer_cfg: OfficerConfig,
    labels_cfg: LabelsConfig,
    project: Path,
    progress: Progress,
) -> dict:
    """Fit the group on the training window ending at *d*; reuse the model when it exists already."""
    from eis_core.artifacts.models import model_exists
    from eis_core.modeling.estimators import fit_model, importance_rows
    from eis_core.modeling.grid import make_estimator
    from eis_core.modeling.matrices import build_matrix, ensure_features, load_matrix, make_spec
    from eis_core.modeling.results import copy_rows, ensure_results_schema, record_matrix
    from eis_core.modeling.splits import train_dates
    from eis_core.modeling.train import model_id_for, save_officer_model

    tc = officer_cfg.temporal_config
    if tc is None:
        raise ProductionError("mode 'retrain' needs temporal_config in the officer config")
    dates = [t for t in train_dates(tc, d) if t >= tc.feature_start_time]
    if not dates:
        raise ProductionError(
            f"date {d} is before any training data: the training window ending at {d} "
            f"(as-of dates up to {d - tc.label_window.delta()}) starts before label_start_time "
            f"{tc.label_start_time}"
        )
    ensure_features(dates, officer_cfg, labels_cfg, progress=quiet(progress))
    spec = make_spec(dates, officer_cfg, labels_cfg, feature_columns=info["feature_names"])
    meta = build_matrix(spec, project, progress=quiet(progress))
    record_matrix({**{k: v for k, v in meta.items() if k != "reused"}, "kind": "train", "split_id": "production"})
    seed = officer_cfg.random_seed
    model_id = model_id_for(group_id, meta["matrix_id"], seed)
    ensure_results_schema()
    with db.connect() as conn:
        row = conn.execute(
            "SELECT artifact_path FROM results.models WHERE model_id = %s AND status = 'done'", (model_id,)
        ).fetchone()
    if row and row[0] and model_exists(row[0]):
        return {
            "model_id": model_id,
            "artifact_path": row[0],
            "train_matrix_id": meta["matrix_id"],
            "last_train_as_of": max(dates),
            "reused": True,
        }
    X, y, _, index = load_matrix(meta["matrix_id"], project)
    estimator = make_estimator({"class_path": info["class_path"], "hyperparameters": info["hyperparameters"]}, seed)
    t0 = time.perf_counter()
    fit_model(estimator, X, y, index)
    seconds = time.perf_counter() - t0
    artifact = save_officer_model(estimator, project, model_id)
    with db.connect() as conn:
        conn.execute("DELETE FROM results.feature_importances WHERE model_id = %s", (model_id,))
        conn.execute(
            "INSERT INTO results.models (model_id, model_group_id, split_id, train_matrix_id, artifact_path, "
            "train_seconds, status, random_seed, message) VALUES (%s, %s, 'production', %s, %s, %s, 'done', %s, %s) "
            "ON CONFLICT (model_id) DO UPDATE SET artifact_path = EXCLUDED.artifact_path, status = 'done'",
            (
                model_id,
                group_id,
                meta["matrix_id"],
                str(artifact),
                seconds,
                seed,
                f"retrained for production scoring of {d}",
            ),
        )
        copy_rows(
            conn,
            "feature_importances",
            ("model_id", "feature", "importance", "method", "rank"),
            importance_rows(model_id, estimator, info["feature_names"]),
        )
    return {
        "model_id": model_id,
        "artifact_path": str(artifact),
        "train_matrix_id": meta["matrix_id"],
        "last_train_as_of": max(dates),
        "reused": False,
    }


def importances(conn, model_id: str) -> dict[str, float]:
    return {
        f: (v or 0.0)
        for f, v in conn.execute(
            "SELECT feature, importance FROM results.feature_importances WHERE model_id = %s", (model_id,)
        )
    }
