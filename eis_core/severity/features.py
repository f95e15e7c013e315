"""The severity model frame: one row per crime report, only what is known when the report is filed.

Inputs (contract table ``crime_reports``; read from ``staging.stg_crime_reports`` when dbt has run,
else ``raw.crime_reports``, or any relation with the same columns):

* categorical: offense category, weapon, division, beat;
* numeric: victim count, the six flags (0/1), hour and weekday of ``reported_at``;
* the beat's history: ``beat_reports_30d`` = reports filed in the same beat in ``[t - 30 d, t)``,
  strictly before the report (the report itself and anything filed with or after it never count).

The outcome: ``severity`` (NULL until assessed) becomes *known* at
``known_at = least(cleared_at, reported_at + assessment_lag)``: the contract has no assessment date,
so a report's severity counts as known when the case is cleared or, at the latest, ``assessment_lag``
days (default 45) after it was filed.  Training and evaluation only use outcomes known by their cut-off.
"""

from __future__ import annotations

import datetime as dt
import hashlib

import numpy as np
import pandas as pd

from eis_core.contract import load_contract
from eis_core.severity import SEVERITIES

#: the contract's code sets, the one definition (eis_core/contract/contract.yaml)
CODES = load_contract().codes

CATEGORICAL = ["offense_category", "weapon", "division", "beat"]
FLAGS = ["gang_related", "domestic_violence", "narcotics", "hate_crime", "child_involved", "suicide_related"]
NUMERIC = ["victim_count", "hour", "weekday", "beat_reports_30d"] + FLAGS
FEATURES = CATEGORICAL + NUMERIC
#: bump when the meaning of a feature column changes: a model built for another version is refused
FEATURE_VERSION = 1
HISTORY_DAYS = 30
DEFAULT_ASSESSMENT_LAG_DAYS = 45

OFFENSES = list(CODES["offense_category"])
WEAPONS = list(CODES["weapon"])
COLUMNS = [
    "report_id",
    "reported_at",
    "division",
    "beat",
    "offense_category",
    "weapon",
    "victim_count",
    *FLAGS,
    "severity",
    "cleared_at",
]


def parse_source(source: str | None) -> tuple[str, str] | None:
    """``"schema.table"`` -> (schema, table); None stays None (the default relation)."""
    if source is None or source == "":
        return None
    parts = source.split(".")
    if len(parts) != 2 or not all(parts):
        raise ValueError(f"source must be 'schema.table', got {source!r}")
    return parts[0], parts[1]


def resolve_source(conn, source: tuple[str, str] | None = None) -> tuple[str, str]:
    """The relation to read: *source* if given (must exist), else staging.stg_crime_reports, else raw.crime_reports."""
    candidates = [source] if source else [("staging", "stg_crime_reports"), ("raw", "crime_reports")]
    for schema, table in candidates:
        row = conn.execute(
            "SELECT 1 FROM information_schema.tables WHERE table_schema = %s AND table_name = %s", (schema, table)
        ).fetchone()
        if row:
            return schema, table
    names = ", ".join(f"{s}.{t}" for s, t in candidates)
    raise LookupError(
        f"no crime-report table in the warehouse (looked for {names}): load a drop with "
        "`eis load DIR` and run `eis transform`"
    )


def read_reports(source: tuple[str, str] | None = None, since: dt.datetime | None = None) -> pd.DataFrame:
    """Every crime report of the warehouse (columns ``COLUMNS``), sorted by reported_at, report_id."""
    from psycopg import sql

    from eis_core import db

    with db.connect() as conn:
        schema, table = resolve_source(conn, source)
        q = sql.SQL("SELECT {cols} FROM {rel}").format(
            cols=sql.SQL(", ").join(sql.Identifier(c) for c in COLUMNS), rel=sql.Identifier(schema, table)
        )
        params: tuple = ()
        if since is not None:
            q = q + sql.SQL(" WHERE {} >= %s").format(sql.Identifier("reported_at"))
            params = (since,)
        with conn.cursor() as cur:
            cur.execute(q, params)
            rows = cur.fetchall()
    df = pd.DataFrame(rows, columns=COLUMNS)
    df["reported_at"] = pd.to_datetime(df["reported_at"])
    df["cleared_at"] = pd.to_datetime(df["cleared_at"])
    return df.sort_values(["reported_at", "report_id"], kind="stable").reset_index(drop=True)


def naive(ts) -> pd.Timestamp:
    """A timestamp as the contract stores it: wall-clock time without a zone (an offset is dropped)."""
    t = pd.Timestamp(ts)
    return t.tz_localize(None) if t.tzinfo is not None else t


def _seconds(ts) -> np.ndarray:
    s = pd.to_datetime(pd.Series(ts))
    if getattr(s.dt, "tz", None) is not None:
        s = s.dt.tz_localize(None)
    return s.to_numpy("datetime64[s]").astype(np.int64)


class BeatHistory:
    """Per beat, the sorted filing times of its reports; ``count`` answers "how many reports in this
    beat in the 30 days before t" with two binary searches.  The same object builds the training
    feature and answers the API, so training and serving cannot disagree."""

    def __init__(self, beats=(), reported_at=(), days: int = HISTORY_DAYS) -> None:
        self.window = int(days) * 86400
        self.times: dict[str, np.ndarray] = {}
        self.latest: pd.Timestamp | None = None
        self.add(beats, reported_at)

    def add(self, beats, reported_at) -> None:
        beats = np.asarray(beats, dtype=object)
        if beats.size == 0:
            return
        t = _seconds(reported_at)
        for beat in np.unique(beats):
            new = t[beats == beat]
            old = self.times.get(beat)
            self.times[beat] = np.sort(new if old is None else np.concatenate([old, new]))
        last = pd.Timestamp(int(t.max()), unit="s")
        self.latest = last if self.latest is None else max(self.latest, last)

    def count(self, beat: str, at) -> int:
        arr = self.times.get(beat)
        if arr is None:
            return 0
        t = int(naive(at).value // 10**9)
        return int(np.searchsorted(arr, t, "left") - np.searchsorted(arr, t - self.window, "left"))

    def counts(self, beats, reported_at) -> np.ndarray:
        beats = np.asarray(beats, dtype=object)
        t = _seconds(reported_at)
        out = np.zeros(beats.size, np.int64)
        for beat in np.unique(beats):
            ix = np.flatnonzero(beats == beat)
            arr = self.times.get(beat)
            if arr is not None:
                out[ix] = np.searchsorted(arr, t[ix], "left") - np.searchsorted(arr, t[ix] - self.window, "left")
        return out

    @property
    def n_reports(self) -> int:
        return int(sum(a.size for a in self.times.values()))


def add_features(reports: pd.DataFrame, history: BeatHistory | None = None) -> pd.DataFrame:
    """The model frame of *reports*; the beat history comes from *history* (default: the reports themselves)."""
    df = reports.copy()
    df["reported_at"] = pd.to_datetime(df["reported_at"])
    if history is None:
        history = BeatHistory(df["beat"].to_numpy(object), df["reported_at"])
    df["beat_reports_30d"] = history.counts(df["beat"].to_numpy(object), df["reported_at"])
    df["hour"] = df["reported_at"].dt.hour.astype(np.int64)
    df["weekday"] = df["reported_at"].dt.day_of_week.astype(np.int64)
    for c in FLAGS:
        df[c] = df[c].astype(bool).astype(np.int64)
    df["victim_count"] = df["victim_count"].astype(np.int64)
    for c in CATEGORICAL:
        df[c] = df[c].astype(str)
    return df


def known_at(df: pd.DataFrame, assessment_lag_days: int = DEFAULT_ASSESSMENT_LAG_DAYS) -> pd.Series:
    """When each report's severity became known (NaT when it is not assessed)."""
    lag = df["reported_at"] + pd.Timedelta(days=assessment_lag_days)
    k = df["cleared_at"].where(df["cleared_at"].notna() & (df["cleared_at"] < lag), lag)
    return k.where(df["severity"].notna())


def labelled(frame: pd.DataFrame, start, end, assessment_lag_days: int = DEFAULT_ASSESSMENT_LAG_DAYS) -> pd.DataFrame:
    """Reports whose assessed severity became known in ``(start, end]`` (start None: from the beginning)."""
    k = known_at(frame, assessment_lag_days)
    m = k.notna() & (k <= pd.Timestamp(end))
    if start is not None:
        m &= k > pd.Timestamp(start)
    out = frame[m].copy()
    out["known_at"] = k[m]
    bad = set(out["severity"].unique()) - set(SEVERITIES)
    if bad:
        raise ValueError(f"crime_reports.severity has unknown values {sorted(bad)} (expected {list(SEVERITIES)})")
    return out


def data_hash(frame: pd.DataFrame) -> str:
    """sha256 of the training rows (ids, features and labels), independent of row order."""
    cols = ["report_id"] + FEATURES + ["severity"]
    part = frame[cols].sort_values("report_id", kind="stable").reset_index(drop=True)
    h = pd.util.hash_pandas_object(part, index=False).to_numpy()
    return hashlib.sha256(h.tobytes()).hexdigest()


def data_end(frame: pd.DataFrame) -> pd.Timestamp:
    """The latest moment the data knows of (a filing or a clearance): the default as-of time."""
    ends = [frame["reported_at"].max()]
    if frame["cleared_at"].notna().any():
        ends.append(frame["cleared_at"].max())
    return max(ends)


def load_frame(source: tuple[str, str] | None = None) -> pd.DataFrame:
    """Every report with its features (beat history from all reports of the warehouse)."""
    return add_features(read_reports(source))
