"""`eis demo --departments`: the option is there, and the demo's own config is a valid, small one (the
run itself - three departments loaded, marts, grid, Table 3 - takes minutes and is `eis demo
--departments`; its parts are tested by test_departments.py and the modeling tests)."""

from __future__ import annotations

from click.testing import CliRunner


def test_the_option_is_offered():
    from eis_core.cli import main

    r = CliRunner().invoke(main, ["demo", "--help"])
    assert r.exit_code == 0 and "--departments" in r.output and "Three small synthetic departments" in r.output


def test_the_demo_config_is_valid_and_small(tmp_path):
    from eis_core.config import load_officer_config
    from eis_core.demo_departments import DEMO_GRID, DEPARTMENTS, demo_config
    from eis_core.departments import check_name
    from eis_core.modeling.splits import make_splits

    assert len({check_name(n) for n, _ in DEPARTMENTS}) == len({s for _, s in DEPARTMENTS}) == 3
    cfg = load_officer_config(demo_config(tmp_path / "cfg", tmp_path / "project"))
    assert cfg.project_path == str(tmp_path / "project")
    assert set(cfg.model_grid) == set(DEMO_GRID) and len(cfg.as_of_dates.dates()) == 4
    splits = make_splits(cfg.temporal_config)
    assert len(splits) == 2  # two temporal splits: Table 3 per split, in minutes
    assert "eis_core.modeling.baselines.LegacyEISBaseline" in cfg.baselines  # Table 3 needs the legacy EIS
