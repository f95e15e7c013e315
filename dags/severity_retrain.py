"""severity_retrain: daily retraining of the crime-report severity model with the outcome feedback,
then monitoring.

* ``retrain``: reads the reports whose severity became known since the last run, trains a challenger on
  the rolling window, scores champion and challenger on the newest held-out outcomes and promotes the
  challenger only if its macro-F1 is not worse than the champion's by more than ``margin``; the decision
  goes to severity.decisions (eis_core.severity.retrain);
* ``monitor``: macro-F1 / accuracy on the reports resolved on the day, per-division F1, PSI drift of
  every feature against the training window, alerts (eis_core.severity.monitoring).

Wiring only: pandas and scikit-learn are imported inside the tasks.  ``as_of`` empty = the latest moment
the data knows of (a replayed historical department has no outcomes "today").
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag, task

from eis_core.orchestration.dag_defaults import NOT_IDEMPOTENT, default_args
from eis_core.orchestration.departments import PARAM as DEPARTMENT


@dag(
    dag_id="severity_retrain",
    schedule="@daily",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    # every try records a decision / monitoring rows: no retry of an error raised by the task code
    default_args=default_args(retry_policy=NOT_IDEMPOTENT),
    tags=["eis", "severity"],
    params={
        DEPARTMENT: Param(
            "default",
            type="string",
            pattern="^[a-z][a-z0-9_]{1,30}$",
            title="Department",
            description="whose warehouse the run works in (`eis department list`)",
        ),
        "as_of": Param(None, type=["null", "string"], title="As-of time (empty: the latest data)"),
        "window_days": Param(365, type="integer", minimum=1, title="Rolling training window (days)"),
        "holdout_days": Param(30, type="integer", minimum=1, title="Newest outcomes held out (days)"),
        "margin": Param(
            0.0, type="number", minimum=-1, maximum=1, title="Promote if challenger F1 >= champion F1 - margin"
        ),
        "min_holdout": Param(30, type="integer", minimum=1, title="Minimum held-out outcomes to decide"),
        "psi_threshold": Param(0.2, type="number", minimum=0, title="Drift alert above this PSI"),
        "f1_drop": Param(0.05, type="number", minimum=0, title="Alert when daily macro-F1 drops by more than this"),
        "monitor_days": Param(1, type="integer", minimum=1, maximum=366, title="Days to monitor (ending on as_of)"),
        "source": Param(None, type=["null", "string"], title="schema.table of the crime reports (empty: default)"),
    },
    doc_md=__doc__,
)
def severity_retrain():
    @task
    def retrain(**context) -> dict:
        from eis_core.orchestration.departments import working_for
        from eis_core.severity.features import parse_source
        from eis_core.severity.retrain import run_retrain

        p = context["params"]
        with working_for(p[DEPARTMENT]):
            res = run_retrain(
                p["as_of"],
                window_days=p["window_days"],
                holdout_days=p["holdout_days"],
                margin=p["margin"],
                min_holdout=p["min_holdout"],
                source=parse_source(p["source"]),
                decided_by="dag:severity_retrain",
                progress=print,
            )
            return {
                "as_of": str(res["as_of"]),
                "promoted": res["promoted"],
                "reason": res["reason"],
                "challenger": res["challenger"],
                "champion_before": res["champion"],
                "decision_id": res["decision_id"],
                "n_new_outcomes": res["n_new_outcomes"],
            }

    @task
    def monitor(decision: dict, **context) -> dict:
        import datetime as dt

        import pandas as pd

        from eis_core.orchestration.departments import working_for
        from eis_core.severity.features import parse_source
        from eis_core.severity.monitoring import run_monitoring
        from eis_core.severity.train import load_frame

        p = context["params"]
        with working_for(p[DEPARTMENT]):
            frame = load_frame(parse_source(p["source"]))
            last = pd.Timestamp(decision["as_of"]).date()
            days = []
            for i in range(p["monitor_days"] - 1, -1, -1):
                res = run_monitoring(
                    last - dt.timedelta(days=i),
                    frame=frame,
                    psi_threshold=p["psi_threshold"],
                    f1_drop=p["f1_drop"],
                    progress=print,
                )
                days.append(
                    {
                        "day": str(res["day"]),
                        "n_resolved": res["n_resolved"],
                        "macro_f1": res["macro_f1"],
                        "alerts": len(res["alerts"]),
                    }
                )
            return {"model_version": res["model_version"], "days": days}

    monitor(retrain())


severity_retrain()
