"""The dispatch-level feature set: which dataset columns feed which model, and the numeric matrix.

Columns of ``dispatch.dispatch_dataset`` by block (docs/dispatch.md):

* ``dispatch``     - the call as known when the officer is dispatched (``call_*``) and one-hot call type
                     and division;
* ``arrival``      - known only once the officer arrives (``arr_*``): travel time.  Used by the
                     *exploratory* model (the paper's set-up) and never by the *suggestion* model;
* ``stress``       - the officer's short-term stress at the dispatch (``st_*``);
* ``officer``      - the officer's history before the dispatch day (``hist_*``);
* ``neighborhood`` - the call beat's neighbourhood figures (``nbh_*``).

A :class:`Spec` is fitted on the training sample (call-type levels, medians for imputation) and stored
with the model, so scoring any later row (or a hypothetical dispatch in ``suggest``) encodes it the
same way.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

NUMERIC_BLOCKS: dict[str, list[str]] = {
    "dispatch": [
        "call_priority",
        "call_officer_initiated",
        "call_source_911",
        "call_source_alarm",
        "call_hour",
        "call_weekday",
        "call_night",
        "call_queue_min",
        "call_backup",
        "call_stress_type",
    ],
    "arrival": ["arr_travel_min", "arr_arrived"],
    "stress": [
        "st_hours_on_duty",
        "st_calls_in_shift",
        "st_stress_calls_shift",
        "st_stress_calls_7d",
        "st_consecutive_days",
    ],
    "officer": [
        "hist_tenure_years",
        "hist_dispatches_all",
        "hist_dispatches_1y",
        "hist_arrests_all",
        "hist_arrests_1y",
        "hist_disc_arrests_all",
        "hist_disc_arrests_1y",
        "hist_arrest_rate_all",
        "hist_disc_arrest_rate_all",
        "hist_arrest_rate_1y",
        "hist_disc_arrest_rate_1y",
        "hist_disc_share_all",
        "hist_days_since_disc_arrest",
        "hist_ia_cases_all",
        "hist_ia_cases_1y",
        "hist_ia_complaints_1y",
        "hist_ia_adverse_all",
        "hist_days_since_adverse",
    ],
    "neighborhood": [
        "nbh_population",
        "nbh_calls_311_per_1k",
        "nbh_vacant_land_pct",
        "nbh_median_income",
        "nbh_violent_crime_per_1k",
        "nbh_nuisance_violations_per_1k",
    ],
}
#: categorical columns (one-hot, levels from the training sample) and their block
CATEGORICAL: dict[str, str] = {"call_type": "dispatch", "division": "dispatch"}
#: columns that may be NULL: imputed with the training median, plus a ``<col>_missing`` indicator
NULLABLE = (
    "call_priority",
    "arr_travel_min",
    "hist_tenure_years",
    "hist_days_since_disc_arrest",
    "hist_days_since_adverse",
    *NUMERIC_BLOCKS["neighborhood"],
)
#: columns the dataset holds besides the features
KEY_COLUMNS = ("call_id", "officer_id", "dispatched_at", "dispatch_date", "beat", "label")
#: the two models: the exploratory one may use what is known on arrival, the suggestion one may not
KIND_BLOCKS = {
    "exploratory": ("dispatch", "arrival", "stress", "officer", "neighborhood"),
    "suggestion": ("dispatch", "stress", "officer", "neighborhood"),
}
#: feature subsets compared (paper figure 6): name -> blocks ('dispatch' brings 'arrival' along when allowed)
SUBSETS: dict[str, tuple[str, ...]] = {
    "dispatch": ("dispatch", "arrival"),
    "stress": ("stress",),
    "officer": ("officer",),
    "neighborhood": ("neighborhood",),
    "all_but_dispatch": ("stress", "officer", "neighborhood"),
    "all": ("dispatch", "arrival", "stress", "officer", "neighborhood"),
}
MAX_CALL_TYPES = 30


def dataset_columns() -> list[str]:
    """Every dataset column the models read (keys, categoricals, numeric features)."""
    cols = list(KEY_COLUMNS) + list(CATEGORICAL)
    for block in NUMERIC_BLOCKS.values():
        cols += block
    return cols


def _slug(code: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", str(code).lower()).strip("_") or "blank"


@dataclass
class Spec:
    """How raw dataset columns become the numeric matrix (fitted on the training sample)."""

    levels: dict[str, list[str]] = field(default_factory=dict)
    medians: dict[str, float] = field(default_factory=dict)  # training medians of every numeric column
    columns: list[str] = field(default_factory=list)  # every matrix column, in order
    block_of: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def fit(cls, df: pd.DataFrame) -> Spec:
        spec = cls()
        for col in CATEGORICAL:
            counts = df[col].fillna("").astype(str).value_counts()
            levels = sorted(counts.index[: MAX_CALL_TYPES if col == "call_type" else 50])
            spec.levels[col] = [lv for lv in levels if lv]
        for block, cols in NUMERIC_BLOCKS.items():
            for c in cols:
                spec.columns.append(c)
                spec.block_of[c] = block
                med = pd.to_numeric(df[c], errors="coerce").median() if c in df else None
                spec.medians[c] = 0.0 if med is None or pd.isna(med) else float(med)
                if c in NULLABLE:
                    spec.columns.append(f"{c}_missing")
                    spec.block_of[f"{c}_missing"] = block
        for col, block in CATEGORICAL.items():
            for lv in spec.levels[col] + ["__other"]:
                name = f"{col}_{_slug(lv)}" if lv != "__other" else f"{col}__other"
                spec.columns.append(name)
                spec.block_of[name] = block
        return spec

    def features(self, blocks) -> list[str]:
        allowed = set(blocks)
        return [c for c in self.columns if self.block_of[c] in allowed]

    def matrix(self, df: pd.DataFrame) -> pd.DataFrame:
        """The numeric matrix (float32, every column of the spec) of dataset rows *df*."""
        out: dict[str, np.ndarray] = {}
        n = len(df)
        for _block, cols in NUMERIC_BLOCKS.items():
            for c in cols:
                v = (
                    pd.to_numeric(df[c], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
                    if c in df
                    else np.full(n, np.nan)
                )
                if c in NULLABLE:
                    miss = np.isnan(v)
                    out[c] = np.where(miss, self.medians.get(c, 0.0), v)
                    out[f"{c}_missing"] = miss.astype("float64")
                else:
                    out[c] = np.nan_to_num(v, nan=0.0)
        for col in CATEGORICAL:
            vals = df[col].fillna("").astype(str).to_numpy() if col in df else np.full(n, "")
            known = np.zeros(n, bool)
            for lv in self.levels[col]:
                hit = vals == lv
                known |= hit
                out[f"{col}_{_slug(lv)}"] = hit.astype("float64")
            out[f"{col}__other"] = (~known).astype("float64")
        return pd.DataFrame({c: out[c] for c in self.columns}, index=df.index).astype("float32")


def subset_blocks(kind: str, subset: str) -> tuple[str, ...]:
    if kind not in KIND_BLOCKS:
        raise ValueError(f"model kind must be one of {sorted(KIND_BLOCKS)}, got {kind!r}")
    if subset not in SUBSETS:
        raise ValueError(f"feature subset must be one of {sorted(SUBSETS)}, got {subset!r}")
    return tuple(b for b in SUBSETS[subset] if b in KIND_BLOCKS[kind])
