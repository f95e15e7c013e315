"""Schema ``forecast`` in the warehouse: runs, backtest scores, forecasts, priority-model scores."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

DDL = """
CREATE SCHEMA IF NOT EXISTS forecast;
CREATE TABLE IF NOT EXISTS forecast.runs (
    run_id bigserial PRIMARY KEY, kind text NOT NULL, started_at timestamptz NOT NULL DEFAULT now(),
    data_start timestamp, data_end timestamp, params jsonb, seconds double precision);
CREATE TABLE IF NOT EXISTS forecast.backtests (
    run_id bigint NOT NULL REFERENCES forecast.runs, target text NOT NULL, series text NOT NULL,
    model text NOT NULL, cutoff timestamp, horizon_bucket text NOT NULL, rmse double precision,
    mae double precision, mase double precision, coverage_80 double precision, coverage_95 double precision,
    n integer, chosen boolean NOT NULL);
CREATE TABLE IF NOT EXISTS forecast.calls_hourly (
    run_id bigint NOT NULL REFERENCES forecast.runs, series text NOT NULL, ts timestamp NOT NULL,
    model text NOT NULL, yhat double precision, lo_80 double precision, hi_80 double precision,
    lo_95 double precision, hi_95 double precision, chosen boolean NOT NULL DEFAULT false,
    PRIMARY KEY (run_id, series, model, ts));
CREATE TABLE IF NOT EXISTS forecast.stops_daily (
    run_id bigint NOT NULL REFERENCES forecast.runs, series text NOT NULL, day date NOT NULL,
    model text NOT NULL, yhat double precision, lo_80 double precision, hi_80 double precision,
    lo_95 double precision, hi_95 double precision, chosen boolean NOT NULL DEFAULT false,
    PRIMARY KEY (run_id, series, model, day));
CREATE TABLE IF NOT EXISTS forecast.priority_scores (
    run_id bigint NOT NULL REFERENCES forecast.runs, model text NOT NULL, accuracy double precision,
    macro_f1 double precision, n_train integer, n_test integer, split_at timestamp, chosen boolean NOT NULL);
ALTER TABLE forecast.priority_scores ADD COLUMN IF NOT EXISTS val_macro_f1 double precision;
"""


def ensure_schema() -> None:
    from eis_core import db

    db.ensure_ddl("forecast_schema", DDL)


def new_run(kind: str, params: dict, data_start=None, data_end=None) -> int:
    from eis_core import db

    ensure_schema()
    with db.connect() as conn:
        return conn.execute(
            "INSERT INTO forecast.runs (kind, params, data_start, data_end) VALUES (%s, %s, %s, %s) RETURNING run_id",
            (kind, json.dumps(params, default=str), data_start, data_end),
        ).fetchone()[0]


def finish_run(run_id: int, seconds: float) -> None:
    from eis_core import db

    with db.connect() as conn:
        conn.execute("UPDATE forecast.runs SET seconds = %s WHERE run_id = %s", (seconds, run_id))


def _none(v):
    if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NaT:
        return None
    if isinstance(v, pd.Timestamp):
        return v.to_pydatetime()
    if isinstance(v, (np.floating, np.integer, np.bool_)):
        return v.item()
    return v


def _copy(table: str, cols: list[str], rows) -> None:
    from eis_core import db

    with db.connect() as conn, conn.cursor().copy(f"COPY forecast.{table} ({', '.join(cols)}) FROM STDIN") as cp:
        for r in rows:
            cp.write_row([_none(v) for v in r])


def write_backtests(run_id: int, target: str, scores: pd.DataFrame) -> None:
    cols = [
        "series",
        "model",
        "cutoff",
        "horizon_bucket",
        "rmse",
        "mae",
        "mase",
        "coverage_80",
        "coverage_95",
        "n",
        "chosen",
    ]
    _copy(
        "backtests",
        ["run_id", "target"] + cols,
        ([run_id, target] + list(r) for r in scores[cols].itertuples(index=False)),
    )


def write_forecasts(run_id: int, target: str, fc: pd.DataFrame, chosen: dict[str, str]) -> None:
    table, tcol = ("calls_hourly", "ts") if target == "calls_hourly" else ("stops_daily", "day")
    fc = fc.assign(chosen=[chosen.get(s) == m for s, m in zip(fc["series"], fc["model"])])
    cols = ["series", "ts", "model", "yhat", "lo_80", "hi_80", "lo_95", "hi_95", "chosen"]
    _copy(
        table,
        ["run_id"] + [tcol if c == "ts" else c for c in cols],
        ([run_id] + list(r) for r in fc[cols].itertuples(index=False)),
    )


def write_priority(run_id: int, scores: pd.DataFrame) -> None:
    cols = ["model", "accuracy", "macro_f1", "n_train", "n_test", "split_at", "chosen", "val_macro_f1"]
    _copy("priority_scores", ["run_id"] + cols, ([run_id] + list(r) for r in scores[cols].itertuples(index=False)))


def latest_run(kind: str) -> int | None:
    from eis_core import db

    ensure_schema()
    with db.connect() as conn:
        row = conn.execute(
            "SELECT max(run_id) FROM forecast.runs WHERE kind = %s AND seconds IS NOT NULL", (kind,)
        ).fetchone()
    return row[0] if row else None


def read_calls_forecast(run_id: int, series: str, chosen_only: bool = True) -> pd.DataFrame:
    from eis_core import db

    with db.connect() as conn:
        rows = conn.execute(
            "SELECT series, ts, model, yhat, lo_80, hi_80, lo_95, hi_95 FROM forecast.calls_hourly "
            "WHERE run_id = %s AND series = %s" + (" AND chosen" if chosen_only else "") + " ORDER BY ts",
            (run_id, series),
        ).fetchall()
    return pd.DataFrame(rows, columns=["series", "ts", "model", "yhat", "lo_80", "hi_80", "lo_95", "hi_95"])
