"""Model-level explanations of a model: permutation importance, risk-score curves, partial dependence.

* **Permutation importance** (scikit-learn's ``permutation_importance``, average precision, on the
  model's test matrix) for the model's most important features by impurity/coefficient; stored in
  ``results.permutation_importances`` beside the impurity importances of ``results.feature_importances``.
* **Risk-score curves** (the CMPD paper's method): Monte Carlo samples drawn uniformly and independently
  within each feature's training range, scored by the model; per feature, the samples are binned on that
  feature and the mean and spread of the score per bin are kept.  The **directionality** of a feature is
  the mean score of its last bin minus that of its first bin.  Beside them, scikit-learn's
  ``partial_dependence`` on a sample of the training rows.  Stored in ``results.risk_curves``,
  ``results.risk_curve_direction`` and ``results.partial_dependence``; PNG plots under
  ``<project>/reports/explain/<model_id>/``.
* The **bias audit** of a model group on its test splits lives in :mod:`eis_core.modeling.bias`
  (``audit_model_group``; table ``results.bias_audit``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from psycopg import sql

from eis_core import db

Progress = Callable[[str], object] | None


def ensure_insight_tables() -> None:
    """The warehouse schema at the migrations' head (these ``results`` tables are revision 0002)."""
    from eis_core.migrations import ensure_schema

    ensure_schema()


# ----------------------------------------------------------------------------------------- curves


def monte_carlo_curves(
    estimator, X_train: pd.DataFrame, features: list[str], n_samples: int = 5000, n_bins: int = 10, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(curves, directionality): see module doc.  Samples every feature uniformly in its training range."""
    from eis_core.modeling.estimators import predict_scores, requests_metadata

    rng = np.random.default_rng(seed)
    lo = X_train.min(skipna=True).fillna(0.0).to_numpy(dtype=float)
    hi = X_train.max(skipna=True).fillna(0.0).to_numpy(dtype=float)
    samples = rng.uniform(lo, hi, size=(n_samples, X_train.shape[1]))
    S = pd.DataFrame(samples.astype(np.float32), columns=X_train.columns)
    if requests_metadata(estimator):
        raise ValueError("risk-score curves need a model that scores from the feature columns alone")
    scores = predict_scores(estimator, S)
    curves, direction = [], []
    for f in features:
        j = X_train.columns.get_loc(f)
        edges = np.linspace(lo[j], hi[j], n_bins + 1)
        if hi[j] <= lo[j]:
            continue
        b = np.clip(np.searchsorted(edges, samples[:, j], side="right") - 1, 0, n_bins - 1)
        means = []
        for k in range(n_bins):
            s = scores[b == k]
            mean = float(s.mean()) if s.size else None
            means.append(mean)
            curves.append(
                {
                    "feature": f,
                    "bin": k,
                    "bin_low": float(edges[k]),
                    "bin_high": float(edges[k + 1]),
                    "mean_score": mean,
                    "sd_score": float(s.std()) if s.size > 1 else None,
                    "n": int(s.size),
                }
            )
        first = next((m for m in means if m is not None), None)
        last = next((m for m in reversed(means) if m is not None), None)
        direction.append({"feature": f, "directionality": None if first is None else last - first})
    return pd.DataFrame(curves), pd.DataFrame(direction)


def partial_dependence_curves(
    estimator, X_train: pd.DataFrame, features: list[str], grid_resolution: int = 10, sample: int = 500, seed: int = 0
) -> pd.DataFrame:
    from sklearn.inspection import partial_dependence

    Xs = X_train.sample(min(sample, len(X_train)), random_state=seed) if len(X_train) > sample else X_train
    Xs = Xs.fillna(0.0)
    out = []
    for f in features:
        try:
            pdp = partial_dependence(
                estimator, Xs, [f], grid_resolution=grid_resolution, kind="average", response_method="predict_proba"
            )
        except (ValueError, AttributeError, TypeError):
            continue
        grid = pdp["grid_values"][0]
        avg = np.asarray(pdp["average"]).reshape(-1)
        for gv, a in zip(grid, avg):
            out.append({"feature": f, "grid_value": float(gv), "average": float(a)})
    return pd.DataFrame(out)


def permutation_top(
    estimator, X: pd.DataFrame, y: pd.Series, features: list[str], n_repeats: int = 5, seed: int = 0
) -> pd.DataFrame:
    """scikit-learn permutation importance (average precision) of *features* only: the other columns are
    held at their observed values by a small wrapper that re-assembles the full row."""
    from sklearn.base import BaseEstimator, ClassifierMixin
    from sklearn.inspection import permutation_importance

    from eis_core.modeling.estimators import predict_scores

    full = X.reset_index(drop=True)

    class _Subset(ClassifierMixin, BaseEstimator):
        def fit(self, Xs, ys):  # pragma: no cover - never called
            return self

        def predict_proba(self, Xs):
            Z = full.copy()
            Z[features] = np.asarray(Xs)
            s = predict_scores(estimator, Z)
            return np.column_stack([1 - s, s])

    sub = _Subset()
    sub.classes_ = np.array([0, 1])
    r = permutation_importance(
        sub,
        full[features].to_numpy(),
        np.asarray(y, dtype=int),
        scoring="average_precision",
        n_repeats=n_repeats,
        random_state=seed,
    )
    df = pd.DataFrame({"feature": features, "importance_mean": r.importances_mean, "importance_sd": r.importances_std})
    df["rank"] = df["importance_mean"].rank(ascending=False, method="first").astype(int)
    return df.sort_values("rank")


def _plot(
    model_id: str, out: Path, curves: pd.DataFrame, direction: pd.DataFrame, pdp: pd.DataFrame, perm: pd.DataFrame
) -> dict[str, str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    feats = list(dict.fromkeys(curves["feature"])) if len(curves) else []
    if feats:
        n = len(feats)
        cols = 4
        rows = int(np.ceil(n / cols))
        fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 2.8 * rows), squeeze=False)
        for ax, f in zip(axes.ravel(), feats):
            c = curves[curves["feature"] == f]
            mid = (c["bin_low"] + c["bin_high"]) / 2
            ax.plot(mid, c["mean_score"], marker="o", color="#1f77b4", label="Monte Carlo mean")
            sd = c["sd_score"].fillna(0)
            ax.fill_between(mid, c["mean_score"] - sd, c["mean_score"] + sd, alpha=0.2, color="#1f77b4")
            p = pdp[pdp["feature"] == f] if len(pdp) else pdp
            if len(p):
                ax2 = ax.twinx()
                ax2.plot(p["grid_value"], p["average"], color="#d62728", ls="--", label="partial dependence")
                ax2.tick_params(axis="y", labelcolor="#d62728", labelsize=7)
            ax.set_title(f[:40], fontsize=8)
            ax.tick_params(labelsize=7)
        for ax in axes.ravel()[len(feats) :]:
            ax.axis("off")
        fig.suptitle(
            f"Risk-score curves (blue: Monte Carlo mean ± sd; red dashed: partial dependence) — {model_id[:12]}",
            fontsize=10,
        )
        fig.tight_layout()
        paths["risk_curves"] = str(out / "risk_curves.png")
        fig.savefig(paths["risk_curves"], dpi=90)
        plt.close(fig)

    def barh(key: str, file: str, frame: pd.DataFrame, value: str, title: str, xlabel: str, **bar) -> None:
        fig, ax = plt.subplots(figsize=(8, 0.3 * len(frame) + 1.5))
        ax.barh(frame["feature"].str.slice(0, 45), frame[value], **bar)
        ax.axvline(0, color="k", lw=0.8)
        ax.set_xlabel(xlabel)
        ax.set_title(title)
        ax.tick_params(labelsize=7)
        fig.tight_layout()
        paths[key] = str(out / file)
        fig.savefig(paths[key], dpi=90)
        plt.close(fig)

    if len(direction):
        d = direction.dropna().sort_values("directionality")
        barh(
            "directionality",
            "directionality.png",
            d,
            "directionality",
            "Directionality of the top features",
            "mean score of the last bin − first bin (positive: more of it, more risk)",
            color=["#d62728" if v > 0 else "#2ca02c" for v in d["directionality"]],
        )
    if len(perm):
        p = perm.sort_values("importance_mean")
        barh(
            "permutation",
            "permutation_importance.png",
            p,
            "importance_mean",
            "Permutation importance (test matrix)",
            "drop in average precision when the feature is permuted",
            xerr=p["importance_sd"],
            color="#9467bd",
        )
    return paths


def explain_model(
    model_id: str,
    top: int = 12,
    n_samples: int = 5000,
    n_repeats: int = 5,
    progress: Progress = print,
    officer_cfg=None,
) -> dict:
    """Permutation importances, risk-score curves, directionality and partial dependence of one model."""
    from eis_core.artifacts.models import load_model
    from eis_core.artifacts.storage import local_dir, location
    from eis_core.config import load_officer_config
    from eis_core.modeling.matrices import load_matrix
    from eis_core.modeling.results import copy_rows

    ensure_insight_tables()
    officer_cfg = officer_cfg or load_officer_config()
    with db.connect() as conn:
        row = conn.execute(
            "SELECT artifact_path, train_matrix_id, test_matrix_id FROM results.models "
            "WHERE model_id = %s AND status = 'done'",
            (model_id,),
        ).fetchone()
        if row is None:
            raise ValueError(f"model {model_id} does not exist or did not finish")
        imp = conn.execute(
            "SELECT feature FROM results.feature_importances WHERE model_id = %s "
            "AND importance IS NOT NULL ORDER BY importance DESC, feature LIMIT %s",
            (model_id, top),
        ).fetchall()
    estimator = load_model(row[0], kind="officer-model")  # verified before unpickling
    project = location(row[0]).parent.parent  # <project_path>/models/<model_id>.joblib: its matrices are beside
    X_train, _, _, _ = load_matrix(row[1], project)
    features = [r[0] for r in imp] or list(X_train.columns[:top])
    seed = officer_cfg.random_seed
    if progress:
        progress(f"model {model_id}: risk-score curves and partial dependence for {len(features)} features")
    curves, direction = monte_carlo_curves(estimator, X_train, features, n_samples=n_samples, seed=seed)
    pdp = partial_dependence_curves(estimator, X_train, features, seed=seed)
    perm = pd.DataFrame()
    if row[2]:
        X_test, y_test, _, _ = load_matrix(row[2], project)
        if y_test.nunique() > 1:
            if progress:
                progress(f"model {model_id}: permutation importance of {len(features)} features, {n_repeats} repeats")
            perm = permutation_top(estimator, X_test[list(X_train.columns)], y_test, features, n_repeats, seed)
    with db.connect() as conn:
        for t in ("risk_curves", "risk_curve_direction", "partial_dependence", "permutation_importances"):
            conn.execute(
                sql.SQL("DELETE FROM {} WHERE model_id = %s").format(sql.Identifier("results", t)), (model_id,)
            )
        copy_rows(
            conn,
            "risk_curves",
            ("model_id", "feature", "bin", "bin_low", "bin_high", "mean_score", "sd_score", "n"),
            [
                (model_id, *r)
                for r in curves[["feature", "bin", "bin_low", "bin_high", "mean_score", "sd_score", "n"]].itertuples(
                    index=False
                )
            ]
            if len(curves)
            else [],
        )
        copy_rows(
            conn,
            "risk_curve_direction",
            ("model_id", "feature", "directionality"),
            [(model_id, r.feature, r.directionality) for r in direction.itertuples(index=False)],
        )
        if len(pdp):
            copy_rows(
                conn,
                "partial_dependence",
                ("model_id", "feature", "grid_value", "average"),
                [
                    (model_id, r.feature, r.grid_value, r.average)
                    for r in pdp.drop_duplicates(["feature", "grid_value"]).itertuples(index=False)
                ],
            )
        if len(perm):
            copy_rows(
                conn,
                "permutation_importances",
                ("model_id", "feature", "importance_mean", "importance_sd", "scoring", "n_repeats", "rank"),
                [
                    (
                        model_id,
                        r.feature,
                        float(r.importance_mean),
                        float(r.importance_sd),
                        "average_precision",
                        n_repeats,
                        int(r.rank),
                    )
                    for r in perm.itertuples(index=False)
                ],
            )
    plots = _plot(model_id, local_dir(project) / "reports" / "explain" / model_id, curves, direction, pdp, perm)
    if progress:
        for k, v in plots.items():
            progress(f"  {k}: {v}")
    return {
        "model_id": model_id,
        "features": features,
        "plots": plots,
        "curves": len(curves),
        "partial_dependence": len(pdp),
        "permutation": len(perm),
    }


def newest_model_of_group(model_group_id: str) -> str | None:
    with db.connect() as conn:
        row = conn.execute(
            "SELECT m.model_id FROM results.models m JOIN results.matrices mx ON mx.matrix_id = m.train_matrix_id "
            "WHERE m.model_group_id = %s AND m.status = 'done' AND m.test_matrix_id IS NOT NULL "
            "ORDER BY (SELECT max(x) FROM unnest(mx.as_of_dates) x) DESC, m.created_at DESC LIMIT 1",
            (model_group_id,),
        ).fetchone()
    return row[0] if row else None
