"""Per-officer explanations (no database): TreeSHAP is additive, the linear explanation is coefficient ×
standardised value, the occlusion fallback covers other models, top factors are ordered."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import AdaBoostClassifier, RandomForestClassifier

from eis_core.modeling.estimators import ScaledLogisticRegression
from eis_core.production.explain import Explanation, explain, top_factors


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(3)
    X = pd.DataFrame(rng.normal(size=(300, 6)), columns=[f"f{i}" for i in range(6)]).astype("float32")
    y = (X["f0"] + 0.5 * X["f1"] + rng.normal(scale=0.5, size=300) > 0.5).astype(int)
    return X, y


def test_treeshap_contributions_add_up_to_the_score(data):
    import shap

    X, y = data
    rf = RandomForestClassifier(n_estimators=20, max_depth=4, random_state=0).fit(X, y)
    e = explain(rf, X)
    assert e.method == "shap.TreeExplainer (TreeSHAP)"
    base = np.ravel(shap.TreeExplainer(rf).expected_value)[-1]
    np.testing.assert_allclose(e.contributions.sum(axis=1) + base, rf.predict_proba(X)[:, 1], atol=1e-6)
    # the informative features dominate
    assert set(np.abs(e.contributions).mean(axis=0).argsort()[-2:]) == {0, 1}


def test_large_forests_get_exact_treeshap_for_the_highest_scores_and_saabas_for_the_rest(data, monkeypatch):
    from eis_core.production import explain as mod

    X, y = data
    rf = RandomForestClassifier(n_estimators=10, random_state=0).fit(X, y)
    exact = explain(rf, X).contributions
    per_row = mod._tree_cost(rf)
    monkeypatch.setattr(mod, "EXACT_TREESHAP_BUDGET", 1.0)
    monkeypatch.setattr(mod, "EXACT_TREESHAP_TOTAL_BUDGET", per_row * 30)
    scores = rf.predict_proba(X)[:, 1]
    e = explain(rf, X, priority=scores)
    top = np.argsort(-scores, kind="stable")[:30]
    rest = np.setdiff1d(np.arange(len(X)), top)
    assert all("TreeSHAP" in e.method_of(i) for i in top) and all("Saabas" in e.method_of(i) for i in rest)
    np.testing.assert_allclose(e.contributions[top], exact[top], atol=1e-9)
    assert not np.allclose(e.contributions[rest], exact[rest])


def test_linear_explanation_is_coefficient_times_standardised_value(data):
    X, y = data
    lr = ScaledLogisticRegression(C=1.0, random_state=0).fit(X, y)
    e = explain(lr, X)
    scaler = lr.pipeline_.named_steps["scale"]
    expected = lr.coef_.ravel() * (X.to_numpy(dtype=float) - scaler.mean_) / scaler.scale_
    np.testing.assert_allclose(e.contributions, expected, rtol=1e-6, atol=1e-9)
    assert e.method.startswith("shap.LinearExplainer")


def test_other_models_use_occlusion(data):
    X, y = data
    ada = AdaBoostClassifier(n_estimators=10, random_state=0).fit(X, y)
    e = explain(ada, X, importances=dict(zip(X.columns, ada.feature_importances_)))
    assert e.method.startswith("occlusion")
    assert np.abs(e.contributions[:, 0]).sum() > 0


def test_top_factors_are_the_largest_absolute_contributions():
    c = np.array([[0.1, -0.5, 0.3, 0.0], [0.0, 0.0, 0.0, 0.0]])
    idx, vals = top_factors(Explanation(c, list("abcd"), "m"), 3)
    assert idx[0].tolist() == [1, 2, 0] and vals[0].tolist() == [-0.5, 0.3, 0.1]
    assert idx.shape == (2, 3)  # an all-zero row still gets its factors
