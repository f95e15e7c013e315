"""``eis import cpdp`` on the real CPDP sample (2,493 Chicago officers): pinned import-report counts, every
written row checked against the contract rules, no names or raw UIDs in the drop, salted ids, clean
one-line errors, and a real ``eis load`` of the drop that quarantines nothing."""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import re
import shutil
from collections import Counter
from datetime import date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from eis_core.contract import load_contract
from eis_core.importers.cpdp import DEFAULT_SALT, run_import
from eis_core.importers.cpdp_officers import map_rank

CPDP = Path(__file__).resolve().parents[2] / "shared" / "data" / "cpdp"
pytestmark = pytest.mark.skipif(not (CPDP / "final-profiles.csv.gz").exists(), reason=f"CPDP sample not at {CPDP}")
TABLES = ("officers", "rank_history", "assignments", "ia_cases", "use_of_force")


def _rows(p: Path) -> list[dict]:
    with open(p, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _src_rows(name: str) -> list[dict]:
    with gzip.open(CPDP / name, "rt", encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def drop(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cpdp_drop")
    run_import(CPDP, out)
    return out


@pytest.fixture(scope="module")
def report(drop) -> dict:
    return json.loads((drop / "_import_report.json").read_text())


@pytest.fixture(scope="module")
def tables(drop) -> dict[str, list[dict]]:
    return {t: _rows(drop / f"{t}.csv") for t in TABLES}


# ------------------------------------------------------------------ pinned counts of the sample

def test_report_counts_are_pinned(report):
    t = report["tables"]
    assert report["extracted_at"] == "2018-03-09T23:59:59"  # the newest closed date of the 2018 release
    assert {k: v["rows_out"] for k, v in t.items()} == {
        "officers": 2492, "rank_history": 2348, "assignments": 10454, "ia_cases": 25117, "use_of_force": 9576}
    assert t["officers"]["dropped"] == {"birth_year missing": 1}
    assert t["rank_history"]["dropped"] == {}
    assert t["rank_history"]["skipped"] == {"salary row with a civilian title": 35,
                                            "salary year with the same rank as the year before": 22993}
    assert t["assignments"]["dropped"] == {"unit row of an officer not written": 3,
                                           "unit row starting after the officer's separation date": 62}
    assert t["ia_cases"]["dropped"] == {} and t["ia_cases"]["skipped"] == {}  # every allegation row names an officer
    assert t["use_of_force"]["dropped"] == {}
    assert t["officers"]["counts"]["rank"] == {"CAPTAIN": 85, "LIEUTENANT": 140, "OFFICER": 1871, "SERGEANT": 396}
    assert t["officers"]["counts"]["sworn"] == {"False": 4, "True": 2488}
    assert t["officers"]["counts"]["race"] == {"ASIAN": 96, "BLACK": 149, "HISPANIC": 527, "OTHER": 12,
                                               "UNKNOWN": 1, "WHITE": 1707}
    assert t["ia_cases"]["counts"]["event_type"] == {"CITIZEN_COMPLAINT": 24375, "OFFICER_COMPLAINT": 742}
    assert t["ia_cases"]["counts"]["disposition"] == {
        "EXONERATED": 1781, "NOT_SUSTAINED": 11033, "NO_FINDING": 4456, "PENDING": 251, "SUSTAINED": 1819,
        "UNFOUNDED": 5777}
    assert t["use_of_force"]["counts"]["force_type"] == {"FIREARM": 105, "OTHER": 8653, "TASER": 818}
    rec = t["ia_cases"]["recoded"]
    assert rec["finding NAF -> NO_FINDING"] == 3746
    assert rec["complainant type unknown -> CITIZEN_COMPLAINT"] == 15970
    assert rec["finding without a closed date -> PENDING"] == 55
    assert rec["closed without a finding -> NO_FINDING"] == 698
    assert rec["incident after complaint_date -> incident_date = complaint_date"] == 110
    assert rec["closed_date differs between releases -> the later kept"] == 1239
    assert t["assignments"]["recoded"]["open row of a separated officer -> end_date = separation_date"] == 1048
    assert t["officers"]["recoded"]["race ASIAN/PACIFIC ISLANDER -> ASIAN"] == 96
    assert t["officers"]["recoded"]["race NATIVE AMERICAN/ALASKAN NATIVE -> OTHER"] == 12
    # rows in / used per source file
    s = report["sources"]
    assert s["profiles"] == {"file": "final-profiles.csv.gz", "rows_in": 2493, "rows_used": 2492}
    assert (s["units"]["rows_in"], s["accused"]["rows_in"], s["accused_2018"]["rows_in"]) == (10519, 25101, 9710)
    assert (s["trr_main"]["rows_in"], s["trr_officers"]["rows_in"], s["trr_statuses"]["rows_in"]) == (9576, 9576, 28756)
    for name, tab in t.items():
        assert tab["drop_share"] < 0.01


def test_rows_out_match_the_files(report, tables):
    for name, rows in tables.items():
        assert report["tables"][name]["rows_out"] == len(rows)


# ------------------------------------------------------------------ every contract rule on every row

def _parse(value: str, typ: str):
    if typ == "date":
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", value), value
        return date.fromisoformat(value)
    if typ == "timestamp":
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}", value), value
        return datetime.fromisoformat(value)
    if typ == "int":
        assert re.fullmatch(r"-?\d+", value), value
        return int(value)
    if typ == "float":
        return float(value)
    if typ == "bool":
        assert value in ("true", "false"), value
        return value == "true"
    return value


def _day(v):
    return v.date() if isinstance(v, datetime) else v


def test_every_row_satisfies_the_contract(drop, tables):
    contract = load_contract()
    extracted = datetime.fromisoformat(json.loads((drop / "_drop.json").read_text())["extracted_at"])
    officer_ids = {r["officer_id"] for r in tables["officers"]}
    for name, rows in tables.items():
        spec = contract.tables[name]
        with open(drop / f"{name}.csv", encoding="utf-8") as fh:
            header = fh.readline().strip().split(",")
        assert header == list(spec.columns), name  # exactly the contract's columns, nothing extra
        assert rows, name
        keys = Counter(tuple(r[k] for k in spec.primary_key) for r in rows)
        assert max(keys.values()) == 1, f"{name}: duplicate key"
        for r in rows:
            vals = {}
            for c in spec.column_list:
                v = r[c.name]
                if v == "":
                    assert c.nullable, f"{name}.{c.name} empty in {r}"
                    vals[c.name] = None
                    continue
                vals[c.name] = x = _parse(v, c.type)
                codes = contract.codes_for(c)
                if codes:
                    assert x in codes, f"{name}.{c.name}={x}"
                if c.range:
                    assert c.range[0] <= x <= c.range[1], f"{name}.{c.name}={x}"
                if c.type in ("date", "timestamp"):
                    assert (x if c.type == "timestamp" else datetime.combine(x, datetime.min.time())) <= extracted
            for later, earlier in spec.order:
                if vals[later] is not None and vals[earlier] is not None:
                    assert _day(vals[later]) >= _day(vals[earlier]), f"{name}: {later} < {earlier} in {r}"
            for col, other, value in spec.null_iff:
                assert (vals[col] is None) == (vals[other] == value), f"{name}: {col}/{other} pairing in {r}"
            for fk in spec.officer_fk:
                assert vals[fk] in officer_ids, f"{name}: unknown officer"
    opens = Counter(r["officer_id"] for r in tables["assignments"] if r["end_date"] == "")
    assert opens and max(opens.values()) == 1  # at most one open assignment per officer


def test_point_in_time_and_mappings_on_real_rows(tables):
    sep = {r["officer_id"]: r["separation_date"] for r in tables["officers"]}
    for r in tables["assignments"]:  # nobody stays assigned after leaving
        if sep[r["officer_id"]]:
            assert r["end_date"] and r["end_date"] <= sep[r["officer_id"]] and r["start_date"] <= sep[r["officer_id"]]
    oid = hashlib.sha256(f"{DEFAULT_SALT}:100009".encode()).hexdigest()[:16]  # unit-history 44 -> 25 -> 5
    a = sorted((r for r in tables["assignments"] if r["officer_id"] == oid), key=lambda r: r["start_date"])
    assert [(r["start_date"], r["end_date"], r["division"], r["unit"]) for r in a] == [
        ("2005-12-05", "2007-05-23", "UNIT_044", "044"), ("2007-05-24", "2007-10-10", "DISTRICT_025", "025"),
        ("2007-10-11", "", "DISTRICT_005", "005")]
    # CR 1000209: closed 2010-10-06 in the merged file, 2007-01-25 in the 2018 release -> the later; a CPD employee
    cases = {r["case_id"].split("-")[0]: r for r in tables["ia_cases"]}
    assert cases["CR1000209"]["closed_date"] == "2010-10-06" and cases["CR1000209"]["event_type"] == "OFFICER_COMPLAINT"
    # the accused file's SU on CR C182480 for UID 103074: sustained, with its penalty and allegation
    c = next(r for r in tables["ia_cases"] if r["case_id"] == "CR" + "C182480-"
             + hashlib.sha256(f"{DEFAULT_SALT}:103074".encode()).hexdigest()[:16])
    assert (c["disposition"], c["intervention"], c["allegation"]) == ("SUSTAINED", "1 DAY SUSPENSION",
                                                                      "08N COMMISSION OF CRIME: MISCELLANEOUS")
    assert all("  " not in r["allegation"] and r["allegation"] == r["allegation"].upper()
               for r in tables["ia_cases"] if r["allegation"])
    assert all(r["intervention"] == "" for r in tables["ia_cases"] if r["disposition"] == "PENDING")
    # TRRs are supervisor reviews, never Internal Affairs cases
    assert all(r["case_id"].startswith("CR") and r["event_type"] != "USE_OF_FORCE" for r in tables["ia_cases"])
    assert {r["review_outcome"] for r in tables["use_of_force"]} == {"APPROVED"}
    # rank history: a row only when the rank changes
    by_off: dict[str, list] = {}
    for r in sorted(tables["rank_history"], key=lambda r: (r["officer_id"], r["start_date"])):
        by_off.setdefault(r["officer_id"], []).append(r["rank"])
    assert all(a != b for ranks in by_off.values() for a, b in zip(ranks, ranks[1:]))
    assert sum(len(v) > 1 for v in by_off.values()) > 300  # promotions are there


def test_rank_titles():
    assert map_rank("PO/FIELD TRNING OFF") == ("OFFICER", True)
    assert map_rank("P.O. ASSIGNED AS HELICOPTER PILOT") == ("OFFICER", True)
    assert map_rank("POLICE OFFICER (ASSIGNED AS DETECTIVE)") == ("OFFICER", True)
    assert map_rank("SERGEANT OF POLICE") == ("SERGEANT", True) and map_rank("SGT") == ("SERGEANT", True)
    assert map_rank("LIEUTENANT OF POLICE") == ("LIEUTENANT", True)
    assert map_rank("COMMANDER") == ("CAPTAIN", True) and map_rank("FIRST DEPUTY SUPT.") == ("CAPTAIN", True)
    assert map_rank("DEP CHIEF") == ("CAPTAIN", True)
    assert map_rank("POL FORENSIC INV I") == ("OFFICER", False)
    assert map_rank("POLICE LEGAL OFFICER II") == ("OFFICER", False)
    assert map_rank("POLICE TECHNICIAN") == ("OFFICER", False)


# ------------------------------------------------------------------ privacy: no names, no raw UIDs, salted ids

def test_no_names_and_no_raw_uids(drop, tables):
    names = re.compile(r"(^|_)(name|first|last|middle|suffix|star|street|address|block|badge|uid)($|_)", re.I)
    for t in TABLES:
        with open(drop / f"{t}.csv", encoding="utf-8") as fh:
            assert not [c for c in fh.readline().strip().split(",") if names.search(c)], t
    uids = {r["UID"].removesuffix(".0") for r in _src_rows("final-profiles.csv.gz")}
    uids |= {u + ".0" for u in uids}
    for t, rows in tables.items():
        for r in rows:
            assert not uids & set(r.values()), f"a raw UID in {t}"
            assert re.fullmatch(r"[0-9a-f]{16}", r["officer_id"])
    assert all(re.fullmatch(r"CR[0-9A-Z]+-" + r["officer_id"], r["case_id"]) for r in tables["ia_cases"])
    files = sorted(p.name for p in drop.iterdir())
    assert files == ["_drop.json", "_import_report.json"] + sorted(f"{t}.csv" for t in TABLES)


def test_salt_changes_ids_and_runs_are_reproducible(tmp_path, drop, tables, monkeypatch):
    run_import(CPDP, tmp_path / "again")
    assert (tmp_path / "again" / "officers.csv").read_bytes() == (drop / "officers.csv").read_bytes()
    assert (tmp_path / "again" / "ia_cases.csv").read_bytes() == (drop / "ia_cases.csv").read_bytes()
    run_import(CPDP, tmp_path / "salted", salt="another salt")
    other = _rows(tmp_path / "salted" / "officers.csv")
    assert len(other) == len(tables["officers"])
    assert not {r["officer_id"] for r in other} & {r["officer_id"] for r in tables["officers"]}
    monkeypatch.setenv("EIS_IMPORT_SALT", "another salt")
    run_import(CPDP, tmp_path / "env")
    assert (tmp_path / "env" / "officers.csv").read_bytes() == (tmp_path / "salted" / "officers.csv").read_bytes()
    rep = json.loads((tmp_path / "env" / "_import_report.json").read_text())
    assert rep["salt"] == "EIS_IMPORT_SALT" and "another salt" not in (tmp_path / "env" / "_import_report.json").read_text()


# ------------------------------------------------------------------ the command and its errors

def _cli(args):
    from eis_core.cli import main

    return CliRunner().invoke(main, ["import", "cpdp", *args])


def test_cli_success_prints_summary(tmp_path):
    r = _cli([str(CPDP), "--out", str(tmp_path / "d")])
    assert r.exit_code == 0, r.output
    assert "ia_cases: 25,117 rows written" in r.output and "_import_report.json" in r.output


def _one_line_error(r) -> str:
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output and isinstance(r.exception, SystemExit)
    lines = [ln for ln in r.output.splitlines() if ln.startswith("Error:")]
    assert len(lines) == 1, r.output
    return lines[0]


def test_bad_source_dirs_exit_2_with_one_line(tmp_path):
    assert "not a folder" in _one_line_error(_cli([str(tmp_path / "nope"), "--out", str(tmp_path / "o1")]))
    (tmp_path / "empty").mkdir()
    assert "missing source file" in _one_line_error(_cli([str(tmp_path / "empty"), "--out", str(tmp_path / "o2")]))
    # a required file missing from an otherwise complete folder
    part = tmp_path / "part"
    shutil.copytree(CPDP, part)
    (part / "unit-history.csv.gz").unlink()
    assert "unit-history" in _one_line_error(_cli([str(part), "--out", str(tmp_path / "o3")]))
    # too small: a header-only profiles file
    small = tmp_path / "small"
    shutil.copytree(CPDP, small)
    with gzip.open(small / "final-profiles.csv.gz", "rt") as fh:
        header = fh.readline()
    with gzip.open(small / "final-profiles.csv.gz", "wt") as fh:
        fh.write(header)
    assert "no data rows" in _one_line_error(_cli([str(small), "--out", str(tmp_path / "o4")]))
    # a missing column, and a file that is not gzip at all
    with gzip.open(small / "final-profiles.csv.gz", "wt") as fh:
        fh.write("UID,race\n100009,WHITE\n")
    assert "missing column(s) birth_year" in _one_line_error(_cli([str(small), "--out", str(tmp_path / "o5")]))
    (small / "final-profiles.csv.gz").write_bytes(b"this is not gzip")
    assert "final-profiles.csv.gz" in _one_line_error(_cli([str(small), "--out", str(tmp_path / "o6")]))


def test_max_drop_share(tmp_path):
    r = _cli([str(CPDP), "--out", str(tmp_path / "d"), "--max-drop-share", "0.001"])
    assert "too many rows dropped" in _one_line_error(r) and "assignments 0.6%" in r.output
    assert (tmp_path / "d" / "_import_report.json").exists()  # the report explains what was dropped


# ------------------------------------------------------------------ the real loader accepts the drop as it is

def test_eis_load_quarantines_nothing(warehouse, drop):
    from conftest import reset_raw
    from eis_core.load.loader import load_drop

    reset_raw(warehouse)
    rep = load_drop(drop, progress=lambda m: None)
    got = {t.table: (t.status, t.rows_loaded, t.rows_quarantined) for t in rep.tables if t.table in TABLES}
    assert got == {"officers": ("loaded", 2492, 0), "rank_history": ("loaded", 2348, 0),
                   "assignments": ("loaded", 10454, 0), "ia_cases": ("loaded", 25117, 0),
                   "use_of_force": ("loaded", 9576, 0)}, rep.summary()
    reset_raw(warehouse)
