"""Baselines: ordinary scikit-learn-style classifiers, trained, scored and evaluated exactly like models.

* :class:`RandomBaseline` — uniform random scores (seeded).  Hand-written: scikit-learn's
  ``DummyClassifier`` draws random *labels* (``stratified``/``uniform``), whose scores are 0/1 or a
  constant, not a continuous random ranking.
* :class:`PriorBaseline` — scikit-learn's ``DummyClassifier(strategy="prior")`` under the name the
  config and the results use: the training class prior for everyone (one big tie).
* :class:`LegacyEISBaseline` — the department's existing EIS as a classifier: score 1 when the
  department's own system flagged the officer in the year before the as-of date (the drop's
  ``eis_flags``), or, without such flags, when a configured legacy rule (``leg_<rule>_flag``, built by
  the feature mart from ``legacy_rules`` in the officer config) fires on the as-of date; else 0.  Ties
  (all the 1s, all the 0s) are broken by the evaluation's tie methods.
* :class:`CountGBReference` — a plain, strong reference: scikit-learn's gradient boosting with its
  default settings on simple counts only (each source's event count per window, age, tenure), the kind
  of model an analyst builds in an afternoon (and the `triage` toolkit's plain count features).  The
  platform's chosen model is always measured against it in the same run (``make bench-quality``).
* :class:`SimpleLogisticBaseline` — the paper's simple baseline: logistic regression on age, tenure,
  days since the last adverse event, sex and race.  Sex and race are not features (they live in the
  matrix ``index`` as ``_protected_sex``/``_protected_race``); they reach it through scikit-learn's
  metadata routing: it requests the metadata ``protected`` (a DataFrame of those index columns) for
  ``fit``, ``predict_proba`` and ``score`` by default, and :func:`eis_core.modeling.estimators.fit_model`
  / :func:`~eis_core.modeling.estimators.predict_scores` pass exactly what an estimator requests
  (``set_fit_request(protected=False)`` turns it off).

The legacy EIS here is the *evaluation's* definition (see docs/modeling.md, "The legacy EIS"): with
``source="flags"`` it is the department's own system as recorded in the drop's ``eis_flags`` (for the
synthetic department, the generator's rules in :mod:`eis_core.synth.legacy`); with ``"rules"`` it is
the config's ``legacy_rules``, evaluated by the feature mart.  Table 3 records which one it used
(``results.table3.legacy_source``).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted, validate_data

from eis_core.modeling.estimators import check_binary_target

LEGACY_FLAG = re.compile(r"^leg_(?P<rule>.+)_flag$")


def _n_rows(X) -> int:
    return int(np.asarray(X).shape[0]) if not isinstance(X, pd.DataFrame) else len(X)


def _two_columns(p1: np.ndarray) -> np.ndarray:
    p1 = np.asarray(p1, dtype=float)
    return np.column_stack([1.0 - p1, p1])


class _Baseline(ClassifierMixin, BaseEstimator):
    """Binary (0/1 label) baselines: ``classes_`` is always [0, 1]."""

    is_baseline = True

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags

    def _fit_classes(self, X, y) -> np.ndarray:
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y is None")
        check_binary_target(y)
        y = np.asarray(y).astype(int)
        self.classes_ = np.array([0, 1])
        self.n_features_in_ = np.asarray(X).shape[1] if np.asarray(X).ndim == 2 else 0
        return y

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "classes_")

    def predict(self, X, **kw):
        check_is_fitted(self)
        return (self.predict_proba(X, **kw)[:, 1] >= 0.5).astype(int)


class RandomBaseline(_Baseline):
    """Uniform random scores in [0, 1); the same ``random_state`` gives the same scores for the same rows."""

    def __init__(self, random_state=None):
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # it never reads a value
        return tags

    def fit(self, X, y):
        X, y = validate_data(self, X, y, ensure_all_finite=False)
        self._fit_classes(X, y)
        self.used_features_ = []
        return self

    def predict_proba(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, ensure_all_finite=False)
        rng = np.random.default_rng(self.random_state)
        return _two_columns(rng.random(_n_rows(X)))


class PriorBaseline(DummyClassifier):
    """``DummyClassifier(strategy="prior")``: the positive share of the training labels, for every officer
    (every row ties).  No hyperparameters: ``strategy`` is fixed (a class attribute, not a parameter)."""

    is_baseline = True
    strategy = "prior"
    constant = None
    random_state = None

    def __init__(self):
        pass

    def fit(self, X, y, sample_weight=None):
        super().fit(X, y, sample_weight=sample_weight)
        self.used_features_ = []
        return self


class LegacyEISBaseline(_Baseline):
    """The department's existing EIS as a classifier: 1 when it flags the officer on the as-of date, else 0.

    ``source`` says what "flagged" means:

    * ``"flags"`` — the department's own flags (the drop's ``eis_flags`` table): flagged when the system
      raised at least one flag in the ``flag_window`` before the as-of date (matrix column
      ``flg_flags_<flag_window>``, built by the ``eis_flags`` feature block);
    * ``"rules"`` — the threshold rules of the officer config's ``legacy_rules``, evaluated on the as-of
      date (matrix columns ``leg_<rule>_flag``); ``rules`` restricts them to some rule names;
    * ``"auto"`` (default) — the department's flags when the matrix has them, else the rules.

    X must be a DataFrame with the mart's column names.
    """

    SOURCES = ("auto", "flags", "rules")

    def __init__(self, rules=None, source: str = "auto", flag_window: str = "1y"):
        self.rules = rules
        self.source = source
        self.flag_window = flag_window

    def _flag_column(self) -> str:
        return f"flg_flags_{self.flag_window}"

    def _rule_columns(self, X: pd.DataFrame) -> list[str]:
        found = {m.group("rule"): c for c in X.columns if (m := LEGACY_FLAG.match(str(c)))}
        if self.rules is None:
            cols = [found[r] for r in sorted(found)]
        else:
            missing = [r for r in self.rules if r not in found]
            if missing:
                raise ValueError(
                    f"LegacyEISBaseline: no leg_<rule>_flag column for rule(s) {missing}; "
                    f"the matrix has {sorted(found)}"
                )
            cols = [found[r] for r in self.rules]
        if not cols:
            raise ValueError(
                "LegacyEISBaseline: the matrix has no legacy rule flag columns (leg_<rule>_flag); "
                "turn on feature block legacy_rules and define legacy_rules in the officer config"
            )
        return cols

    def _columns(self, X: pd.DataFrame) -> tuple[str, list[str]]:
        if not isinstance(X, pd.DataFrame):
            raise TypeError("LegacyEISBaseline needs a DataFrame with the feature mart's column names")
        if self.source not in self.SOURCES:
            raise ValueError(f"LegacyEISBaseline: source must be one of {list(self.SOURCES)}, not {self.source!r}")
        flag_col = self._flag_column()
        if self.source == "flags" or (self.source == "auto" and self.rules is None and flag_col in X.columns):
            if flag_col not in X.columns:
                raise ValueError(
                    f"LegacyEISBaseline: source 'flags' needs column {flag_col} (feature block eis_flags "
                    f"with window {self.flag_window}, and an eis_flags table in the drop)"
                )
            return "flags", [flag_col]
        return "rules", self._rule_columns(X)

    def fit(self, X, y):
        self._fit_classes(X, y)
        self.source_, self.used_features_ = self._columns(X)
        return self

    def predict_proba(self, X):
        check_is_fitted(self)
        cols = self.used_features_
        missing = [c for c in cols if c not in X.columns]
        if missing:
            raise ValueError(f"LegacyEISBaseline: columns {missing} are missing from the matrix")
        flagged = (X[cols].to_numpy(dtype=float) > 0).any(axis=1)
        return _two_columns(flagged.astype(float))


#: the plain count of each source's events per window (no sub-types, ratios, shares or derived columns)
COUNT_COLUMN = re.compile(
    r"^(?P<source>ia_cases(_(?P<event>[a-z_]+?))?|uof_reports|dsp_calls|arr_total|ts_stops|"
    r"trn_courses|sec_jobs|flg_flags)_(?P<window>[0-9]+[dwmy]|all)$"
)
COUNT_STATIC = ("chr_age_years", "chr_tenure_days")


def count_reference_columns(columns) -> list[str]:
    """The columns :class:`CountGBReference` uses, in matrix order: each source's event count per window
    (IA cases also per contract event type), age and tenure."""
    from eis_core.contract import load_contract

    events = {e.lower() for e in load_contract().codes["event_type"]}
    out = []
    for c in map(str, columns):
        m = COUNT_COLUMN.match(c)
        if c in COUNT_STATIC or (m and (m.group("event") is None or m.group("event") in events)):
            out.append(c)
    return out


class CountGBReference(_Baseline):
    """Gradient boosting (scikit-learn defaults) on plain count columns, age and tenure: the simple strong
    reference every department's chosen model must beat (see the module doc)."""

    def __init__(self, random_state=None):
        self.random_state = random_state

    def fit(self, X, y):
        from sklearn.ensemble import HistGradientBoostingClassifier

        y = self._fit_classes(X, y)
        if not isinstance(X, pd.DataFrame):
            raise TypeError("CountGBReference needs a DataFrame with the feature mart's column names")
        self.used_features_ = count_reference_columns(X.columns)
        if not self.used_features_:
            raise ValueError("CountGBReference: the matrix has no plain count columns (ia_cases_<window>, ...)")
        self.prior_ = float(y.mean()) if y.size else 0.0
        self.gb_ = None
        if np.unique(y).size == 2:
            self.gb_ = HistGradientBoostingClassifier(random_state=self.random_state)
            self.gb_.fit(X[self.used_features_].to_numpy(dtype=float), y)
        return self

    def predict_proba(self, X):
        check_is_fitted(self)
        if self.gb_ is None:
            return _two_columns(np.full(_n_rows(X), self.prior_))
        return self.gb_.predict_proba(X[self.used_features_].to_numpy(dtype=float))


class SimpleLogisticBaseline(_Baseline):
    """Logistic regression on age, tenure, days since last adverse event, sex and race (paper's baseline).

    Numeric columns come from X (those of ``numeric_features`` that the matrix has); sex and race are
    one-hot coded from the metadata ``protected`` (``_protected_sex`` / ``_protected_race`` columns of the
    matrix index; categories seen in training, unseen ones code as all zeros).  ``protected`` is
    requested by default for fit, predict, predict_proba and score (scikit-learn metadata routing).
    """

    __metadata_request__fit = {"protected": True}
    __metadata_request__predict = {"protected": True}
    __metadata_request__predict_proba = {"protected": True}
    __metadata_request__score = {"protected": True}

    NUMERIC = ("chr_age_years", "chr_tenure_days", "ia_days_since_adverse")
    PROTECTED = ("_protected_sex", "_protected_race")

    def __init__(self, random_state=None, C: float = 1.0, numeric_features=NUMERIC):
        self.random_state = random_state
        self.C = C
        self.numeric_features = numeric_features

    def _design(self, X: pd.DataFrame, protected: pd.DataFrame | None, fitting: bool) -> np.ndarray:
        if not isinstance(X, pd.DataFrame):
            raise TypeError("SimpleLogisticBaseline needs a DataFrame with the feature mart's column names")
        if fitting:
            self.numeric_used_ = [c for c in self.numeric_features if c in X.columns]
            self.categories_ = {}
            for col in self.PROTECTED:
                if protected is not None and col in protected.columns:
                    self.categories_[col] = sorted(protected[col].dropna().astype(str).unique().tolist())
            self.feature_names_ = list(self.numeric_used_) + [
                f"{col}={v}" for col, vals in self.categories_.items() for v in vals
            ]
            if not self.feature_names_:
                raise ValueError(
                    "SimpleLogisticBaseline: none of its inputs is in the matrix "
                    f"({list(self.numeric_features)} or {list(self.PROTECTED)} in the index)"
                )
        parts = [X[self.numeric_used_].to_numpy(dtype=float)] if self.numeric_used_ else []
        for col, vals in self.categories_.items():
            if protected is None or col not in protected.columns:
                raise ValueError(f"SimpleLogisticBaseline: the metadata 'protected' needs column {col}")
            v = protected[col].astype(str).to_numpy()
            parts.append(np.column_stack([(v == c).astype(float) for c in vals]) if vals else np.zeros((len(X), 0)))
        return np.hstack(parts) if parts else np.zeros((len(X), 0))

    def fit(self, X, y, protected: pd.DataFrame | None = None):
        y = self._fit_classes(X, y)
        D = self._design(X, protected, fitting=True)
        self.scaler_ = StandardScaler().fit(D)
        self.lr_ = LogisticRegression(C=self.C, solver="liblinear", random_state=self.random_state, max_iter=1000)
        if np.unique(y).size < 2:
            self.lr_ = None
            self.prior_ = float(y.mean()) if y.size else 0.0
        else:
            self.lr_.fit(self.scaler_.transform(D), y)
        self.used_features_ = list(self.numeric_used_)
        return self

    @property
    def coef_(self) -> np.ndarray:
        if self.lr_ is None:
            return np.zeros((1, len(self.feature_names_)))
        return self.lr_.coef_

    def predict_proba(self, X, protected: pd.DataFrame | None = None):
        check_is_fitted(self)
        D = self._design(X, protected, fitting=False)
        if self.lr_ is None:
            return _two_columns(np.full(len(X), self.prior_))
        return self.lr_.predict_proba(self.scaler_.transform(D))

    def predict(self, X, protected: pd.DataFrame | None = None):
        return (self.predict_proba(X, protected=protected)[:, 1] >= 0.5).astype(int)

    def score(self, X, y, sample_weight=None, protected: pd.DataFrame | None = None):
        from sklearn.metrics import accuracy_score

        return accuracy_score(y, self.predict(X, protected=protected), sample_weight=sample_weight)
