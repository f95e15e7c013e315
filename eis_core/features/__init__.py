"""Officer features and labels: built by dbt from the configs (see docs/features.md)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

from eis_core.config import (
    DEFAULT_LABELS_CONFIG,
    DEFAULT_OFFICER_CONFIG,
    dbt_vars,
    load_labels_config,
    load_officer_config,
)
from eis_core.features.marts import MARTS_SELECTOR, ensure_marts


def build_features(
    config: Path | str = DEFAULT_OFFICER_CONFIG,
    labels: Path | str = DEFAULT_LABELS_CONFIG,
    as_of_dates: list[date] | None = None,
    full_refresh: bool = False,
    progress: Callable[[str], object] | None = print,
) -> dict:
    """Build cohort, features, labels and the feature dictionary for the configured as-of dates.

    With *as_of_dates* only those dates are computed and replaced (the incremental, daily case).
    """
    officer_cfg = load_officer_config(config)
    labels_cfg = load_labels_config(labels)
    from eis_core.transform import dbt_build

    dates = as_of_dates if as_of_dates is not None else officer_cfg.as_of_dates.dates()
    if progress:
        progress(
            f"building features and labels for {len(dates)} as-of date(s) "
            f"{dates[0].isoformat()} … {dates[-1].isoformat()}"
            if dates
            else "no as-of dates"
        )
    t0 = time.perf_counter()
    summary = dbt_build(
        select=MARTS_SELECTOR,
        full_refresh=full_refresh,
        progress=progress,
        dbt_vars=dbt_vars(officer_cfg, labels_cfg, dates),
    )
    summary["as_of_dates"] = [d.isoformat() for d in dates]
    summary["wall_seconds"] = round(time.perf_counter() - t0, 2)
    return summary


__all__ = ["MARTS_SELECTOR", "build_features", "ensure_marts"]
