"""eis_production: score the active officers every morning, and as soon as a new drop is transformed.

Scheduled on ``@daily`` OR the Asset ``eis://warehouse/staging`` (``AssetOrTimeSchedule``): when
``eis_transform`` has built a new drop, the scheduler starts this DAG at once and it scores the newest
date of the data (its extraction date), so a drop's risk list appears without anyone triggering it.

For date D (the ``as_of`` param; else the logical date of a daily, backfill or dated manual run; else
the data's newest date):

* ``missed_days``: the dates after the newest scored date before D that have no risk list (the days the
  scheduler was down): an alert (e-mail/webhook) listing them, or - param ``missed_days`` =
  ``catch_up`` - they are scored first;
* ``score``: bring the feature marts up to D (incremental: only D is built), score the cohort of D with
  the selected model group (``results.selections``, or the ``model_group`` param), explain every score,
  and write schema ``production`` (risk list, risk factors, calendar-day rank changes, unit risk,
  flag-rate bias audit) in one transaction per date.  A date more than ``max_stale_days`` (default
  ``$EIS_STALE_AFTER_DAYS`` or 30) after the data's extraction date is refused as stale.

Re-running a date or backfilling a range
(``airflow backfill create --dag-id eis_production --from-date START --to-date END``) replaces each
date's rows, never duplicates them.  On success it updates the Asset ``eis://warehouse/production``.
A run started by the Asset before any model group has been selected is skipped (nothing to score with).

Wiring only: the work is ``eis_core.production.scoring.score_day`` and ``eis_core.orchestration.production``.
"""

from __future__ import annotations

import os

import pendulum
from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable, Param, dag, task

from eis_core.orchestration.assets import PRODUCTION, STAGING
from eis_core.orchestration.dag_defaults import default_args
from eis_core.paths import REPO_ROOT

_DEFAULT_CONFIG = os.environ.get("EIS_MODELING_CONFIG", str(REPO_ROOT / "configs" / "officer_config.yaml"))
_DEFAULT_LABELS = os.environ.get("EIS_MODELING_LABELS", str(REPO_ROOT / "configs" / "labels_config.yaml"))


@dag(
    dag_id="eis_production",
    schedule=AssetOrTimeSchedule(timetable=CronTriggerTimetable("@daily", timezone="UTC"), assets=[STAGING]),
    # early, so that backfills and `airflow dags test eis_production DATE` can score historical dates
    start_date=pendulum.datetime(2000, 1, 1, tz="UTC"),
    # no catchup from 2000: the missed_days task alerts with (or scores) the days the scheduler missed
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    tags=["eis", "production"],
    params={
        "config": Param(_DEFAULT_CONFIG, type="string", minLength=1, title="Officer config"),
        "labels": Param(_DEFAULT_LABELS, type="string", minLength=1, title="Labels config"),
        "model_group": Param(
            None,
            type=["null", "string"],
            title="Model group",
            description="empty: the newest model group chosen by `eis select` or the web app",
        ),
        "mode": Param(
            None,
            type=["null", "string"],
            enum=[None, "stored", "retrain"],
            title="Mode",
            description="stored / retrain; empty: production.mode of the config",
        ),
        "as_of": Param(
            None,
            type=["null", "string"],
            title="Date to score (YYYY-MM-DD)",
            description="empty: the logical date, or the data's newest date for Asset-triggered runs",
        ),
        "max_stale_days": Param(
            None,
            type=["null", "integer"],
            minimum=0,
            title="Staleness threshold (days)",
            description="refuse dates this many days after the data's extraction date; "
            "empty: $EIS_STALE_AFTER_DAYS or 30",
        ),
        "missed_days": Param(
            None,
            type=["null", "string"],
            enum=[None, "alert", "catch_up"],
            title="Missed days",
            description="alert (default, or $EIS_MISSED_DAYS) or catch_up",
        ),
    },
    doc_md=__doc__,
)
def eis_production():
    @task
    def missed_days(**context) -> dict:
        from airflow.sdk.exceptions import AirflowSkipException

        from eis_core.orchestration.production import handle_missed_days, has_selection, scoring_day
        from eis_core.production.scoring import score_day

        params, dag_run = context["params"], context["dag_run"]
        run_type = str(getattr(dag_run.run_type, "value", dag_run.run_type))
        if run_type == "asset_triggered" and not params.get("model_group") and not has_selection():
            raise AirflowSkipException(
                "a new drop was transformed, but no model group has been selected yet: "
                "nothing to score with (run eis_modeling and `eis select`)"
            )
        day, why = scoring_day(params, context.get("logical_date"), dag_run)
        print(f"scoring {day} ({why})")

        def score(d):
            score_day(
                d,
                params.get("model_group") or None,
                params.get("mode") or None,
                params["config"],
                params["labels"],
                scored_by="airflow:eis_production (catch-up)",
                max_stale_days=params.get("max_stale_days"),
            )

        return handle_missed_days(day, run_type, params.get("missed_days"), score)

    @task(outlets=[PRODUCTION])
    def score(plan: dict, **context) -> dict:
        from eis_core.production.scoring import risk_list_text, score_day

        params = context["params"]
        result = score_day(
            plan["day"],
            params.get("model_group") or None,
            params.get("mode") or None,
            params["config"],
            params["labels"],
            scored_by="airflow:eis_production",
            max_stale_days=params.get("max_stale_days"),
        )
        print(risk_list_text(result.as_of_date, top=10))
        return result.to_dict()

    score(missed_days())


eis_production()
