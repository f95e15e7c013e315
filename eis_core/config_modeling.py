"""The modeling and production sections of ``officer_config.yaml``: ``temporal_config`` (temporal
cross-validation), ``evaluation``, ``selection``, ``production`` and the shape of ``model_grid`` /
``baselines``.

Part of :mod:`eis_core.config`, which re-exports every name here; the file-level models and loading
live there.
"""

from __future__ import annotations

import re
import warnings
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from eis_core.config_duration import Duration

#: temporal_config keys renamed for one vocabulary: old name -> name (the old one is still read, with a warning)
RENAMED_TEMPORAL_KEYS = {"label_timespan": "label_window"}


class TemporalConfig(BaseModel):
    """Temporal cross-validation in the triage/timechop vocabulary (see docs/modeling.md)."""

    model_config = ConfigDict(extra="forbid")
    feature_start_time: date
    label_start_time: date
    label_end_time: date
    model_update_frequency: Duration
    max_training_history: Duration
    training_as_of_frequency: Duration
    test_duration: Duration
    test_as_of_frequency: Duration
    label_window: Duration
    #: earliest split date (optional): training may reach further back than the dates to test on
    test_start_time: date | None = None

    @model_validator(mode="before")
    @classmethod
    def _renamed_keys(cls, data: Any) -> Any:
        """Configs written before the rename still load: ``label_timespan`` is read as ``label_window``."""
        if isinstance(data, dict):
            for old, new in RENAMED_TEMPORAL_KEYS.items():
                if old in data:
                    if new in data:
                        raise ValueError(f"temporal_config: give {new} only ({old} is its old name)")
                    warnings.warn(
                        f"temporal_config.{old} is deprecated: call it {new} (read as {new} for now)",
                        FutureWarning,
                        stacklevel=2,
                    )
                    data = {**{k: v for k, v in data.items() if k != old}, new: data[old]}
        return data

    @field_validator(
        "model_update_frequency",
        "max_training_history",
        "training_as_of_frequency",
        "test_duration",
        "test_as_of_frequency",
        "label_window",
        mode="before",
    )
    @classmethod
    def _dur(cls, v: Any) -> Duration:
        s = str(v).strip()
        if s.startswith("0 "):  # a zero-length test duration: a single test as-of date
            return Duration(text="0 days", n=0, unit="day")
        return Duration.parse(v)

    @model_validator(mode="after")
    def _order(self) -> TemporalConfig:
        if not (self.feature_start_time <= self.label_start_time <= self.label_end_time):
            raise ValueError("need feature_start_time <= label_start_time <= label_end_time")
        for name in (
            "model_update_frequency",
            "training_as_of_frequency",
            "test_as_of_frequency",
            "label_window",
            "max_training_history",
        ):
            if getattr(self, name).is_all:
                raise ValueError(f"{name} cannot be 'all'")
        return self


class EvaluationConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    top_k_absolute: list[int] = [25, 50, 100, 200]
    top_k_percent: list[float] = [1, 5, 10, 20]
    tie_orderings: int = Field(default=30, ge=1)


class SelectionConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    metric: str = "precision@10%"
    rules: list[str] = ["best_average", "best_recent", "lowest_variance", "min_regret", "recency_weighted"]
    chosen_rule: str = "best_average"

    @model_validator(mode="after")
    def _rules(self) -> SelectionConfig:
        known = {"best_average", "best_recent", "lowest_variance", "min_regret", "recency_weighted"}
        bad = [r for r in self.rules + [self.chosen_rule] if r not in known]
        if bad:
            raise ValueError(f"unknown selection rule(s) {bad}; known: {sorted(known)}")
        if self.chosen_rule not in self.rules:
            raise ValueError("chosen_rule must be one of rules")
        return self


class ProductionConfig(BaseModel):
    """Daily production scoring (``eis score``, the ``eis_production`` DAG)."""

    model_config = ConfigDict(extra="forbid")
    #: 'stored': score with the newest stored model of the group whose label windows ended by the date;
    #: 'retrain': retrain the group on the latest training window ending at the date (the original EIS)
    mode: Literal["stored", "retrain"] = "stored"
    #: risk factors kept per officer (the largest absolute contributions)
    top_factors: int = Field(default=5, ge=1, le=5)
    #: flag sets of the bias audit besides the legacy EIS's flag count: top x % of the ranked list
    audit_top_percent: list[float] = [5, 10]
    #: a group is flagged when a ratio to the reference group leaves [low, high]
    audit_ratio_range: tuple[float, float] = (0.8, 1.25)
    #: groups smaller than this are reported but never flagged (one officer more or less swings the ratio)
    audit_min_group_size: int = Field(default=10, ge=1)


def parse_grid(v: Any) -> dict[str, dict[str, list]]:
    if not isinstance(v, dict):
        raise ValueError("must map estimator class paths to hyperparameter lists")
    out = {}
    for cls_path, params in v.items():
        if not re.match(r"^[A-Za-z_][\w.]*\.[A-Za-z_]\w*$", str(cls_path)):
            raise ValueError(f"{cls_path!r} is not a dotted class path")
        params = params or {}
        if not isinstance(params, dict):
            raise ValueError(f"{cls_path}: hyperparameters must be a mapping of name -> list")
        out[str(cls_path)] = {k: (vals if isinstance(vals, list) else [vals]) for k, vals in params.items()}
    return out
