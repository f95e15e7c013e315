"""Estimators of the model grid that scikit-learn does not ship in the shape we need, and the one
training/scoring entry point every grid entry (models and baselines alike) goes through.

* :class:`ScaledLogisticRegression` — StandardScaler + LogisticRegression (liblinear; l1 or l2).
* :class:`CalibratedLinearSVC` — StandardScaler + CalibratedClassifierCV(LinearSVC): calibrated scores.
* :func:`fit_model` / :func:`predict_scores` — pass the matrix's ``index`` (officer_id, as_of_date and
  the protected attributes) only to estimators that declare ``uses_index = True``.
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


def _as_array(X) -> np.ndarray:
    return np.asarray(X, dtype=float)


class _PipelineClassifier(ClassifierMixin, BaseEstimator):
    """Shared plumbing: ``pipeline_`` does the work; feature names are kept for importances."""

    uses_index = False

    def _build(self) -> Pipeline:  # pragma: no cover - abstract
        raise NotImplementedError

    def fit(self, X, y):
        y = np.asarray(y).astype(int)
        if isinstance(X, pd.DataFrame):
            self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.pipeline_ = self._build().fit(_as_array(X), y)
        self.classes_ = self.pipeline_.classes_
        self.n_features_in_ = _as_array(X).shape[1]
        return self

    def predict_proba(self, X):
        return self.pipeline_.predict_proba(_as_array(X))

    def predict(self, X):
        return self.pipeline_.predict(_as_array(X))

    def decision_function(self, X):
        return self.predict_proba(X)[:, 1]


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


def fit_model(estimator, X: pd.DataFrame, y, index: pd.DataFrame | None = None):
    """Fit *estimator*; ``index`` goes only to estimators with ``uses_index = True``."""
    from threadpoolctl import threadpool_limits

    y = np.asarray(y).astype(int)
    cap_jobs(estimator, fit_threads())
    with threadpool_limits(limits=fit_threads()):
        if getattr(estimator, "uses_index", False):
            return estimator.fit(X, y, index=index)
        return estimator.fit(X, y)


def predict_scores(estimator, X: pd.DataFrame, index: pd.DataFrame | None = None) -> np.ndarray:
    """Risk scores (probability of the positive class), one float per row of X."""
    if getattr(estimator, "uses_index", False):
        proba = estimator.predict_proba(X, index=index)
    else:
        proba = estimator.predict_proba(X)
    proba = np.asarray(proba, dtype=float)
    classes = list(getattr(estimator, "classes_", [0, 1]))
    if proba.ndim == 1:
        return proba
    if 1 in classes:
        return proba[:, classes.index(1)]
    return np.zeros(proba.shape[0])  # trained on negatives only: no row can be positive


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
