"""How a dispatch model is judged: its F1-maximising threshold, F1 against random guessing, signed
feature effects, and scores over the whole unsampled test period (read a month at a time).  Part of
the dispatch-level training of :mod:`eis_core.dispatch.model`, which re-exports these names.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import numpy as np
import pandas as pd
from psycopg import sql

from eis_core.dispatch.sampling import select_columns

#: a fitted model's key: (model kind, feature subset)
Key = tuple[str, str]


def best_threshold(scores: np.ndarray, labels: np.ndarray) -> float:
    """The score threshold (predict positive when score >= t) maximising F1 on (scores, labels)."""
    order = np.argsort(-scores, kind="stable")
    s, y = scores[order], labels[order]
    tp = np.cumsum(y)
    k = np.arange(1, len(y) + 1)
    f1 = 2 * tp / (k + y.sum())
    last = np.r_[s[1:] != s[:-1], True]  # cut only between distinct scores
    f1 = np.where(last, f1, -1)
    i = int(np.argmax(f1))
    return float(s[i])


def f1_parts(pred: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    tp = float((pred & (y == 1)).sum())
    p = tp / pred.sum() if pred.sum() else 0.0
    r = tp / (y == 1).sum() if (y == 1).sum() else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return f, p, r


def random_f1(prevalence: float) -> float:
    """The best expected F1 of random guessing (flag everything): 2p / (1 + p)."""
    return 2 * prevalence / (1 + prevalence) if prevalence > 0 else 0.0


def signed_effects(est, X: pd.DataFrame) -> np.ndarray:
    """Per feature: mean change of the score when the feature moves from its 10th to its 90th percentile
    (every other feature as observed) - a perturbation estimate of direction and size (paper fig. 8).
    All perturbed copies are scored in one call."""
    base = X.to_numpy(dtype="float32")
    n, m = base.shape
    lo, hi = np.percentile(base, 10, axis=0), np.percentile(base, 90, axis=0)
    same = lo == hi
    lo[same], hi[same] = base.min(axis=0)[same], base.max(axis=0)[same]
    cols = [j for j in range(m) if lo[j] != hi[j]]
    out = np.zeros(m)
    if not cols or n == 0:
        return out
    stacked = np.tile(base, (2 * len(cols), 1))
    for c, j in enumerate(cols):
        stacked[(2 * c) * n : (2 * c + 1) * n, j] = lo[j]
        stacked[(2 * c + 1) * n : (2 * c + 2) * n, j] = hi[j]
    p = est.predict_proba(stacked)[:, 1].reshape(2 * len(cols), n)
    for c, j in enumerate(cols):
        out[j] = float(np.mean(p[2 * c + 1] - p[2 * c]))
    return out


def month_starts(first: date, last: date) -> list[date]:
    out, d = [], date(first.year, first.month, 1)
    while d <= last:
        out.append(d)
        d = date(d.year + (d.month == 12), d.month % 12 + 1, 1)
    return out


def score_unsampled(
    conn, models: dict[Key, tuple], split_date: date, progress: Callable[[str], object] | None = None
) -> tuple[dict[Key, np.ndarray], np.ndarray]:
    """Scores of every dispatch on/after split_date for each (estimator, spec, features) in *models*, read
    one calendar month at a time with COPY (CSV) so memory stays flat on the 14M-row department."""
    import io

    scores: dict[Key, list] = {k: [] for k in models}
    labels: list = []
    last = conn.execute("SELECT max(dispatch_date) FROM dispatch.dispatch_dataset").fetchone()[0]
    done = 0
    if last is None or last < split_date:
        return {k: np.zeros(0) for k in models}, np.zeros(0, int)
    months = month_starts(split_date, last)
    for i, m in enumerate(months):
        lo = max(m, split_date)
        hi = months[i + 1] if i + 1 < len(months) else date(last.year + 1, 1, 1)
        q = sql.SQL(
            "COPY (SELECT {} FROM dispatch.dispatch_dataset WHERE dispatch_date >= {} AND dispatch_date < {}) "
            "TO STDOUT WITH (FORMAT csv, HEADER true)"
        ).format(select_columns(), sql.Literal(lo), sql.Literal(hi))
        buf = io.BytesIO()
        with conn.cursor().copy(q) as cp:
            for chunk in cp:
                buf.write(chunk)
        buf.seek(0)
        df = pd.read_csv(
            buf,
            dtype={"call_type": str, "division": str, "beat": str, "call_id": str, "officer_id": str},
            keep_default_na=True,
            na_values=[""],
        )
        if df.empty:
            continue
        labels.append(df["label"].to_numpy(dtype=int))
        for key, (est, spec, feats) in models.items():
            scores[key].append(est.predict_proba(spec.matrix(df)[feats].to_numpy())[:, 1])
        done += len(df)
        if progress and (i % 6 == 5 or i == len(months) - 1):
            progress(f"  scored {done:,} dispatches of the unsampled test period (through {hi})")
    y = np.concatenate(labels) if labels else np.zeros(0, int)
    return {k: (np.concatenate(v) if v else np.zeros(0)) for k, v in scores.items()}, y
