"""20 days of San Diego calls end to end (import, load, forecast run / peaks / priority with their defaults),
and every `eis forecast ...` / `eis import sd-...` subcommand on too-short, empty and header-only data:
exit 2 with a one-line error (or 0 where the data is enough), never a traceback."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from eis_core.cli import main

FIX = Path(__file__).resolve().parent / "fixtures"
SD20 = FIX / "sd_calls_20days.csv.gz"
CALL_HEADER = "call_id,received_at,call_type,priority,source,division,beat,lat,lon,disposition\n"


def eis(*args: str):
    r = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert "Traceback" not in r.output and "Traceback" not in (r.stderr or ""), r.output
    return r


def one_line_error(r) -> str:
    """The error is exactly one line (the last on stderr), nothing after it."""
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("Error:")]
    assert len(errors) == 1 and lines[-1] == errors[0], r.stderr
    return errors[0]


def test_fixture_is_what_its_generator_makes():
    import importlib.util

    spec = importlib.util.spec_from_file_location("make20", FIX / "sd_calls_20days_make.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.make() == SD20.read_bytes()  # deterministic, and the committed file is its output
    with gzip.open(SD20, "rt", newline="") as fh:
        rows = list(csv.DictReader(fh))
    with open(FIX / "sd" / "sd_calls_for_service_2023_sample.csv", newline="", encoding="utf-8-sig") as fh:
        sample = list(csv.DictReader(fh))
    assert list(rows[0]) == list(sample[0]) and len(rows[0]) == 14  # the real export's columns, in order
    for col in ("call_type", "disposition", "beat", "priority"):
        assert {r[col] for r in rows} <= {r[col] for r in sample}
    days = {r["date_time"][:10] for r in rows}
    assert len(days) == 20 and 1200 < len(rows) / 20 < 1450
    sun = [r for r in rows if r["date_time"].startswith("2023-01-08")]
    assert {r["day_of_week"] for r in sun} == {"1"}  # 1 = Sunday, as in the export


@pytest.fixture(scope="module")
def sd20(warehouse, tmp_path_factory):
    """The 20-day fixture imported, the warehouse holding only these calls, no stored forecast."""
    from conftest import reset_raw
    from eis_core.forecast import store as st

    drop = tmp_path_factory.mktemp("sd20")
    r = eis("import", "sd-calls", str(SD20), "--out", str(drop))
    assert r.exit_code == 0, r.output
    reset_raw(warehouse)
    st.ensure_schema()
    with warehouse.connect() as conn:
        conn.execute("TRUNCATE forecast.runs CASCADE")
    yield drop
    reset_raw(warehouse)


def test_twenty_days_end_to_end(sd20, warehouse, tmp_path):
    manifest = json.loads((sd20 / "_drop.json").read_text())
    assert manifest["kind"] == "activity" and manifest["extracted_at"].startswith("2023-01-20T23:")
    r = eis("load", str(sd20))
    assert r.exit_code == 0, r.output
    with warehouse.connect() as conn:
        n_calls = conn.execute("SELECT count(*) FROM raw.calls_for_service").fetchone()[0]
    assert n_calls == manifest["report"]["rows_out"] > 25_000

    # no forecast stored yet: peaks show the observed history
    r = eis("forecast", "peaks", "--png", str(tmp_path / "obs.png"))
    assert r.exit_code == 0, r.output
    assert "no stored forecast" in r.output and "mean calls" in r.output
    assert all(d in r.output for d in ("Mon", "Sun")) and (tmp_path / "obs.png").stat().st_size > 1000

    r = eis("forecast", "run")
    assert r.exit_code == 0, r.output
    assert "horizon 48 h (asked horizon 168 h" in r.output and "4 origin(s) 48 h apart" in r.output
    assert "mstl skipped" in r.output and "gbm skipped" in r.output
    assert "stops forecast skipped" in r.stderr  # no stops in this drop: one line, not a failure
    with warehouse.connect() as conn:
        run_id = conn.execute("SELECT max(run_id) FROM forecast.runs WHERE kind = 'calls_hourly'").fetchone()[0]
        pooled = dict(conn.execute("SELECT model, rmse FROM forecast.backtests WHERE run_id = %s AND series = 'ALL' "
                                   "AND cutoff IS NULL AND horizon_bucket = 'all'", (run_id,)).fetchall())
        chosen = conn.execute("SELECT DISTINCT model FROM forecast.backtests WHERE run_id = %s AND series = 'ALL' AND chosen",
                              (run_id,)).fetchall()
        n_fc = conn.execute("SELECT count(*) FROM forecast.calls_hourly WHERE run_id = %s AND series = 'ALL' AND chosen",
                            (run_id,)).fetchone()[0]
    assert set(pooled) == {"seasonal_naive", "seasonal_ma", "ets"}
    # measured on this fixture (docs/forecasting.md): ETS 8.59, seasonal MA 9.86, seasonal naive 10.59
    assert chosen == [("ets",)] and pooled["ets"] < pooled["seasonal_ma"] < pooled["seasonal_naive"]
    assert pooled["ets"] == pytest.approx(8.591, abs=0.01) and pooled["seasonal_naive"] == pytest.approx(10.585, abs=0.01)
    assert n_fc == 168  # the forecast itself keeps the asked 7 days

    r = eis("forecast", "peaks", "--png", str(tmp_path / "fc.png"))
    assert r.exit_code == 0 and f"forecast run {run_id}" in r.output and "80% range" in r.output

    r = eis("forecast", "priority", "--out", str(tmp_path))
    assert r.exit_code == 0, r.output
    assert "test window: 4 day(s) 2023-01-17 .. 2023-01-20" in r.output  # a fifth of the 20 days, exactly
    assert "Cliff's delta" in r.output and "holiday" in r.output and "<- chosen (validation)" in r.output
    with warehouse.connect() as conn:
        n_test = conn.execute("SELECT DISTINCT n_test FROM forecast.priority_scores WHERE run_id = "
                              "(SELECT max(run_id) FROM forecast.runs WHERE kind = 'priority')").fetchall()
        in_window = conn.execute("SELECT count(*) FROM raw.calls_for_service WHERE received_at >= '2023-01-17'").fetchone()[0]
    assert n_test == [(in_window,)]
    r = eis("forecast", "priority", "--test-days", "3", "--no-store", "--out", str(tmp_path))
    assert r.exit_code == 0 and "test window: 3 day(s) 2023-01-18 .. 2023-01-20" in r.output


def _drop(tmp_path: Path, name: str, days: int | None) -> Path:
    """A drop with the first *days* days of the 20-day calls (None: header only)."""
    from eis_core.forecast.importers import import_sd_calls

    full = tmp_path / "full"
    if not (full / "calls_for_service.csv").exists():
        import_sd_calls(SD20, full)
    d = tmp_path / name
    d.mkdir()
    lines = (full / "calls_for_service.csv").read_text().splitlines(keepends=True)
    keep = [ln for ln in lines[1:] if days is not None and ln.split(",")[1][:10] < f"2023-01-{days + 1:02d}"]
    (d / "calls_for_service.csv").write_text(lines[0] + "".join(keep))
    return d


def test_forecast_commands_on_short_empty_and_header_only_data(tmp_path, warehouse):
    short, ten = _drop(tmp_path, "short", 9), _drop(tmp_path, "ten", 14)
    header = _drop(tmp_path, "header", None)
    empty = tmp_path / "empty"
    empty.mkdir()
    png = str(tmp_path / "p.png")
    cases = [  # (args, exit code, text in the error or output)
        (["forecast", "run", "--drop", str(short)], 2, "need at least 14 days"),
        (["forecast", "run", "--drop", str(ten), "--no-store"], 0, "horizon 24 h"),
        (["forecast", "run", "--drop", str(header)], 2, "no events"),
        (["forecast", "run", "--drop", str(empty)], 2, "calls_for_service.csv not found"),
        (["forecast", "run", "--horizon-days", "0"], 2, "--horizon-days"),
        (["forecast", "run", "--history-days", "7"], 2, "--history-days"),
        (["forecast", "run", "--drop", str(ten), "--division", "NOWHERE", "--no-store"], 2, "unknown division"),
        (["forecast", "peaks", "--drop", str(short), "--png", png], 0, "observed"),
        (["forecast", "peaks", "--drop", str(header), "--png", png], 2, "no events"),
        (["forecast", "peaks", "--drop", str(empty)], 2, "not found"),
        (["forecast", "peaks", "--drop", str(short), "--series", "NOWHERE", "--png", png], 2, "unknown series"),
        (["forecast", "peaks", "--run-id", "999999"], 2, "no hourly forecast"),
        (["forecast", "peaks", "--top", "x"], 2, "--top"),
        (["forecast", "priority", "--drop", str(short), "--no-store", "--out", str(tmp_path)], 0, "test window: 1 day(s)"),
        (["forecast", "priority", "--drop", str(short), "--test-days", "5"], 2, "need at least 12 days"),
        (["forecast", "priority", "--drop", str(header)], 2, "no calls"),
        (["forecast", "priority", "--drop", str(empty)], 2, "not found"),
        (["forecast", "priority", "--test-days", "0"], 2, "--test-days"),
        (["forecast", "nosuch"], 2, "No such command"),
    ]
    for args, code, text in cases:
        r = eis(*args)
        assert r.exit_code == code, (args, r.output)
        if code == 2:
            assert text in one_line_error(r), (args, r.stderr)
        else:
            assert text in r.output, (args, r.output)


def test_import_commands_on_empty_header_only_and_short_files(tmp_path):
    files = {"empty.csv": "", "calls_header.csv": None, "ripa_header.csv": "stop_id,date_stop,time_stop,beat\n",
             "wrong.csv": "a,b\n1,2\n", "binary.csv": "\xff\xfe\x00"}
    with open(FIX / "sd" / "sd_calls_for_service_2023_sample.csv", encoding="utf-8") as fh:
        head = fh.readline()
        first = fh.readline()
    files["calls_header.csv"] = head
    files["calls_one.csv"] = head + first
    for name, text in files.items():
        (tmp_path / name).write_bytes(text.encode("latin-1") if name == "binary.csv" else text.encode())
    cases = [
        (["sd-calls", "empty.csv"], 2, "empty file"),
        (["sd-calls", "calls_header.csv"], 2, "no data rows"),
        (["sd-calls", "wrong.csv"], 2, "missing column"),
        (["sd-calls", "binary.csv"], 2, "UTF-8"),
        (["sd-calls", "calls_one.csv"], 0, "1 written"),
        (["sd-calls", "nosuch.csv"], 2, "does not exist"),
        (["sd-ripa", "empty.csv"], 2, "empty file"),
        (["sd-ripa", "ripa_header.csv"], 2, "no data rows"),
        (["sd-ripa", "wrong.csv"], 2, "no column for"),
        (["sd-ripa", str(FIX / "sd" / "ripa_stops_current_sample.csv")], 0, "2 written"),
        (["sd-ripa", str(FIX / "sd" / "ripa_stops_malformed.csv")], 2, "too many rejected rows"),
    ]
    for i, (args, code, text) in enumerate(cases):
        src = args[1] if "/" in args[1] else str(tmp_path / args[1])
        r = eis("import", args[0], src, "--out", str(tmp_path / f"out{i}"))
        assert r.exit_code == code, (args, r.output)
        if code == 2:
            assert text in one_line_error(r), (args, r.stderr)
        else:
            assert text in r.output, (args, r.output)
    r = eis("import", "sd-calls", str(tmp_path / "calls_one.csv"))  # --out missing
    assert r.exit_code == 2 and "--out" in one_line_error(r)


def test_missing_warehouse_table_is_a_clear_error(warehouse):
    from eis_core.forecast.data import relation_name

    with warehouse.connect() as conn, pytest.raises(ValueError, match="no table raw.no_such_table"):
        relation_name(conn, "no_such_table")


def test_the_real_one_day_sample_is_a_clear_error(tmp_path):
    """The shared real San Diego sample (1,000 calls, part of one day): `forecast run` and `peaks` on its drop
    say that no complete day is there, in one line, exit 2 (it used to be a bare IndexError message)."""
    drop = tmp_path / "sd"
    r = eis("import", "sd-calls", str(FIX / "sd" / "sd_calls_for_service_2023_sample.csv"), "--out", str(drop))
    assert r.exit_code == 0, r.output
    for cmd in (["forecast", "run", "--drop", str(drop), "--no-store"], ["forecast", "peaks", "--drop", str(drop)]):
        r = eis(*cmd)
        assert r.exit_code == 2, r.output
        msg = one_line_error(r)
        assert "no complete day" in msg and "14 days" in msg, msg
