"""Feature and label marts (dbt, issue 3) on a real PostgreSQL: cohort rules, labels, knowledge dates,
half-open windows, incremental as-of dates, column names, the feature dictionary and block switches.

The drop is tests/minidrop.py plus a few hand-made officers whose rows pin down one rule each; it goes
through the real loader (load_drop) and the real dbt build (dbt_build) with explicit vars.
"""

from __future__ import annotations

import statistics
from datetime import date

import pytest

from eis_core import db
from eis_core.config import dbt_vars, load_labels_config, load_officer_config
from eis_core.contract import load_contract
from eis_core.load.loader import load_drop
from eis_core.transform import dbt_build
from minidrop import valid_tables, write_drop

DATES = ["2013-07-01", "2014-01-01", "2014-07-01", "2015-01-01"]
D = {d: date.fromisoformat(d) for d in DATES + ["2015-07-01", "2015-07-01"]}
CONTRACT = load_contract()


def _officer(oid: str, hire: str, sep: str = "", sworn: str = "true", height: str = "175") -> dict:
    return {"officer_id": oid, "hire_date": hire, "separation_date": sep, "birth_year": "1980", "sex": "F",
            "race": "WHITE", "education": "BACHELOR", "height_cm": height, "weight_kg": "80", "rank": "OFFICER",
            "sworn": sworn}


def _assignment(oid: str, start: str, end: str = "", beat: str = "B1") -> dict:
    return {"officer_id": oid, "start_date": start, "end_date": end, "division": "D1", "beat": beat,
            "unit": "PATROL", "shift": "NIGHT"}


def _case(cid: str, oid: str, event: str, incident: str, reported: str, closed: str, disposition: str) -> dict:
    return {"case_id": cid, "officer_id": oid, "event_type": event, "incident_date": incident,
            "reported_date": reported, "closed_date": closed, "disposition": disposition, "call_id": "",
            "intervention": ""}


def _arrest(aid: str, oid: str, at: str) -> dict:
    return {"arrest_id": aid, "officer_id": oid, "arrested_at": at, "division": "D1", "beat": "B1",
            "charge_category": "DRUG", "discretionary_only": "true", "probable_cause": "", "suspect_race": "",
            "suspect_sex": "", "suspect_age": "", "call_id": ""}


def _tables() -> dict[str, list[dict]]:
    t = valid_tables()
    t["officers"] += [
        _officer("h_lab", "2005-01-01"),          # adverse incident exactly on an as-of date
        _officer("h_edge", "2005-01-01"),         # adverse incident exactly at D + 1 year
        _officer("h_pend", "2005-01-01"),         # a PENDING case in the label window
        _officer("h_disp", "2005-01-01"),         # disposition known only after closed_date
        _officer("h_win", "2005-01-01"),          # arrests on the window boundaries
        _officer("h_noasg", "2005-01-01"),        # assignment ended 2013-12-31
        _officer("h_two", "2005-01-01"),          # two active assignments on 2014-07-01
        _officer("h_hired", "2014-07-01"),        # hired exactly on an as-of date
        _officer("h_civ", "2005-01-01", sworn="false"),
    ]
    t["assignments"] += [_assignment(o, "2012-01-01") for o in ("h_lab", "h_edge", "h_pend", "h_disp", "h_win", "h_civ")]
    t["assignments"] += [
        _assignment("h_noasg", "2012-01-01", "2013-12-31"),
        _assignment("h_two", "2012-01-01", "2014-12-31", beat="B2"),
        _assignment("h_two", "2014-03-01", "", beat="B4"),
        _assignment("h_hired", "2014-07-01"),
    ]
    t["ia_cases"] += [
        _case("h1", "h_lab", "CITIZEN_COMPLAINT", "2014-07-01", "2014-07-05", "2014-09-01", "SUSTAINED"),
        _case("h2", "h_edge", "VEHICLE_ACCIDENT", "2015-01-01", "2015-01-02", "2015-02-01", "PREVENTABLE"),
        _case("h3", "h_pend", "USE_OF_FORCE", "2014-08-01", "2014-08-02", "", "PENDING"),
        _case("h4", "h_disp", "USE_OF_FORCE", "2014-02-01", "2014-02-10", "2014-07-01", "UNJUSTIFIED"),
    ]
    t["arrests"] += [
        _arrest("hw1", "h_win", "2014-05-31T23:00:00"),   # before D - 1 month: in 3m, not in 1m
        _arrest("hw2", "h_win", "2014-06-01T00:00:00"),   # exactly D - 1 month: in 1m
        _arrest("hw3", "h_win", "2014-06-30T23:59:59"),   # last second before D: in 1m
        _arrest("hw4", "h_win", "2014-07-01T00:00:00"),   # exactly on D: not counted for D
    ]
    return t


def _vars(dates: list[str], **blocks: bool) -> dict:
    v = dbt_vars(load_officer_config(), load_labels_config(), [date.fromisoformat(d) for d in dates])
    v["eis"]["blocks"].update(blocks)
    return v


def _q(sql: str, params: tuple = ()) -> list[tuple]:
    with db.connect() as conn:
        return conn.execute(sql, params).fetchall()


def _feature(officer: str, as_of: str, column: str) -> float | None:
    rows = _q(f"SELECT {column} FROM features.officer_features WHERE officer_id = %s AND as_of_date = %s",
              (officer, as_of))
    return rows[0][0] if rows else None


def _columns(table: str = "officer_features", schema: str = "features") -> list[str]:
    return [r[0] for r in _q("SELECT column_name FROM information_schema.columns WHERE table_schema = %s "
                             "AND table_name = %s ORDER BY ordinal_position", (schema, table))]


@pytest.fixture(scope="module")
def built(warehouse, tmp_path_factory):
    from conftest import reset_raw

    reset_raw(warehouse)
    drop = write_drop(tmp_path_factory.mktemp("featdrop") / "drop", _tables())
    load_drop(drop, progress=lambda _: None).raise_for_status()
    summary = dbt_build(dbt_vars=_vars(DATES), full_refresh=True, progress=None)
    assert summary["success"]
    return summary


def _cohort(as_of: str) -> set[str]:
    return {r[0] for r in _q("SELECT officer_id FROM features.officer_cohort WHERE as_of_date = %s", (as_of,))}


def test_schemas_and_models(built):
    schemas = {r[0] for r in _q("SELECT schema_name FROM information_schema.schemata")}
    assert {"features", "labels", "intermediate"} <= schemas
    assert not any(s.endswith("_features") or s.endswith("_labels") for s in schemas)
    for schema, table in [("features", "officer_cohort"), ("features", "officer_features"),
                          ("features", "officer_protected"), ("features", "feature_dictionary"),
                          ("labels", "officer_labels"), ("labels", "pending_cases_by_as_of")]:
        assert _columns(table, schema), f"{schema}.{table} missing"
    # race and sex are not features (protected_attributes_as_features is false by default)
    assert not [c for c in _columns() if "race" in c or "sex" in c]
    assert _columns("officer_protected") == ["officer_id", "as_of_date", "race", "sex"]


def test_cohort_rules(built):
    c = {d: _cohort(d) for d in DATES}
    # separated 2015-06-30 (minidrop officers 13, 26, 39): present before, absent after separation
    assert "o_0013" in c["2015-01-01"]
    # non-sworn officers are never in the cohort
    assert not any(o in c[d] for d in DATES for o in ("o_0017", "o_0034", "h_civ"))
    # no active assignment after 2013-12-31
    assert "h_noasg" in c["2013-07-01"] and "h_noasg" not in c["2014-01-01"]
    # hired exactly on D: not yet in the cohort (hire_date < D)
    assert "h_hired" not in c["2014-07-01"] and "h_hired" in c["2015-01-01"]
    # two active assignments: the latest start wins
    assert _q("SELECT beat FROM features.officer_cohort WHERE officer_id = 'h_two' AND as_of_date = '2014-07-01'") == [("B4",)]
    assert _q("SELECT beat FROM features.officer_cohort WHERE officer_id = 'h_two' AND as_of_date = '2014-01-01'") == [("B2",)]
    # features and labels cover exactly the cohort
    for d in DATES:
        feats = {r[0] for r in _q("SELECT officer_id FROM features.officer_features WHERE as_of_date = %s", (d,))}
        labs = {r[0] for r in _q("SELECT officer_id FROM labels.officer_labels WHERE as_of_date = %s", (d,))}
        assert feats == c[d] == labs


def _label(officer: str, as_of: str) -> int | None:
    rows = _q("SELECT label FROM labels.officer_labels WHERE officer_id = %s AND as_of_date = %s "
              "AND label_name = 'adverse_1y'", (officer, as_of))
    return rows[0][0] if rows else None


def test_labels_half_open_window(built):
    assert _q("SELECT DISTINCT label_name, label_window FROM labels.officer_labels") == [("adverse_1y", "1 year")]
    # incident exactly on D counts for D (and for the date half a year earlier)
    assert _label("h_lab", "2014-07-01") == 1 and _label("h_lab", "2014-01-01") == 1
    assert _label("h_lab", "2015-01-01") == 0 and _label("h_lab", "2013-07-01") == 0
    # incident exactly at D + 1 year does not count for D
    assert _label("h_edge", "2014-01-01") == 0 and _label("h_edge", "2015-01-01") == 1
    # the disposition is final in the drop: a case closed after D is still the label of D
    assert _label("h_disp", "2014-01-01") == 1


def test_pending_not_adverse_and_reported(built):
    assert _label("h_pend", "2014-07-01") == 0
    tables = _tables()
    cohort = {d: _cohort(d) for d in DATES}
    for d in DATES:
        end = date(D[d].year + 1, D[d].month, D[d].day)
        expected = [c for c in tables["ia_cases"] if c["disposition"] == "PENDING" and c["officer_id"] in cohort[d]
                    and D[d] <= date.fromisoformat(c["incident_date"]) < end]
        row = _q("SELECT pending_cases, officers_with_pending FROM labels.pending_cases_by_as_of "
                 "WHERE as_of_date = %s AND label_window = '1 year'", (d,))
        assert row == [(len(expected), len({c["officer_id"] for c in expected}))], d
    assert any(c["case_id"] == "h3" for c in tables["ia_cases"])
    assert _q("SELECT pending_cases >= 1 FROM labels.pending_cases_by_as_of WHERE as_of_date = '2014-07-01'") == [(True,)]


def test_half_open_feature_windows(built):
    assert _feature("h_win", "2014-07-01", "arr_total_1m") == 2       # D - 1 month and D - 1 second
    assert _feature("h_win", "2014-07-01", "arr_total_3m") == 3
    assert _feature("h_win", "2014-07-01", "arr_total_all") == 3      # the arrest on D is not counted
    assert _feature("h_win", "2015-01-01", "arr_total_all") == 4
    assert _feature("h_win", "2015-01-01", "arr_total_1m") == 0
    assert _feature("h_win", "2014-07-01", "arr_discretionary_1m") == 2
    assert _feature("h_win", "2014-07-01", "arr_no_probable_cause_3m") == 3


def test_disposition_known_only_after_closed_date(built):
    # reported 2014-02-10, closed UNJUSTIFIED on 2014-07-01 (= D): the case is known, its outcome is not
    f = {c: _feature("h_disp", "2014-07-01", c) for c in (
        "ia_cases_all", "ia_cases_use_of_force_all", "ia_closed_all", "ia_adverse_all", "ia_pending_cases",
        "ia_days_since_adverse_missing", "ia_closed_unjustified_all")}
    assert f == {"ia_cases_all": 1, "ia_cases_use_of_force_all": 1, "ia_closed_all": 0, "ia_adverse_all": 0,
                 "ia_pending_cases": 1, "ia_days_since_adverse_missing": 1, "ia_closed_unjustified_all": 0}
    assert _feature("h_disp", "2014-01-01", "ia_cases_all") == 0        # reported after D
    later = {c: _feature("h_disp", "2015-01-01", c) for c in (
        "ia_adverse_all", "ia_adverse_6m", "ia_closed_unjustified_all", "ia_pending_cases", "ia_days_since_adverse",
        "ia_days_since_adverse_missing", "ia_share_adverse_all", "ia_cases_6m")}
    assert later == {"ia_adverse_all": 1, "ia_adverse_6m": 1, "ia_closed_unjustified_all": 1, "ia_pending_cases": 0,
                     "ia_days_since_adverse": (date(2015, 1, 1) - date(2014, 2, 1)).days,
                     "ia_days_since_adverse_missing": 0, "ia_share_adverse_all": 1.0, "ia_cases_6m": 0}
    # no adverse case known: imputed with days since hire, flagged missing
    assert _feature("h_win", "2015-01-01", "ia_days_since_adverse") == (date(2015, 1, 1) - date(2005, 1, 1)).days
    assert _feature("h_win", "2015-01-01", "ia_days_since_adverse_missing") == 1


def test_legacy_rule_and_characteristics(built):
    assert _feature("h_disp", "2014-07-01", "leg_uof_3_in_90d_cases") == 0   # reported 2014-02-10: > 90 days
    assert _feature("h_disp", "2014-07-01", "leg_uof_3_in_90d_flag") == 0
    assert _feature("h_two", "2014-07-01", "chr_days_in_assignment") == (date(2014, 7, 1) - date(2014, 3, 1)).days
    assert _feature("h_two", "2014-07-01", "chr_shift_night") == 1
    assert _feature("h_two", "2014-07-01", "chr_age_years") == 2014 - 1980
    # minidrop officer 7 has no height: imputed with the cohort median, flagged
    heights = [r[0] for r in _q("SELECT o.height_cm FROM features.officer_cohort c JOIN raw.officers o USING (officer_id) "
                                "WHERE c.as_of_date = '2014-07-01' AND o.height_cm IS NOT NULL ORDER BY 1")]
    assert _feature("o_0007", "2014-07-01", "chr_height_cm") == pytest.approx(statistics.median(heights))
    assert _feature("o_0007", "2014-07-01", "chr_height_cm_missing") == 1
    # no arrival in the window: mean travel time imputed with the cohort median on D, flagged
    assert _feature("h_win", "2015-01-01", "dsp_travel_min_mean_1y_missing") == 1
    observed = [r[0] for r in _q("SELECT dsp_travel_min_mean_1y FROM features.officer_features "
                                 "WHERE as_of_date = '2015-01-01' AND dsp_travel_min_mean_1y_missing = 0")]
    assert observed and _feature("h_win", "2015-01-01", "dsp_travel_min_mean_1y") == pytest.approx(statistics.median(observed))
    # neighborhoods of 2013 are the latest known on 2014-07-01; none known on 2013-07-01
    assert _feature("h_win", "2014-07-01", "nbh_population_missing") == 0
    assert _feature("h_win", "2013-07-01", "nbh_population_missing") == 1


def test_column_names_and_dictionary(built):
    cols = _columns()
    features = cols[2:]
    assert cols[:2] == ["officer_id", "as_of_date"]
    assert max(len(c) for c in cols) < 63 and len(set(cols)) == len(cols)
    assert all(c == c.lower() for c in cols)
    types = {r[0] for r in _q("SELECT DISTINCT data_type FROM information_schema.columns WHERE table_schema = 'features' "
                              "AND table_name = 'officer_features' AND column_name NOT IN ('officer_id', 'as_of_date')")}
    assert types == {"double precision"}
    dictionary = _q('SELECT feature, block, "window", description, source_table, known_from, imputation '
                    "FROM features.feature_dictionary WHERE feature IS NOT NULL ORDER BY position")
    assert [r[0] for r in dictionary] == features          # exactly the columns, in order
    assert all(r[1] and r[3] and r[4] and r[6] for r in dictionary)
    # every *_missing indicator belongs to an imputed feature whose imputation is recorded
    imputation = {r[0]: r[6] for r in dictionary}
    for c in features:
        if c.endswith("_missing"):
            assert c[: -len("_missing")] in imputation and imputation[c[: -len("_missing")]] != "none"
    # one-hot / by-type columns follow the contract's code sets (eis_codes() cannot drift from the contract)
    codes = CONTRACT.codes
    for code in codes["event_type"]:
        assert f"ia_cases_{code.lower()}_all" in cols
    for code in codes["disposition"]:  # every final disposition, NO_FINDING too (the config decides, not the data)
        assert (f"ia_closed_{code.lower()}_all" in cols) == (code != "PENDING")
    for name, prefix in [("charge_category", "arr_charge_"), ("training_topic", "trn_hours_")]:
        for code in codes[name]:
            assert f"{prefix}{code.lower()}_all" in cols
    for code in codes["shift"]:  # UNKNOWN is missing (all one-hot columns 0), never a category
        assert (f"chr_shift_{code.lower()}" in cols) == (code != "UNKNOWN")
    # no UNKNOWN in the minidrop, no rank_history: the ordinals still have their indicators, all 0
    assert {"chr_education_ordinal_missing", "chr_rank_ordinal_missing"} <= set(cols)
    assert _q("SELECT max(chr_education_ordinal_missing), max(chr_rank_ordinal_missing) "
              "FROM features.officer_features") == [(0.0, 0.0)]
    # optional tables absent from the minidrop: the blocks' columns are there, 0, and the dictionary says why
    for prefix in ("fi_total_", "cit_total_", "sec_jobs_", "flg_flags_", "uof_reports_"):
        assert f"{prefix}all" in cols
        assert _q(f"SELECT count(*) FROM features.officer_features WHERE {prefix}all <> 0") == [(0,)]
    not_provided = dict(_q("SELECT block, description FROM features.feature_dictionary WHERE feature IS NULL"))
    assert set(not_provided) == {"field_interviews", "citations", "secondary_employment", "eis_flags", "use_of_force"}
    assert "raw.field_interviews is empty" in not_provided["field_interviews"]
    blocks = dict(_q("SELECT block, status FROM features.feature_blocks"))
    assert blocks["citations"] == "not_provided" and blocks["dispatches"] == "built"
    assert list(blocks).count("dispatches") == 1  # one row per block, not per source


def test_incremental_single_date(built):
    before = dict(_q("SELECT as_of_date, count(*) FROM features.officer_features GROUP BY 1"))
    snapshot = _q("SELECT * FROM features.officer_features WHERE as_of_date <> '2014-07-01' ORDER BY 1, 2")
    # a new date only adds that date
    summary = dbt_build(select="marts", dbt_vars=_vars(["2015-07-01"]), progress=None)
    assert summary["success"]
    after = dict(_q("SELECT as_of_date, count(*) FROM features.officer_features GROUP BY 1"))
    assert {d: n for d, n in after.items() if d != D["2015-07-01"]} == before
    assert after[D["2015-07-01"]] == len(_cohort("2015-07-01")) > 0
    # separated 2015-06-30: absent after separation, still present before
    assert "o_0013" not in _cohort("2015-07-01") and "o_0001" in _cohort("2015-07-01")
    assert "o_0013" in _cohort("2015-01-01")
    # re-running an existing date replaces it: same rows, no duplicates, other dates untouched
    dbt_build(select="marts", dbt_vars=_vars(["2014-07-01"]), progress=None)
    again = dict(_q("SELECT as_of_date, count(*) FROM features.officer_features GROUP BY 1"))
    assert again == after
    assert _q("SELECT count(*) FROM (SELECT officer_id, as_of_date FROM features.officer_features "
              "GROUP BY 1, 2 HAVING count(*) > 1) x") == [(0,)]
    assert _q("SELECT * FROM features.officer_features WHERE as_of_date <> '2014-07-01' "
              "AND as_of_date <> '2015-07-01' ORDER BY 1, 2") == snapshot
    assert _feature("h_win", "2014-07-01", "arr_total_1m") == 2
    labels = dict(_q("SELECT as_of_date, count(*) FROM labels.officer_labels GROUP BY 1"))
    assert labels[D["2015-07-01"]] == after[D["2015-07-01"]] and labels[D["2014-07-01"]] == after[D["2014-07-01"]]


def test_disabled_block_produces_no_columns(built):
    dbt_build(select="marts", dbt_vars=_vars(DATES, arrests=False, outliers=False), full_refresh=True,
              progress=None)
    cols = _columns()
    assert not [c for c in cols if c.startswith(("arr_", "out_"))]
    assert "chg_arr_total_6m_diff" not in cols and "ia_cases_all" in cols
    disabled = dict(_q("SELECT block, description FROM features.feature_dictionary WHERE feature IS NULL"))
    assert "disabled in the configuration" in disabled["arrests"] and "outliers" in disabled
    assert [r[0] for r in _q("SELECT feature FROM features.feature_dictionary WHERE feature IS NOT NULL "
                             "ORDER BY position")] == cols[2:]


def test_changed_feature_definition_rebuilds_without_losing_dates(built):
    """A run for one date with a different feature definition rebuilds the marts from scratch, for that
    date and every date they already held: no as-of date is silently dropped, the columns follow."""
    before = {r[0] for r in _q("SELECT DISTINCT as_of_date FROM features.officer_cohort")}
    assert len(before) >= 2
    lines: list[str] = []
    v = _vars(["2015-07-01"], training=False)  # a different definition: one block off
    dbt_build(dbt_vars=v, progress=lines.append, select="path:models/intermediate path:models/marts")
    assert any("full refresh" in ln for ln in lines)
    after = {r[0] for r in _q("SELECT DISTINCT as_of_date FROM features.officer_cohort")}
    assert after == before | {date(2015, 7, 1)}
    cols = {r[0] for r in _q("SELECT column_name FROM information_schema.columns WHERE table_schema = 'features' "
                             "AND table_name = 'officer_features'")}
    assert not any(c.startswith("trn_") for c in cols)
    # back to the original definition for any later test of this module
    dbt_build(dbt_vars=_vars(DATES), progress=None, select="path:models/intermediate path:models/marts")


BOTH = "path:models/intermediate path:models/marts"


def test_an_optional_table_that_gains_rows_keeps_the_columns(built):
    """The minidrop has no citations: the citations block has its columns, all 0.  Once raw.citations
    holds rows (a later drop with the table), the next incremental build fills them - same columns, no
    full refresh, no 'out of sync' - and they go back to 0 when it empties again."""
    cols = _columns()
    assert "cit_total_all" in cols
    with db.connect() as conn:
        conn.execute("INSERT INTO raw.citations (citation_id, officer_id, issued_at, division, citation_type, "
                     "electronic) VALUES ('c_test_1', 'o_0001', '2014-03-01 10:00', 'D1', 'MOVING', true)")
    try:
        lines: list[str] = []
        dbt_build(select=BOTH, dbt_vars=_vars(["2014-07-01"]), progress=lines.append)
        assert not any("full refresh" in ln for ln in lines)
        assert _columns() == cols
        assert _feature("o_0001", "2014-07-01", "cit_total_all") == 1
        assert dict(_q("SELECT block, status FROM features.feature_blocks"))["citations"] == "built"
    finally:
        with db.connect() as conn:
            conn.execute("DELETE FROM raw.citations WHERE citation_id = 'c_test_1'")
    dbt_build(select=BOTH, dbt_vars=_vars(["2014-07-01"]), progress=None)
    assert _columns() == cols and _feature("o_0001", "2014-07-01", "cit_total_all") == 0
