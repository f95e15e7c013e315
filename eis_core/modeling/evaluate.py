"""Evaluation: metrics of every model of a run, from ``results.predictions``, into ``results.evaluations``
and the paper's Table 3 (model vs the legacy threshold EIS) into ``results.table3``.

The metrics themselves (top-k with ties, threshold-free, ranks, Table 3 counts) are pure functions in
:mod:`eis_core.modeling.metrics`, re-exported here.

Table 3.  For each test split, the legacy EIS flags the officers the department's existing system
flagged in the year before the test as-of date (the drop's ``eis_flags``), or, when the drop has no
flags, those whose configured legacy threshold rules fire on it (the ``LegacyEISBaseline`` predictions
of the same run, or the matrix's columns; ``legacy_source`` says which).  Every model then flags the
same number of officers — its top ``flag_count`` by ``rank_abs_no_ties`` — and both are compared on
TP, FP, TN, FN; ``flags_to_match`` is the paper's other reading: how many officers the model must
flag to find as many adverse officers as the legacy EIS did.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from eis_core.modeling.metrics import (
    THRESHOLD_FREE,
    TIE_METHODS,
    confusion,
    default_tie_method,
    evaluate_scores,
    flags_to_match,
    fmt_num,
    k_for,
    metric_label,
    order_with_ties,
    parse_metric,
    precision_recall_at_k,
    rank_scores,
    relative_change,
    table3_counts,
    threshold_free_metrics,
    top_k_parameters,
)

#: names kept importable from here (the pure metrics moved to eis_core.modeling.metrics)
__all__ = [
    "EVAL_COLUMNS",
    "TABLE3_COLUMNS",
    "THRESHOLD_FREE",
    "TIE_METHODS",
    "confusion",
    "default_tie_method",
    "evaluate_run",
    "evaluate_scores",
    "flags_to_match",
    "fmt_num",
    "k_for",
    "metric_label",
    "order_with_ties",
    "parse_metric",
    "precision_recall_at_k",
    "rank_scores",
    "relative_change",
    "table3_counts",
    "threshold_free_metrics",
    "top_k_parameters",
]

EVAL_COLUMNS = ("model_id", "split_id", "metric", "parameter", "tie_method", "value", "value_sd", "n_examples")
TABLE3_COLUMNS = (
    "model_id",
    "split_id",
    "model_group_id",
    "flag_count",
    "tp",
    "fp",
    "tn",
    "fn",
    "legacy_tp",
    "legacy_fp",
    "legacy_tn",
    "legacy_fn",
    "flags_to_match",
    "legacy_source",
)


# ----------------------------------------------------------------------------------------- database


def _experiment_eval_cfg(conn, run_id: int) -> tuple[dict, int | None]:
    row = conn.execute(
        "SELECT e.config, r.random_seed FROM results.runs r JOIN results.experiments e "
        "USING (experiment_id) WHERE r.run_id = %s",
        (run_id,),
    ).fetchone()
    if row is None:
        raise KeyError(f"results.runs has no run {run_id}")
    cfg = ((row[0] or {}).get("officer") or {}).get("evaluation") or {}
    return cfg, row[1]


def _predictions(conn, model_id: str) -> pd.DataFrame:
    cur = conn.execute(
        "SELECT officer_id, as_of_date, score, label, rank_abs_no_ties FROM results.predictions WHERE model_id = %s",
        (model_id,),
    )
    return pd.DataFrame(cur.fetchall(), columns=["officer_id", "as_of_date", "score", "label", "rank_abs_no_ties"])


def _legacy_flags_from_baseline(conn, run_id: int, test_matrix_id: str) -> tuple[pd.DataFrame, str] | None:
    row = conn.execute(
        "SELECT m.model_id FROM results.models m JOIN results.model_groups g USING (model_group_id) "
        "JOIN results.run_models rm USING (model_id) WHERE rm.run_id = %s AND m.test_matrix_id = %s AND m.status = 'done' "
        "AND g.class_path LIKE %s ORDER BY (g.hyperparameters = '{}'::jsonb) DESC, m.model_id LIMIT 1",
        (run_id, test_matrix_id, "%.LegacyEISBaseline"),
    ).fetchone()
    if row is None:
        return None
    df = _predictions(conn, row[0])
    used = _used_features(conn, row[0])
    source = "flags" if any(str(c).startswith("flg_flags_") for c in used) else "rules"
    return (
        pd.DataFrame({"officer_id": df["officer_id"], "as_of_date": df["as_of_date"], "legacy": df["score"] > 0.5}),
        source,
    )


def _used_features(conn, model_id: str) -> list[str]:
    """The columns the legacy baseline model used (its feature importances' names)."""
    rows = conn.execute("SELECT feature FROM results.feature_importances WHERE model_id = %s", (model_id,)).fetchall()
    return [r[0] for r in rows]


def _legacy_flags_from_matrix(conn, test_matrix_id: str) -> tuple[pd.DataFrame, str] | None:
    row = conn.execute("SELECT path FROM results.matrices WHERE matrix_id = %s", (test_matrix_id,)).fetchone()
    if row is None or not row[0]:
        return None
    try:
        from eis_core.artifacts.storage import location
        from eis_core.modeling.matrices import load_matrix

        project = location(row[0]).parent.parent
        X, _, _, index = load_matrix(test_matrix_id, project)
    except Exception:  # noqa: BLE001 - no matrix, no legacy comparison
        return None
    from eis_core.modeling.baselines import LegacyEISBaseline

    try:
        legacy = LegacyEISBaseline().fit(X, np.zeros(len(X), dtype=int))
    except ValueError:  # neither the department's flags nor legacy rule columns
        return None
    return (
        pd.DataFrame(
            {
                "officer_id": index["officer_id"].astype(str).to_numpy(),
                "as_of_date": pd.to_datetime(index["as_of_date"]).dt.date.to_numpy(),
                "legacy": legacy.predict_proba(X)[:, 1] > 0.5,
            }
        ),
        legacy.source_,
    )


def evaluate_run(run_id: int, evaluation: Any = None) -> dict:
    """Evaluate every finished model of *run_id* (re-evaluating replaces its rows); see module doc.

    ``evaluation`` overrides the experiment's evaluation config (an EvaluationConfig or dict).
    Returns {run_id, models, evaluations, table3, splits_without_legacy}.
    """
    from eis_core import db
    from eis_core.modeling.results import copy_rows, delete_model_rows, ensure_results_schema

    ensure_results_schema()
    with db.connect() as conn:
        cfg, seed = _experiment_eval_cfg(conn, run_id)
        if evaluation is not None:
            cfg = evaluation.model_dump() if hasattr(evaluation, "model_dump") else dict(evaluation)
        top_abs = cfg.get("top_k_absolute", [25, 50, 100, 200])
        top_pct = cfg.get("top_k_percent", [1, 5, 10, 20])
        n_order = int(cfg.get("tie_orderings", 30))
        models = conn.execute(
            "SELECT m.model_id, m.split_id, m.model_group_id, m.test_matrix_id "
            "FROM results.models m JOIN results.run_models rm USING (model_id) "
            "WHERE rm.run_id = %s AND m.status = 'done' ORDER BY m.split_id, m.model_id",
            (run_id,),
        ).fetchall()
        eval_rows, t3_rows, legacy_cache, no_legacy = [], [], {}, set()
        for model_id, split_id, group_id, test_id in models:
            df = _predictions(conn, model_id)
            df = df[df["label"].notna()]
            for r in evaluate_scores(
                df["score"].to_numpy(float), df["label"].to_numpy(int), top_abs, top_pct, n_order, seed
            ):
                eval_rows.append(
                    (
                        model_id,
                        split_id,
                        r["metric"],
                        r["parameter"],
                        r["tie_method"],
                        r["value"],
                        r["value_sd"],
                        r["n_examples"],
                    )
                )
            if test_id not in legacy_cache:
                legacy_cache[test_id] = (
                    _legacy_flags_from_baseline(conn, run_id, test_id) if test_id is not None else None
                )
                if legacy_cache[test_id] is None and test_id is not None:
                    legacy_cache[test_id] = _legacy_flags_from_matrix(conn, test_id)
            if legacy_cache[test_id] is None:
                no_legacy.add(split_id)
                continue
            leg, source = legacy_cache[test_id]
            merged = df.merge(leg, on=["officer_id", "as_of_date"], how="inner")
            c = table3_counts(
                merged["rank_abs_no_ties"].rank(method="first").to_numpy(),
                merged["label"].to_numpy(int),
                merged["legacy"].to_numpy(bool),
            )
            t3_rows.append(
                (
                    model_id,
                    split_id,
                    group_id,
                    c["flag_count"],
                    c["tp"],
                    c["fp"],
                    c["tn"],
                    c["fn"],
                    c["legacy_tp"],
                    c["legacy_fp"],
                    c["legacy_tn"],
                    c["legacy_fn"],
                    c["flags_to_match"],
                    source,
                )
            )
        ids = [m[0] for m in models]
        delete_model_rows(conn, ids, ("evaluations", "table3"))
        n_eval = copy_rows(conn, "evaluations", EVAL_COLUMNS, eval_rows)
        n_t3 = copy_rows(conn, "table3", TABLE3_COLUMNS, t3_rows)
    return {
        "run_id": run_id,
        "models": len(models),
        "evaluations": n_eval,
        "table3": n_t3,
        "splits_without_legacy": sorted(str(s) for s in no_legacy),
    }
