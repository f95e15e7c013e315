"""The streaming loader (issue 19 item 4): files go to the database in batches, line numbers stay file lines
across batch and chunk boundaries, a file that breaks part way leaves nothing behind, and values are typed
in the database as strictly as before."""

from __future__ import annotations

import copy
import random

import pytest

from minidrop import valid_tables, write_drop


def quiet(_msg: str) -> None:
    pass


def reference_lines(text: str) -> list[int]:
    """Start line of every data record, by walking the text character by character."""
    out, line, in_q, start, rec_len, first = [], 1, False, 1, 0, ""
    for ch in text:
        if ch == '"':
            in_q = not in_q
        if ch == "\n" and not in_q:
            if rec_len and not (rec_len == 1 and first == "\r"):
                out.append(start)
            line += 1
            start, rec_len, first = line, 0, ""
            continue
        if ch == "\n":
            line += 1
        if not rec_len:
            first = ch
        rec_len += 1
    if rec_len and not (rec_len == 1 and first == "\r"):
        out.append(start)
    return out[1:]  # the header


@pytest.mark.parametrize("chunk", [7, 64, 1 << 20])
def test_record_lines_match_a_character_walk_at_any_chunk_size(tmp_path, chunk):
    from eis_core.load.lines import RecordLines

    rng = random.Random(chunk)
    rows = ["id,note"]
    for i in range(400):
        kind = rng.random()
        if kind < 0.1:
            rows.append("")                                  # a blank line
        elif kind < 0.15:
            rows.append("\r")                                # a blank CRLF line
        elif kind < 0.3:
            rows.append(f'{i},"two\nlines, ""quoted"""')     # a quoted newline and quotes
        else:
            rows.append(f"{i},plain{i}\r")
    text = "\n".join(rows) + ("\n" if chunk != 64 else "")   # with and without a final newline
    p = tmp_path / "f.csv"
    p.write_bytes(text.encode())
    want = reference_lines(text)
    rl = RecordLines(p, chunk=chunk)
    got = []
    while len(got) < len(want):
        got += rl.take(min(13, len(want) - len(got))).tolist()
    assert got == want and rl.consistent
    rl.close()


@pytest.fixture(scope="module")
def loader(warehouse):
    from eis_core.load import loader as mod

    from conftest import reset_raw

    reset_raw(warehouse)
    return mod


def test_many_batches_load_like_one_and_keep_file_lines(loader, warehouse, tmp_path, monkeypatch):
    """With 2 KB reader blocks and 1 KB line-scan chunks every table streams in many batches: the
    result is the same as in one batch, and quarantine lines are still file lines."""
    from eis_core.load import lines, stream

    t = copy.deepcopy(valid_tables())
    t["training"][40]["course"] = "three\nline\nvalue"
    t["training"][90]["topic"] = "WRONG"
    rep = loader.load_drop(write_drop(tmp_path / "one", t), progress=quiet, reject_share=0.05)
    assert rep.ok, rep.summary()
    with warehouse.connect() as conn:
        one = conn.execute("SELECT md5(string_agg(t::text, '|' ORDER BY _row_number)) FROM "
                           "(SELECT training_id, course, credit_hours, completed_on, _row_number FROM raw.training) t").fetchone()[0]
    monkeypatch.setattr(stream, "CSV_BLOCK", 2048)
    monkeypatch.setattr(lines, "CHUNK", 1024)
    for r in t["training"]:  # a new file, so it is read again
        r["course"] = r["course"] + " "
    rep = loader.load_drop(write_drop(tmp_path / "many", t), progress=quiet, reject_share=0.05)
    assert rep.ok and rep.table("training").rows_quarantined == 1, rep.summary()
    with warehouse.connect() as conn:
        many = conn.execute("SELECT md5(string_agg(t::text, '|' ORDER BY _row_number)) FROM "
                            "(SELECT training_id, rtrim(course, ' ') AS course, credit_hours, completed_on, _row_number "
                            "FROM raw.training) t").fetchone()[0]
        (rn, rules), = conn.execute("SELECT row_number, rules FROM raw.quarantine WHERE load_id = %s AND "
                                    "table_name = 'training'", (rep.load_id,)).fetchall()
    assert many == one
    text = (tmp_path / "many" / "training.csv").read_text().split("\n")
    assert text[rn - 1].startswith("t90,") and rules == ["code in training_topic"]


def test_a_file_broken_part_way_leaves_nothing_and_keeps_the_old_rows(loader, warehouse, tmp_path, monkeypatch):
    from eis_core.load import stream

    good = valid_tables()
    assert loader.load_drop(write_drop(tmp_path / "good", good), progress=quiet, wait=True).ok
    with warehouse.connect() as conn:
        before = conn.execute("SELECT count(*) FROM raw.calls_for_service").fetchone()[0]
    monkeypatch.setattr(stream, "CSV_BLOCK", 2048)  # the bad line is many batches in
    drop = write_drop(tmp_path / "bad", good)
    p = drop / "calls_for_service.csv"
    lines = p.read_text().split("\n")
    lines[250] = lines[250].rstrip("\r") + ",one too many\r"
    p.write_text("\n".join(lines))
    rep = loader.load_drop(drop, progress=quiet)
    c = rep.table("calls_for_service")
    assert c.status == "rejected" and c.problems[0]["rule"] == "CSV format", rep.summary()
    assert c.rows_loaded == 0 and any("kept as" in w for w in c.warnings)
    with warehouse.connect() as conn:
        assert conn.execute("SELECT count(*) FROM raw.calls_for_service").fetchone()[0] == before
        assert conn.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'raw_incoming'").fetchone()[0] == 0


BAD = [("received_at", "2014-03-01T24:00:00"), ("received_at", "2014-02-29T10:00:00"),
       ("received_at", "\uff12\uff10\uff11\uff14-03-01T10:00:00"), ("priority", "\u0663"), ("priority", "1.0"),
       ("priority", " 3"), ("lat", "1e-400"), ("lat", "Infinity")]


def test_values_postgresql_would_accept_are_still_wrong_types(loader, warehouse, tmp_path):
    """What PostgreSQL's own input functions take but the contract does not (24:00 as the next day, a
    non-ASCII digit, an integer written as a decimal or with a blank, an underflow to 0, Infinity), or
    a day that does not exist: each rejected as a wrong type and quarantined verbatim, with its line."""
    import json

    calls = copy.deepcopy(valid_tables()["calls_for_service"])
    for i, (column, value) in enumerate(BAD):
        calls[10 * i][column] = value
    drop = write_drop(tmp_path / "d", {"calls_for_service": calls})
    (drop / "_drop.json").write_text(json.dumps({"kind": "activity", "extracted_at": "2016-01-01T00:00:00"}))
    rep = loader.load_drop(drop, progress=quiet)
    c = rep.table("calls_for_service")
    assert c.status == "rejected" and {p["rule"] for p in c.problems} == {"column type"}, rep.summary()
    with warehouse.connect() as conn:
        q = {r[0]: (r[1], r[2]) for r in conn.execute(
            "SELECT row_number, rules, row_data FROM raw.quarantine WHERE load_id = %s AND table_name = 'calls_for_service'",
            (rep.load_id,))}
    assert len(q) == len(calls)
    for i, (column, value) in enumerate(BAD):
        line = 10 * i + 2
        assert f"{value!r} (line {line})" in " ".join(p["message"] for p in c.problems), value
        assert q[line] == (["column type", "table rejected"], q[line][1]) and q[line][1][column] == value
    assert q[3][0] == ["table rejected"]


def test_great_expectations_checks_known_officers_against_this_loads_officers():
    """GE validates on its own connection, which cannot see this load's uncommitted raw.officers: its
    "known officer" rules read the load's committed officers side table instead (else, on a first load,
    every row breaks the rule and GE pulls all of them into the client)."""
    from eis_core.load.gx_runner import with_officers
    from eis_core.load.suites import read_suite

    suite = read_suite("dispatches")
    rules = [e for e in suite["expectations"] if "unexpected_rows_query" in e["kwargs"]]
    assert any("raw.officers" in e["kwargs"]["unexpected_rows_query"] for e in rules)
    out = with_officers(suite, "officers_next__load7")
    queries = [e["kwargs"]["unexpected_rows_query"] for e in out["expectations"] if "unexpected_rows_query" in e["kwargs"]]
    assert queries and all("raw.officers" not in q for q in queries)
    assert any('raw_incoming."officers_next__load7"' in q for q in queries)
    assert [e["type"] for e in out["expectations"]] == [e["type"] for e in suite["expectations"]]
    assert "raw.officers" in rules[0]["kwargs"]["unexpected_rows_query"]  # the committed suite is not changed
    assert with_officers(suite, None) is suite
