"""Pooled model groups: one estimator trained on several departments' rows, for one target department.

For a target department T and each of T's temporal splits (T's config), a pooled model trains on the
union of the contributing departments' rows (T's own included) on T's training as-of dates, keeping only
rows whose label window ends on or before the split's ``train_label_end`` (so before T's first test
as-of date: the same point-in-time rule as a department's own split).  Every department's rows are read
through its own connection and matrices (``departments.use(D)``: its marts, its configs, its artifact
folder); what leaves a department is its feature values, labels and as-of dates, never an officer id.

Features are made comparable by a recipe (:class:`Recipe`):

* ``normalise``: ``raw`` (the counts as they are), ``rank`` (each feature's percentile rank within its
  department and as-of date: "busier than 80 % of this department's officers on this date") or
  ``raw+rank`` (both columns);
* ``department_feature``: one 0/1 column per pooled department (a department's own intercept / split).

Columns: the ones every pooled department's matrix has (same config family); a column one department
lacks is left out of the pooled model (and listed in :attr:`Pool.dropped`), never filled in.
Departments with ``contributes_to_pooled = false`` never contribute rows; the target always trains on
its own rows.  The department-only model of a recipe is the same estimator on T's rows only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from eis_core import departments

NORMALISATIONS = ("raw", "rank", "raw+rank")
FEATURE_SETS = ("counts", "all")
DEPT_PREFIX = "dept_"
RANK_PREFIX = "pct_"


@dataclass(frozen=True)
class Recipe:
    """How a pooled model is made: estimator, hyperparameters, normalisation, department as a feature."""

    class_path: str
    hyperparameters: dict = field(default_factory=dict, hash=False, compare=True)
    normalise: str = "rank"
    department_feature: bool = False
    #: "counts": each source's event count per window, age and tenure (the plain counts every department
    #: has; fast); "all": every shared matrix column
    features: str = "counts"

    def __post_init__(self):
        if self.normalise not in NORMALISATIONS:
            raise ValueError(f"normalise must be one of {NORMALISATIONS}, not {self.normalise!r}")
        if self.features not in FEATURE_SETS:
            raise ValueError(f"features must be one of {FEATURE_SETS}, not {self.features!r}")

    @property
    def name(self) -> str:
        short = self.class_path.rsplit(".", 1)[-1]
        hp = ",".join(f"{k}={v}" for k, v in sorted(self.hyperparameters.items()) if k != "n_jobs")
        dept = " +department" if self.department_feature else ""
        return f"{short}({hp}) {self.features} {self.normalise}{dept}"

    def to_dict(self) -> dict:
        return {
            "class_path": self.class_path,
            "hyperparameters": dict(self.hyperparameters),
            "normalise": self.normalise,
            "department_feature": self.department_feature,
            "features": self.features,
        }


_LR = "eis_core.modeling.estimators.ScaledLogisticRegression"
_LR_HP = {"penalty": "l2", "C": 0.05}
_RF = "sklearn.ensemble.RandomForestClassifier"
_RF_HP = {"n_estimators": 200, "min_samples_leaf": 5, "max_features": "sqrt", "n_jobs": 1}

#: The grid ``eis pool evaluate`` tries on the count features: every normalisation, with and without the
#: department feature, for a regularised logistic regression; two of them for a random forest (the
#: recipe search and its numbers are in docs/departments.md).
POOLED_GRID: list[Recipe] = [Recipe(_LR, _LR_HP, norm, dept) for norm in NORMALISATIONS for dept in (False, True)] + [
    Recipe(_RF, _RF_HP, norm, dept) for norm in ("raw+rank", "rank") for dept in (False, True)
]
#: The recipe the recommendation is made with: chosen on consortium seeds other than the reported ones.
DEFAULT_RECIPE = Recipe(_RF, _RF_HP, "raw+rank", False)


@dataclass
class Rows:
    """One department's matrix rows: features, labels, as-of dates (officer ids only for the target)."""

    department: str
    X: pd.DataFrame
    y: np.ndarray
    as_of: np.ndarray  # datetime.date per row
    officer_id: np.ndarray | None = None

    def subset(self, mask: np.ndarray) -> Rows:
        ids = None if self.officer_id is None else self.officer_id[mask]
        return Rows(self.department, self.X[mask].reset_index(drop=True), self.y[mask], self.as_of[mask], ids)


def department_configs(name: str):
    """Department *name*'s officer and labels configs (its own copies)."""
    from eis_core.config import load_labels_config, load_officer_config
    from eis_core.departments import registry

    dept = registry.get(name)
    return load_officer_config(dept.officer_config), load_labels_config(dept.labels_config)


def read_rows(name: str, dates, label_window, keep_ids: bool = False, progress=None) -> Rows:
    """Department *name*'s matrix on *dates* (label *label_window*), through its own connection: its
    marts are built for dates they lack, the matrix is built (or reused) in its own artifact folder.  The
    officer ids stay behind unless *keep_ids* (the target's own test rows)."""
    from eis_core.modeling.matrices import build_matrix, ensure_features, load_matrix, make_spec, project_dir

    dates = sorted(set(dates))
    with departments.use(name):
        officer_cfg, labels_cfg = department_configs(name)
        ensure_features(dates, officer_cfg, labels_cfg, progress)
        spec = make_spec(dates, officer_cfg, labels_cfg, label_window)
        project = project_dir(officer_cfg)
        meta = build_matrix(spec, project, progress)
        X, y, _, index = load_matrix(meta["matrix_id"], project)
    as_of = np.array([d if isinstance(d, date) else pd.Timestamp(d).date() for d in index["as_of_date"]], dtype=object)
    ids = index["officer_id"].astype(str).to_numpy() if keep_ids else None
    del index
    return Rows(name, X.astype(float).reset_index(drop=True), np.asarray(y, dtype=int), as_of, ids)


def has_data(name: str) -> bool:
    """Whether department *name* has loaded a drop (a department without one has no rows to give)."""
    from eis_core import db
    from eis_core.modeling.matrices import MatrixError, data_version

    with departments.use(name), db.connect() as conn:
        try:
            data_version(conn)
        except MatrixError:
            return False
    return True


def contributors(target: str) -> list[str]:
    """The departments whose rows may train *target*'s pooled models: the target itself (its own rows
    never leave it) and every other department that contributes (``contributes_to_pooled``) and has
    loaded data."""
    from eis_core.departments import registry

    out = [target]
    for d in registry.list_departments():
        if d.name != target and d.contributes_to_pooled and has_data(d.name):
            out.append(d.name)
    return out


def known_before(rows: Rows, train_dates, label_window, cutoff: date) -> Rows:
    """The rows on *train_dates* whose label window (as-of date + *label_window*) ends on or before
    *cutoff*: what was known before the target's test as-of date."""
    from eis_core.config import Duration

    span = Duration.parse(str(label_window)) if not hasattr(label_window, "delta") else label_window
    allowed = {d for d in set(train_dates) if d + span.delta() <= cutoff}
    mask = np.array([d in allowed for d in rows.as_of], dtype=bool)
    return rows.subset(mask)


def common_columns(pool: list[Rows]) -> tuple[list[str], list[str]]:
    """(columns every department has, in the first one's order; columns left out because some lack them)."""
    first = list(pool[0].X.columns)
    shared = set(first)
    for r in pool[1:]:
        shared &= set(r.X.columns)
    everything = dict.fromkeys(c for r in pool for c in r.X.columns)
    return [c for c in first if c in shared], sorted(c for c in everything if c not in shared)


def recipe_columns(columns: list[str], recipe: Recipe) -> list[str]:
    """The shared *columns* the recipe's feature set uses."""
    if recipe.features == "all":
        return list(columns)
    from eis_core.modeling.baselines import count_reference_columns

    return count_reference_columns(columns)


def design(rows: Rows, columns: list[str], recipe: Recipe, pooled: list[str]) -> pd.DataFrame:
    """The model's input for *rows*: raw columns and/or percentile ranks within (department, as-of date),
    and one 0/1 column per pooled department when the recipe asks (*pooled*: their names, in order)."""
    X = rows.X[recipe_columns(columns, recipe)]
    parts = []
    if recipe.normalise in ("raw", "raw+rank"):
        parts.append(X)
    if recipe.normalise in ("rank", "raw+rank"):
        ranks = X.groupby(rows.as_of, sort=False).rank(pct=True, method="average")
        parts.append(ranks.fillna(0.5).add_prefix(RANK_PREFIX))
    out = pd.concat(parts, axis=1)
    if recipe.department_feature and len(pooled) > 1:
        for name in pooled:
            out[DEPT_PREFIX + name] = float(rows.department == name)
    return out.fillna(0.0)


@dataclass
class Pool:
    """The pooled training rows of one split: by department, already known before the test date."""

    target: str
    split_id: str
    cutoff: date
    rows: list[Rows]
    columns: list[str]
    dropped: list[str]

    @property
    def departments(self) -> list[str]:
        return [r.department for r in self.rows if len(r.y)]

    def train_rows(self) -> dict[str, int]:
        return {r.department: int(len(r.y)) for r in self.rows}

    def matrix(self, recipe: Recipe, only: str | None = None) -> tuple[pd.DataFrame, np.ndarray]:
        use = [r for r in self.rows if (only is None or r.department == only) and len(r.y)]
        names = [only] if only else self.departments
        X = pd.concat([design(r, self.columns, recipe, names) for r in use], ignore_index=True)
        return X, np.concatenate([r.y for r in use])


def fit(recipe: Recipe, X: pd.DataFrame, y: np.ndarray, seed: int | None):
    """A fitted estimator of *recipe* (threads capped: ``EIS_FIT_THREADS``, default 1)."""
    from eis_core.modeling.estimators import fit_model
    from eis_core.modeling.grid import make_estimator

    est = make_estimator({"class_path": recipe.class_path, "hyperparameters": dict(recipe.hyperparameters)}, seed)
    return fit_model(est, X, y)
