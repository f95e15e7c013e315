"""The model grid: ``model_grid`` and ``baselines`` of the officer config, expanded into one model
config per hyperparameter combination, and the estimator factory.

A model config is a JSON-serialisable dict::

    {"class_path": "sklearn.ensemble.RandomForestClassifier",
     "hyperparameters": {"n_estimators": 50, "max_depth": None, ...},
     "is_baseline": False,
     "model_group_key": "RandomForestClassifier-3f2a9c1b0e"}

``model_group_key`` identifies class + hyperparameters; the model group id stored in
``results.model_groups`` adds the feature list and the label (see :mod:`eis_core.modeling.train`).
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from sklearn.model_selection import ParameterGrid

from eis_core.modeling.results import stable_hash


def import_class(class_path: str) -> type:
    module, _, name = class_path.rpartition(".")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"cannot import estimator class {class_path!r}: {exc}") from None


def _accepted_params(cls: type) -> set[str] | None:
    """Constructor parameter names (None when the constructor takes **kwargs)."""
    sig = inspect.signature(cls.__init__)
    if any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values()):
        return None
    return {n for n in sig.parameters if n != "self"}


def model_group_key(class_path: str, hyperparameters: dict) -> str:
    return f"{class_path.rpartition('.')[2]}-{stable_hash(class_path, hyperparameters, length=10)}"


def _section(grid: dict, is_baseline: bool) -> list[dict]:
    out = []
    for class_path, params in grid.items():
        cls = import_class(class_path)
        accepted = _accepted_params(cls)
        names = sorted(params)
        if not all(len(params[n]) for n in names):
            raise ValueError(f"{class_path}: every hyperparameter needs at least one value ({params})")
        if accepted is not None:
            bad = [n for n in names if n not in accepted]
            if bad:
                raise ValueError(f"{class_path}: unknown hyperparameter(s) {bad}; it takes {sorted(accepted)}")
        for hp in ParameterGrid({n: list(params[n]) for n in names}):  # sorted names, last varies fastest
            out.append(
                {
                    "class_path": class_path,
                    "hyperparameters": hp,
                    "is_baseline": is_baseline,
                    "model_group_key": model_group_key(class_path, hp),
                }
            )
    return out


def expand_grid(officer_cfg: Any) -> list[dict]:
    """Every combination of ``model_grid`` then ``baselines`` hyperparameters (config order kept)."""
    grid = getattr(officer_cfg, "model_grid", None)
    base = getattr(officer_cfg, "baselines", None)
    if grid is None and isinstance(officer_cfg, dict):
        grid, base = officer_cfg.get("model_grid", {}), officer_cfg.get("baselines", {})
    configs = _section(grid or {}, False) + _section(base or {}, True)
    keys = [c["model_group_key"] for c in configs]
    dup = sorted({k for k in keys if keys.count(k) > 1})
    if dup:
        raise ValueError(f"the model grid lists the same model group twice: {dup}")
    return configs


def make_estimator(model_config: dict, random_seed: int | None):
    """An unfitted estimator; ``random_state=random_seed`` when the class accepts one."""
    cls = import_class(model_config["class_path"])
    params = dict(model_config.get("hyperparameters") or {})
    accepted = _accepted_params(cls)
    if (accepted is None or "random_state" in accepted) and (
        accepted is not None or "random_state" in cls().get_params()
    ):
        params["random_state"] = random_seed
    return cls(**params)
