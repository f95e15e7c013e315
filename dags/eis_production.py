"""eis_production: every morning, score the active officers for the run's logical date.

For logical date D: bring the feature marts up to D (incremental: only D is built), score the cohort of D
with the selected model group (``results.selections``, or the ``model_group`` param), explain every
score, and write schema ``production`` (risk list, risk factors, calendar-day rank changes, unit risk,
flag-rate bias audit) in one transaction per date.  Re-running a date or backfilling a range
(``airflow dags backfill eis_production -s START -e END``) replaces each date's rows, never duplicates
them.  On success it updates the Asset ``eis://warehouse/production``.

Wiring only: the work is ``eis_core.production.scoring.score_day``.
"""

from __future__ import annotations

import os

import pendulum
from airflow.sdk import Param, dag, task

from eis_core.orchestration.assets import PRODUCTION
from eis_core.paths import REPO_ROOT

_DEFAULT_CONFIG = os.environ.get("EIS_MODELING_CONFIG", str(REPO_ROOT / "configs" / "officer_config.yaml"))
_DEFAULT_LABELS = os.environ.get("EIS_MODELING_LABELS", str(REPO_ROOT / "configs" / "labels_config.yaml"))


@dag(
    dag_id="eis_production",
    schedule="@daily",
    # early, so that backfills and `airflow dags test eis_production DATE` can score historical dates
    start_date=pendulum.datetime(2000, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["eis", "production"],
    params={
        "config": Param(_DEFAULT_CONFIG, type="string", minLength=1, title="Officer config"),
        "labels": Param(_DEFAULT_LABELS, type="string", minLength=1, title="Labels config"),
        "model_group": Param(None, type=["null", "string"], title="Model group",
                             description="empty: the newest model group chosen by `eis select` or the web app"),
        "mode": Param(None, type=["null", "string"], enum=[None, "stored", "retrain"], title="Mode",
                      description="stored / retrain; empty: production.mode of the config"),
    },
    doc_md=__doc__,
)
def eis_production():
    @task(outlets=[PRODUCTION])
    def score(**context) -> dict:
        from eis_core.production.scoring import risk_list_text, score_day

        params = context["params"]
        day = context["logical_date"].date()
        result = score_day(day, params.get("model_group") or None, params.get("mode") or None,
                           params["config"], params["labels"], scored_by="airflow:eis_production")
        print(risk_list_text(result.as_of_date, top=10))
        return result.to_dict()

    score()


eis_production()
