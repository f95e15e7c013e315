"""Dispatch-level risk (issue 9): which dispatches end in an adverse event, and risk-aware dispatch
suggestions.  See docs/dispatch.md.

* :func:`build_dataset` - dbt builds ``dispatch.dispatch_officer_days`` and ``dispatch.dispatch_dataset``
  (one row per call x officer dispatch) from the staging views;
* :func:`train` - samples like the CMPD paper (all positives, negatives to 10/90), splits in time, compares
  feature subsets (random forests, F1 on the positive class against random), evaluates on the *unsampled*
  later period (precision at top-k) and records everything in schema ``results`` (own experiment) and
  ``dispatch.subset_comparison``;
* :func:`write_report` - plots (paper figures 6-8) and a Markdown report under ``$EIS_HOME/reports/dispatch``;
* :func:`suggest` - for a call, the on-duty available officers of its division ranked by predicted risk.

Heavy imports (pandas, scikit-learn) happen inside the functions.
"""

from __future__ import annotations


def build_dataset(*args, **kwargs):
    from eis_core.dispatch.dataset import build_dataset as f

    return f(*args, **kwargs)


def train(*args, **kwargs):
    from eis_core.dispatch.model import train as f

    return f(*args, **kwargs)


def write_report(*args, **kwargs):
    from eis_core.dispatch.report import write_report as f

    return f(*args, **kwargs)


def suggest(call_id: str, **kwargs) -> list[dict]:
    """For call *call_id*: [{officer_id, score, rank, reasons}] of the on-duty available officers of the
    call's division, rank 1 = lowest predicted risk (the suggested officer).  See suggest.suggest."""
    from eis_core.dispatch.advisor import suggest as f

    return f(call_id, **kwargs)


__all__ = ["build_dataset", "suggest", "train", "write_report"]
