"""Independent check of the feature and label marts: recompute a handful of features with plain pandas
from the raw tables of the small synthetic department and compare with the mart for EVERY
(officer, as-of date).  The pandas code shares nothing with the dbt models but the written rules:
windows [D - w, D) with calendar arithmetic, knowledge dates per table, the cohort definition.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from dateutil.relativedelta import relativedelta

from eis_core import db
from eis_core.config import dbt_vars, load_labels_config, load_officer_config
from eis_core.load.loader import load_drop
from eis_core.transform import dbt_build

DATES = [date(2013, 1, 1), date(2014, 7, 1), date(2015, 7, 1)]


def _frame(sql: str) -> pd.DataFrame:
    with db.connect() as conn:
        cur = conn.execute(sql)
        return pd.DataFrame(cur.fetchall(), columns=[d.name for d in cur.description])


@pytest.fixture(scope="module")
def synth(warehouse, tmp_path_factory):
    """The small department as a contract v2 drop (every table of the contract present, v2 ones included)."""
    from conftest import reset_raw

    from eis_core.synth import generate

    reset_raw(warehouse)
    drop = tmp_path_factory.mktemp("small_v2_independent")
    generate("small", 42, drop, progress=None, contract_version=2)
    load_drop(drop, progress=lambda _: None).raise_for_status()
    labels = load_labels_config()
    summary = dbt_build(dbt_vars=dbt_vars(load_officer_config(), labels, DATES), full_refresh=True, progress=None)
    assert summary["success"]
    mart = _frame("SELECT * FROM features.officer_features")
    mart["as_of_date"] = pd.to_datetime(mart["as_of_date"])
    return {"mart": mart.set_index(["officer_id", "as_of_date"]).sort_index(), "labels_config": labels}


def _dates(df: pd.DataFrame, *cols: str) -> pd.DataFrame:
    for c in cols:
        df[c] = pd.to_datetime(df[c])
    return df


def _window_counts(events: pd.DataFrame, day_col: str, months: int | None, value: str | None = None) -> pd.Series:
    """Sum (or count) of events per (officer_id, as_of_date) with day in [D - months, D) (all history if None)."""
    out = []
    for d in DATES:
        ts = pd.Timestamp(d)
        lo = pd.Timestamp(d - relativedelta(months=months)) if months else pd.Timestamp.min
        sel = events[(events[day_col] < ts) & (events[day_col] >= lo)]
        s = sel.groupby("officer_id")[value].sum() if value else sel.groupby("officer_id").size()
        out.append(pd.DataFrame({"officer_id": s.index, "as_of_date": ts, "v": s.values}))
    return pd.concat(out).set_index(["officer_id", "as_of_date"])["v"]


def _compare(mart: pd.DataFrame, column: str, expected: pd.Series, fill: float = 0.0) -> None:
    got = mart[column]
    exp = expected.reindex(got.index).fillna(fill).astype(float)
    bad = ~np.isclose(got.values, exp.values, rtol=1e-9, atol=1e-6)
    assert not bad.any(), f"{column}: {bad.sum()} of {len(got)} rows differ, e.g.\n" + \
        pd.DataFrame({"mart": got[bad], "pandas": exp[bad]}).head().to_string()


def test_cohort_and_labels(synth):
    officers = _dates(_frame("SELECT * FROM raw.officers"), "hire_date", "separation_date")
    assignments = _dates(_frame("SELECT * FROM raw.assignments"), "start_date", "end_date")
    cases = _dates(_frame("SELECT * FROM raw.ia_cases"), "incident_date")
    adverse_def = synth["labels_config"].adverse_events
    adverse = cases[[d in adverse_def.get(e, []) for e, d in zip(cases.event_type, cases.disposition)]]
    expected, labels = set(), {}
    for d in DATES:
        ts = pd.Timestamp(d)
        active = assignments[(assignments.start_date <= ts) & (assignments.end_date.isna() | (assignments.end_date >= ts))]
        ok = officers[officers.sworn & (officers.hire_date < ts)
                      & (officers.separation_date.isna() | (officers.separation_date > ts))
                      & officers.officer_id.isin(active.officer_id)]
        end = pd.Timestamp(d + relativedelta(years=1))
        hit = set(adverse[(adverse.incident_date >= ts) & (adverse.incident_date < end)].officer_id)
        for o in ok.officer_id:
            expected.add((o, ts))
            labels[(o, ts)] = int(o in hit)
    assert set(synth["mart"].index) == expected
    got = _frame("SELECT officer_id, as_of_date, label FROM labels.officer_labels WHERE label_name = 'adverse_1y'")
    got = {(r.officer_id, pd.Timestamp(r.as_of_date)): r.label for r in got.itertuples()}
    assert got == labels
    assert 0 < sum(labels.values()) < len(labels)


def test_dispatch_calls_travel_and_hours(synth):
    mart = synth["mart"]
    disp = _dates(_frame("SELECT officer_id, dispatched_at, arrived_at, cleared_at FROM raw.dispatches"),
                  "dispatched_at", "arrived_at", "cleared_at")
    disp["dday"] = disp.dispatched_at.dt.normalize()
    disp["aday"] = disp.arrived_at.dt.normalize()
    disp["cday"] = disp.cleared_at.dt.normalize()
    _compare(mart, "dsp_calls_3m", _window_counts(disp, "dday", 3))
    _compare(mart, "dsp_calls_all", _window_counts(disp, "dday", None))
    # hours on calls, known when the call is cleared
    cleared = disp[disp.cleared_at.notna()].copy()
    cleared["hours"] = (cleared.cleared_at - cleared.arrived_at.fillna(cleared.dispatched_at)).dt.total_seconds() / 3600
    _compare(mart, "dsp_hours_on_calls_1m", _window_counts(cleared, "cday", 1, "hours"))
    # mean travel minutes of arrivals in [D - 1 year, D); no arrival: cohort median, flagged missing
    arrived = disp[disp.arrived_at.notna()].copy()
    arrived["minutes"] = (arrived.arrived_at - arrived.dispatched_at).dt.total_seconds() / 60
    mean = _window_counts(arrived, "aday", 12, "minutes") / _window_counts(arrived, "aday", 12)
    mean = mean.reindex(mart.index)
    missing = mean.isna()
    _compare(mart, "dsp_travel_min_mean_1y_missing", missing.astype(float))
    medians = mean.groupby(level="as_of_date").transform("median")
    _compare(mart, "dsp_travel_min_mean_1y", mean.fillna(medians))
    # z-score of calls in the last year within the officer's division on D (population sd; 0 when sd is 0)
    cohort = _frame("SELECT officer_id, as_of_date, division FROM features.officer_cohort")
    cohort["as_of_date"] = pd.to_datetime(cohort["as_of_date"])
    cohort = cohort.set_index(["officer_id", "as_of_date"]).reindex(mart.index)
    calls = _window_counts(disp, "dday", 12).reindex(mart.index).fillna(0)
    key = [cohort.index.get_level_values("as_of_date"), cohort["division"].values]
    grp = calls.groupby(key)
    sd = grp.transform(lambda x: x.std(ddof=0))
    z = ((calls - grp.transform("mean")) / sd.replace(0, np.nan)).fillna(0)
    _compare(mart, "dsp_calls_1y", calls)
    _compare(mart, "out_dsp_calls_div_z_1y", z)


def test_arrests_and_stops(synth):
    mart = synth["mart"]
    arrests = _dates(_frame("SELECT officer_id, arrested_at, discretionary_only, probable_cause FROM raw.arrests"),
                     "arrested_at")
    arrests["day"] = arrests.arrested_at.dt.normalize()
    _compare(mart, "arr_discretionary_1y", _window_counts(arrests[arrests.discretionary_only], "day", 12))
    _compare(mart, "arr_no_probable_cause_6m", _window_counts(arrests[arrests.probable_cause != True], "day", 6))  # noqa: E712
    stops = _dates(_frame("SELECT officer_id, stopped_at, searched, contraband_found FROM raw.traffic_stops"),
                   "stopped_at")
    stops["day"] = stops.stopped_at.dt.normalize()
    stops["s"] = stops.searched.astype(float)
    stops["h"] = (stops.searched & (stops.contraband_found == True)).astype(float)  # noqa: E712
    n = _window_counts(stops, "day", 12)
    _compare(mart, "ts_search_rate_1y", (_window_counts(stops, "day", 12, "s") / n).fillna(0))
    searches = _window_counts(stops, "day", 12, "s")
    _compare(mart, "ts_hit_rate_1y", (_window_counts(stops, "day", 12, "h") / searches.replace(0, np.nan)).fillna(0))


def test_ia_history(synth):
    mart = synth["mart"]
    cases = _dates(_frame("SELECT * FROM raw.ia_cases"), "incident_date", "reported_date", "closed_date")
    for event_type in sorted(cases.event_type.unique()):
        _compare(mart, f"ia_cases_{event_type.lower()}_all",
                 _window_counts(cases[cases.event_type == event_type], "reported_date", None))
    _compare(mart, "ia_cases_1y", _window_counts(cases, "reported_date", 12))
    adverse_def = synth["labels_config"].adverse_events
    adverse = cases[[d in adverse_def.get(e, []) for e, d in zip(cases.event_type, cases.disposition)]]
    officers = _dates(_frame("SELECT officer_id, hire_date FROM raw.officers"), "hire_date").set_index("officer_id")
    days, missing = {}, {}
    for officer_id, as_of in mart.index:
        known = adverse[(adverse.officer_id == officer_id) & (adverse.closed_date < as_of)]
        if len(known):
            days[(officer_id, as_of)] = (as_of - known.incident_date.max()).days
            missing[(officer_id, as_of)] = 0
        else:
            days[(officer_id, as_of)] = (as_of - officers.loc[officer_id, "hire_date"]).days
            missing[(officer_id, as_of)] = 1
    assert 0 < sum(missing.values()) < len(missing)
    _compare(mart, "ia_days_since_adverse", pd.Series(days))
    _compare(mart, "ia_days_since_adverse_missing", pd.Series(missing))
    open_cases = {}
    for d in DATES:
        ts = pd.Timestamp(d)
        sel = cases[(cases.reported_date < ts) & (cases.closed_date.isna() | (cases.closed_date >= ts))]
        for o, k in sel.groupby("officer_id").size().items():
            open_cases[(o, ts)] = k
    _compare(mart, "ia_pending_cases", pd.Series(open_cases, dtype=float))


def test_neighborhood_of_current_beat(synth):
    mart = synth["mart"]
    nb = _frame("SELECT beat, year, violent_crime_per_1k FROM raw.neighborhoods")
    cohort = _frame("SELECT officer_id, as_of_date, beat FROM features.officer_cohort")
    exp = {}
    for r in cohort.itertuples():
        rows = nb[(nb.beat == r.beat) & (nb.year < r.as_of_date.year)]
        if len(rows):
            exp[(r.officer_id, pd.Timestamp(r.as_of_date))] = rows.sort_values("year").violent_crime_per_1k.iloc[-1]
    exp = pd.Series(exp, dtype=float).reindex(mart.index)
    _compare(mart, "nbh_violent_crime_per_1k_missing", exp.isna().astype(float))
    _compare(mart, "nbh_violent_crime_per_1k", exp.fillna(exp.groupby(level="as_of_date").transform("median")))


def test_full_default_config_columns(synth):
    """Every block on, every table present: names short, unique, documented, and never NULL."""
    cols = list(synth["mart"].columns)
    assert max(len(c) for c in cols) < 63 and len(set(cols)) == len(cols)
    assert not synth["mart"].isna().any().any()
    dictionary = _frame("SELECT feature, block FROM features.feature_dictionary ORDER BY position")
    assert dictionary.feature.notna().all()                     # nothing skipped or disabled
    assert list(dictionary.feature) == cols
    blocks = _frame("SELECT block, status FROM features.feature_blocks")
    assert set(blocks.status) == {"built"}
    assert set(dictionary.block) == set(blocks.block)
