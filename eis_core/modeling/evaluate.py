"""Evaluation: metrics of every model of a run, from ``results.predictions``, into ``results.evaluations``
and the paper's Table 3 (model vs the legacy threshold EIS) into ``results.table3``.

Top-k metrics and ties (the triage vocabulary).  A ranked list must be cut at k, but scores tie (a
baseline that gives everyone the prior ties everyone).  Each top-k metric is stored with a tie method:

* ``worst``      — within a tie, negatives come first (the lowest value the model could get);
* ``best``       — within a tie, positives come first (the highest value);
* ``stochastic`` — the mean (``value``) and population sd (``value_sd``) over ``tie_orderings`` seeded
  random orderings within ties.

Threshold-free metrics (ROC-AUC, average precision, Brier score) have tie method ``none``.  Names:
``precision@``/``recall@`` with parameter ``<k>_abs`` (top k officers) or ``<p>_pct`` (top p percent,
k = ceil(p/100 * n)); ``roc_auc``, ``average_precision``, ``brier`` with parameter ``''``.  The
config spelling ``precision@10%`` / ``precision@100`` maps to these with :func:`parse_metric`.

Table 3.  For each test split, the legacy EIS flags the officers the department's existing system
flagged in the year before the test as-of date (the drop's ``eis_flags``), or, when the drop has no
flags, those whose configured legacy threshold rules fire on it (the ``LegacyEISBaseline`` predictions
of the same run, or the matrix's columns; ``legacy_source`` says which).  Every model then flags the
same number of officers — its top ``flag_count`` by ``rank_abs_no_ties`` — and both are compared on
TP, FP, TN, FN; ``flags_to_match`` is the paper's other reading: how many officers the model must
flag to find as many adverse officers as the legacy EIS did.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

TIE_METHODS = ("worst", "best", "stochastic")
THRESHOLD_FREE = ("roc_auc", "average_precision", "brier")
EVAL_COLUMNS = ("model_id", "split_id", "metric", "parameter", "tie_method", "value", "value_sd", "n_examples")
TABLE3_COLUMNS = ("model_id", "split_id", "model_group_id", "flag_count", "tp", "fp", "tn", "fn",
                  "legacy_tp", "legacy_fp", "legacy_tn", "legacy_fn", "flags_to_match", "legacy_source")


# ----------------------------------------------------------------------------------------- names

def fmt_num(x: float) -> str:
    return f"{float(x):g}"


def parse_metric(name: str) -> tuple[str, str]:
    """'precision@10%' -> ('precision@', '10_pct'); 'recall@100' -> ('recall@', '100_abs');
    'roc_auc' -> ('roc_auc', ''); stored forms ('precision@10_pct') pass through."""
    s = name.strip()
    m = re.fullmatch(r"(precision|recall)@\s*([0-9.]+)\s*(%|_pct|_abs)?", s)
    if m:
        kind = "pct" if m.group(3) in ("%", "_pct") else "abs"
        return f"{m.group(1)}@", f"{fmt_num(float(m.group(2)))}_{kind}"
    if s in THRESHOLD_FREE:
        return s, ""
    raise ValueError(f"unknown metric {name!r}: use precision@<k>, precision@<p>%, recall@..., {', '.join(THRESHOLD_FREE)}")


def metric_label(metric: str, parameter: str) -> str:
    if parameter.endswith("_pct"):
        return f"{metric}{parameter[:-4]}%"
    if parameter.endswith("_abs"):
        return f"{metric}{parameter[:-4]}"
    return metric


def default_tie_method(metric: str) -> str:
    return "none" if metric in THRESHOLD_FREE else "stochastic"


# ----------------------------------------------------------------------------------------- ranks

def rank_scores(scores, seed: int | None = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Ranks by descending score: (abs_no_ties, pct_no_ties, abs_with_ties, pct_with_ties).

    no_ties: 1..n, ties broken by a seeded random order (reproducible, not biased by officer id);
    with_ties: tied rows share the best (lowest) rank of the tie ('min' / competition ranking).
    pct = abs / n, so every pct is in (0, 1].
    """
    s = np.asarray(scores, dtype=float)
    n = s.size
    if n == 0:
        e = np.zeros(0)
        return e.astype(int), e, e.astype(int), e
    if np.isnan(s).any():
        raise ValueError("scores contain NaN")
    rnd = np.random.default_rng(seed).random(n)
    order = np.lexsort((rnd, -s))
    abs_nt = np.empty(n, dtype=int)
    abs_nt[order] = np.arange(1, n + 1)
    abs_wt = pd.Series(-s).rank(method="min").to_numpy().astype(int)
    return abs_nt, abs_nt / n, abs_wt, abs_wt / n


def order_with_ties(scores, labels, tie_method: str, rng: np.random.Generator | None = None) -> np.ndarray:
    """Row order by descending score with ties resolved by *tie_method* ('worst', 'best', 'stochastic')."""
    s = np.asarray(scores, dtype=float)
    y = np.asarray(labels, dtype=int)
    if tie_method == "worst":
        return np.lexsort((y, -s))
    if tie_method == "best":
        return np.lexsort((-y, -s))
    if tie_method == "stochastic":
        rng = rng if rng is not None else np.random.default_rng(0)
        return np.lexsort((rng.random(s.size), -s))
    raise ValueError(f"unknown tie method {tie_method!r}")


def k_for(n: int, parameter: str) -> int:
    """The k of '<k>_abs' (capped at n) or '<p>_pct' (ceil(p/100 * n))."""
    value, kind = parameter.rsplit("_", 1)
    v = float(value)
    if kind == "abs":
        return min(int(v), n)
    if kind == "pct":
        return min(n, int(math.ceil(round(n * v / 100.0, 9))))
    raise ValueError(f"bad top-k parameter {parameter!r}")


def top_k_parameters(top_k_absolute: Iterable[int], top_k_percent: Iterable[float]) -> list[str]:
    return [f"{int(k)}_abs" for k in top_k_absolute] + [f"{fmt_num(p)}_pct" for p in top_k_percent]


def _at_k(sorted_labels: np.ndarray, ks: list[int], n_pos: int) -> tuple[list, list]:
    cum = np.concatenate([[0], np.cumsum(sorted_labels)])
    prec = [cum[k] / k if k > 0 else np.nan for k in ks]
    rec = [cum[k] / n_pos if n_pos > 0 else np.nan for k in ks]
    return prec, rec


def precision_recall_at_k(scores, labels, parameters: list[str], tie_method: str,
                          tie_orderings: int = 30, seed: int | None = 0) -> dict[str, dict[str, tuple[float, float | None]]]:
    """{parameter: {'precision@': (value, sd), 'recall@': (value, sd)}}; sd is None unless stochastic.

    Values are NaN when undefined (k = 0 for precision, no positive for recall)."""
    s = np.asarray(scores, dtype=float)
    y = np.asarray(labels, dtype=int)
    n, n_pos = y.size, int(y.sum())
    ks = [k_for(n, p) for p in parameters]
    if tie_method == "stochastic":
        rng = np.random.default_rng(seed)
        P, R = [], []
        for _ in range(tie_orderings):
            p, r = _at_k(y[order_with_ties(s, y, "stochastic", rng)], ks, n_pos)
            P.append(p)
            R.append(r)
        P, R = np.asarray(P, dtype=float), np.asarray(R, dtype=float)
        with np.errstate(all="ignore"):
            pm, ps, rm, rs = P.mean(0), P.std(0), R.mean(0), R.std(0)
        return {par: {"precision@": (pm[i], ps[i]), "recall@": (rm[i], rs[i])} for i, par in enumerate(parameters)}
    p, r = _at_k(y[order_with_ties(s, y, tie_method)], ks, n_pos)
    return {par: {"precision@": (p[i], None), "recall@": (r[i], None)} for i, par in enumerate(parameters)}


def threshold_free_metrics(scores, labels) -> dict[str, float]:
    from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

    s = np.asarray(scores, dtype=float)
    y = np.asarray(labels, dtype=int)
    out = {"roc_auc": np.nan, "average_precision": np.nan, "brier": np.nan}
    if y.size == 0:
        return out
    out["brier"] = float(brier_score_loss(y, np.clip(s, 0.0, 1.0)))
    if np.unique(y).size == 2:
        out["roc_auc"] = float(roc_auc_score(y, s))
        out["average_precision"] = float(average_precision_score(y, s))
    return out


def evaluate_scores(scores, labels, top_k_absolute=(25, 50, 100, 200), top_k_percent=(1, 5, 10, 20),
                    tie_orderings: int = 30, seed: int | None = 0) -> list[dict]:
    """Every metric row (metric, parameter, tie_method, value, value_sd, n_examples) for one score list.
    Rows with an unknown label must be dropped before."""
    s = np.asarray(scores, dtype=float)
    y = np.asarray(labels, dtype=int)
    params = top_k_parameters(top_k_absolute, top_k_percent)
    rows = []
    for tm in TIE_METHODS:
        res = precision_recall_at_k(s, y, params, tm, tie_orderings, seed)
        for par in params:
            for metric, (v, sd) in res[par].items():
                rows.append({"metric": metric, "parameter": par, "tie_method": tm, "value": _f(v),
                             "value_sd": _f(sd), "n_examples": int(y.size)})
    for metric, v in threshold_free_metrics(s, y).items():
        rows.append({"metric": metric, "parameter": "", "tie_method": "none", "value": _f(v), "value_sd": None,
                     "n_examples": int(y.size)})
    return rows


def _f(v) -> float | None:
    if v is None:
        return None
    v = float(v)
    return None if math.isnan(v) else v


def confusion(flagged, labels) -> dict[str, int]:
    f = np.asarray(flagged, dtype=bool)
    y = np.asarray(labels, dtype=int).astype(bool)
    return {"tp": int((f & y).sum()), "fp": int((f & ~y).sum()), "tn": int((~f & ~y).sum()), "fn": int((~f & y).sum())}


def flags_to_match(rank_abs_no_ties, labels, target_tp: int) -> int | None:
    """How many officers the model must flag (its top k by rank) to find *target_tp* true positives: the
    paper's comparison (its model found more of the adverse officers while flagging fewer).  None when
    even flagging everyone finds fewer."""
    if target_tp <= 0:
        return 0
    order = np.argsort(np.asarray(rank_abs_no_ties), kind="stable")
    hits = np.cumsum(np.asarray(labels, dtype=int)[order])
    reached = np.flatnonzero(hits >= target_tp)
    return int(reached[0]) + 1 if reached.size else None


def table3_counts(rank_abs_no_ties, labels, legacy_flagged) -> dict[str, int | None]:
    """The model flags its top ``flag_count`` (= number flagged by the legacy EIS) rows; both confusions;
    and ``flags_to_match``, the model's flags needed to reach the legacy EIS's true positives."""
    legacy = np.asarray(legacy_flagged, dtype=bool)
    k = int(legacy.sum())
    model = np.asarray(rank_abs_no_ties) <= k
    m, lg = confusion(model, labels), confusion(legacy, labels)
    return {"flag_count": k, **m, **{f"legacy_{key}": v for key, v in lg.items()},
            "flags_to_match": flags_to_match(rank_abs_no_ties, labels, lg["tp"])}


def relative_change(model: float, legacy: float) -> float | None:
    return None if not legacy else (model - legacy) / legacy


# ----------------------------------------------------------------------------------------- database

def _experiment_eval_cfg(conn, run_id: int) -> tuple[dict, int | None]:
    row = conn.execute("SELECT e.config, r.random_seed FROM results.runs r JOIN results.experiments e "
                       "USING (experiment_id) WHERE r.run_id = %s", (run_id,)).fetchone()
    if row is None:
        raise KeyError(f"results.runs has no run {run_id}")
    cfg = ((row[0] or {}).get("officer") or {}).get("evaluation") or {}
    return cfg, row[1]


def _predictions(conn, model_id: str) -> pd.DataFrame:
    cur = conn.execute("SELECT officer_id, as_of_date, score, label, rank_abs_no_ties FROM results.predictions "
                       "WHERE model_id = %s", (model_id,))
    return pd.DataFrame(cur.fetchall(), columns=["officer_id", "as_of_date", "score", "label", "rank_abs_no_ties"])


def _legacy_flags_from_baseline(conn, run_id: int, test_matrix_id: str) -> tuple[pd.DataFrame, str] | None:
    row = conn.execute(
        "SELECT m.model_id FROM results.models m JOIN results.model_groups g USING (model_group_id) "
        "JOIN results.run_models rm USING (model_id) WHERE rm.run_id = %s AND m.test_matrix_id = %s AND m.status = 'done' "
        "AND g.class_path LIKE %s ORDER BY (g.hyperparameters = '{}'::jsonb) DESC, m.model_id LIMIT 1",
        (run_id, test_matrix_id, "%.LegacyEISBaseline")).fetchone()
    if row is None:
        return None
    df = _predictions(conn, row[0])
    used = _used_features(conn, row[0])
    source = "flags" if any(str(c).startswith("flg_flags_") for c in used) else "rules"
    return (pd.DataFrame({"officer_id": df["officer_id"], "as_of_date": df["as_of_date"], "legacy": df["score"] > 0.5}),
            source)


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
    return (pd.DataFrame({"officer_id": index["officer_id"].astype(str).to_numpy(),
                          "as_of_date": pd.to_datetime(index["as_of_date"]).dt.date.to_numpy(),
                          "legacy": legacy.predict_proba(X)[:, 1] > 0.5}), legacy.source_)


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
        models = conn.execute("SELECT m.model_id, m.split_id, m.model_group_id, m.test_matrix_id "
                              "FROM results.models m JOIN results.run_models rm USING (model_id) "
                              "WHERE rm.run_id = %s AND m.status = 'done' ORDER BY m.split_id, m.model_id",
                              (run_id,)).fetchall()
        eval_rows, t3_rows, legacy_cache, no_legacy = [], [], {}, set()
        for model_id, split_id, group_id, test_id in models:
            df = _predictions(conn, model_id)
            df = df[df["label"].notna()]
            for r in evaluate_scores(df["score"].to_numpy(float), df["label"].to_numpy(int), top_abs, top_pct, n_order, seed):
                eval_rows.append((model_id, split_id, r["metric"], r["parameter"], r["tie_method"], r["value"],
                                  r["value_sd"], r["n_examples"]))
            if test_id not in legacy_cache:
                legacy_cache[test_id] = (_legacy_flags_from_baseline(conn, run_id, test_id)
                                         if test_id is not None else None)
                if legacy_cache[test_id] is None and test_id is not None:
                    legacy_cache[test_id] = _legacy_flags_from_matrix(conn, test_id)
            if legacy_cache[test_id] is None:
                no_legacy.add(split_id)
                continue
            leg, source = legacy_cache[test_id]
            merged = df.merge(leg, on=["officer_id", "as_of_date"], how="inner")
            c = table3_counts(merged["rank_abs_no_ties"].rank(method="first").to_numpy(),
                              merged["label"].to_numpy(int), merged["legacy"].to_numpy(bool))
            t3_rows.append((model_id, split_id, group_id, c["flag_count"], c["tp"], c["fp"], c["tn"], c["fn"],
                            c["legacy_tp"], c["legacy_fp"], c["legacy_tn"], c["legacy_fn"], c["flags_to_match"], source))
        ids = [m[0] for m in models]
        delete_model_rows(conn, ids, ("evaluations", "table3"))
        n_eval = copy_rows(conn, "evaluations", EVAL_COLUMNS, eval_rows)
        n_t3 = copy_rows(conn, "table3", TABLE3_COLUMNS, t3_rows)
    return {"run_id": run_id, "models": len(models), "evaluations": n_eval, "table3": n_t3,
            "splits_without_legacy": sorted(str(s) for s in no_legacy)}
