"""The officer and labels configuration files, validated on load.

``configs/officer_config.yaml`` (as-of grid, feature windows and blocks, cohort, legacy rules, and in
later issues the temporal splits and model grid) and ``configs/labels_config.yaml`` (adverse-event
definition, label windows).  Unknown keys, bad durations and unknown codes fail with a message that
names the file and the key.  Durations are in :mod:`eis_core.config_duration`, the modeling and
production sections in :mod:`eis_core.config_modeling`; both re-exported here.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from eis_core.config_duration import Duration, durations, times
from eis_core.config_modeling import (
    RENAMED_TEMPORAL_KEYS,
    EvaluationConfig,
    ProductionConfig,
    SelectionConfig,
    TemporalConfig,
    parse_grid,
)
from eis_core.contract import load_contract
from eis_core.paths import REPO_ROOT, department_config

#: names kept importable from here (the modules split out of this one: config_duration, config_modeling)
__all__ = [
    "BLOCKS",
    "DEFAULT_LABELS_CONFIG",
    "DEFAULT_OFFICER_CONFIG",
    "RENAMED_TEMPORAL_KEYS",
    "AsOfGrid",
    "Cohort",
    "ConfigError",
    "Duration",
    "EvaluationConfig",
    "LabelsConfig",
    "LegacyRule",
    "OfficerConfig",
    "ProductionConfig",
    "SelectionConfig",
    "TemporalConfig",
    "dbt_vars",
    "load_labels_config",
    "load_officer_config",
    "times",
]

DEFAULT_OFFICER_CONFIG = REPO_ROOT / "configs" / "officer_config.yaml"
DEFAULT_LABELS_CONFIG = REPO_ROOT / "configs" / "labels_config.yaml"


class ConfigError(ValueError):
    """A configuration file is invalid; the message names the file and the offending key."""


class AsOfGrid(BaseModel):
    model_config = ConfigDict(extra="forbid")
    start: date
    end: date
    frequency: Duration

    _parse = field_validator("frequency", mode="before")(lambda cls, v: Duration.parse(v))

    @model_validator(mode="after")
    def _check(self) -> AsOfGrid:
        if self.end < self.start:
            raise ValueError(f"as_of_dates.end {self.end} is before start {self.start}")
        if self.frequency.is_all:
            raise ValueError("as_of_dates.frequency cannot be 'all'")
        return self

    def dates(self) -> list[date]:
        """start, start + f, start + 2f, … ≤ end; each step counted from start (Jan 31 + 1 month = Feb 28)."""
        out: list[date] = []
        k = 0
        while True:
            d = self.start + times(self.frequency, k)
            if d > self.end:
                return out
            out.append(d)
            k += 1


class Cohort(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sworn_only: bool = True
    require_active_assignment: bool = True


class LegacyRule(BaseModel):
    """A threshold rule of the department's legacy EIS: ``count`` records within ``window``.

    ``source: ia_cases`` (default) counts IA cases of ``event_types`` by reported_date;
    ``source: use_of_force`` counts use-of-force reports (``event_types`` = force types; empty = all).
    """

    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,30}$")
    source: Literal["ia_cases", "use_of_force"] = "ia_cases"
    event_types: list[str] = []
    count: int = Field(gt=0)
    window: Duration

    _parse = field_validator("window", mode="before")(lambda cls, v: Duration.parse(v))

    @field_validator("event_types")
    @classmethod
    def _codes(cls, v: list[str], info: ValidationInfo) -> list[str]:
        uof = info.data.get("source") == "use_of_force"
        known = load_contract().codes["force_type" if uof else "event_type"]
        bad = [e for e in v if e not in known]
        if bad:
            raise ValueError(f"unknown {'force' if uof else 'event'} type(s) {bad}; known: {known}")
        return v

    @model_validator(mode="after")
    def _needs_types(self) -> LegacyRule:
        if self.source == "ia_cases" and not self.event_types:
            raise ValueError("a rule over ia_cases needs event_types")
        return self


BLOCKS = (
    "ia_history",
    "use_of_force",
    "dispatches",
    "arrests",
    "traffic_stops",
    "field_interviews",
    "citations",
    "secondary_employment",
    "training",
    "eis_flags",
    "characteristics",
    "neighborhood",
    "outliers",
    "change",
    "legacy_rules",
)


class OfficerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    project_path: str = "project"
    as_of_dates: AsOfGrid
    feature_windows: list[Duration]
    feature_blocks: dict[str, bool]
    protected_attributes_as_features: bool = False
    cohort: Cohort = Cohort()
    legacy_rules: list[LegacyRule] = []
    #: ia_cases.allegation groups (contract v2): group name -> allegation prefixes (case-insensitive);
    #: each group, and "other", gets windowed counts in the IA history block
    allegation_groups: dict[str, list[str]] = {}
    temporal_config: TemporalConfig | None = None
    random_seed: int = 42
    model_grid: dict[str, dict[str, list]] = {}
    baselines: dict[str, dict[str, list]] = {}
    evaluation: EvaluationConfig = EvaluationConfig()
    selection: SelectionConfig = SelectionConfig()
    production: ProductionConfig = ProductionConfig()

    _grids = field_validator("model_grid", "baselines", mode="before")(lambda cls, v: parse_grid(v))
    _parse = field_validator("feature_windows", mode="before")(lambda cls, v: durations(v))

    @field_validator("feature_blocks")
    @classmethod
    def _blocks(cls, v: dict[str, bool]) -> dict[str, bool]:
        bad = sorted(set(v) - set(BLOCKS))
        if bad:
            raise ValueError(f"unknown feature block(s) {bad}; known: {list(BLOCKS)}")
        return {b: bool(v.get(b, True)) for b in BLOCKS}

    @field_validator("allegation_groups")
    @classmethod
    def _allegations(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        for name, prefixes in v.items():
            if not re.match(r"^[a-z][a-z0-9_]{0,20}$", name) or name == "other":
                raise ValueError(f"allegation group {name!r}: use a short lower-case name (a-z, 0-9, _), not 'other'")
            if not prefixes or not all(isinstance(p, str) and p.strip() for p in prefixes):
                raise ValueError(f"allegation group {name!r}: list at least one allegation prefix")
        return v

    @field_validator("feature_windows")
    @classmethod
    def _windows(cls, v: list[Duration]) -> list[Duration]:
        names = [d.name for d in v]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate feature windows {names}")
        if not v:
            raise ValueError("at least one feature window is needed")
        return v


class LabelsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    officer_labels_table: str = "labels.officer_labels"
    label_windows: list[Duration]
    adverse_events: dict[str, list[str]]
    excluded_events: list[str] = []
    _parse = field_validator("label_windows", mode="before")(lambda cls, v: durations(v))

    @model_validator(mode="after")
    def _codes(self) -> LabelsConfig:
        c = load_contract()
        ev, disp = c.codes["event_type"], c.codes["disposition"]
        for e, ds in self.adverse_events.items():
            if e not in ev:
                raise ValueError(f"adverse_events: unknown event type {e!r}; known: {ev}")
            bad = [d for d in ds if d not in disp or d == "PENDING"]
            if bad:
                raise ValueError(f"adverse_events[{e}]: unknown or non-final disposition(s) {bad}")
        bad = [e for e in self.excluded_events if e not in ev]
        if bad:
            raise ValueError(f"excluded_events: unknown event type(s) {bad}")
        both = set(self.excluded_events) & set(self.adverse_events)
        if both:
            raise ValueError(f"event type(s) {sorted(both)} are both adverse and excluded")
        if any(w.is_all for w in self.label_windows):
            raise ValueError("a label window must have a length ('all' is not allowed)")
        return self


def _load(path: Path, model: type[BaseModel]) -> Any:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    try:
        return model.model_validate(data or {})
    except ValidationError as exc:
        msgs = []
        for e in exc.errors():
            loc = ".".join(str(x) for x in e["loc"]) or "(top level)"
            msg = e["msg"].removeprefix("Value error, ")
            if e["type"] == "extra_forbidden":
                msg = "unknown key"
            msgs.append(f"  {loc}: {msg}")
        raise ConfigError(f"{path} is invalid:\n" + "\n".join(msgs)) from None


def load_officer_config(path: Path | str = DEFAULT_OFFICER_CONFIG) -> OfficerConfig:
    """The officer config at *path*; the shipped default means the current department's own copy."""
    return _load(department_config(path, DEFAULT_OFFICER_CONFIG), OfficerConfig)


def load_labels_config(path: Path | str = DEFAULT_LABELS_CONFIG) -> LabelsConfig:
    """The labels config at *path*; the shipped default means the current department's own copy."""
    return _load(department_config(path, DEFAULT_LABELS_CONFIG), LabelsConfig)


def dbt_vars(officer: OfficerConfig, labels: LabelsConfig, as_of_dates: list[date] | None = None) -> dict:
    """What the feature and label models read through ``var('eis')``."""
    dates = as_of_dates if as_of_dates is not None else officer.as_of_dates.dates()
    return {
        "eis": {
            "as_of_dates": [d.isoformat() for d in dates],
            "windows": [{"name": w.name, "interval": w.pg_interval} for w in officer.feature_windows],
            "blocks": officer.feature_blocks,
            "protected_as_features": officer.protected_attributes_as_features,
            "sworn_only": officer.cohort.sworn_only,
            "require_active_assignment": officer.cohort.require_active_assignment,
            "legacy_rules": [
                {
                    "name": r.name,
                    "source": r.source,
                    "event_types": r.event_types,
                    "count": r.count,
                    "interval": r.window.pg_interval,
                }
                for r in officer.legacy_rules
            ],
            "allegation_groups": officer.allegation_groups,
            "adverse_events": labels.adverse_events,
            "label_windows": [{"name": w.name, "interval": w.pg_interval} for w in labels.label_windows],
        }
    }
