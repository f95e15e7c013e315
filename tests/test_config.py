"""The configs are validated on load with clear errors (file and key named)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import yaml

from eis_core.config import (DEFAULT_LABELS_CONFIG, DEFAULT_OFFICER_CONFIG, AsOfGrid, ConfigError, Duration,
                             dbt_vars, load_labels_config, load_officer_config)


def _write(tmp_path: Path, base: Path, **changes) -> Path:
    data = yaml.safe_load(base.read_text())
    for k, v in changes.items():
        if v is None:
            data.pop(k, None)
        else:
            data[k] = v
    p = tmp_path / base.name
    p.write_text(yaml.safe_dump(data))
    return p


def test_default_configs_load_and_match_contract_definition():
    from eis_core.contract import load_contract

    off, lab = load_officer_config(), load_labels_config()
    assert [w.name for w in off.feature_windows] == ["1m", "3m", "6m", "1y", "5y", "all"]
    assert [w.name for w in lab.label_windows] == ["1y"]
    assert lab.adverse_events == load_contract().adverse_definition
    v = dbt_vars(off, lab)["eis"]
    assert v["as_of_dates"][0] == off.as_of_dates.start.isoformat()
    assert {"name": "all", "interval": None} in v["windows"]


@pytest.mark.parametrize("text,name,interval", [
    ("1 month", "1m", "1 month"), ("3 months", "3m", "3 months"), ("1 year", "1y", "1 year"),
    ("90 days", "90d", "90 days"), (" 2 Weeks ", "2w", "2 weeks"), ("all", "all", None)])
def test_duration_parsing(text, name, interval):
    d = Duration.parse(text)
    assert d.name == name and d.pg_interval == interval


@pytest.mark.parametrize("bad", ["0 days", "three months", "1 fortnight", "-1 year", "", "1.5 years"])
def test_bad_durations_are_refused(bad):
    with pytest.raises(ValueError, match="bad duration"):
        Duration.parse(bad)


def test_unknown_key_is_named(tmp_path):
    p = _write(tmp_path, DEFAULT_OFFICER_CONFIG, feature_windos=["1 month"])
    with pytest.raises(ConfigError, match=r"feature_windos: unknown key"):
        load_officer_config(p)


def test_bad_window_is_named(tmp_path):
    p = _write(tmp_path, DEFAULT_OFFICER_CONFIG, feature_windows=["1 month", "6 moons"])
    with pytest.raises(ConfigError, match=r"feature_windows.*bad duration '6 moons'"):
        load_officer_config(p)


def test_unknown_block_and_rule_codes(tmp_path):
    data = yaml.safe_load(DEFAULT_OFFICER_CONFIG.read_text())
    data["feature_blocks"]["horoscope"] = True
    p = tmp_path / "o.yaml"
    p.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match="unknown feature block.*horoscope"):
        load_officer_config(p)
    data = yaml.safe_load(DEFAULT_OFFICER_CONFIG.read_text())
    data["legacy_rules"][0]["event_types"] = ["USE_OF_FORCE", "JAYWALKING"]
    p.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match="legacy_rules.0.event_types.*JAYWALKING"):
        load_officer_config(p)


def test_labels_unknown_codes(tmp_path):
    p = _write(tmp_path, DEFAULT_LABELS_CONFIG, adverse_events={"USE_OF_FORCE": ["UNJUSTIFIED", "NAUGHTY"]})
    with pytest.raises(ConfigError, match="NAUGHTY"):
        load_labels_config(p)
    p = _write(tmp_path, DEFAULT_LABELS_CONFIG, adverse_events={"ALIENS": ["SUSTAINED"]})
    with pytest.raises(ConfigError, match="unknown event type 'ALIENS'"):
        load_labels_config(p)
    p = _write(tmp_path, DEFAULT_LABELS_CONFIG, label_windows=["all"])
    with pytest.raises(ConfigError, match="label window"):
        load_labels_config(p)


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_officer_config(tmp_path / "nope.yaml")
    p = tmp_path / "broken.yaml"
    p.write_text("as_of_dates: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_officer_config(p)


def test_as_of_grid_end_of_month_and_leap_day():
    g = AsOfGrid(start=date(2012, 1, 31), end=date(2012, 5, 31), frequency="1 month")
    assert g.dates() == [date(2012, 1, 31), date(2012, 2, 29), date(2012, 3, 31), date(2012, 4, 30), date(2012, 5, 31)]
    g = AsOfGrid(start=date(2012, 2, 29), end=date(2016, 3, 1), frequency="1 year")
    assert g.dates() == [date(2012, 2, 29), date(2013, 2, 28), date(2014, 2, 28), date(2015, 2, 28), date(2016, 2, 29)]
    with pytest.raises(ValueError, match="before start"):
        AsOfGrid(start=date(2015, 1, 1), end=date(2014, 1, 1), frequency="1 month")


def test_run_entry_point_rejects_bad_config(tmp_path):
    from eis_core.run import main

    p = _write(tmp_path, DEFAULT_OFFICER_CONFIG, cohort={"sworn": True})
    assert main(["--config", str(p), "--buildfeatures"]) == 2
    assert main(["--config", str(p), "--generatematrices"]) == 2  # a bad config is refused before any work


def test_old_label_timespan_key_still_loads_with_a_deprecation_message(tmp_path):
    """temporal_config.label_timespan is label_window's old name: a config that uses it loads, says so."""
    from eis_core.config import load_officer_config

    data = yaml.safe_load(DEFAULT_OFFICER_CONFIG.read_text())
    tc = data["temporal_config"]
    tc["label_timespan"] = tc.pop("label_window")
    p = _write(tmp_path, DEFAULT_OFFICER_CONFIG, temporal_config=tc)
    with pytest.warns(FutureWarning, match="label_timespan is deprecated: call it label_window"):
        cfg = load_officer_config(p)
    assert cfg.temporal_config.label_window == load_officer_config().temporal_config.label_window
    tc["label_window"] = "1 year"  # both names: refused, naming them
    with pytest.raises(ConfigError, match="give label_window only"):
        load_officer_config(_write(tmp_path, DEFAULT_OFFICER_CONFIG, temporal_config=tc))
