"""Schema ``forecast`` in the warehouse: runs, backtest scores, forecasts, priority-model scores."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd


def ensure_schema() -> None:
    """The warehouse schema at the migrations' head (schema ``forecast`` is revision 0005)."""
    from eis_core import migrations

    migrations.ensure_schema()


def new_run(kind: str, params: dict, data_start=None, data_end=None) -> int:
    from eis_core import db

    ensure_schema()
    with db.connect() as conn:
        return db.scalar(
            conn,
            "INSERT INTO forecast.runs (kind, params, data_start, data_end) VALUES (%s, %s, %s, %s) RETURNING run_id",
            (kind, json.dumps(params, default=str), data_start, data_end),
        )


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
