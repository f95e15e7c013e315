"""Why an officer is ranked where they are: per-officer contributions of each feature to the score.

The method depends on the model, and is recorded with every risk factor:

* **tree models** (random forest, extra trees, decision tree, gradient boosting): TreeSHAP from the
  ``shap`` package (``shap.TreeExplainer``, path-dependent, exact).  Contributions are in the model's
  probability units for forests and trees and in log-odds for gradient boosting.  When exact TreeSHAP
  for every row would be too slow for the forest's size (many deep trees), the highest-scored rows (the
  officers supervisors act on) still get exact TreeSHAP within a time budget and the others get
  ``shap``'s own fast Saabas attribution (``approximate=True``); each row records its method.
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

TREE_CLASSES = (
    "RandomForestClassifier",
    "ExtraTreesClassifier",
    "DecisionTreeClassifier",
    "GradientBoostingClassifier",
    "HistGradientBoostingClassifier",
)
#: exact TreeSHAP costs about trees × leaves × depth² per row; up to this cost per row every row gets it
EXACT_TREESHAP_BUDGET = 2.0e7
#: above it, exact TreeSHAP for the highest-scored rows until this total cost (~10 s here), Saabas for the rest
EXACT_TREESHAP_TOTAL_BUDGET = 4.0e9
#: occlusion looks at this many globally important features
OCCLUSION_FEATURES = 40


@dataclass
class Explanation:
    contributions: np.ndarray  # (rows, features)
    features: list[str]
    method: str  # a summary
    row_methods: np.ndarray | None = None  # the method of each row when it differs between rows

    def method_of(self, i: int) -> str:
        return self.method if self.row_methods is None else str(self.row_methods[i])


def _tree_cost(estimator) -> float:
    """Exact TreeSHAP's work per explained row: sum over trees of leaves × depth²."""
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


def _class1(values, n_rows: int, n_features: int) -> np.ndarray:
    if isinstance(values, list):  # older shap: one array per class
        values = values[-1]
    values = np.asarray(values)
    if values.ndim == 3:  # (rows, features, classes) or (classes, rows, features)
        if values.shape[0] == n_rows and values.shape[1] == n_features:
            values = values[:, :, -1]
        else:
            values = values[-1]
    return values


def _tree(estimator, X: pd.DataFrame, priority: np.ndarray | None) -> Explanation:
    """Exact TreeSHAP for as many rows as the budget allows, highest *priority* first (the officers a
    supervisor will look at); shap's Saabas attribution for the rest."""
    import shap

    exact_name = "shap.TreeExplainer (TreeSHAP)"
    saabas_name = "shap.TreeExplainer (Saabas approximation)"
    A = X.to_numpy(dtype=np.float64)
    n = len(A)
    cls = type(estimator).__name__
    per_row = 0.0 if cls == "HistGradientBoostingClassifier" else _tree_cost(estimator)
    if per_row <= EXACT_TREESHAP_BUDGET:
        n_exact = n
    else:
        n_exact = min(n, int(EXACT_TREESHAP_TOTAL_BUDGET // per_row))
    explainer = shap.TreeExplainer(estimator)
    if n_exact >= n:
        values = _class1(explainer.shap_values(A, check_additivity=False), n, A.shape[1])
        return Explanation(values, list(X.columns), exact_name, np.full(n, exact_name, dtype=object))
    values = _class1(explainer.shap_values(A, check_additivity=False, approximate=True), n, A.shape[1])
    methods = np.full(n, saabas_name, dtype=object)
    if n_exact > 0:
        order = np.argsort(-np.asarray(priority, dtype=float), kind="stable") if priority is not None else np.arange(n)
        top = order[:n_exact]
        values[top] = _class1(explainer.shap_values(A[top], check_additivity=False), len(top), A.shape[1])
        methods[top] = exact_name
    summary = f"{exact_name} for the {n_exact} highest scores, {saabas_name} for the rest"
    return Explanation(values, list(X.columns), summary, methods)


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


def _occlusion(
    estimator, X: pd.DataFrame, index: pd.DataFrame | None, importances: dict[str, float] | None
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


def explain(
    estimator,
    X: pd.DataFrame,
    index: pd.DataFrame | None = None,
    importances: dict[str, float] | None = None,
    priority: np.ndarray | None = None,
) -> Explanation:
    """Per-row, per-feature contributions to the score of *estimator* on *X* (see module doc).
    *priority* (e.g. the scores) orders the rows that get exact TreeSHAP first when not all can."""
    cls = type(estimator).__name__
    if cls in TREE_CLASSES:
        return _tree(estimator, X, priority)
    if (
        hasattr(estimator, "pipeline_")
        and "scale" in getattr(estimator.pipeline_, "named_steps", {})
        and hasattr(estimator, "coef_")
    ):
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
