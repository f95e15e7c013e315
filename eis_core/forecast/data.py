"""Series for forecasting: hourly call counts and daily stop counts, city-wide (``ALL``) and per division.

Counts come from the warehouse (``staging.stg_*`` when dbt built it, else ``raw.*``) or straight from a
drop folder (``<table>.csv``; used by the benchmark).  Every series is put on a complete time grid
(hours or days without events count 0) that ends with the last complete day of data.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

ALL = "ALL"

_TABLES = {  # kind -> (table, timestamp column, pandas frequency)
    "calls": ("calls_for_service", "received_at", "h"),
    "stops": ("traffic_stops", "stopped_at", "D"),
}


def relation_name(conn, table: str) -> str:
    """``staging.stg_<table>`` when dbt built it, else ``raw.<table>``; ValueError when neither exists."""
    row = conn.execute(
        "SELECT 1 FROM information_schema.views WHERE table_schema = 'staging' AND table_name = %s", (f"stg_{table}",)
    ).fetchone()
    if row:
        return f"staging.stg_{table}"
    if conn.execute("SELECT to_regclass(%s)", (f"raw.{table}",)).fetchone()[0] is None:
        raise ValueError(
            f"the warehouse has no table raw.{table}: load a drop with {table}.csv first "
            f"(`eis load DIR`) or pass --drop DIR"
        )
    return f"raw.{table}"


def events_from_db(kind: str, since: str | None = None) -> pd.DataFrame:
    """Aggregated counts per (period, division) from the warehouse: columns ts, division, n."""
    from eis_core import db

    table, col, freq = _TABLES[kind]
    unit = "hour" if freq == "h" else "day"
    with db.connect() as conn:
        rel = relation_name(conn, table)  # one of two fixed names
        q = (
            f"SELECT date_trunc('{unit}', {col}) AS ts, division, count(*) AS n FROM {rel} "
            + (f"WHERE {col} >= %s " if since else "")
            + "GROUP BY 1, 2"
        )
        rows = conn.execute(q, (since,) if since else None).fetchall()
    return pd.DataFrame(rows, columns=["ts", "division", "n"])


def events_from_drop(kind: str, drop_dir: str | Path) -> pd.DataFrame:
    """Same as :func:`events_from_db` from ``<drop>/<table>.csv`` (pyarrow, two columns only)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    table, col, freq = _TABLES[kind]
    path = Path(drop_dir) / f"{table}.csv"
    if not path.is_file():
        raise ValueError(f"{path} not found: the drop has no {table}")
    try:
        t = pacsv.read_csv(
            path,
            convert_options=pacsv.ConvertOptions(
                include_columns=[col, "division"], column_types={col: pa.timestamp("s"), "division": pa.string()}
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowKeyError) as e:
        raise ValueError(
            f"{path}: needs the columns {col} (timestamp) and division ({str(e).splitlines()[0][:120]})"
        ) from None
    df = t.to_pandas()
    df["ts"] = df[col].dt.floor(freq)
    return df.groupby(["ts", "division"], observed=True).size().rename("n").reset_index()


def to_wide(
    events: pd.DataFrame, freq: str, divisions: list[str] | None = None, history_days: int | None = None
) -> pd.DataFrame:
    """Complete-grid wide frame: index = period start, columns = ``ALL`` + divisions, values = counts.

    The grid ends with the last complete day that has data; *history_days* keeps only the tail.
    """
    if events.empty:
        raise ValueError("no events to forecast: calls_for_service / traffic_stops has no rows")
    ev = events.copy()
    ev["ts"] = pd.to_datetime(ev["ts"]).astype("datetime64[s]")
    wide = ev.pivot_table(index="ts", columns="division", values="n", aggfunc="sum", fill_value=0)
    # the grid ends with the last complete day: a partial last day would look like a sudden drop
    end_day = (ev["ts"].max() + pd.Timedelta(1, freq)).normalize()
    start = ev["ts"].min().normalize()
    if history_days:
        start = max(start, end_day - pd.Timedelta(days=history_days))
    grid = pd.date_range(start, end_day, freq=freq, inclusive="left")
    if len(grid) == 0:  # e.g. a few hours of one day: the grid stops before the last (incomplete) day
        raise ValueError(
            f"not enough history: the data ({ev['ts'].min()} .. {ev['ts'].max()}) hold no complete "
            "day; forecasts need at least 14 days"
        )
    wide = wide.reindex(grid, fill_value=0)
    wide.columns = [str(c) for c in wide.columns]
    if divisions:
        missing = sorted(set(divisions) - set(wide.columns))
        if missing:
            raise ValueError(f"unknown division(s) {missing}; known: {sorted(wide.columns)}")
        wide_div = wide[divisions]
    else:
        wide_div = wide[sorted(wide.columns)]
    out = pd.concat([wide.sum(axis=1).rename(ALL), wide_div], axis=1).astype(float)
    out.index.name = "ts"
    return out


def load_series(
    kind: str,
    *,
    drop_dir: str | Path | None = None,
    divisions: list[str] | None = None,
    history_days: int | None = None,
) -> pd.DataFrame:
    """Hourly call counts (``kind="calls"``) or daily stop counts (``kind="stops"``), wide."""
    freq = _TABLES[kind][2]
    ev = events_from_drop(kind, drop_dir) if drop_dir else events_from_db(kind)
    return to_wide(ev, freq, divisions, history_days)


def us_holidays(start, end) -> np.ndarray:
    """US federal holidays between *start* and *end* as datetime64[D]: both the day itself and, when it
    falls on a weekend, the observed weekday (New Year's Day 2023 is Sunday 1 January and Monday 2 January).
    Rule-based (pandas' built-in ``USFederalHolidayCalendar`` rules): nothing is downloaded."""
    from pandas.tseries.holiday import Holiday, USFederalHolidayCalendar

    a, b = pd.Timestamp(start) - pd.Timedelta(days=3), pd.Timestamp(end) + pd.Timedelta(days=3)
    days = []
    for rule in USFederalHolidayCalendar.rules:
        days.append(rule.dates(a, b))
        if rule.observance is not None:  # fixed-date holidays: the date itself as well as the observed day
            days.append(
                Holiday(
                    rule.name, month=rule.month, day=rule.day, start_date=rule.start_date, end_date=rule.end_date
                ).dates(a, b)
            )
    out = pd.DatetimeIndex(np.concatenate([d.values for d in days])) if days else pd.DatetimeIndex([])
    out = np.unique(out.values.astype("datetime64[D]"))
    lo, hi = np.datetime64(pd.Timestamp(start).date()), np.datetime64(pd.Timestamp(end).date())
    return out[(out >= lo) & (out <= hi)]
