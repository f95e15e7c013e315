"""Metrics of one ranked score list: top-k precision and recall with their tie methods, threshold-free
metrics, ranks, and the Table 3 counts against the legacy EIS.  Pure functions (no database); the
evaluation of a run's stored predictions is :mod:`eis_core.modeling.evaluate`, which re-exports them.

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
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

import numpy as np
import pandas as pd

TIE_METHODS = ("worst", "best", "stochastic")
THRESHOLD_FREE = ("roc_auc", "average_precision", "brier")


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
    raise ValueError(
        f"unknown metric {name!r}: use precision@<k>, precision@<p>%, recall@..., {', '.join(THRESHOLD_FREE)}"
    )


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


def precision_recall_at_k(
    scores, labels, parameters: list[str], tie_method: str, tie_orderings: int = 30, seed: int | None = 0
) -> dict[str, dict[str, tuple[float, float | None]]]:
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


def evaluate_scores(
    scores,
    labels,
    top_k_absolute=(25, 50, 100, 200),
    top_k_percent=(1, 5, 10, 20),
    tie_orderings: int = 30,
    seed: int | None = 0,
) -> list[dict]:
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
                rows.append(
                    {
                        "metric": metric,
                        "parameter": par,
                        "tie_method": tm,
                        "value": _f(v),
                        "value_sd": _f(sd),
                        "n_examples": int(y.size),
                    }
                )
    for metric, v in threshold_free_metrics(s, y).items():
        rows.append(
            {
                "metric": metric,
                "parameter": "",
                "tie_method": "none",
                "value": _f(v),
                "value_sd": None,
                "n_examples": int(y.size),
            }
        )
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
    return {
        "flag_count": k,
        **m,
        **{f"legacy_{key}": v for key, v in lg.items()},
        "flags_to_match": flags_to_match(rank_abs_no_ties, labels, lg["tp"]),
    }


def relative_change(model: float, legacy: float) -> float | None:
    return None if not legacy else (model - legacy) / legacy
