"""Temporal splits (timechop semantics): exact dates for hand-checked configs, calendar edge cases,
clear errors, and the no-leak invariant over random valid configs (hypothesis)."""

from __future__ import annotations

import warnings
from datetime import date, timedelta

import pytest
from dateutil.relativedelta import relativedelta
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eis_core.config import DEFAULT_OFFICER_CONFIG, TemporalConfig, load_officer_config
from eis_core.modeling.splits import Split, SplitError, make_splits, plot_splits, split_dates, train_dates


def tc(**kw) -> TemporalConfig:
    base = dict(feature_start_time="2012-01-01", label_start_time="2013-01-01", label_end_time="2015-01-01",
                model_update_frequency="6 months", max_training_history="5 years",
                training_as_of_frequency="6 months", test_duration="0 days", test_as_of_frequency="6 months",
                label_window="1 year")
    return TemporalConfig(**{**base, **kw})


def d(s: str) -> date:
    return date.fromisoformat(s)


def test_default_config_splits():
    splits = make_splits(load_officer_config(DEFAULT_OFFICER_CONFIG).temporal_config)
    assert [s.split_id for s in splits] == ["split_2013-07-01", "split_2014-01-01", "split_2014-07-01",
                                            "split_2015-01-01"]
    last = splits[-1]
    # monthly training as-of dates from label_start_time (2012-07-01) up to the split date minus the label window
    assert last.train_as_of_dates == tuple(d(f"{2012 + (m + 6) // 12}-{(m + 6) % 12 + 1:02d}-01") for m in range(19))
    assert last.test_as_of_dates == (d("2015-01-01"),)
    assert last.train_label_end == d("2015-01-01")
    assert last.label_window == "1 year"
    assert splits[0].train_as_of_dates == (d("2012-07-01"),)


def test_split_roundtrips_through_json_dict():
    for s in make_splits(tc()):
        assert Split.from_dict(s.to_dict()) == s


def test_max_training_history_limits_training_dates():
    splits = make_splits(tc(label_start_time="2012-01-01", max_training_history="6 months"))
    # split 2015-01-01: anchor 2014-01-01, floor max(2012-01-01, 2013-07-01)
    assert splits[-1].train_as_of_dates == (d("2013-07-01"), d("2014-01-01"))


def test_test_start_time_drops_earlier_splits_but_keeps_their_training_history():
    free = make_splits(tc(feature_start_time="2010-01-01", label_start_time="2010-01-01"))
    assert free[0].split_id == "split_2011-01-01"
    s = make_splits(tc(feature_start_time="2010-01-01", label_start_time="2010-01-01", test_start_time="2014-01-01"))
    assert [x.split_id for x in s] == ["split_2014-01-01", "split_2014-07-01", "split_2015-01-01"]
    # training still reaches back to label_start_time
    assert s[0].train_as_of_dates[0] == d("2010-01-01") and s[0].train_as_of_dates[-1] == d("2013-01-01")
    assert [x.to_dict() for x in s] == [x.to_dict() for x in free if x.split_date >= d("2014-01-01")]


def test_test_duration_and_label_end():
    s = make_splits(tc(label_end_time="2015-06-01", model_update_frequency="1 year", test_duration="3 months",
                       test_as_of_frequency="1 month"))
    # split dates 2015-06-01, 2014-06-01; test dates of the last split stop at label_end_time
    assert [x.split_id for x in s] == ["split_2014-06-01", "split_2015-06-01"]
    assert s[0].test_as_of_dates == (d("2014-06-01"), d("2014-07-01"), d("2014-08-01"), d("2014-09-01"))
    assert s[1].test_as_of_dates == (d("2015-06-01"),)


def test_zero_test_duration_is_the_split_date_alone():
    for s in make_splits(tc(test_duration="0 days", test_as_of_frequency="1 month")):
        assert s.test_as_of_dates == (date.fromisoformat(s.split_id.removeprefix("split_")),)


def test_end_of_month_steps_are_counted_from_the_anchor():
    with pytest.warns(UserWarning, match="split 2013-04-30: no training as-of date"):
        s = make_splits(tc(label_start_time="2013-01-31", label_end_time="2014-05-31", model_update_frequency="1 month",
                           training_as_of_frequency="1 month", label_window="3 months",
                           max_training_history="3 months"))
    split_dates = [x.test_as_of_dates[0] for x in s]
    # 2014-05-31 - k months, never drifting to the 28th after February
    assert split_dates[-4:] == [d("2014-02-28"), d("2014-03-31"), d("2014-04-30"), d("2014-05-31")]
    by = {x.split_id: x for x in s}
    # anchor 2014-05-31 - 3 months = 2014-02-28; training dates step back from the anchor (the 28th)
    assert by["split_2014-05-31"].train_as_of_dates == (d("2013-11-28"), d("2013-12-28"), d("2014-01-28"),
                                                        d("2014-02-28"))
    for x in s:
        for t in x.train_as_of_dates:
            assert t + relativedelta(months=3) <= x.test_as_of_dates[0]


def test_jan_31_plus_one_month_and_a_dropped_split():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        s = make_splits(tc(label_start_time="2015-01-31", label_end_time="2015-03-31", model_update_frequency="1 month",
                           training_as_of_frequency="1 month", label_window="1 month"))
    # split dates >= Jan 31 + 1 month = Feb 28: Mar 31 and Feb 28.  Split Mar 31: anchor Feb 28 (Feb 28 + 1 month
    # = Mar 28 <= Mar 31); the next step back is Jan 28 < label_start_time.  Split Feb 28: anchor Jan 28 <
    # label_start_time: no training date -> dropped with a warning.
    assert [x.split_id for x in s] == ["split_2015-03-31"]
    assert s[0].train_as_of_dates == (d("2015-02-28"),) and s[0].train_label_end == d("2015-03-28")
    assert any("split 2015-02-28" in str(w.message) and "dropped" in str(w.message) for w in caught)


def test_leap_day():
    s = make_splits(tc(label_start_time="2015-02-28", label_end_time="2016-02-29", model_update_frequency="1 year",
                       training_as_of_frequency="1 year", label_window="1 year"))
    assert [x.split_id for x in s] == ["split_2016-02-29"]
    # 2016-02-29 - 1 year = 2015-02-28, whose label window ends 2016-02-28 <= 2016-02-29
    assert s[0].train_as_of_dates == (d("2015-02-28"),)
    assert s[0].train_label_end == d("2016-02-28")


def test_label_window_longer_than_history_is_a_clear_error():
    with pytest.raises(SplitError, match="label window is longer than the labelled history"):
        make_splits(tc(label_start_time="2014-06-01", label_end_time="2015-01-01", label_window="1 year"))


def test_no_split_with_training_dates_is_an_error():
    # split date 2014-01-01 only (label_end = label_start + 1y); its anchor 2013-01-01 is >= label_start: fine
    assert len(make_splits(tc(label_end_time="2014-01-01"))) == 1
    # a 1-year update step cannot reach back to a split whose anchor is on/after label_start_time + 0
    with pytest.raises(SplitError):
        make_splits(tc(label_start_time="2013-01-02", label_end_time="2014-01-01"))


def _check_invariants(cfg: TemporalConfig, splits: list[Split]) -> None:
    span = cfg.label_window.delta()
    ids = [s.split_id for s in splits]
    assert len(ids) == len(set(ids)) and ids == sorted(ids)
    for s in splits:
        first_test = min(s.test_as_of_dates)
        assert s.test_as_of_dates[0] == first_test == date.fromisoformat(s.split_id.removeprefix("split_"))
        assert s.train_as_of_dates and list(s.train_as_of_dates) == sorted(set(s.train_as_of_dates))
        for t in s.train_as_of_dates:
            assert t + span <= first_test, (t, first_test)   # the no-leak invariant
            assert t >= cfg.label_start_time
        assert max(s.test_as_of_dates) <= cfg.label_end_time
        assert first_test >= cfg.label_start_time + span
        assert s.train_label_end <= first_test


_units = st.sampled_from(["day", "week", "month", "year"])


@st.composite
def durations(draw, lo=1, hi=12, units=_units):
    unit = draw(units)
    n = draw(st.integers(lo, hi if unit != "day" else hi * 30))
    return f"{n} {unit}{'s' if n > 1 else ''}"


@st.composite
def temporal_configs(draw):
    start = date(2008, 1, 1) + timedelta(days=draw(st.integers(0, 365 * 4)))
    if draw(st.booleans()):  # month ends and leap days are the interesting calendar cases
        start = draw(st.sampled_from([date(2012, 2, 29), date(2011, 1, 31), date(2010, 8, 31), date(2012, 3, 31)]))
    end = start + timedelta(days=draw(st.integers(30, 365 * 6)))
    return TemporalConfig(
        feature_start_time=start - timedelta(days=draw(st.integers(0, 400))), label_start_time=start,
        label_end_time=end,
        model_update_frequency=draw(durations(1, 12, st.sampled_from(["month", "year", "week"]))),
        max_training_history=draw(durations(1, 6)),
        training_as_of_frequency=draw(durations(1, 12, st.sampled_from(["month", "week"]))),
        test_duration=draw(st.sampled_from(["0 days", "1 month", "3 months", "1 year", "45 days"])),
        test_as_of_frequency=draw(durations(1, 6, st.sampled_from(["month", "week"]))),
        label_window=draw(durations(1, 24, st.sampled_from(["month", "year", "day", "week"]))))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(temporal_configs())
def test_no_training_label_reaches_into_the_test_dates(cfg):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            splits = make_splits(cfg)
        except SplitError:
            # only when no split date has a training as-of date
            assert all(not train_dates(cfg, x) for x in split_dates(cfg))
            return
    _check_invariants(cfg, splits)


def test_plot_splits_writes_a_png(tmp_path):
    out = plot_splits(make_splits(tc()), tmp_path / "sub" / "splits.png")
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
