"""Schema ``production``: what a department reads every morning.

* ``scoring_runs``   one row per scored as-of date: which model (and model group) scored it, whether the
                     group was retrained on the latest window or the newest stored model was used, timings.
* ``predictions``    one row per active officer and as-of date: score, rank_abs (1 = highest risk), rank_pct
                     (0..1, 0 = highest risk), the officer's division and unit on that date.
* ``risk_factors``   each scored officer's top factors (position 1..5): feature, its block, the officer's value,
                     the contribution to the score, its direction and a plain-language label.
* ``rank_changes``   rank now against 1, 7, 30, 90 and 365 *calendar* days earlier (NULL when that day was not
                     scored, never the previous row).
* ``unit_risk``      division/unit aggregates: officers, mean score, officers in the top 5 %.
* the day's bias audit (flag rates per race and sex group, no outcomes yet) is in ``results.bias_audit``
  with scope ``scored_day``: one table for both audits (eis_core.modeling.bias); it is replaced with the day.
* ``reviews``        a supervisor's review of a flagged officer (constraints make an incomplete one impossible).
* ``intervention_catalogue`` the interventions a review or alert may choose (the department edits it).
* ``alerts``, ``alert_events``, ``alert_notifications`` the intervention workflow (eis_core.production.alerts).

A date's rows are replaced atomically (one transaction deletes and rewrites every table for that date),
so re-running or backfilling a date never duplicates anything.  ``reviews`` are never deleted by a re-run.
"""

from __future__ import annotations

INTERVENTIONS = ("training", "counselling", "reassignment", "none")
RANK_CHANGE_DAYS = (1, 7, 30, 90, 365)


def ensure_production_schema() -> None:
    """The warehouse schema at the migrations' head (schema ``production`` is revision 0003, the alert outbox 0006)."""
    from eis_core.migrations import ensure_schema

    ensure_schema()
