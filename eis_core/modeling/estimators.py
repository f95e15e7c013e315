"""Estimators of the model grid that scikit-learn does not ship in the shape we need, and the one
training/scoring entry point every grid entry (models and baselines alike) goes through.

* :class:`ScaledLogisticRegression` — StandardScaler + LogisticRegression (liblinear; l1 or l2).
* :class:`CalibratedLinearSVC` — StandardScaler + CalibratedClassifierCV(LinearSVC): calibrated scores.
* :func:`fit_model` / :func:`predict_scores` — the one router of the matrix's metadata: the protected
  attributes of the ``index`` (``_protected_*`` columns) reach an estimator as the metadata
  ``protected`` through scikit-learn's metadata routing, only when the estimator requests it
  (``set_fit_request(protected=True)`` or a class default, as :class:`~eis_core.modeling.baselines.SimpleLogisticBaseline`).
* :func:`feature_importances` — impurity for trees, |coef| for linear models, 'none' otherwise.

All are proper scikit-learn estimators: ``get_params``/``set_params``/``clone`` work, and the fitted
state lives in attributes ending in ``_``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_is_fitted, validate_data


def check_binary_target(y) -> None:
    """A ValueError unless *y* is a binary target (the platform's labels are 0/1)."""
    check_classification_targets(y)
    kind = type_of_target(y, input_name="y", raise_unknown=True)
    if kind != "binary":
        raise ValueError(f"Only binary classification is supported. The type of the target is {kind}.")


class _PipelineClassifier(ClassifierMixin, BaseEstimator):
    """Shared plumbing: ``pipeline_`` does the work; feature names are kept for importances.

    Binary classifiers (the label is 0/1): input is validated by scikit-learn's ``validate_data``
    (float64, finite, dense; feature names of a DataFrame are kept in ``feature_names_in_``)."""

    def _build(self) -> Pipeline:  # pragma: no cover - abstract
        raise NotImplementedError

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags

    def fit(self, X, y):
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_binary_target(y)
        if np.unique(y).size < 2:
            raise ValueError(f"{type(self).__name__} needs samples of 2 classes; the data has 1 class")
        self.pipeline_ = self._build().fit(X, y)
        self.classes_ = self.pipeline_.classes_
        return self

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "pipeline_")

    def _X(self, X) -> np.ndarray:
        check_is_fitted(self)
        return validate_data(self, X, reset=False, dtype=np.float64)

    def predict_proba(self, X):
        X = self._X(X)
        return self.pipeline_.predict_proba(X)

    def predict(self, X):
        X = self._X(X)
        return self.pipeline_.predict(X)

    def decision_function(self, X):
        """Log-odds of the positive class (> 0 exactly where ``predict`` says the positive class)."""
        p = np.clip(self.predict_proba(X)[:, 1], 1e-15, 1 - 1e-15)
        return np.log(p / (1 - p))


class ScaledLogisticRegression(_PipelineClassifier):
    """Standardised features + logistic regression (``penalty`` 'l1' or 'l2', inverse strength ``C``).

    Solver liblinear (supports both penalties, deterministic for a ``random_state``).  ``coef_`` are
    the coefficients on the standardised features, so |coef_| is comparable across features.
    """

    def __init__(self, penalty: str = "l2", C: float = 1.0, random_state=None, max_iter: int = 1000):
        self.penalty = penalty
        self.C = C
        self.random_state = random_state
        self.max_iter = max_iter

    def _build(self) -> Pipeline:
        if self.penalty not in ("l1", "l2"):
            raise ValueError(f"penalty must be 'l1' or 'l2', not {self.penalty!r}")
        lr = LogisticRegression(
            C=self.C,
            l1_ratio=1.0 if self.penalty == "l1" else 0.0,
            solver="liblinear",
            random_state=self.random_state,
            max_iter=self.max_iter,
        )
        return Pipeline([("scale", StandardScaler()), ("lr", lr)])

    @property
    def coef_(self) -> np.ndarray:
        return self.pipeline_.named_steps["lr"].coef_

    @property
    def intercept_(self) -> np.ndarray:
        return self.pipeline_.named_steps["lr"].intercept_

    @property
    def n_iter_(self) -> np.ndarray:
        return self.pipeline_.named_steps["lr"].n_iter_


class CalibratedLinearSVC(_PipelineClassifier):
    """Standardised features + a linear SVM whose margins are calibrated (sigmoid, 3-fold) into scores."""

    def __init__(self, C: float = 1.0, random_state=None, cv: int = 3, max_iter: int = 5000):
        self.C = C
        self.random_state = random_state
        self.cv = cv
        self.max_iter = max_iter

    def _build(self) -> Pipeline:
        svc = LinearSVC(C=self.C, random_state=self.random_state, dual="auto", max_iter=self.max_iter)
        return Pipeline(
            [("scale", StandardScaler()), ("svc", CalibratedClassifierCV(svc, method="sigmoid", cv=self.cv))]
        )

    @property
    def coef_(self) -> np.ndarray:
        cal = self.pipeline_.named_steps["svc"]
        return np.mean([c.estimator.coef_ for c in cal.calibrated_classifiers_], axis=0)

    @property
    def n_iter_(self) -> int:
        cal = self.pipeline_.named_steps["svc"]
        return int(max(c.estimator.n_iter_ for c in cal.calibrated_classifiers_))


# ----------------------------------------------------------------------------------------- entry points


def fit_threads() -> int:
    """OpenMP/BLAS threads for one fit (HistGradientBoosting, BLAS): ``EIS_FIT_THREADS``, default 1.

    The machine's cores are shared with PostgreSQL and with other mapped tasks; gradient boosting
    with every core on a busy 2-core machine took minutes where one thread takes seconds.
    Estimators with their own ``n_jobs`` (forests) are capped at it too (:func:`fit_model`): with
    Airflow running several fits at once, ``n_jobs: 2`` per forest oversubscribed 2 cores.  Their
    results do not depend on the number of threads.
    """
    import os

    try:
        return max(1, int(os.environ.get("EIS_FIT_THREADS", "1")))
    except ValueError:
        return 1


def cap_jobs(estimator, limit: int) -> None:
    """Lower every ``n_jobs`` parameter of *estimator* (nested ones included) to at most *limit*."""
    import os

    params = estimator.get_params(deep=True) if hasattr(estimator, "get_params") else {}
    cores = os.cpu_count() or 1
    for name, value in params.items():
        if name == "n_jobs" or name.endswith("__n_jobs"):
            wanted = 1 if value is None else (cores if value < 0 else int(value))
            if wanted > limit:
                estimator.set_params(**{name: limit})


#: metadata name under which the protected attributes (``_protected_*`` index columns) are routed
PROTECTED_METADATA = "protected"


def protected_frame(index: pd.DataFrame | None) -> pd.DataFrame | None:
    """The ``_protected_*`` columns of a matrix index (None without an index)."""
    if index is None:
        return None
    from eis_core.modeling.matrices import PROTECTED_PREFIX

    return index[[c for c in index.columns if str(c).startswith(PROTECTED_PREFIX)]]


def routed_params(estimator, method: str, index: pd.DataFrame | None) -> dict:
    """The metadata *estimator* requests for *method*, by scikit-learn's metadata routing (scoped on).

    The caller (training, scoring, explanations) is the router: it offers ``protected`` and routes it
    to the estimator's ``method`` exactly when the estimator's request says so; an estimator that takes
    ``protected`` but left its request unset is an error (scikit-learn's own message)."""
    from sklearn import config_context
    from sklearn.utils.metadata_routing import MetadataRouter, MethodMapping

    protected = protected_frame(index)
    if protected is None:
        return {}
    with config_context(enable_metadata_routing=True):
        try:
            router = MetadataRouter(owner="eis_core.modeling.estimators").add(
                estimator=estimator, method_mapping=MethodMapping().add(caller=method, callee=method)
            )
        except NotImplementedError:  # a meta-estimator without routing (AdaBoost, ...): it asks for nothing
            return {}
        return dict(router.route_params(caller=method, params={PROTECTED_METADATA: protected}).estimator[method])


def fit_model(estimator, X: pd.DataFrame, y, index: pd.DataFrame | None = None):
    """Fit *estimator*; the protected attributes of ``index`` are routed to it only if it requests them."""
    from threadpoolctl import threadpool_limits

    y = np.asarray(y).astype(int)
    cap_jobs(estimator, fit_threads())
    with threadpool_limits(limits=fit_threads()):
        return estimator.fit(X, y, **routed_params(estimator, "fit", index))


def predict_scores(estimator, X: pd.DataFrame, index: pd.DataFrame | None = None) -> np.ndarray:
    """Risk scores (probability of the positive class), one float per row of X."""
    proba = np.asarray(estimator.predict_proba(X, **routed_params(estimator, "predict_proba", index)), dtype=float)
    classes = list(getattr(estimator, "classes_", [0, 1]))
    if proba.ndim == 1:
        return proba
    if 1 in classes:
        return proba[:, classes.index(1)]
    return np.zeros(proba.shape[0])  # trained on negatives only: no row can be positive


def requests_metadata(estimator, method: str = "predict_proba") -> bool:
    """Whether *estimator* asks for the protected attributes (metadata ``protected``) in *method*."""
    from sklearn import config_context
    from sklearn.utils.metadata_routing import get_routing_for_object

    with config_context(enable_metadata_routing=True):
        try:
            return bool(get_routing_for_object(estimator).consumes(method, [PROTECTED_METADATA]))
        except NotImplementedError:  # a meta-estimator without routing (AdaBoost, ...) asks for nothing
            return False


def feature_importances(estimator, feature_names) -> tuple[list[str], np.ndarray | None, str]:
    """(feature names, importances or None, method) with method 'impurity', 'coefficient' or 'none'.

    Estimators that build their own design (SimpleLogisticBaseline) expose ``feature_names_``; those
    that use only some columns (LegacyEISBaseline) expose ``used_features_`` (and get 'none').
    """
    names = list(getattr(estimator, "feature_names_", feature_names))
    if getattr(estimator, "is_baseline", False) and not hasattr(estimator, "coef_"):
        return list(getattr(estimator, "used_features_", [])), None, "none"
    imp = getattr(estimator, "feature_importances_", None)
    if imp is not None:
        try:
            return names, np.asarray(imp, dtype=float), "impurity"
        except (TypeError, ValueError):
            pass
    coef = getattr(estimator, "coef_", None)
    if coef is not None:
        c = np.asarray(coef, dtype=float)
        c = np.abs(c).reshape(-1, len(names)).max(axis=0) if c.size >= len(names) and len(names) else np.abs(c).ravel()
        return names, c, "coefficient"
    return names, None, "none"


def importance_rows(model_id: str, estimator, features: list[str]):
    """Rows of results.feature_importances: (model_id, feature, importance, method, rank); rank 1 = largest."""
    names, values, method = feature_importances(estimator, features)
    if values is None:
        return [(model_id, n, None, "none", None) for n in names]
    values = np.asarray(values, dtype=float)
    order = np.argsort(-values, kind="stable")
    rank = np.empty(len(values), dtype=int)
    rank[order] = np.arange(1, len(values) + 1)
    return [(model_id, n, float(v), method, int(r)) for n, v, r in zip(names, values, rank)]
