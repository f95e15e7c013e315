"""The severity model: a scikit-learn Pipeline, two baselines, the metrics, and a fast scorer.

Pipeline: ColumnTransformer (one-hot offense category, weapon, division, beat; log1p victim count;
standardised hour, weekday and beat history; the six flags as 0/1) -> multinomial logistic regression
with balanced class weights (macro-F1 is the target metric and HIGH is the rarest class).

Baselines, scored on the same test period:

* ``majority``: always the most common severity of the training window;
* ``offense_rule``: the most common severity of the report's offense category in the training window
  (the rule a dispatcher would use: "robberies are usually MEDIUM"); unseen categories get the majority.

``FastScorer`` evaluates the fitted pipeline for one report without pandas (a dictionary lookup per
category and one small matrix product): the API's hot path.  It is built from the fitted pipeline's
own parameters and checked against ``pipeline.predict_proba`` on reference rows whenever a model is
loaded; if they ever disagree the loader refuses the artifact.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from eis_core.severity import SEVERITIES
from eis_core.severity.features import CATEGORICAL, FEATURES, FLAGS

SCALED = ["hour", "weekday", "beat_reports_30d"]


def make_pipeline(C: float = 1.0, seed: int = 0):
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

    pre = ColumnTransformer(
        [
            ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), CATEGORICAL),
            ("victims", FunctionTransformer(np.log1p, feature_names_out="one-to-one"), ["victim_count"]),
            ("scaled", StandardScaler(), SCALED),
            ("flags", "passthrough", FLAGS),
        ]
    )
    clf = LogisticRegression(C=C, max_iter=3000, class_weight="balanced", random_state=seed)
    return Pipeline([("features", pre), ("model", clf)])


def fit(train: pd.DataFrame, C: float = 1.0, seed: int = 0):
    if train["severity"].nunique() < 2:
        raise ValueError(
            f"need at least two severity classes to train, the training window has "
            f"{sorted(train['severity'].unique())} ({len(train)} reports)"
        )
    pipe = make_pipeline(C=C, seed=seed)
    with single_thread():
        pipe.fit(train[FEATURES], train["severity"].to_numpy(str))
    return pipe


def single_thread():
    """One BLAS/OpenMP thread: this problem is small, and on a shared (2-CPU) machine threaded BLAS made
    the logistic-regression fit 20x slower (12 s instead of 0.6 s on the small department)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(1)


class MajorityBaseline:
    def fit(self, train: pd.DataFrame) -> MajorityBaseline:
        self.label = str(train["severity"].value_counts().idxmax())
        return self

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return np.full(len(frame), self.label, dtype=object)


class OffenseRuleBaseline:
    def fit(self, train: pd.DataFrame) -> OffenseRuleBaseline:
        self.default = str(train["severity"].value_counts().idxmax())
        counts = train.groupby(["offense_category", "severity"]).size().unstack(fill_value=0)
        self.table = {str(k): str(v) for k, v in counts.idxmax(axis=1).items()}
        return self

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return np.array([self.table.get(o, self.default) for o in frame["offense_category"]], dtype=object)


def scores(y_true, y_pred) -> dict:
    """macro-F1, accuracy, per-class recall and n."""
    from sklearn.metrics import accuracy_score, f1_score, recall_score

    y_true = np.asarray(y_true, dtype=str)
    y_pred = np.asarray(y_pred, dtype=str)
    if y_true.size == 0:
        return {"n": 0, "macro_f1": None, "accuracy": None, "recall": {c: None for c in SEVERITIES}}
    rec = recall_score(y_true, y_pred, labels=list(SEVERITIES), average=None, zero_division=0)
    return {
        "n": int(y_true.size),
        "macro_f1": float(f1_score(y_true, y_pred, labels=list(SEVERITIES), average="macro", zero_division=0)),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "recall": {c: float(r) for c, r in zip(SEVERITIES, rec)},
    }


def evaluate(pipe, train: pd.DataFrame, test: pd.DataFrame) -> dict:
    """Model and both baselines on *test* (baselines fitted on *train*)."""
    y = test["severity"].to_numpy(str)
    with single_thread():
        out = {"model": scores(y, pipe.predict(test[FEATURES])) if len(test) else scores([], [])}
    for name, base in (("majority", MajorityBaseline()), ("offense_rule", OffenseRuleBaseline())):
        out[name] = scores(y, base.fit(train).predict(test)) if len(test) else scores([], [])
    return out


class FastScorer:
    """Exact re-evaluation of a fitted ``make_pipeline`` for single reports, without pandas."""

    def __init__(self, pipe) -> None:
        pre = pipe.named_steps["features"]
        clf = pipe.named_steps["model"]
        enc = pre.named_transformers_["cat"]
        scaler = pre.named_transformers_["scaled"]
        self.classes = [str(c) for c in clf.classes_]
        offset = 0
        self.cat_index: list[dict[str, int]] = []
        for cats in enc.categories_:
            self.cat_index.append({str(v): offset + i for i, v in enumerate(cats)})
            offset += len(cats)
        self.n_cat = offset
        self.mean = np.asarray(scaler.mean_, float)
        self.scale = np.asarray(scaler.scale_, float)
        coef = np.asarray(clf.coef_, float)
        intercept = np.asarray(clf.intercept_, float)
        if coef.shape[0] == 1:  # binary problem: sklearn keeps one row for the positive class
            coef = np.vstack([-coef[0] / 2, coef[0] / 2])
            intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
        self.coef_cat = coef[:, :offset]
        self.coef_num = coef[:, offset:]
        self.intercept = intercept

    def proba(self, row: dict) -> dict[str, float]:
        z = self.intercept.copy()
        for j, name in enumerate(CATEGORICAL):
            k = self.cat_index[j].get(str(row[name]))
            if k is not None:
                z += self.coef_cat[:, k]
        scaled = (np.array([row[c] for c in SCALED], float) - self.mean) / self.scale
        num = np.concatenate([[np.log1p(float(row["victim_count"]))], scaled, [float(bool(row[c])) for c in FLAGS]])
        z += self.coef_num @ num
        z -= z.max()
        e = np.exp(z)
        p = e / e.sum()
        return {c: float(v) for c, v in zip(self.classes, p)}

    def check(self, pipe, frame: pd.DataFrame, tol: float = 1e-9) -> float:
        """Largest difference to ``pipe.predict_proba`` on *frame*; raises when above *tol*."""
        ref = pipe.predict_proba(frame[FEATURES])
        mine = np.array([[self.proba(r)[c] for c in self.classes] for r in frame[FEATURES].to_dict("records")])
        diff = float(np.abs(ref - mine).max()) if len(frame) else 0.0
        if diff > tol:
            raise ValueError(f"fast scorer differs from the pipeline by {diff:.2e} (> {tol:.0e})")
        return diff
