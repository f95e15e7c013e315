"""The grid's own estimators and the baselines: proper scikit-learn estimators (clone, get_params),
the run's seed is respected, index-aware training, importances; grid expansion of the real config."""

from __future__ import annotations

import json
from datetime import date

import numpy as np
import pytest
from sklearn.base import clone

from eis_core.config import load_officer_config
from eis_core.modeling.baselines import (CountGBReference, LegacyEISBaseline, PriorBaseline, RandomBaseline,
                                         SimpleLogisticBaseline)
from eis_core.modeling.estimators import (CalibratedLinearSVC, ScaledLogisticRegression, feature_importances,
                                          fit_model, predict_scores, requests_metadata)
from eis_core.modeling.grid import expand_grid, make_estimator
from modeling_synth import LEGACY_COLS, make_matrix

TRAIN = make_matrix("tr", date(2014, 1, 1), 400, 1)
TEST = make_matrix("te", date(2015, 1, 1), 300, 2)

ALL = [ScaledLogisticRegression(penalty="l1", C=0.5, random_state=3), ScaledLogisticRegression(),
       CalibratedLinearSVC(C=0.1, random_state=3), RandomBaseline(random_state=3), PriorBaseline(),
       LegacyEISBaseline(), LegacyEISBaseline(rules=["uof_3_in_90d"]), SimpleLogisticBaseline(random_state=3),
       CountGBReference(random_state=3)]


def _scores(est, seed=None):
    X, y, _, index = TRAIN
    Xt, _, _, index_t = TEST
    if seed is not None:
        est.set_params(random_state=seed)
    fit_model(est, X, y, index)
    return predict_scores(est, Xt, index_t)


@pytest.mark.parametrize("est", ALL, ids=lambda e: type(e).__name__)
def test_clone_and_params(est):
    params = est.get_params()
    c = clone(est)
    assert type(c) is type(est) and c.get_params() == params
    c.set_params(**params)
    s = _scores(c)
    assert s.shape == (len(TEST[0]),) and np.all((s >= 0) & (s <= 1))
    # a clone of a fitted estimator is unfitted but equal in parameters
    assert clone(c).get_params() == params


@pytest.mark.parametrize("cls", [ScaledLogisticRegression, CalibratedLinearSVC, RandomBaseline,
                                 SimpleLogisticBaseline], ids=lambda c: c.__name__)
def test_same_seed_same_scores(cls):
    a, b = _scores(cls(), seed=11), _scores(cls(), seed=11)
    np.testing.assert_array_equal(a, b)


def test_random_baseline_seed_changes_scores():
    assert not np.array_equal(_scores(RandomBaseline(), 1), _scores(RandomBaseline(), 2))


def test_make_estimator_passes_the_run_seed_to_every_estimator():
    cfg = load_officer_config()
    grid = expand_grid(cfg)
    for mc in grid:
        est = make_estimator(mc, 1234)
        params = est.get_params()
        if "random_state" in params:
            assert params["random_state"] == 1234, mc["class_path"]
        for k, v in mc["hyperparameters"].items():
            assert params[k] == v
    # estimators that take a seed and are deterministic for it: identical scores across two builds
    rf = {"class_path": "sklearn.ensemble.RandomForestClassifier",
          "hyperparameters": {"n_estimators": 10, "n_jobs": 1}, "is_baseline": False}
    np.testing.assert_array_equal(_scores(make_estimator(rf, 5)), _scores(make_estimator(rf, 5)))


def test_expand_grid_of_the_real_config():
    cfg = load_officer_config()
    grid = expand_grid(cfg)
    json.dumps(grid)  # JSON-serialisable (Airflow XCom, results.model_groups)
    n_models = 0
    for params in cfg.model_grid.values():
        n_models += int(np.prod([len(v) for v in params.values()])) if params else 1
    assert len(grid) == n_models + len(cfg.baselines)
    assert sum(g["is_baseline"] for g in grid) == len(cfg.baselines)
    keys = [g["model_group_key"] for g in grid]
    assert len(set(keys)) == len(keys)
    rf = [g for g in grid if g["class_path"].endswith("RandomForestClassifier")]
    assert {(g["hyperparameters"]["n_estimators"], g["hyperparameters"]["class_weight"]) for g in rf} == {
        (50, None), (200, None), (50, "balanced_subsample"), (200, "balanced_subsample")}


def test_expand_grid_rejects_unknown_hyperparameters():
    with pytest.raises(ValueError, match="unknown hyperparameter"):
        expand_grid({"model_grid": {"sklearn.tree.DecisionTreeClassifier": {"depth": [3]}}, "baselines": {}})
    with pytest.raises(ValueError, match="cannot import"):
        expand_grid({"model_grid": {"sklearn.tree.NoSuchTree": {}}, "baselines": {}})


def test_legacy_baseline_is_the_threshold_rules():
    X, y, _, index = TEST
    est = fit_model(LegacyEISBaseline(), *TRAIN[:2], TRAIN[3])
    s = predict_scores(est, X, index)
    np.testing.assert_array_equal(s, (X[LEGACY_COLS].sum(axis=1) > 0).astype(float))
    one = fit_model(LegacyEISBaseline(rules=["uof_3_in_90d"]), *TRAIN[:2], TRAIN[3])
    np.testing.assert_array_equal(predict_scores(one, X), X["leg_uof_3_in_90d_flag"].to_numpy())
    with pytest.raises(ValueError, match="no leg_<rule>_flag"):
        LegacyEISBaseline(rules=["nope"]).fit(X, y)
    with pytest.raises(ValueError, match="no legacy rule flag columns"):
        LegacyEISBaseline().fit(X.drop(columns=LEGACY_COLS), y)


def test_legacy_baseline_prefers_the_departments_own_flags():
    """With the drop's eis_flags in the matrix (flg_flags_1y), the legacy EIS is the department's flags."""
    X, y, _, index = make_matrix("trf", date(2014, 1, 1), 400, 1, department_flags=True)
    Xt = make_matrix("tef", date(2015, 1, 1), 300, 2, department_flags=True)[0]
    auto = fit_model(LegacyEISBaseline(), X, y, index)
    assert auto.source_ == "flags" and auto.used_features_ == ["flg_flags_1y"]
    np.testing.assert_array_equal(predict_scores(auto, Xt), (Xt["flg_flags_1y"] > 0).astype(float))
    rules = fit_model(LegacyEISBaseline(source="rules"), X, y, index)
    assert rules.source_ == "rules" and rules.used_features_ == sorted(LEGACY_COLS)
    named = fit_model(LegacyEISBaseline(rules=["uof_3_in_90d"]), X, y, index)  # named rules mean the rules
    assert named.source_ == "rules"
    with pytest.raises(ValueError, match="needs column flg_flags_1y"):
        LegacyEISBaseline(source="flags").fit(TRAIN[0], TRAIN[1])
    with pytest.raises(ValueError, match="source must be one of"):
        LegacyEISBaseline(source="vendor").fit(X, y)


def test_simple_logistic_baseline_uses_the_protected_attributes_from_the_index():
    X, y, _, index = TRAIN
    est = fit_model(SimpleLogisticBaseline(random_state=0), X, y, index)
    assert est.feature_names_[:3] == ["chr_age_years", "chr_tenure_days", "ia_days_since_adverse"]
    assert any(n.startswith("_protected_race=") for n in est.feature_names_)
    assert any(n.startswith("_protected_sex=") for n in est.feature_names_)
    names, imp, method = feature_importances(est, list(X.columns))
    assert method == "coefficient" and len(names) == len(imp) == len(est.feature_names_)
    with pytest.raises(ValueError, match="'protected' needs column _protected_sex"):
        est.predict_proba(TEST[0], protected=TEST[3].drop(columns=["_protected_sex"]))
    prior = fit_model(PriorBaseline(), X, y, index)
    assert np.all(predict_scores(prior, TEST[0]) == pytest.approx(y.mean()))


def test_protected_attributes_reach_only_estimators_that_request_them():
    """Metadata routing: the baseline requests ``protected`` by default; turning the request off (or an
    estimator that never asks) means the attributes never reach it; routing is off again afterwards."""
    import sklearn

    X, y, _, index = TRAIN
    with sklearn.config_context(enable_metadata_routing=True):  # requests are set with routing on, scoped
        off = SimpleLogisticBaseline(random_state=0).set_fit_request(protected=False)
    off = fit_model(off, X, y, index)
    assert off.feature_names_ == ["chr_age_years", "chr_tenure_days", "ia_days_since_adverse"]
    assert not sklearn.get_config()["enable_metadata_routing"]
    s_on = predict_scores(fit_model(SimpleLogisticBaseline(random_state=0), X, y, index), TEST[0], TEST[3])
    s_off = predict_scores(off, TEST[0], TEST[3])
    assert not np.allclose(s_on, s_off)  # sex and race change the scores when they are routed
    rf = fit_model(make_estimator({"class_path": "sklearn.tree.DecisionTreeClassifier",
                                   "hyperparameters": {"max_depth": 3}}, 0), X, y, index)
    assert rf.n_features_in_ == X.shape[1]


def test_importance_methods():
    X, y, _, index = TRAIN
    feats = list(X.columns)
    rf = fit_model(make_estimator({"class_path": "sklearn.tree.DecisionTreeClassifier",
                                   "hyperparameters": {"max_depth": 3}}, 0), X, y, index)
    assert feature_importances(rf, feats)[2] == "impurity"
    lr = fit_model(ScaledLogisticRegression(penalty="l1", C=0.05, random_state=0), X, y, index)
    names, imp, method = feature_importances(lr, feats)
    assert method == "coefficient" and names == feats and np.all(imp >= 0) and (imp == 0).any()
    svc = fit_model(CalibratedLinearSVC(random_state=0), X, y, index)
    assert feature_importances(svc, feats)[2] == "coefficient"
    hgb = fit_model(make_estimator({"class_path": "sklearn.ensemble.HistGradientBoostingClassifier",
                                    "hyperparameters": {"max_iter": 10}}, 0), X, y, index)
    assert feature_importances(hgb, feats)[1:] == (None, "none")
    leg = fit_model(LegacyEISBaseline(), X, y, index)
    assert feature_importances(leg, feats) == (sorted(LEGACY_COLS), None, "none")
    assert feature_importances(fit_model(RandomBaseline(0), X, y), feats) == ([], None, "none")


def test_fits_never_use_more_threads_than_eis_fit_threads(monkeypatch):
    """A forest's n_jobs is capped at EIS_FIT_THREADS (default 1): Airflow runs several fits at once on 2 cores."""
    from sklearn.ensemble import RandomForestClassifier

    X, y, _, index = TRAIN
    monkeypatch.delenv("EIS_FIT_THREADS", raising=False)
    rf = fit_model(RandomForestClassifier(n_estimators=10, n_jobs=2, random_state=0), X, y, index)
    assert rf.n_jobs == 1
    all_cores = fit_model(RandomForestClassifier(n_estimators=10, n_jobs=-1, random_state=0), X, y, index)
    assert all_cores.n_jobs == 1
    monkeypatch.setenv("EIS_FIT_THREADS", "2")
    two = fit_model(RandomForestClassifier(n_estimators=10, n_jobs=2, random_state=0), X, y, index)
    assert two.n_jobs == 2
    np.testing.assert_array_equal(predict_scores(rf, TEST[0]), predict_scores(two, TEST[0]))  # same model


def test_count_reference_uses_plain_counts_only():
    X, y, _, index = TRAIN
    ref = fit_model(CountGBReference(random_state=0), X, y, index)
    assert ref.used_features_ == ["chr_age_years", "chr_tenure_days", "ia_cases_1y", "dsp_calls_3m"]
    s = predict_scores(ref, TEST[0])
    shuffled = TEST[0].assign(noise_a=np.random.default_rng(9).normal(size=len(TEST[0])),
                              leg_uof_3_in_90d_flag=0.0)
    np.testing.assert_array_equal(s, predict_scores(ref, shuffled))  # other columns never matter
    from sklearn.metrics import roc_auc_score
    big_X, big_y, _, _ = make_matrix("trbig", date(2014, 1, 1), 4000, 11)
    big = fit_model(CountGBReference(random_state=0), big_X, big_y)
    Xt, yt, _, _ = make_matrix("tebig", date(2015, 1, 1), 4000, 12)
    assert roc_auc_score(yt, predict_scores(big, Xt)) > 0.6  # it learns the ia_cases signal of the matrix
    with pytest.raises(ValueError, match="no plain count columns"):
        CountGBReference().fit(X[["noise_a", "noise_b"]], y)


def test_every_estimator_of_the_shipped_grids_fits_and_scores_with_a_protected_index():
    """Meta-estimators without scikit-learn metadata routing (AdaBoost, Bagging, ...) ask for nothing: the
    protected index must not break their fit or scores (make demo trained AdaBoost and failed on this)."""
    X, y, _, index = TRAIN
    seen = set()
    for path in ("configs/officer_config.yaml", "configs/chicago/officer_config.yaml"):
        for mc in expand_grid(load_officer_config(path)):
            if mc["class_path"] in seen:
                continue
            seen.add(mc["class_path"])
            est = fit_model(make_estimator(mc, 0), X, y, index)
            scores = predict_scores(est, TEST[0], TEST[3])
            assert scores.shape == (len(TEST[0]),) and np.isfinite(scores).all(), mc["class_path"]
            assert requests_metadata(est) is (mc["class_path"].endswith("SimpleLogisticBaseline")), mc["class_path"]
    assert "sklearn.ensemble.AdaBoostClassifier" in seen
