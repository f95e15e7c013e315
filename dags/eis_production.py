"""eis_production: score every department's active officers on its own schedule, and as soon as a new
drop of the department is transformed.

Scheduled on a tick (``$EIS_PRODUCTION_TICK``, default ``@daily``) OR the Asset
``eis://warehouse/staging`` (``AssetOrTimeSchedule``).  The first task, ``departments``, decides whom the
run is for (``eis_core.orchestration.departments``): the ``department`` param when given; for a run
started by the Asset, the departments named by its events (when ``eis_transform`` has built a
department's new drop the scheduler starts this DAG at once and it scores that department's newest
date, its extraction date, so a drop's risk list appears without anyone triggering it); for a tick,
every registered department whose ``production.schedule`` (default ``@daily``) fired since the previous
tick; for a manual run, ``default``.  ``missed_days`` and ``score`` are mapped over those departments,
each instance inside the department's own database.

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
from eis_core.orchestration.departments import PARAM as DEPARTMENT
from eis_core.orchestration.departments import TICK
from eis_core.paths import REPO_ROOT

_DEFAULT_CONFIG = os.environ.get("EIS_MODELING_CONFIG", str(REPO_ROOT / "configs" / "officer_config.yaml"))
_DEFAULT_LABELS = os.environ.get("EIS_MODELING_LABELS", str(REPO_ROOT / "configs" / "labels_config.yaml"))


@dag(
    dag_id="eis_production",
    # the tick only looks for due departments; each department's own schedule decides when it is scored
    schedule=AssetOrTimeSchedule(timetable=CronTriggerTimetable(TICK, timezone="UTC"), assets=[STAGING]),
    # early, so that backfills and `airflow dags test eis_production DATE` can score historical dates
    start_date=pendulum.datetime(2000, 1, 1, tz="UTC"),
    # no catchup from 2000: the missed_days task alerts with (or scores) the days the scheduler missed
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    tags=["eis", "production"],
    params={
        DEPARTMENT: Param(
            None,
            type=["null", "string"],
            title="Department",
            description="empty: the departments of the triggering Asset events, or those due on this tick "
            "(manual: default)",
        ),
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
    def departments(**context) -> list[str]:
        from eis_core.orchestration.departments import describe, run_departments

        names = run_departments(
            context["params"],
            context["dag_run"],
            context.get("triggering_asset_events"),
            context.get("logical_date"),
            scheduled=True,
        )
        print(describe(names, "to score"))
        return names

    @task(map_index_template="{{ eis_department }}")
    def missed_days(department: str, **context) -> dict:
        from airflow.sdk import get_current_context

        from eis_core.orchestration.departments import fires_on, schedule_of, working_for
        from eis_core.orchestration.production import handle_missed_days, has_selection, scoring_day
        from eis_core.production.scoring import score_day

        get_current_context()["eis_department"] = department
        params, dag_run = context["params"], context["dag_run"]
        run_type = str(getattr(dag_run.run_type, "value", dag_run.run_type))
        with working_for(department):
            if run_type == "asset_triggered" and not params.get("model_group") and not has_selection():
                # not raised here: score (mapped over these plans) skips its instance
                return {
                    DEPARTMENT: department,
                    "skip": f"department {department}: a new drop was transformed, but no model group has been "
                    "selected yet: nothing to score with (run eis_modeling and `eis select`)",
                }
            day, why = scoring_day(params, context.get("logical_date"), dag_run)
            print(f"scoring {day} ({why})")
            schedule = schedule_of(department, params["config"])

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

            plan = handle_missed_days(
                day, run_type, params.get("missed_days"), score, expected=lambda d: fires_on(schedule, d)
            )
        return {DEPARTMENT: department, **plan}

    @task(outlets=[PRODUCTION], map_index_template="{{ eis_department }}")
    def score(plan: dict, **context) -> dict:
        from airflow.sdk import get_current_context
        from airflow.sdk.exceptions import AirflowSkipException

        from eis_core.orchestration.departments import working_for
        from eis_core.production.scoring import risk_list_text, score_day

        department = plan[DEPARTMENT]
        get_current_context()["eis_department"] = department
        if plan.get("skip"):
            raise AirflowSkipException(plan["skip"])
        params = context["params"]
        with working_for(department):
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
        context["outlet_events"][PRODUCTION].extra = {DEPARTMENT: department, "as_of": str(result.as_of_date)}
        return {DEPARTMENT: department, **result.to_dict()}

    score.expand(plan=missed_days.expand(department=departments()))


eis_production()
