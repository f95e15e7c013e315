"""The bias audit: one function (:func:`audit_groups`) for every audit of flagged officers by group.

fairlearn's ``MetricFrame`` per group of race and of sex: group size, flagged, flag rate and, when the
labels are known, precision, TPR, FPR and FNR; ratios to the reference (largest) group; a group is
flagged (``out_of_range``) when a ratio leaves the configured range (``production.audit_ratio_range``)
and it has at least ``production.audit_min_group_size`` officers.

Two callers, one rule, one table (``results.bias_audit``, whose ``scope`` says which):

* production scoring of a day (:func:`eis_core.production.scoring.score_day`): the labels are the
  future, so only the flag-rate ratio can be judged; scope ``scored_day`` (split_id 'production'),
  replaced together with that day's production rows;
* :func:`audit_model_group`: every model of a group on its test splits, labels known (flag rate, TPR
  and FPR ratios); scope ``test_split``.

Flag sets (:func:`flag_sets`): the legacy EIS's flag count and the top x % of the ranked list.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from eis_core import db

Progress = Callable[[str], object] | None

#: the metrics kept per group, and those whose ratio to the reference group is judged (labels known)
METRICS = ("flag_rate", "precision", "tpr", "fpr", "fnr")
RATIOS = ("flag_rate", "tpr", "fpr")


def flag_sets(rank_abs: np.ndarray, flag_count: int, top_percent: list[float]) -> dict[str, np.ndarray]:
    """The flag sets audited: the legacy EIS's flag count and the top x % (by rank, ties broken by rank)."""
    n = len(rank_abs)
    out = {f"flag_count={flag_count}": rank_abs <= flag_count}
    for p in top_percent:
        k = int(np.ceil(n * p / 100.0))
        out[f"top{p:g}%"] = rank_abs <= k
    return out


def safe_ratio(a, b) -> float | None:
    if a is None or b is None or not np.isfinite(a) or not np.isfinite(b) or b == 0:
        return None
    return float(a / b)


def _nan_when_undefined(fn):
    def inner(yt, yp):
        try:
            return fn(yt, yp)
        except (ValueError, ZeroDivisionError):
            return np.nan

    return inner


def audit_groups(
    flagged: np.ndarray,
    labels: np.ndarray | None,
    groups: pd.Series,
    ratio_range: tuple[float, float] = (0.8, 1.25),
    min_size: int = 1,
) -> list[dict]:
    """Per group: size, flagged, the metrics of :data:`METRICS` and their ratios to the largest group.

    Without *labels* (production: the outcome is not known yet) precision, TPR, FPR and FNR and their
    ratios are None and only the flag-rate ratio is judged; with labels the flag-rate, TPR and FPR
    ratios are.  ``out_of_range`` when a judged ratio leaves *ratio_range* and the group has at least
    *min_size* officers."""
    from fairlearn.metrics import (
        MetricFrame,
        count,
        false_negative_rate,
        false_positive_rate,
        selection_rate,
        true_positive_rate,
    )
    from sklearn.metrics import precision_score

    y_pred = np.asarray(flagged, dtype=int)
    g = groups.fillna("unknown").astype(str).to_numpy()
    metrics = {"size": count, "flag_rate": selection_rate}
    if labels is not None:
        metrics.update(
            {
                "precision": lambda yt, yp: precision_score(yt, yp, zero_division=np.nan),
                "tpr": _nan_when_undefined(true_positive_rate),
                "fpr": _nan_when_undefined(false_positive_rate),
                "fnr": _nan_when_undefined(false_negative_rate),
            }
        )
    y_true = np.asarray(labels, dtype=int) if labels is not None else y_pred
    by = MetricFrame(metrics=metrics, y_true=y_true, y_pred=y_pred, sensitive_features=g).by_group
    ref = by["size"].astype(int).idxmax()
    lo, hi = ratio_range

    def value(row, k):
        return None if k not in row or pd.isna(row[k]) else float(row[k])

    rows = []
    for grp, r in by.iterrows():
        size = int(r["size"])
        vals = {k: value(r, k) for k in METRICS}
        ratios = {f"{k}_ratio": safe_ratio(vals[k], value(by.loc[ref], k)) for k in RATIOS}
        out = size >= min_size and any(v is not None and not (lo <= v <= hi) for v in ratios.values())
        rows.append(
            {
                "group_value": str(grp),
                "reference_group": str(ref),
                "group_size": size,
                "flagged": int(round((vals["flag_rate"] or 0.0) * size)),
                **vals,
                **ratios,
                "out_of_range": out,
            }
        )
    return rows


def audit_model_group(model_group_id: str, officer_cfg=None, progress: Progress = print) -> int:
    """Bias audit of every done model of the group on its test predictions; returns rows written."""
    from eis_core.config import load_officer_config
    from eis_core.modeling.insights import ensure_insight_tables
    from eis_core.modeling.results import copy_rows

    officer_cfg = officer_cfg or load_officer_config()
    pc = officer_cfg.production
    ensure_insight_tables()
    rows = []
    with db.connect() as conn:
        models = conn.execute(
            "SELECT m.model_id, m.split_id, t.flag_count FROM results.models m "
            "LEFT JOIN results.table3 t ON t.model_id = m.model_id "
            "WHERE m.model_group_id = %s AND m.status = 'done' AND m.split_id IS DISTINCT FROM 'production'",
            (model_group_id,),
        ).fetchall()
        for model_id, split_id, flag_count in models:
            pred = pd.DataFrame(
                conn.execute(
                    "SELECT p.as_of_date, p.officer_id, p.label, p.rank_abs_no_ties, pr.race, pr.sex "
                    "FROM results.predictions p LEFT JOIN features.officer_protected pr ON pr.officer_id = p.officer_id "
                    "AND pr.as_of_date = p.as_of_date WHERE p.model_id = %s AND p.label IS NOT NULL",
                    (model_id,),
                ).fetchall(),
                columns=["as_of_date", "officer_id", "label", "rank", "race", "sex"],
            )
            for d, part in pred.groupby("as_of_date"):
                part = part.reset_index(drop=True)
                k = int(flag_count) if flag_count is not None else int(np.ceil(len(part) * 0.05))
                for thr, flagged in flag_sets(part["rank"].to_numpy(), k, pc.audit_top_percent).items():
                    for attr in ("race", "sex"):
                        for r in audit_groups(
                            flagged, part["label"].to_numpy(), part[attr], pc.audit_ratio_range, pc.audit_min_group_size
                        ):
                            rows.append(
                                (
                                    model_id,
                                    split_id,
                                    d,
                                    thr,
                                    attr,
                                    r["group_value"],
                                    r["reference_group"],
                                    r["group_size"],
                                    r["flagged"],
                                    r["flag_rate"],
                                    r["precision"],
                                    r["tpr"],
                                    r["fpr"],
                                    r["fnr"],
                                    r["flag_rate_ratio"],
                                    r["tpr_ratio"],
                                    r["fpr_ratio"],
                                    r["out_of_range"],
                                )
                            )
        conn.execute(
            "DELETE FROM results.bias_audit WHERE scope = 'test_split' AND model_id = ANY(%s)",
            ([m[0] for m in models],),
        )
        copy_rows(
            conn,
            "bias_audit",
            (
                "model_id",
                "split_id",
                "as_of_date",
                "threshold",
                "attribute",
                "group_value",
                "reference_group",
                "group_size",
                "flagged",
                "flag_rate",
                "precision",
                "tpr",
                "fpr",
                "fnr",
                "flag_rate_ratio",
                "tpr_ratio",
                "fpr_ratio",
                "out_of_range",
            ),
            rows,
        )
    if progress:
        n_out = sum(1 for r in rows if r[-1])
        progress(
            f"bias audit of model group {model_group_id}: {len(models)} model(s), {len(rows)} group rows, "
            f"{n_out} outside {list(pc.audit_ratio_range)}"
        )
    return len(rows)
