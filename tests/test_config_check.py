"""`eis config check`: findings about a department's configs against its data (pure functions over a
DataRange; the CLI's exit codes)."""

from __future__ import annotations

from datetime import date

from click.testing import CliRunner

from eis_core.config import load_labels_config, load_officer_config
from eis_core.config_check import DataRange, check, config_cli

OFFICER, LABELS = load_officer_config(), load_labels_config()
FITS = DataRange(date(2009, 1, 1), date(2015, 12, 20), date(2015, 12, 31),
                 {"ia_cases": 900, "use_of_force": 0, "eis_flags": 120},
                 frozenset({"CITIZEN_COMPLAINT", "USE_OF_FORCE", "VEHICLE_ACCIDENT", "OFFICER_COMPLAINT"}))


def texts(findings, level="warning"):
    return [f.text for f in findings if f.level == level]


def test_a_grid_that_fits_the_data_gives_no_date_warning():
    warnings = texts(check(OFFICER, LABELS, FITS))
    assert not any("as-of date" in w and ("before" in w or "after" in w) for w in warnings)
    assert not any("label_end_time" in w for w in warnings)


def test_a_grid_outside_the_data_is_named():
    late = DataRange(date(2014, 6, 1), date(2016, 1, 1), date(2016, 1, 1), FITS.rows, FITS.event_types)
    warnings = texts(check(OFFICER, LABELS, late))
    assert any("come before the first IA case (2014-06-01)" in w for w in warnings)
    early = DataRange(date(2005, 1, 1), date(2014, 12, 1), date(2014, 12, 31), FITS.rows, FITS.event_types)
    warnings = texts(check(OFFICER, LABELS, early))
    assert any("after the data end (2014-12-31)" in w for w in warnings)
    assert any("label_end_time 2015-01-01 + label_window 1 year = 2016-01-01" in w for w in warnings)


def test_the_legacy_system_is_the_drops_flags_else_the_rules():
    notes = texts(check(OFFICER, LABELS, FITS), "note")
    assert any("120 eis_flags" in n for n in notes)
    no_flags = DataRange(FITS.first_record, FITS.last_record, FITS.extracted, {"ia_cases": 900},
                         frozenset({"CITIZEN_COMPLAINT"}))
    findings = check(OFFICER, LABELS, no_flags)
    assert any("3 legacy_rules" in n for n in texts(findings, "note"))
    never = [w for w in texts(findings) if "can never fire" in w]
    assert len(never) == 2 and any("uof_3_in_90d" in w for w in never)  # USE_OF_FORCE and VEHICLE_ACCIDENT absent
    bare = OFFICER.model_copy(update={"legacy_rules": []})
    assert any("no legacy system to compare with" in w for w in texts(check(bare, LABELS, no_flags)))


def test_blocks_without_data_are_listed():
    notes = texts(check(OFFICER, LABELS, FITS), "note")
    assert any("use_of_force" in n and "hold no rows" in n for n in notes)


def test_cli_invalid_config_is_one_line_and_exit_2(tmp_path):
    bad = tmp_path / "officer.yaml"
    bad.write_text("as_of_dates: {start: 2015-01-01, end: 2014-01-01, frequency: 6 months}\n")
    res = CliRunner().invoke(config_cli, ["check", "--config", str(bad)])
    assert res.exit_code == 2
    assert "Traceback" not in res.output and len(res.output.strip().splitlines()) == 1
