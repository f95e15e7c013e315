"""Why an officer is ranked where they are: per-officer contributions of each feature to the score.

The method depends on the model, and is recorded with every risk factor:

* **tree models** (random forest, extra trees, decision tree, gradient boosting): TreeSHAP from the
  ``shap`` package (``shap.TreeExplainer``, path-dependent, exact).  Contributions are in the model's
  probability units for forests and trees and in log-odds for gradient boosting.  When exact TreeSHAP
  would be too slow for the forest's size (many deep trees), ``shap``'s own fast Saabas attribution
  (``approximate=True``) is used instead and named so.
* **linear models** (the scaled logistic regression, the calibrated linear SVM): ``shap.LinearExplainer``
  on the standardised features with the training mean as reference, i.e. coefficient × standardised
  value (log-odds, or SVM margin units).
* **anything else** (AdaBoost, baselines): occlusion: the score drop when one feature is set to the
  cohort median, for the model's globally most important features (model-agnostic, no library explainer
  handles these estimators exactly at an acceptable cost).

A risk factor "raises" the risk when its contribution is positive and "lowers" it otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

TREE_CLASSES = ("RandomForestClassifier", "ExtraTreesClassifier", "DecisionTreeClassifier",
                "GradientBoostingClassifier", "HistGradientBoostingClassifier")
#: exact TreeSHAP costs about trees × leaves × depth² per row; above this budget per row, use Saabas
EXACT_TREESHAP_BUDGET = 2.0e7
#: occlusion looks at this many globally important features
OCCLUSION_FEATURES = 40


@dataclass
class Explanation:
    contributions: np.ndarray  # (rows, features)
    features: list[str]
    method: str


def _tree_cost(estimator) -> float:
    trees = getattr(estimator, "estimators_", None)
    if trees is None:
        trees = [estimator]
    trees = np.ravel(trees)
    total = 0.0
    for t in trees:
        tree = getattr(t, "tree_", None)
        if tree is None:
            return 0.0
        total += tree.n_leaves * max(tree.max_depth, 1) ** 2
    return total


def _tree(estimator, X: pd.DataFrame) -> Explanation:
    import shap

    cls = type(estimator).__name__
    approximate = cls != "HistGradientBoostingClassifier" and _tree_cost(estimator) > EXACT_TREESHAP_BUDGET
    explainer = shap.TreeExplainer(estimator)
    values = explainer.shap_values(X.to_numpy(dtype=np.float64), check_additivity=False, approximate=approximate)
    if isinstance(values, list):  # older shap: one array per class
        values = values[-1]
    values = np.asarray(values)
    if values.ndim == 3:  # (rows, features, classes) or (classes, rows, features)
        if values.shape[0] == len(X) and values.shape[1] == X.shape[1]:
            values = values[:, :, -1]
        else:
            values = values[-1]
    method = "shap.TreeExplainer (Saabas approximation)" if approximate else "shap.TreeExplainer (TreeSHAP)"
    return Explanation(values, list(X.columns), method)


def _linear(estimator, X: pd.DataFrame) -> Explanation:
    import shap

    pipe = estimator.pipeline_
    scaler = pipe.named_steps["scale"]
    Xs = scaler.transform(X.to_numpy(dtype=np.float64))
    coef = np.asarray(estimator.coef_, dtype=float).reshape(-1)
    intercept = float(np.ravel(getattr(estimator, "intercept_", [0.0]))[0])
    explainer = shap.LinearExplainer((coef, intercept), np.zeros((1, Xs.shape[1])))
    values = np.asarray(explainer.shap_values(Xs))
    return Explanation(values, list(X.columns), "shap.LinearExplainer (coefficient × standardised value)")


def _occlusion(estimator, X: pd.DataFrame, index: pd.DataFrame | None, importances: dict[str, float] | None
               ) -> Explanation:
    from eis_core.modeling.estimators import predict_scores

    base = predict_scores(estimator, X, index)
    ranked = sorted(X.columns, key=lambda c: -abs((importances or {}).get(c, 0.0)))
    cols = ranked[:OCCLUSION_FEATURES]
    values = np.zeros(X.shape, dtype=float)
    medians = X[cols].median()
    for c in cols:
        j = X.columns.get_loc(c)
        Xo = X.copy()
        Xo[c] = medians[c]
        values[:, j] = base - predict_scores(estimator, Xo, index)
    return Explanation(values, list(X.columns), f"occlusion at the cohort median (top {len(cols)} features)")


def explain(estimator, X: pd.DataFrame, index: pd.DataFrame | None = None,
            importances: dict[str, float] | None = None) -> Explanation:
    """Per-row, per-feature contributions to the score of *estimator* on *X* (see module doc)."""
    cls = type(estimator).__name__
    if cls in TREE_CLASSES:
        return _tree(estimator, X)
    if hasattr(estimator, "pipeline_") and "scale" in getattr(estimator.pipeline_, "named_steps", {}) \
            and hasattr(estimator, "coef_"):
        return _linear(estimator, X)
    return _occlusion(estimator, X, index, importances)


def top_factors(expl: Explanation, k: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """(column indexes, contributions) of each row's *k* largest absolute contributions, largest first.

    Rows whose contributions are all zero still get *k* factors (the first columns), so every scored
    officer has risk factors; their contribution is then 0 and they are shown as such."""
    c = np.nan_to_num(expl.contributions, nan=0.0)
    k = min(k, c.shape[1])
    idx = np.argsort(-np.abs(c), axis=1, kind="stable")[:, :k]
    return idx, np.take_along_axis(c, idx, axis=1)
