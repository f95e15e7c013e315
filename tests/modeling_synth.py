"""Small synthetic train/test matrices with the shape of ``eis_core.modeling.matrices.load_matrix``:
(X: float feature DataFrame, y: int Series, meta: dict, index: officer_id, as_of_date, _protected_race,
_protected_sex), and helpers that train a handful of grid entries on them through the real
``train_and_score``.  Only the matrix loader is replaced (``train._load_matrix``), so these tests do not
depend on how matrices are built.
"""

from __future__ import annotations

import uuid
from datetime import date

import numpy as np
import pandas as pd

LEGACY_COLS = ["leg_uof_3_in_90d_flag", "leg_complaint_2_in_180d_flag"]
FEATURES = ["chr_age_years", "chr_tenure_days", "ia_days_since_adverse", "ia_cases_1y", "dsp_calls_3m",
            "noise_a", "noise_b"] + LEGACY_COLS


def make_matrix(matrix_id: str, as_of: date, n: int, seed: int, kind: str = "train", split_id: str = "s1",
                department_flags: bool = False):
    """A small synthetic matrix; ``department_flags`` adds ``flg_flags_1y`` (the department's own EIS flags
    of the year before the as-of date, independent of the legacy rule columns)."""
    rng = np.random.default_rng(seed)
    ia = rng.poisson(0.6, n).astype(float)
    X = pd.DataFrame({
        "chr_age_years": rng.integers(22, 60, n).astype(float),
        "chr_tenure_days": rng.integers(100, 9000, n).astype(float),
        "ia_days_since_adverse": rng.integers(10, 4000, n).astype(float),
        "ia_cases_1y": ia,
        "dsp_calls_3m": rng.poisson(40, n).astype(float),
        "noise_a": rng.normal(size=n),
        "noise_b": rng.random(n),
        "leg_uof_3_in_90d_flag": (rng.random(n) < 0.12).astype(float),
        "leg_complaint_2_in_180d_flag": (ia >= 2).astype(float),
    })
    logit = -2.6 + 0.9 * ia + 0.02 * (X["dsp_calls_3m"] - 40) + 0.8 * X["leg_uof_3_in_90d_flag"]
    y = pd.Series((rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int), name="label")
    index = pd.DataFrame({
        "officer_id": [f"O{i:05d}" for i in range(n)],
        "as_of_date": pd.Timestamp(as_of),
        "_protected_race": rng.choice(["WHITE", "BLACK", "HISPANIC", "ASIAN"], n),
        "_protected_sex": rng.choice(["M", "F"], n),
    })
    if department_flags:
        X["flg_flags_1y"] = np.random.default_rng(seed + 1000).poisson(0.25, n).astype(float)
    meta = {"matrix_id": matrix_id, "kind": kind, "split_id": split_id, "as_of_dates": [as_of.isoformat()],
            "label_name": "adverse_1y", "n_rows": n, "n_positive": int(y.sum()), "n_features": X.shape[1],
            "feature_names": list(X.columns), "path": None}
    return X, y, meta, index


class MatrixStore(dict):
    """matrix_id -> (X, y, meta, index); ``loader`` mimics train._load_matrix(matrix_id, project_path, role)."""

    def loader(self, matrix_id, project_path, role=None):
        X, y, meta, index = self[matrix_id]
        return X.copy(), y.copy(), dict(meta), index.copy()


SPLITS = [("2014-01-01", date(2013, 1, 1), date(2014, 1, 1)), ("2015-01-01", date(2014, 1, 1), date(2015, 1, 1))]

SMALL_GRID = [
    {"class_path": "sklearn.ensemble.RandomForestClassifier",
     "hyperparameters": {"n_estimators": 20, "min_samples_leaf": 5, "n_jobs": 1}, "is_baseline": False},
    {"class_path": "eis_core.modeling.estimators.ScaledLogisticRegression",
     "hyperparameters": {"penalty": "l2", "C": 1.0}, "is_baseline": False},
    {"class_path": "eis_core.modeling.baselines.LegacyEISBaseline", "hyperparameters": {}, "is_baseline": True},
    {"class_path": "eis_core.modeling.baselines.PriorBaseline", "hyperparameters": {}, "is_baseline": True},
    {"class_path": "eis_core.modeling.baselines.SimpleLogisticBaseline", "hyperparameters": {}, "is_baseline": True},
    {"class_path": "eis_core.modeling.baselines.RandomBaseline", "hyperparameters": {}, "is_baseline": True},
]


def build_store(tag: str, n_train: int = 600, n_test: int = 400) -> tuple[MatrixStore, list[dict]]:
    """Two splits of matrices (ids unique per *tag*) and their task skeletons (without model_config)."""
    from eis_core.modeling.results import record_matrix

    store, splits = MatrixStore(), []
    for k, (split_id, train_date, test_date) in enumerate(SPLITS):
        tr, te = f"{tag}_train_{k}", f"{tag}_test_{k}"
        store[tr] = make_matrix(tr, train_date, n_train, 100 + k, "train", split_id)
        store[te] = make_matrix(te, test_date, n_test, 200 + k, "test", split_id)
        for mid in (tr, te):
            record_matrix(store[mid][2])
        splits.append({"split_id": split_id, "train_matrix_id": tr, "test_matrix_id": te})
    return store, splits


def unique_config(tmp_path):
    """The real officer config with a private project path (so the experiment id is private too)."""
    from eis_core.config import load_officer_config, load_labels_config

    cfg = load_officer_config()
    cfg = cfg.model_copy(update={"project_path": str(tmp_path / f"project_{uuid.uuid4().hex[:8]}")})
    return cfg, load_labels_config()


def with_keys(grid: list[dict]) -> list[dict]:
    from eis_core.modeling.grid import model_group_key

    return [{**g, "model_group_key": model_group_key(g["class_path"], g["hyperparameters"])} for g in grid]
