"""Risk factors in words (eis_core.production.wording): grouping, sentences, the division comparison,
findings. Pure functions, no database."""

from __future__ import annotations

import re

from eis_core.production.wording import (NOT_A_FINDING, comparison, describe, fact_key, factor_groups, sentences)

INTERNAL = re.compile(r"\b(ia|dsp|uof|arr|ts|chr|out|chg|leg|nbh|trn)_[a-z_0-9]+|macro|imputed|_missing")


def f(feature, value, contribution=0.05):
    return {"feature": feature, "value": value, "contribution": contribution}


def test_the_same_fact_over_different_windows_is_shown_once():
    factors = [f("ia_closed_sustained_5y", 2, 0.10), f("ia_closed_sustained_1y", 1, 0.04),
               f("out_ia_cases_div_ratio_1y", 2.0, 0.02), f("ia_cases_1y", 3, 0.03),
               f("ia_days_since_adverse", 3000, -0.01), f("ia_days_since_adverse_missing", 1, -0.02)]
    groups = factor_groups(factors)
    assert [g.key for g in groups] == ["ia_closed_sustained", "ia_cases", "ia_days_since_adverse"]
    assert groups[0].features == ["ia_closed_sustained_5y", "ia_closed_sustained_1y"]
    assert groups[1].features == ["out_ia_cases_div_ratio_1y", "ia_cases_1y"]  # the outlier ratio joins its count
    assert groups[2].direction == "lowers" and abs(groups[0].contribution - 0.14) < 1e-9
    s = describe(groups[0])
    assert s.text == "2 sustained complaints in the last 5 years (1 in the last year)"
    assert fact_key("chg_arr_total_6m_diff") == "chg:arr_total" == fact_key("chg_arr_total_6m_ratio")


def test_sentence_compares_with_the_division_as_the_issue_asks():
    peers = {"ia_closed_sustained_5y": sorted([0] * 85 + [1] * 8 + [2] * 4 + [3] * 3)}
    s = sentences([f("ia_closed_sustained_5y", 2)], peers)[0]
    assert s.text == "2 sustained complaints in the last 5 years — more than 90 % of officers in the division"
    # a zero that most officers share, and a value below most
    assert comparison(0, sorted([0] * 70 + [1] * 30)) == "the same as 70 % of officers in the division"
    assert comparison(1, sorted([0] * 10 + [5] * 90)) == "fewer than 90 % of officers in the division"
    assert comparison(0.4, sorted([0.1] * 60 + [0.5] * 40), counts=False) == "higher than 60 % of officers in the division"
    assert comparison(3, [1, 2, 3]) is None  # too few officers to compare with


def test_not_sustained_or_exonerated_is_history_not_a_finding():
    for feat, words in (("ia_closed_not_sustained_5y", "complaints closed as not sustained"),
                        ("ia_closed_exonerated_1y", "complaints closed as exonerated"),
                        ("ia_closed_unfounded_1y", "complaints closed as unfounded")):
        s = describe(factor_groups([f(feat, 3)])[0])
        assert words in s.text and s.note == NOT_A_FINDING and "history, not a finding" in s.note
    s = describe(factor_groups([f("ia_closed_sustained_1y", 1)])[0])
    assert s.text == "1 sustained complaint in the last year" and s.note is None
    assert "history, not a finding" in describe(factor_groups([f("ia_cases_1y", 2)])[0]).note
    assert "no finding yet" in describe(factor_groups([f("ia_pending_cases", 1)])[0]).note


def test_the_issues_examples_read_without_internal_names():
    # "1 when no adverse case was known before D (ia_days_since_adverse imputed): 0 (raises the risk)"
    # and "calls in call-type group property (macro eis_call_type_groups)" from issue 16
    cases = {
        "ia_days_since_adverse_missing": (1, "No case closed with a finding against the officer"),
        "dsp_calls_grp_property_1y": (40, "40 property-crime calls in the last year"),
        "dsp_calls_grp_violent_1y": (1, "1 call about violence or a disturbance in the last year"),
        "dsp_night_share_1y": (0.42, "42 % of their calls were at night (22:00–06:00) in the last year"),
        "chr_tenure_days": (3652, "10 years of service"),
        "out_arr_total_div_ratio_1y": (2.5, "2.5 times the division's average number of arrests in the last year"),
        "chg_uof_reports_6m_diff": (2, "2 more use-of-force reports in the last 6 months than in the 6 months before"),
        "leg_uof_3_in_90d_flag": (1, "Meets the department's warning rule “uof 3 in 90d”"),
        "xyz_unknown_count_1y": (3, "Unknown count in the last year: 3"),
    }
    for feat, (value, expected) in cases.items():
        s = describe(factor_groups([f(feat, value)])[0])
        assert s.text.startswith(expected), (feat, s.text)
        assert not INTERNAL.search(s.text), (feat, s.text)
    days = describe(factor_groups([f("ia_days_since_adverse", 800), f("ia_days_since_adverse_missing", 0)])[0])
    assert days.text == "Last finding against the officer 2 years before this date"
