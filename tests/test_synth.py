"""The synthetic department generator: determinism, contract conformance and base rates.

`small` is generated once per module (about 2 s) with the contract v2 tables (``contract_version=2``)
and checked with pandas against contract.yaml; a v1 drop is the same files without the v2 additions.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from eis_core.contract import load_contract
from eis_core.synth import LEGACY_EIS_RULES, generate, legacy_flags
from eis_core.synth.generator import ThresholdRule

CONTRACT = load_contract()
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
TS_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def drop(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("small_42")
    return out, generate("small", 42, out, contract_version=2)


@pytest.fixture(scope="module")
def tables(drop) -> dict[str, pd.DataFrame]:
    """Every table as text; NULL (an empty field) is ''."""
    out, _ = drop
    return {name: pd.read_csv(out / f"{name}.csv", dtype=str, keep_default_na=False, na_values=[])
            for name in CONTRACT.tables}


def _adverse(ia: pd.DataFrame) -> pd.Series:
    ok = pd.Series(False, index=ia.index)
    for ev, dispositions in CONTRACT.adverse_definition.items():
        ok |= (ia["event_type"] == ev) & ia["disposition"].isin(dispositions)
    return ok


def _active_sworn(officers: pd.DataFrame, year: int) -> set[str]:
    o = officers[officers["sworn"] == "true"]
    sep = o["separation_date"].where(o["separation_date"] != "", "9999-12-31")
    keep = (o["hire_date"] <= f"{year}-12-31") & (sep >= f"{year}-01-01")
    return set(o.loc[keep, "officer_id"])


# ------------------------------------------------------------------------------------ determinism

def test_same_seed_gives_identical_bytes(drop, tmp_path):
    out, manifest = drop
    again = generate("small", 42, tmp_path / "again", contract_version=2)
    assert again == manifest
    first, second = _digest(out), _digest(tmp_path / "again")
    assert set(first) == {f"{t}.csv" for t in CONTRACT.tables} | {"_drop.json"}
    assert first == second


def test_other_seed_gives_other_data(drop, tmp_path):
    out, _ = drop
    other = generate("small", 43, tmp_path / "other", contract_version=2)
    assert other["seed"] == 43
    a, b = _digest(out), _digest(tmp_path / "other")
    differing = [name for name in a if a[name] != b[name]]
    assert len(differing) >= len(CONTRACT.tables) - 1  # neighborhoods aside, every table changes


# ------------------------------------------------------------------------------------ conformance

def test_manifest(drop, tables):
    out, manifest = drop
    assert json.loads((out / "_drop.json").read_text()) == manifest
    assert manifest["scale"] == "small" and manifest["seed"] == 42
    assert TS_RE.match(manifest["extracted_at"])
    assert set(manifest["tables"]) == set(CONTRACT.tables)
    for name, df in tables.items():
        assert manifest["tables"][name] == len(df), name
        assert len(df) > 0, f"{name} is empty"


def test_v1_drop_is_the_v2_drop_without_the_v2_additions(drop, tmp_path):
    out, _ = drop
    v1 = tmp_path / "v1"
    manifest = generate("small", 42, v1)
    files = _digest(v1)
    assert set(files) == {f"{t}.csv" for t in CONTRACT.tables if t not in ("rank_history", "use_of_force")} | {"_drop.json"}
    v2 = _digest(out)
    assert all(files[f] == v2[f] for f in files if f not in ("ia_cases.csv", "_drop.json"))
    with open(v1 / "ia_cases.csv", encoding="utf-8", newline="") as fh:
        assert "allegation" not in next(csv.reader(fh))
    a = pd.read_csv(v1 / "ia_cases.csv", dtype=str, keep_default_na=False)
    b = pd.read_csv(out / "ia_cases.csv", dtype=str, keep_default_na=False)
    pd.testing.assert_frame_equal(a, b.drop(columns=["allegation"]))
    assert "contract_version" not in manifest


def test_v2_tables_are_consistent_with_the_cases(tables):
    ia, uof, rh, off = tables["ia_cases"], tables["use_of_force"], tables["rank_history"], tables["officers"]
    complaints = ia["event_type"].isin(["CITIZEN_COMPLAINT", "OFFICER_COMPLAINT"])
    assert (ia.loc[complaints, "allegation"] != "").all() and (ia.loc[~complaints, "allegation"] == "").all()
    n_force_cases = int((ia["event_type"] == "USE_OF_FORCE").sum())
    assert n_force_cases <= len(uof) <= 2 * n_force_cases
    reviewed = uof[uof["reviewed_on"] != ""]
    assert (reviewed["reviewed_on"] >= reviewed["occurred_at"].str[:10]).all()
    assert ((uof["reviewed_on"] == "") == (uof["review_outcome"] == "")).all()
    # every officer starts as OFFICER on the hire date; the current rank is the last row's
    first = rh.sort_values("start_date").groupby("officer_id").first()
    hired = off.set_index("officer_id")["hire_date"]
    assert (first["rank"] == "OFFICER").all() and (first["start_date"] == hired.loc[first.index]).all()
    last = rh.sort_values("start_date").groupby("officer_id").last()["rank"]
    assert (last == off.set_index("officer_id")["rank"].loc[last.index]).mean() > 0.95


def test_headers_are_exactly_the_contract_columns(drop):
    out, _ = drop
    for name, spec in CONTRACT.tables.items():
        with open(out / f"{name}.csv", encoding="utf-8", newline="") as fh:
            header = next(csv.reader(fh))
        assert header == list(spec.columns), name


def test_values_follow_types_codes_and_ranges(tables):
    for name, spec in CONTRACT.tables.items():
        df = tables[name]
        for col in spec.column_list:
            s = df[col.name]
            null = s == ""
            if not col.nullable:
                assert not null.any(), f"{name}.{col.name} has NULLs"
            v = s[~null]
            if col.type == "date":
                assert v.str.match(DATE_RE).all(), f"{name}.{col.name} not YYYY-MM-DD"
            elif col.type == "timestamp":
                assert v.str.match(TS_RE).all(), f"{name}.{col.name} not YYYY-MM-DDTHH:MM:SS"
            elif col.type == "bool":
                assert v.isin(["true", "false"]).all(), f"{name}.{col.name} not true/false"
            elif col.type in ("int", "float"):
                num = pd.to_numeric(v, errors="raise")
                if col.type == "int":
                    assert v.str.match(r"^-?\d+$").all(), f"{name}.{col.name} not an int"
                if col.range:
                    assert num.between(*col.range).all(), f"{name}.{col.name} out of range"
            codes = CONTRACT.codes_for(col)
            if codes:
                bad = set(v) - set(codes)
                assert not bad, f"{name}.{col.name}: unknown codes {bad}"


def test_primary_keys_unique_and_officers_known(tables):
    officers = set(tables["officers"]["officer_id"])
    assert all(re.fullmatch(r"o_[0-9a-f]{10}", o) for o in officers)
    for name, spec in CONTRACT.tables.items():
        df = tables[name]
        assert not df.duplicated(spec.primary_key).any(), f"{name}: duplicate primary key"
        for col in spec.officer_fk:
            ids = set(df.loc[df[col] != "", col])
            assert ids <= officers, f"{name}.{col}: unknown officers {list(ids - officers)[:3]}"


def test_ordering_null_iff_and_extraction_horizon(drop, tables):
    _, manifest = drop
    ext = manifest["extracted_at"]
    for name, spec in CONTRACT.tables.items():
        df = tables[name]
        for later, earlier in spec.order:  # ISO strings of one format compare like the moments
            both = (df[later] != "") & (df[earlier] != "")
            mixed = spec.columns[later].type != spec.columns[earlier].type  # a date against a timestamp: days
            a, b = (df[later].str[:10], df[earlier].str[:10]) if mixed else (df[later], df[earlier])
            bad = df.loc[both & (a < b)]
            assert bad.empty, f"{name}: {later} < {earlier} in {len(bad)} rows"
        for col, other, value in spec.null_iff:
            assert ((df[col] == "") == (df[other] == value)).all(), f"{name}: {col} NULL iff {other}={value}"
        for col in spec.temporal_columns:
            limit = ext[:10] if col.type == "date" else ext
            assert (df.loc[df[col.name] != "", col.name] <= limit).all(), f"{name}.{col.name} after extracted_at"


def test_assignments_never_overlap(tables):
    a = tables["assignments"].sort_values(["officer_id", "start_date"])
    assert (a.groupby("officer_id")["end_date"].apply(lambda s: (s == "").sum()) <= 1).all()
    end = a["end_date"].where(a["end_date"] != "", "9999-12-31")
    same = a["officer_id"].eq(a["officer_id"].shift(-1))
    nxt = a["start_date"].shift(-1)
    assert (end[same] < nxt[same]).all(), "an officer has overlapping assignments"
    assert (a.groupby("officer_id")["end_date"].apply(lambda s: (s[:-1] == "").sum()) == 0).all()


def test_dispatches_reference_calls(tables):
    calls = set(tables["calls_for_service"]["call_id"])
    assert set(tables["dispatches"]["call_id"]) <= calls
    for t in ("ia_cases", "arrests"):
        linked = tables[t]["call_id"]
        assert set(linked[linked != ""]) <= calls, t
    # IA cases that name a call name one the officer was dispatched to
    ia = tables["ia_cases"]
    ia = ia[ia["call_id"] != ""]
    pairs = set(zip(tables["dispatches"]["call_id"], tables["dispatches"]["officer_id"]))
    assert len(ia) > 0.3 * len(tables["ia_cases"])
    assert all(p in pairs for p in zip(ia["call_id"], ia["officer_id"]))


# ------------------------------------------------------------------------------------ base rates

def test_adverse_share_per_year(tables):
    ia, officers = tables["ia_cases"], tables["officers"]
    adv = ia[_adverse(ia)]
    for year in range(2012, 2016):
        active = _active_sworn(officers, year)
        hit = set(adv.loc[adv["incident_date"].str[:4] == str(year), "officer_id"]) & active
        share = len(hit) / len(active)
        assert 0.06 <= share <= 0.11, f"{year}: {share:.3f} of active sworn officers had an adverse incident"


def test_pending_and_non_adverse_cases_exist(tables):
    ia = tables["ia_cases"]
    pending = ia[ia["disposition"] == "PENDING"]
    assert len(pending) > 0 and (pending["closed_date"] == "").all()
    assert pending["reported_date"].min() >= "2015-01-01"  # only recent cases are still open
    assert (~_adverse(ia)).mean() > 0.6
    assert {"RULE_VIOLATION", "SICK_LEAVE"} <= set(ia["event_type"])
    assert {"JUSTIFIED", "NOT_SUSTAINED"} <= set(ia["disposition"])


def test_legacy_flags_follow_the_rules(tables):
    flags = tables["eis_flags"]
    assert len(flags) > 0
    assert set(flags["rule"]) <= {r.label for r in LEGACY_EIS_RULES}
    again = legacy_flags(tables["ia_cases"])
    got = list(zip(flags["officer_id"], flags["flagged_on"], flags["rule"]))
    want = list(zip(again["officer_id"], again["flagged_on"].dt.strftime("%Y-%m-%d"), again["rule"]))
    assert sorted(got) == sorted(want)
    # the trigger is a reported case of that type on the flag day
    ia = tables["ia_cases"]
    known = set(zip(ia["officer_id"], ia["reported_date"], ia["event_type"]))
    any_case = set(zip(ia["officer_id"], ia["reported_date"]))
    by_label = {r.label: r for r in LEGACY_EIS_RULES}
    assert all(any((o, d, ev) in known for ev in by_label[r].event_types) for o, d, r in got)
    assert all((o, d) in any_case for o, d, _ in got)


def test_legacy_rule_cool_down():
    cases = pd.DataFrame({"officer_id": ["a"] * 5 + ["b"] * 2,
                          "event_type": ["USE_OF_FORCE"] * 5 + ["USE_OF_FORCE"] * 2,
                          "reported_date": ["2014-01-01", "2014-01-10", "2014-01-20", "2014-01-25", "2014-06-01",
                                            "2014-01-01", "2014-01-02"]})
    flags = legacy_flags(cases, rules=(ThresholdRule("USE_OF_FORCE", 3, 90),))
    assert list(flags["officer_id"]) == ["a"]  # 3 in 90 days once; the 4th case is within the cool-down
    assert flags["flagged_on"].dt.strftime("%Y-%m-%d").tolist() == ["2014-01-20"]


def test_combined_indicator_rule_counts_every_event_type():
    cases = pd.DataFrame({"officer_id": ["a", "a", "b", "b"],
                          "event_type": ["SICK_LEAVE", "PURSUIT", "INJURY", "INJURY"],
                          "reported_date": ["2014-01-01", "2014-11-30", "2014-01-01", "2015-01-02"]})
    flags = legacy_flags(cases, rules=(ThresholdRule("ANY_INDICATOR", 2, 365),))
    assert list(flags["officer_id"]) == ["a"]  # b's second case came 366 days later
    assert flags["rule"].tolist() == ["2 IA indicators in 365 days"]


def test_high_crime_beats_have_more_arrests_per_officer(tables):
    nb = tables["neighborhoods"]
    crime = nb.assign(v=nb["violent_crime_per_1k"].astype(float)).groupby("beat")["v"].mean()
    a = tables["assignments"]
    start = pd.to_datetime(a["start_date"]).clip(lower=pd.Timestamp("2012-01-01"))
    end = pd.to_datetime(a["end_date"].where(a["end_date"] != "", "2015-12-31")).clip(upper=pd.Timestamp("2015-12-31"))
    days = ((end - start).dt.days + 1).clip(lower=0)
    officer_days = days.groupby(a["beat"]).sum()
    arrests = tables["arrests"]["beat"].value_counts()
    beats = crime.index
    rate = arrests.reindex(beats).fillna(0) / officer_days.reindex(beats)
    hi = crime >= crime.quantile(2 / 3)
    lo = crime <= crime.quantile(1 / 3)
    assert rate[hi].mean() > 1.3 * rate[lo].mean()


def test_prior_adverse_predicts_next_year(tables):
    ia, officers = tables["ia_cases"], tables["officers"]
    adv = ia[_adverse(ia)]
    by_year = {y: set(adv.loc[adv["incident_date"].str[:4] == str(y), "officer_id"]) for y in range(2012, 2016)}
    prior_hits = prior_n = other_hits = other_n = 0
    for y in range(2012, 2015):
        both = _active_sworn(officers, y) & _active_sworn(officers, y + 1)
        prior = both & by_year[y]
        rest = both - prior
        prior_hits += len(prior & by_year[y + 1]); prior_n += len(prior)
        other_hits += len(rest & by_year[y + 1]); other_n += len(rest)
    assert prior_n >= 20
    assert prior_hits / prior_n > 1.5 * other_hits / other_n


def test_adverse_dispatches_are_riskier(tables):
    d = tables["dispatches"]
    calls = tables["calls_for_service"].set_index("call_id")
    ia = tables["ia_cases"]
    adv_calls = set(ia.loc[_adverse(ia) & (ia["call_id"] != ""), "call_id"])
    risky = calls["source"].eq("OFFICER_INITIATED") | calls["call_type"].isin(["REPT-OFC", "OFC-INVL", "SUSP-SCN", "JST-OCC"])
    on_adverse = risky.reindex(list(adv_calls)).mean()
    on_all = risky.reindex(d["call_id"]).mean()
    assert len(adv_calls) >= 15
    assert on_adverse > on_all + 0.1


# ------------------------------------------------------------------------------------ formats, CLI

def test_parquet_has_same_rows_and_types(drop, tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    _, manifest = drop
    m = generate("small", 42, tmp_path / "pq", fmt="parquet", contract_version=2)
    assert m["tables"] == manifest["tables"]
    t = pq.read_table(tmp_path / "pq" / "dispatches.parquet")
    assert t.column_names == list(CONTRACT.tables["dispatches"].columns)
    assert str(t.schema.field("dispatched_at").type).startswith("timestamp")
    officers = pq.read_table(tmp_path / "pq" / "officers.parquet")
    assert str(officers.schema.field("hire_date").type) == "date32[day]"
    assert str(officers.schema.field("sworn").type) == "bool"


def test_cli_writes_a_drop(tmp_path):
    from eis_core.cli import main

    runner = CliRunner()
    res = runner.invoke(main, ["synth", "--help"])
    assert res.exit_code == 0 and "--scale" in res.output and "cmpd" in res.output
    res = runner.invoke(main, ["synth", "--scale", "small", "--seed", "7", "--out", str(tmp_path / "d")])
    assert res.exit_code == 0, res.output
    manifest = json.loads((tmp_path / "d" / "_drop.json").read_text())
    assert manifest["seed"] == 7 and manifest["tables"]["dispatches"] > 100_000
    assert "dispatches" in res.output


def test_unknown_scale_is_refused(tmp_path):
    with pytest.raises(ValueError):
        generate("huge", 1, tmp_path)
    with pytest.raises(ValueError):
        generate("small", 1, tmp_path, fmt="xlsx")
