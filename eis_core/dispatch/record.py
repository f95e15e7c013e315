"""Record a dispatch-level training run: its models in ``results`` (model groups, models, evaluations,
feature importances) and its comparison in ``dispatch.subset_comparison`` / ``dispatch.feature_effects``.
Part of :func:`eis_core.dispatch.model.train`.
"""

from __future__ import annotations

from psycopg import sql
from psycopg.types.json import Jsonb

#: the columns of dispatch.subset_comparison, in the order of a row of ``train``
COMPARISON_COLUMNS = [
    "run_id",
    "experiment_id",
    "model_id",
    "model_kind",
    "subset",
    "split_date",
    "n_features",
    "n_train",
    "n_train_pos",
    "n_test",
    "n_test_pos",
    "threshold",
    "f1",
    "precision",
    "recall",
    "random_f1",
    "roc_auc",
    "average_precision",
    "unsampled",
    "artifact_path",
]


def record_run(
    conn,
    rows: list[dict],
    effects: list[tuple],
    eval_rows: dict[str, list],
    *,
    run_id: int,
    split_id: str,
    train_id: str,
    test_id: str,
    seed: int,
    class_path: str,
    label_name: str,
) -> None:
    """Write every fitted model of *rows* (the subset comparison rows, with their ``_group``, ``_mc``,
    ``_feats``, ``_secs``, ``_imp`` and ``_rank``) and the feature effects; replaces the run's rows."""
    from eis_core.modeling.results import copy_rows, delete_model_rows, link_run_model
    from eis_core.modeling.train import feature_list_hash

    for r in rows:
        conn.execute(
            "INSERT INTO results.model_groups (model_group_id, class_path, hyperparameters, feature_list_hash, "
            "label_name, is_baseline, feature_names) VALUES (%s, %s, %s, %s, %s, false, %s) "
            "ON CONFLICT (model_group_id) DO NOTHING",
            (
                r["_group"],
                class_path,
                Jsonb(r["_mc"]["hyperparameters"]),
                feature_list_hash(r["_feats"]),
                label_name,
                Jsonb(r["_feats"]),
            ),
        )
        delete_model_rows(conn, [r["model_id"]], ("evaluations", "feature_importances", "run_models", "models"))
        conn.execute(
            "INSERT INTO results.models (model_id, model_group_id, run_id, split_id, train_matrix_id, "
            "test_matrix_id, artifact_path, train_seconds, status, random_seed, message) "
            "VALUES (%s,%s,%s,%s,%s,%s,%s,%s,'done',%s,%s)",
            (
                r["model_id"],
                r["_group"],
                run_id,
                split_id,
                train_id,
                test_id,
                r["artifact_path"],
                r["_secs"],
                seed,
                f"dispatch-level {r['model_kind']} model, subset {r['subset']}",
            ),
        )
        link_run_model(conn, run_id, r["model_id"])
        ev = [
            (r["model_id"], split_id, m, "sampled_threshold", "none", v, None, r["n_test"])
            for m, v in (
                ("f1", r["f1"]),
                ("precision", r["precision"]),
                ("recall", r["recall"]),
                ("random_f1", r["random_f1"]),
            )
        ]
        ev += [
            (r["model_id"], split_id, m, "sampled", "none", v, None, r["n_test"])
            for m, v in (("roc_auc", r["roc_auc"]), ("average_precision", r["average_precision"]))
        ]
        ev += [
            (
                r["model_id"],
                split_id,
                e["metric"],
                e["parameter"],
                e["tie_method"],
                e["value"],
                e["value_sd"],
                e["n_examples"],
            )
            for e in eval_rows.get(r["model_id"], [])
        ]
        copy_rows(
            conn,
            "evaluations",
            ("model_id", "split_id", "metric", "parameter", "tie_method", "value", "value_sd", "n_examples"),
            ev,
        )
        copy_rows(
            conn,
            "feature_importances",
            ("model_id", "feature", "importance", "method", "rank"),
            [
                (r["model_id"], ft, float(r["_imp"][i]), "impurity", int(r["_rank"][i]))
                for i, ft in enumerate(r["_feats"])
            ],
        )
    conn.execute("DELETE FROM dispatch.subset_comparison WHERE run_id = %s", (run_id,))
    conn.execute("DELETE FROM dispatch.feature_effects WHERE run_id = %s", (run_id,))
    cols = COMPARISON_COLUMNS
    for r in rows:
        conn.execute(
            sql.SQL("INSERT INTO dispatch.subset_comparison ({}) VALUES ({})").format(
                sql.SQL(", ").join(sql.Identifier(c) for c in cols), sql.SQL(", ").join(sql.Placeholder() * len(cols))
            ),
            [Jsonb(r[c]) if c == "unsampled" else r[c] for c in cols],
        )
    with conn.cursor().copy(
        "COPY dispatch.feature_effects (run_id, model_id, model_kind, subset, feature, block, "
        "importance, signed_effect) FROM STDIN"
    ) as cp:
        for e in effects:
            cp.write_row(e)
