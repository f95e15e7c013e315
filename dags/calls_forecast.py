"""calls_forecast: daily forecasts of calls for service (hourly, 7 days) and stops (daily, 28 days),
peak hours, and the call-priority model.

* ``calls_hourly``: rolling-origin backtest of every model per series (ALL + divisions), choice by RMSE,
  forecast ahead, store into forecast.backtests / forecast.calls_hourly;
* ``stops_daily``: the same for daily stops (forecast.stops_daily);
* ``peaks``: busiest hours per weekday from the stored hourly forecast, heat-map PNG;
* ``priority_model``: priority-band classifier vs baselines on a time split, weekday/weekend test.

Wiring only: pandas, scikit-learn and statsmodels are imported inside the tasks (eis_core.forecast).
Tasks pass small JSON XComs (run ids, scores).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag, task

from eis_core.orchestration.dag_defaults import NOT_IDEMPOTENT, default_args
from eis_core.orchestration.departments import PARAM as DEPARTMENT


@dag(
    dag_id="calls_forecast",
    schedule="@daily",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    # every try stores a new forecast run: no retry of an error raised by the task code
    default_args=default_args(retry_policy=NOT_IDEMPOTENT),
    tags=["eis", "forecast"],
    params={
        DEPARTMENT: Param(
            "default",
            type="string",
            pattern="^[a-z][a-z0-9_]{1,30}$",
            title="Department",
            description="whose warehouse the run works in (`eis department list`)",
        ),
        "horizon_days": Param(7, type="integer", minimum=1, maximum=14, title="Hourly call horizon (days)"),
        "history_days": Param(None, type=["null", "integer"], title="Use only the last N days of data"),
        "n_origins": Param(4, type="integer", minimum=1, maximum=12, title="Backtest origins"),
        "gbm_train_weeks": Param(None, type=["null", "integer"], title="GBM training weeks (default 52)"),
        "priority_train_days": Param(365, type="integer", minimum=7, title="Priority model training days"),
        "priority_test_days": Param(90, type="integer", minimum=7, title="Priority model test days"),
    },
    doc_md=__doc__,
)
def calls_forecast():
    @task
    def calls_hourly(**context) -> dict:
        from eis_core.forecast.run import format_table, run_calls_forecast
        from eis_core.orchestration.departments import working_for

        p = context["params"]
        with working_for(p[DEPARTMENT]):
            res = run_calls_forecast(
                horizon_days=p["horizon_days"],
                history_days=p["history_days"],
                n_origins=p["n_origins"],
                gbm_train_weeks=p["gbm_train_weeks"],
            )
            print(format_table(res["table"]))
            return {"run_id": res["run_id"], "chosen": res["chosen"], "seconds": round(res["seconds"], 1)}

    @task
    def stops_daily(**context) -> dict:
        from eis_core.forecast.run import format_table, run_stops_forecast
        from eis_core.orchestration.departments import working_for

        p = context["params"]
        with working_for(p[DEPARTMENT]):
            res = run_stops_forecast(history_days=p["history_days"], n_origins=p["n_origins"])
            print(format_table(res["table"]))
            return {"run_id": res["run_id"], "chosen": res["chosen"]}

    @task
    def peaks(calls: dict, **context) -> dict:
        from eis_core.forecast.run import format_peaks, peaks_report
        from eis_core.orchestration.departments import working_for

        p = context["params"]
        with working_for(p[DEPARTMENT]):
            table, png, run_id = peaks_report(run_id=calls["run_id"])
            print(format_peaks(table))
            return {"run_id": run_id, "png": str(png)}

    @task
    def priority_model(**context) -> dict:
        from eis_core.forecast.priority import format_priority, run_priority
        from eis_core.orchestration.departments import working_for

        p = context["params"]
        with working_for(p[DEPARTMENT]):
            res = run_priority(train_days=p["priority_train_days"], test_days=p["priority_test_days"])
            print(format_priority(res))
            return {"run_id": res["run_id"], "scores": res["scores"].drop(columns="split_at").to_dict("records")}

    peaks(calls_hourly())
    stops_daily()
    priority_model()


calls_forecast()
