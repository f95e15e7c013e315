"""Moved: model-level explanations are :mod:`eis_core.modeling.insights` (they read and write
``results.*``), the bias audit is :mod:`eis_core.modeling.bias`.  This module keeps the old imports working."""

from eis_core.modeling.bias import audit_groups, audit_model_group, flag_sets  # noqa: F401
from eis_core.modeling.bias import audit_groups as group_metrics  # noqa: F401 (the old name)
from eis_core.modeling.insights import (  # noqa: F401
    ensure_insight_tables,
    explain_model,
    monte_carlo_curves,
    newest_model_of_group,
    partial_dependence_curves,
    permutation_top,
)
