"""Loads you can trust (issue 17): every bad row found, concurrent and truncated drops refused, nothing
coerced, nothing crashes, nothing outside the drop read.

Each test builds a small drop with tests/minidrop.py, loads it into the session's real PostgreSQL and
checks raw, raw.quarantine and raw.load_log.
"""

from __future__ import annotations

import copy
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from minidrop import valid_tables, write_drop

EIS = str(Path(sys.executable).with_name("eis"))


def quiet(_msg: str) -> None:
    pass


@pytest.fixture(scope="module")
def loader(warehouse):
    from eis_core.load import loader as mod

    from conftest import reset_raw

    reset_raw(warehouse)
    return mod


@pytest.fixture()
def good(loader, tmp_path_factory):
    drop = write_drop(tmp_path_factory.mktemp("good"), valid_tables())
    rep = loader.load_drop(drop, progress=quiet)
    assert rep.ok, rep.summary()
    return valid_tables()


def q1(warehouse, query: str, params=()):
    with warehouse.connect() as conn:
        return conn.execute(query, params).fetchone()


def rule_counts(warehouse, load_id: int, table: str) -> dict[str, int]:
    with warehouse.connect() as conn:
        return dict(conn.execute(
            "SELECT rule, count(*) FROM raw.quarantine, unnest(rules) rule WHERE load_id = %s AND table_name = %s "
            "GROUP BY rule", (load_id, table)).fetchall())


def quarantine(warehouse, load_id: int, table: str) -> dict[int, tuple[list[str], dict]]:
    with warehouse.connect() as conn:
        return {r[0]: (r[1], r[2]) for r in conn.execute(
            "SELECT row_number, rules, row_data FROM raw.quarantine WHERE load_id = %s AND table_name = %s",
            (load_id, table))}


def count(warehouse, table: str, where: str = "true") -> int:
    return q1(warehouse, f"SELECT count(*) FROM raw.{table} WHERE {where}")[0]  # test-only SQL


# ---------------------------------------------------------------------------------------------- item 1

def test_every_row_breaking_a_row_rule_is_quarantined_not_only_20(loader, warehouse, good, tmp_path):
    """More than 20 bad rows for every kind of row rule (not null, code, range, future date, date order,
    empty-iff, known officer, one open assignment): every one is found and quarantined."""
    t = copy.deepcopy(good)
    tr = t["training"]
    for r in tr[0:30]:
        r["topic"] = "bias"                      # code in training_topic
    for r in tr[30:55]:
        r["credit_hours"] = "-1"                 # value in range
    for r in tr[55:77]:
        r["completed_on"] = "2030-01-01"         # no future date
    for r in tr[77:98]:
        r["course"] = ""                         # required value
    for r in tr[98:121]:
        r["officer_id"] = "o_9999"               # known officer
    closed = [r for r in t["ia_cases"] if r["disposition"] != "PENDING"][:24]
    for r in closed:
        r["closed_date"] = ""                    # closed_date empty iff PENDING
    for i in range(25):                          # a second open assignment for 25 officers: 50 rows
        t["assignments"].append(dict(t["assignments"][i], start_date="2013-06-01"))
    for r in t["crime_reports"][:30]:
        r["cleared_at"] = "2014-07-01T00:00:00"  # before reported_at
    for r in t["dispatches"][:25]:
        r["arrived_at"] = "2001-01-01T00:00:00"  # before dispatched_at
    rep = loader.load_drop(write_drop(tmp_path / "d", t), progress=quiet, reject_share=0.99, allow_shrink=True)
    assert rep.ok, rep.summary()
    assert rule_counts(warehouse, rep.load_id, "training") == {
        "code in training_topic": 30, "value in range": 25, "no future date": 22, "required value": 21,
        "known officer": 23}
    assert count(warehouse, "training") == 150 - 121
    assert rule_counts(warehouse, rep.load_id, "ia_cases") == {"closed_date empty iff disposition = PENDING": 24}
    assert rule_counts(warehouse, rep.load_id, "assignments") == {"one open assignment": 50}
    assert rule_counts(warehouse, rep.load_id, "crime_reports") == {"date order cleared_at >= reported_at": 30}
    assert rule_counts(warehouse, rep.load_id, "dispatches") == {"date order arrived_at >= dispatched_at": 25}
    assert count(warehouse, "dispatches", "arrived_at < dispatched_at") == 0
    assert rep.table("training").rows_quarantined == 121 and rep.table("training").rows_loaded == 29
    msg = next(p["message"] for p in rep.table("training").problems if p["rule"] == "code in training_topic")
    assert msg.startswith("30 row(s)") and "'bias'" in msg


def test_reject_share_counts_every_bad_row(loader, warehouse, good, tmp_path):
    """3,000 calls: 25 bad source codes (0.83 %) are all quarantined; 40 (1.33 %) reject the table."""
    calls = [dict(good["calls_for_service"][i % 300], call_id=f"big{i}") for i in range(3000)]
    t = copy.deepcopy(good)
    t["calls_for_service"] = copy.deepcopy(calls)
    for r in t["calls_for_service"][:25]:
        r["source"] = "RADIO"
    rep = loader.load_drop(write_drop(tmp_path / "a", t), progress=quiet)
    c = rep.table("calls_for_service")
    assert c.status == "loaded_with_quarantine" and c.rows_quarantined == 25 and c.rows_loaded == 2975, rep.summary()
    assert count(warehouse, "calls_for_service", "source = 'RADIO'") == 0
    t["calls_for_service"] = copy.deepcopy(calls)
    for r in t["calls_for_service"][:40]:
        r["source"] = "RADIO"
    rep = loader.load_drop(write_drop(tmp_path / "b", t), progress=quiet)
    c = rep.table("calls_for_service")
    assert c.status == "rejected" and c.problems[0]["rule"] == "bad-row share", rep.summary()
    assert "40 of 3,000" in c.problems[0]["message"]
    assert count(warehouse, "calls_for_service", "source = 'RADIO'") == 0


# ---------------------------------------------------------------------------------------------- item 2

def test_a_second_load_while_one_runs_is_refused_with_a_message(loader, warehouse, good, tmp_path):
    drop = write_drop(tmp_path / "d", good)
    with warehouse.connect(autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (loader.LOCK_KEY,))
        try:
            with pytest.raises(loader.LoadBusy, match="another eis load is running"):
                loader.load_drop(drop, progress=quiet)
            res = subprocess.run([EIS, "load", str(drop)], capture_output=True, text=True, timeout=300)
            assert res.returncode == 2 and "another eis load is running" in res.stderr
            assert "Traceback" not in res.stderr and len(res.stderr.strip().splitlines()) == 1, res.stderr
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (loader.LOCK_KEY,))
    assert loader.load_drop(drop, progress=quiet).ok


def test_two_concurrent_loads_each_record_only_their_own_file(loader, warehouse, good, tmp_path):
    """Two `eis load --wait` at once: they run one after the other; each load's officers row carries
    its own file's hash and raw.officers holds the drop of the load that ran last."""
    from eis_core.load.parse import sha256_of

    drops = []
    for k, rank in enumerate(("OFFICER", "SERGEANT")):
        t = copy.deepcopy(good)
        for r in t["officers"]:
            r["rank"] = rank
        for r in t["training"]:
            r["course"] = f"C{k}"
        drops.append(write_drop(tmp_path / f"d{k}", t))
    procs = [subprocess.Popen([EIS, "load", "--wait", str(d)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for d in drops]
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    with warehouse.connect() as conn:
        rows = conn.execute("SELECT load_id, drop_path, file_sha256 FROM raw.load_log WHERE table_name = 'officers' "
                            "ORDER BY load_id DESC LIMIT 2").fetchall()
        ranks = {r[0] for r in conn.execute("SELECT rank FROM raw.officers")}
        courses = {r[0] for r in conn.execute("SELECT course FROM raw.training")}
    for load_id, drop_path, sha in rows:
        assert sha == sha256_of(Path(drop_path) / "officers.csv")
    last = Path(rows[0][1])
    assert ranks == ({"OFFICER"} if last == drops[0].resolve() else {"SERGEANT"})
    assert courses == ({"C0"} if last == drops[0].resolve() else {"C1"})
    assert q1(warehouse, "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'raw_incoming'")[0] == 0


# ---------------------------------------------------------------------------------------------- item 3

def test_truncated_officers_export_is_rejected_unless_allowed(loader, warehouse, good, tmp_path):
    t = copy.deepcopy(good)
    t["officers"] = t["officers"][:5]  # 5 of 40, every other file unchanged
    rep = loader.load_drop(write_drop(tmp_path / "a", t), progress=quiet)
    o = rep.table("officers")
    assert o.status == "rejected" and o.problems[0]["rule"] == "table shrink", rep.summary()
    assert "--allow-shrink" in o.message
    assert count(warehouse, "officers") == 40
    assert count(warehouse, "ia_cases", "officer_id NOT IN (SELECT officer_id FROM raw.officers)") == 0


def test_officers_missing_with_history_are_rejected_unless_allowed(loader, warehouse, good, tmp_path):
    """3 of 40 officers left out (within the shrink limit): their history in the tables this drop does
    not replace would be orphaned -> officers rejected; with allow_shrink the drop loads."""
    t = copy.deepcopy(good)
    t["officers"] = t["officers"][3:]
    rep = loader.load_drop(write_drop(tmp_path / "a", t), progress=quiet)
    o = rep.table("officers")
    assert o.status == "rejected" and o.problems[0]["rule"] == "no orphaned history", rep.summary()
    assert "o_0001" in o.message and "ia_cases" in o.message
    assert count(warehouse, "officers") == 40
    for table in ("assignments", "ia_cases", "dispatches", "training"):
        assert count(warehouse, table, "officer_id NOT IN (SELECT officer_id FROM raw.officers)") == 0, table
    rep = loader.load_drop(write_drop(tmp_path / "b", t), progress=quiet, allow_shrink=True)
    assert rep.table("officers").status == "loaded" and count(warehouse, "officers") == 37


def test_killed_load_is_marked_aborted(loader, warehouse, good, tmp_path):
    t = copy.deepcopy(good)
    for r in t["officers"]:
        r["rank"] = "SERGEANT"
    drop = write_drop(tmp_path / "d", t)
    before = q1(warehouse, "SELECT coalesce(max(load_id), 0) FROM raw.load_log")[0]
    proc = subprocess.Popen([EIS, "load", str(drop)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    load_id = None
    while time.time() < deadline and load_id is None:
        row = q1(warehouse, "SELECT load_id FROM raw.load_log WHERE table_name = '(load)' AND status = 'running' "
                            "AND load_id > %s", (before,))
        load_id = row[0] if row else None
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert load_id is not None
    loader.load_drop(write_drop(tmp_path / "e", good), progress=quiet, wait=True)
    status, message = q1(warehouse, "SELECT status, message FROM raw.load_log WHERE load_id = %s AND table_name = '(load)'",
                         (load_id,))
    assert status == "aborted" and "killed" in message


# ---------------------------------------------------------------------------------------------- item 4

def test_nothing_is_coerced(loader, warehouse, good, tmp_path):
    t = copy.deepcopy(good)
    t["ia_cases"][3]["incident_date"] = "2013-02-30"
    t["calls_for_service"][4]["received_at"] = "2014-03-01T23:59:60"
    for i, r in enumerate(t["training"]):
        r["course"] = ["NA", "N/A", "null"][i % 3]
    t["neighborhoods"][0]["avg_age_at_death"] = "NaN"
    t["neighborhoods"][1]["median_income"] = "1e999"
    for r in t["assignments"]:
        r["beat"] = "00101"
    drop = write_drop(tmp_path / "d", t)
    p = drop / "assignments.csv"
    lines = p.read_text().splitlines()
    lines[0] = lines[0].replace("beat", "beat ")
    p.write_text("\n".join(lines) + "\n")
    rep = loader.load_drop(drop, progress=quiet)
    ia = rep.table("ia_cases")
    assert ia.status == "rejected" and ia.problems[0]["rule"] == "column type" and "2013-02-30" in ia.message
    q = quarantine(warehouse, rep.load_id, "ia_cases")
    assert q[5][1]["incident_date"] == "2013-02-30" and q[5][0] == ["column type", "table rejected"]
    calls = rep.table("calls_for_service")
    assert calls.status == "rejected" and "23:59:60" in calls.message
    assert quarantine(warehouse, rep.load_id, "calls_for_service")[6][1]["received_at"] == "2014-03-01T23:59:60"
    assert rep.table("training").status == "loaded", rep.summary()
    with warehouse.connect() as conn:
        assert {r[0] for r in conn.execute("SELECT course FROM raw.training")} == {"NA", "N/A", "null"}
        assert {r[0] for r in conn.execute("SELECT beat FROM raw.assignments")} == {"00101"}
    nb = rep.table("neighborhoods")
    msgs = " ".join(p["message"] for p in nb.problems)
    assert nb.status == "rejected" and "'NaN'" in msgs and "'1e999'" in msgs
    assert count(warehouse, "ia_cases", "incident_date = '2013-03-02'") == 0
    assert count(warehouse, "neighborhoods", "avg_age_at_death = 'NaN'::float OR median_income = 'Infinity'::float") == 0


# ---------------------------------------------------------------------------------------------- item 5

def test_crash_cases_are_named_rejections_and_the_rest_loads(loader, warehouse, good, tmp_path):
    t = copy.deepcopy(good)
    t["neighborhoods"][2]["population"] = "+185"
    t["traffic_stops"][3]["driver_age"] = "99999999999999999999"
    t["arrests"][4]["arrested_at"] = "0000-05-01T10:00:00"
    for r in t["ia_cases"]:
        r["intervention"] = "x"  # changed, so it is read again
    drop = write_drop(tmp_path / "d", t)
    (drop / "training.csv").write_bytes((drop / "training.csv").read_bytes().replace(b"C1", b"C\x001", 1))
    for name, suffix in (("dispatches", ","), ("crime_reports", ", ")):
        p = drop / f"{name}.csv"
        lines = p.read_text().split("\n")
        lines[0] += suffix
        p.write_text("\n".join(lines))
    for name, col in (("ia_cases", "_row_number"), ("assignments", "_load_id")):
        p = drop / f"{name}.csv"
        lines = p.read_text().rstrip("\n").split("\n")
        p.write_text("\n".join([lines[0] + f",{col}"] + [ln + ",7" for ln in lines[1:]]) + "\n")
    (drop / "officers.csv").unlink()
    (drop / "officers.csv").mkdir()
    rep = loader.load_drop(drop, progress=quiet)
    expect = {"neighborhoods": "column type", "traffic_stops": "column type", "arrests": "column type",
              "training": "no NUL bytes", "dispatches": "column names not empty", "crime_reports": "column names not empty",
              "ia_cases": "reserved column names", "assignments": "reserved column names",
              "officers": "regular file in the drop"}
    for name, rule in expect.items():
        r = rep.table(name)
        assert r.status == "rejected" and r.problems[0]["rule"] == rule, (name, r.message)
    assert "+185" in rep.table("neighborhoods").message and "0000-05-01" in rep.table("arrests").message
    assert rep.table("calls_for_service").status in ("loaded", "unchanged")
    with warehouse.connect() as conn:
        logged = dict(conn.execute("SELECT table_name, status FROM raw.load_log WHERE load_id = %s", (rep.load_id,)).fetchall())
    assert all(logged[n] == "rejected" for n in expect) and logged["(load)"] == "rejected"


@pytest.mark.parametrize("manifest, says", [
    ("{not json", "not valid UTF-8 JSON"), ('["2016-01-01"]', "must be a JSON object"),
    ('{"extracted_at": "yesterday"}', "extracted_at must be"), ('{"extracted_at": 20160101}', "extracted_at must be"),
    ('{"extracted_at": "2016-02-30T00:00:00"}', "extracted_at must be")])
def test_bad_manifest_is_one_line_exit_2(loader, warehouse, good, tmp_path, manifest, says):
    drop = write_drop(tmp_path / "d", good)
    (drop / "_drop.json").write_text(manifest)
    res = subprocess.run([EIS, "load", str(drop)], capture_output=True, text=True, timeout=300)
    assert res.returncode == 2 and says in res.stderr and "_drop.json" in res.stderr, res.stderr
    assert "Traceback" not in res.stderr and len(res.stderr.strip().splitlines()) == 1, res.stderr
    status, message = q1(warehouse, "SELECT status, message FROM raw.load_log WHERE table_name = '(load)' "
                                    "ORDER BY load_id DESC LIMIT 1")
    assert status == "rejected" and says in message


# ---------------------------------------------------------------------------------------------- item 6

def test_files_resolving_outside_the_drop_are_refused_unread(loader, warehouse, good, tmp_path):
    from eis_core.paths import eis_home

    secret = tmp_path / "outside" / "secret.txt"
    secret.parent.mkdir()
    secret.write_text("flag_id,officer_id,flagged_on,rule,intervention\nSECRET-LINE,o_0001,2014-01-01,r,\n")
    drop = write_drop(tmp_path / "d", good)
    (drop / "officers.csv").unlink()
    (drop / "officers.csv").symlink_to("/etc/passwd")
    (drop / "eis_flags.csv").symlink_to(secret)
    rep = loader.load_drop(drop, progress=quiet)
    for name in ("officers", "eis_flags"):
        r = rep.table(name)
        assert r.status == "rejected" and r.problems[0]["rule"] == "file inside the drop folder", r.message
    assert "root:" not in rep.summary() and "SECRET" not in rep.summary()
    with warehouse.connect() as conn:
        assert conn.execute("SELECT count(*) FROM raw.quarantine WHERE load_id = %s", (rep.load_id,)).fetchone()[0] == 0
        text = " ".join(str(r) for r in conn.execute("SELECT * FROM raw.load_log WHERE load_id = %s", (rep.load_id,)))
    assert "root:" not in text and "SECRET" not in text
    assert not (eis_home() / "rejected" / str(rep.load_id)).exists()
    assert count(warehouse, "officers") == 40 and count(warehouse, "eis_flags") == 0


# ---------------------------------------------------------------------------------------------- item 7

def test_csv_and_parquet_of_one_table_is_rejected(loader, warehouse, good, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    drop = write_drop(tmp_path / "d", good)
    pq.write_table(pa.table({"officer_id": ["o_0001"]}), drop / "officers.parquet")
    rep = loader.load_drop(drop, progress=quiet)
    o = rep.table("officers")
    assert o.status == "rejected" and o.problems[0]["rule"] == "one file per table"
    assert "officers.csv" in o.message and "officers.parquet" in o.message


def test_quarantine_lines_are_file_lines_and_a_rejected_retry_is_not_requarantined(loader, warehouse, good, tmp_path):
    t = copy.deepcopy(good)
    t["training"][5]["course"] = "two\nlines"
    t["training"][9]["topic"] = "WRONG"
    t["training"][12]["topic"] = "WRONG"
    drop = write_drop(tmp_path / "d", t)
    p = drop / "training.csv"
    lines = p.read_text().split("\n")
    p.write_text("\n".join(lines[:3] + ["", ""] + lines[3:]))  # two blank lines after data line 3
    rep = loader.load_drop(drop, progress=quiet, reject_share=0.05)
    assert rep.table("training").status == "loaded_with_quarantine", rep.summary()
    q = quarantine(warehouse, rep.load_id, "training")
    # data row 9 is on line 11, + 2 blank lines, + 1 for the quoted newline of row 5
    assert set(q) == {14, 17} and q[14][1]["training_id"] == "t9" and q[17][1]["training_id"] == "t12"
    text = p.read_text().split("\n")
    assert text[14 - 1].startswith("t9,") and text[17 - 1].startswith("t12,")
    # a rejected file retried: its rows are quarantined once, not once per retry
    t2 = copy.deepcopy(good)
    t2["arrests"][0]["arrest_id"] = t2["arrests"][1]["arrest_id"]
    first = loader.load_drop(write_drop(tmp_path / "r1", t2), progress=quiet)
    second = loader.load_drop(write_drop(tmp_path / "r2", t2), progress=quiet)
    assert first.table("arrests").status == second.table("arrests").status == "rejected"
    assert first.table("arrests").rows_quarantined == 150 and second.table("arrests").rows_quarantined == 0
    assert f"load {first.load_id}" in second.table("arrests").message
    q = quarantine(warehouse, first.load_id, "arrests")
    assert q[2][0] == ["unique key", "table rejected"] and q[3][0] == ["unique key", "table rejected"]
    assert q[4][0] == ["table rejected"]


def _digest(warehouse) -> dict[str, tuple[int, str]]:
    from psycopg import sql

    from eis_core.contract import load_contract

    out = {}
    with warehouse.connect() as conn:
        for t in load_contract().ordered_tables():
            cols = sql.SQL(", ").join(sql.Identifier(c.name) for c in t.column_list)
            out[t.name] = tuple(conn.execute(sql.SQL(
                "SELECT count(*), coalesce(md5(string_agg(r::text, '|' ORDER BY r::text)), '') FROM (SELECT {} FROM raw.{}) r"
            ).format(cols, sql.Identifier(t.name))).fetchone())
    return out


def test_load_killed_at_three_points_converges_on_rerun(loader, warehouse, good, tmp_path):
    """kill -9 of `eis load` once it started, once it swapped officers, once it swapped ia_cases; after a
    rerun every raw table equals a clean load of the same drop, and no side table is left behind."""
    t = copy.deepcopy(good)
    for r in t["officers"]:
        r["rank"] = "SERGEANT"
    for r in t["assignments"]:
        r["unit"] = "K9"
    for r in t["ia_cases"]:
        r["intervention"] = "COUNSELING"
    for r in t["training"]:
        r["course"] = "C9"
    new = write_drop(tmp_path / "new", t)
    assert loader.load_drop(new, progress=quiet).ok
    clean = _digest(warehouse)
    old = write_drop(tmp_path / "old", good)
    points = {"started": "table_name = '(load)' AND status = 'running'",
              "officers swapped": "table_name = 'officers' AND status LIKE 'loaded%%'",
              "ia_cases swapped": "table_name = 'ia_cases' AND status LIKE 'loaded%%'"}
    for point, cond in points.items():
        assert loader.load_drop(old, progress=quiet, wait=True).ok
        assert _digest(warehouse) != clean
        before = q1(warehouse, "SELECT max(load_id) FROM raw.load_log")[0]
        proc = subprocess.Popen([EIS, "load", str(new)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None:
            if q1(warehouse, f"SELECT 1 FROM raw.load_log WHERE load_id > %s AND {cond}", (before,)):  # test-only SQL
                break
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        rep = loader.load_drop(new, progress=quiet, wait=True)
        assert rep.ok, (point, rep.summary())
        assert _digest(warehouse) == clean, point
        assert q1(warehouse, "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'raw_incoming'")[0] == 0
        assert q1(warehouse, "SELECT count(*) FROM raw.load_log WHERE table_name = '(load)' AND status = 'running'")[0] == 0
