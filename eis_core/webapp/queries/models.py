"""The results reads of the models pages: experiments, selections, model groups, curves, importances,
explanations, score and feature distributions, top-k overlaps, predictions."""

from __future__ import annotations

import numpy as np

from eis_core.webapp.queries.base import one, populated, rows, table_exists

# ----------------------------------------------------------------------------------------- results


def experiments(conn) -> list[dict]:
    if not table_exists(conn, "results.experiments"):
        return []
    return rows(
        conn,
        "SELECT e.experiment_id, e.created_at, count(r.run_id) AS runs, max(r.started_at) AS last_run "
        "FROM results.experiments e LEFT JOIN results.runs r USING (experiment_id) "
        "GROUP BY e.experiment_id, e.created_at ORDER BY max(r.run_id) DESC NULLS LAST, e.created_at DESC",
    )


def metric_choices(conn, experiment_id: str) -> list[str]:
    from eis_core.modeling.evaluate import metric_label

    out = conn.execute(
        "SELECT DISTINCT e.metric, e.parameter FROM results.evaluations e JOIN results.run_models rm USING (model_id) "
        "JOIN results.runs r USING (run_id) WHERE r.experiment_id = %s ORDER BY 1, 2",
        (experiment_id,),
    ).fetchall()
    return [metric_label(m, p) for m, p in out]


def selections(conn, experiment_id: str) -> list[dict]:
    return rows(
        conn,
        "SELECT selection_id, rule, metric, model_group_id, chosen, selected_at, selected_by "
        "FROM results.selections WHERE experiment_id = %s ORDER BY selection_id DESC LIMIT 30",
        (experiment_id,),
    )


def chosen_selection(conn, experiment_id: str) -> dict | None:
    return one(
        conn,
        "SELECT selection_id, rule, metric, model_group_id, selected_at, selected_by "
        "FROM results.selections WHERE experiment_id = %s AND chosen ORDER BY selection_id DESC LIMIT 1",
        (experiment_id,),
    )


def group_models(conn, experiment_id: str, group_id: str) -> list[dict]:
    return rows(
        conn,
        "SELECT DISTINCT m.model_id, m.split_id, m.status, m.train_seconds, "
        "(SELECT min(d) FROM unnest(mx.as_of_dates) d) AS test_start "
        "FROM results.models m JOIN results.run_models rm ON rm.model_id = m.model_id "
        "JOIN results.runs r ON r.run_id = rm.run_id "
        "LEFT JOIN results.matrices mx ON mx.matrix_id = m.test_matrix_id "
        "WHERE r.experiment_id = %s AND m.model_group_id = %s ORDER BY test_start NULLS LAST, m.split_id",
        (experiment_id, group_id),
    )


def curves(conn, model_id: str, max_points: int = 150) -> dict | None:
    """Precision-recall, ROC and precision/recall against the share flagged, from the model's test
    predictions (labelled rows only); None when the model has no labelled predictions."""
    data = conn.execute(
        "SELECT score, label FROM results.predictions WHERE model_id = %s AND label IS NOT NULL", (model_id,)
    ).fetchall()
    if not data:
        return None
    arr = np.array(data, dtype=float)
    order = np.argsort(-arr[:, 0], kind="stable")
    y = arr[order, 1]
    n, pos = len(y), float(y.sum())
    tp = np.cumsum(y)
    fp = np.cumsum(1 - y)
    k = np.arange(1, n + 1)
    precision = tp / k
    recall = tp / pos if pos else np.zeros(n)
    fpr = fp / (n - pos) if n > pos else np.zeros(n)
    idx = np.unique(np.linspace(0, n - 1, min(n, max_points)).round().astype(int))
    r3 = lambda a: [round(float(v), 4) for v in a]  # noqa: E731
    auc = float(np.trapezoid(np.r_[0, recall], np.r_[0, fpr])) if n > pos and pos else None
    return {
        "n": n,
        "positives": int(pos),
        "share": r3(k[idx] / n),
        "precision": r3(precision[idx]),
        "recall": r3(recall[idx]),
        "fpr": r3(np.r_[0, fpr[idx]]),
        "tpr": r3(np.r_[0, recall[idx]]),
        "roc_auc": auc,
    }


def feature_importances(conn, model_id: str, top: int = 20) -> list[dict]:
    return rows(
        conn,
        "SELECT feature, importance, method, rank FROM results.feature_importances "
        "WHERE model_id = %s AND importance IS NOT NULL "
        "ORDER BY abs(importance) DESC, feature LIMIT %s",
        (model_id, top),
    )


def risk_curves(conn, model_id: str) -> list[dict] | None:
    if not populated(conn, "results.risk_curves"):
        return None
    return rows(
        conn,
        "SELECT feature, bin, bin_low, bin_high, mean_score, sd_score, n FROM results.risk_curves "
        "WHERE model_id = %s ORDER BY feature, bin",
        (model_id,),
    )


def results_bias(conn, model_id: str) -> list[dict] | None:
    if not conn.execute("SELECT EXISTS (SELECT 1 FROM results.bias_audit WHERE scope = 'test_split')").fetchone()[0]:
        return None  # the test-split audit has not been run (the scored days' rows are the other scope)
    return rows(
        conn,
        "SELECT as_of_date, threshold, attribute, group_value, reference_group, group_size, flagged, "
        "flag_rate, precision, tpr, fpr, fnr, flag_rate_ratio, tpr_ratio, fpr_ratio, out_of_range "
        "FROM results.bias_audit WHERE scope = 'test_split' AND model_id = %s ORDER BY as_of_date, threshold, attribute, group_value",
        (model_id,),
    )


def group_exists(conn, experiment_id: str, group_id: str) -> bool:
    return conn.execute(
        "SELECT EXISTS (SELECT 1 FROM results.models m JOIN results.run_models rm ON rm.model_id = m.model_id "
        "JOIN results.runs r ON r.run_id = rm.run_id WHERE r.experiment_id = %s AND m.model_group_id = %s)",
        (experiment_id, group_id),
    ).fetchone()[0]


def insert_manual_selection(conn, experiment_id: str, metric: str, group_id: str, username: str) -> int:
    return conn.execute(
        "INSERT INTO results.selections (experiment_id, rule, metric, model_group_id, chosen, selected_by) "
        "VALUES (%s, 'manual', %s, %s, true, %s) RETURNING selection_id",
        (experiment_id, metric, group_id, username),
    ).fetchone()[0]


# ----------------------------------------------------------------------------------------- model explanations

EXPLAIN_PLOTS = ("risk_curves.png", "directionality.png", "permutation_importance.png")


def permutation_importances(conn, model_id: str, top: int = 20) -> list[dict] | None:
    if not populated(conn, "results.permutation_importances"):
        return None
    return rows(
        conn,
        "SELECT feature, importance_mean, importance_sd, scoring, n_repeats, rank "
        "FROM results.permutation_importances WHERE model_id = %s ORDER BY rank LIMIT %s",
        (model_id, top),
    )


def risk_curve_direction(conn, model_id: str) -> dict[str, float]:
    if not table_exists(conn, "results.risk_curve_direction"):
        return {}
    return {
        r[0]: r[1]
        for r in conn.execute(
            "SELECT feature, directionality FROM results.risk_curve_direction WHERE model_id = %s", (model_id,)
        )
    }


def explain_dir(conn, model_id: str):
    """``<project>/reports/explain/<model_id>``, where the production explanations write their PNGs:
    the project is the folder of the model's artifact (``<project>/models/<id>.joblib``, as
    ``eis_core.production.insights`` derives it), else the experiment's ``project_path`` - a relative
    one resolved against the artifact root like the modeling code does (not against the app's working
    directory); None when neither is known."""
    from eis_core.artifacts.storage import local_dir, location

    art = conn.execute("SELECT artifact_path FROM results.models WHERE model_id = %s", (model_id,)).fetchone()
    if art and art[0]:  # reports stay on the local disk (a local mirror for a project on object storage)
        return local_dir(location(art[0]).parent.parent) / "reports" / "explain" / model_id
    project = experiment_project(conn, model_id)
    return local_dir(project) / "reports" / "explain" / model_id if project else None


def experiment_project(conn, model_id: str):
    """The ``project_path`` of the latest experiment that ran *model_id* (relative: under EIS_HOME, as the
    modeling code resolves it: the artifact root), or None."""
    from eis_core.artifacts.storage import resolve

    row = conn.execute(
        "SELECT e.config -> 'officer' ->> 'project_path' FROM results.run_models rm "
        "JOIN results.runs r ON r.run_id = rm.run_id "
        "JOIN results.experiments e ON e.experiment_id = r.experiment_id "
        "WHERE rm.model_id = %s ORDER BY r.run_id DESC LIMIT 1",
        (model_id,),
    ).fetchone()
    if not row or not row[0]:
        return None
    return resolve(row[0])


# ----------------------------------------------------------------------------------------- the analyst's model pages


def score_distribution(conn, model_id: str, bins: int = 20) -> dict | None:
    """Histogram of the model's test scores by label: the share of each label's rows per score bin
    (so that 12 % positives and 88 % negatives are comparable); None without labelled predictions."""
    data = conn.execute(
        "SELECT score, label FROM results.predictions WHERE model_id = %s AND label IS NOT NULL AND score IS NOT NULL",
        (model_id,),
    ).fetchall()
    if not data:
        return None
    arr = np.array(data, dtype=float)
    lo, hi = float(arr[:, 0].min()), float(arr[:, 0].max())
    if hi <= lo:
        hi = lo + 1e-9
    edges = np.linspace(lo, hi, bins + 1)
    out = {"edges": [round(float(e), 4) for e in edges], "labels": [], "n": {}, "share": {}}
    for lab in (0, 1):
        s = arr[arr[:, 1] == lab, 0]
        counts, _ = np.histogram(s, bins=edges)
        out["n"][lab] = int(len(s))
        out["share"][lab] = [round(float(c) / len(s), 4) if len(s) else 0.0 for c in counts]
    out["labels"] = [f"{edges[i]:.3g}–{edges[i + 1]:.3g}" for i in range(bins)]
    return out


def model_predictions(conn, model_id: str, label: int | None, offset: int, limit: int) -> tuple[int, list[dict]]:
    """One page of the model's test predictions, best rank first (officer, date, score, rank, label)."""
    total = conn.execute(
        "SELECT count(*) FROM results.predictions WHERE model_id = %s AND (%s::int IS NULL OR label = %s::int)",
        (model_id, label, label),
    ).fetchone()[0]
    page = rows(
        conn,
        "SELECT officer_id, as_of_date, score, label, rank_abs_no_ties, rank_pct_no_ties "
        "FROM results.predictions WHERE model_id = %s AND (%s::int IS NULL OR label = %s::int) "
        "ORDER BY as_of_date, rank_abs_no_ties, officer_id OFFSET %s LIMIT %s",
        (model_id, label, label, offset, limit),
    )
    return int(total), page


def _top_sets(conn, model_ids: list[str], k: int) -> dict[str, set]:
    out: dict[str, set] = {m: set() for m in model_ids}
    for mid, oid, d in conn.execute(
        "SELECT model_id, officer_id, as_of_date FROM results.predictions "
        "WHERE model_id = ANY(%s) AND rank_abs_no_ties <= %s",
        (model_ids, k),
    ):
        out[mid].add((oid, d))
    return out


def _overlap(a: set, b: set) -> dict:
    inter = len(a & b)
    union = len(a | b)
    return {
        "common": inter,
        "jaccard": inter / union if union else None,
        "share": inter / min(len(a), len(b)) if a and b else None,
    }


def top_k_across_models(conn, experiment_id: str, split_id: str | None, k: int) -> dict:
    """The top *k* (by rank, per as-of date) of every model of the experiment on one split, and the
    overlap of each pair: officers in both lists, Jaccard (both / either)."""
    models = rows(
        conn,
        "SELECT DISTINCT m.model_id, m.model_group_id FROM results.models m "
        "JOIN results.run_models rm ON rm.model_id = m.model_id JOIN results.runs r ON r.run_id = rm.run_id "
        "WHERE r.experiment_id = %s AND m.split_id IS NOT DISTINCT FROM %s AND m.status = 'done' "
        "ORDER BY m.model_group_id LIMIT 12",
        (experiment_id, split_id),
    )
    ids = [m["model_id"] for m in models]
    sets = _top_sets(conn, ids, k) if ids else {}
    matrix = [[_overlap(sets[a], sets[b]) for b in ids] for a in ids]
    return {"models": models, "matrix": matrix}


def top_k_over_time(conn, models: list[dict], k: int) -> list[dict]:
    """For a model group's models in split order: how many of one split's top *k* officers are in the
    next split's top *k* (officers, whatever the date)."""
    ids = [m["model_id"] for m in models]
    sets = {m: {o for o, _ in s} for m, s in _top_sets(conn, ids, k).items()} if ids else {}
    out = []
    for a, b in zip(models, models[1:]):
        out.append({"from": a, "to": b, **_overlap(sets[a["model_id"]], sets[b["model_id"]])})
    return out


def model_matrices(conn, model_id: str) -> dict | None:
    """The model's train and test matrix ids and the project folder they live in (``<project>/matrices``):
    from the matrices' recorded path, else the experiment's ``project_path`` (relative: under the artifact root)."""
    from eis_core.artifacts.storage import location

    m = one(
        conn,
        "SELECT m.train_matrix_id, m.test_matrix_id, tr.path AS train_path, te.path AS test_path "
        "FROM results.models m LEFT JOIN results.matrices tr ON tr.matrix_id = m.train_matrix_id "
        "LEFT JOIN results.matrices te ON te.matrix_id = m.test_matrix_id WHERE m.model_id = %s",
        (model_id,),
    )
    if not m or not m["train_matrix_id"] or not m["test_matrix_id"]:
        return None
    path = m["train_path"] or m["test_path"]
    project = location(path).parent.parent if path else experiment_project(conn, model_id)
    if project is None:
        return None
    return {"train": m["train_matrix_id"], "test": m["test_matrix_id"], "project": project}


def feature_distributions(mats: dict, features: list[str], bins: int = 12) -> dict:
    """Train vs test distributions of *features* from the model's Parquet matrices (read-only, only these
    columns): per feature shared bins, the share of each matrix's rows per bin, mean and missing share.
    ``{"error": text}`` when the files cannot be read."""
    from eis_core.modeling.matrices import MatrixError, load_matrix, read_meta

    try:
        have = set(read_meta(mats["train"], mats["project"])["feature_columns"]) & set(
            read_meta(mats["test"], mats["project"])["feature_columns"]
        )
        feats = [f for f in features if f in have][:6]
        if not feats:
            return {"error": "none of the model's most important features is in both matrices", "features": []}
        Xtr = load_matrix(mats["train"], mats["project"], columns=feats)[0]
        Xte = load_matrix(mats["test"], mats["project"], columns=feats)[0]
    except (MatrixError, OSError, KeyError, ValueError) as e:
        return {"error": f"the model's matrices cannot be read ({type(e).__name__})", "features": []}
    out = []
    for f in feats:
        a = Xtr[f].to_numpy(dtype=float)
        b = Xte[f].to_numpy(dtype=float)
        both = np.concatenate([a[~np.isnan(a)], b[~np.isnan(b)]])
        if not len(both):
            continue
        lo, hi = float(both.min()), float(both.max())
        edges = np.linspace(lo, hi if hi > lo else lo + 1, bins + 1)
        row = {"feature": f, "labels": [f"{edges[i]:.3g}–{edges[i + 1]:.3g}" for i in range(bins)]}
        for name, v in (("train", a), ("test", b)):
            ok = v[~np.isnan(v)]
            counts, _ = np.histogram(ok, bins=edges)
            row[name] = {
                "share": [round(float(c) / len(v), 4) if len(v) else 0.0 for c in counts],
                "mean": float(ok.mean()) if len(ok) else None,
                "n": int(len(v)),
                "missing": float(np.isnan(v).mean()) if len(v) else None,
            }
        out.append(row)
    return {"error": None, "features": out}


def model_exists(conn, model_id: str) -> bool:
    return conn.execute("SELECT EXISTS (SELECT 1 FROM results.models WHERE model_id = %s)", (model_id,)).fetchone()[0]


def model_context(conn, model_id: str) -> dict | None:
    """The experiment and group a model is shown under (for links back to its page)."""
    return one(
        conn,
        "SELECT r.experiment_id, m.model_group_id FROM results.models m "
        "JOIN results.run_models rm ON rm.model_id = m.model_id JOIN results.runs r ON r.run_id = rm.run_id "
        "WHERE m.model_id = %s ORDER BY r.run_id DESC LIMIT 1",
        (model_id,),
    )
