"""Pooled models across departments (eis_core.modeling.pooled, pooled_eval): three tiny departments of
the synthetic consortium generator, a config with two splits and few as-of dates.

* point in time: a pooled model of a split trains only on rows whose label window ends by the split's
  train_label_end (before the target's first test as-of date), in every department;
* a department that opted out contributes no row to any pooled model;
* no officer id of another department lands in the target's database or files;
* ``eis pool evaluate`` / ``eis pool show`` run end to end and store what trained each model.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from datetime import date

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

os.environ.setdefault("OMP_NUM_THREADS", "1")

TARGET, OTHER, OPTED_OUT = "tp_small", "tp_other", "tp_optout"
SIZES = {TARGET: 40, OTHER: 70, OPTED_OUT: 40}


def small_config(path):
    """The shipped officer config with two yearly splits and half-yearly training as-of dates."""
    from eis_core.config import DEFAULT_OFFICER_CONFIG

    cfg = yaml.safe_load(DEFAULT_OFFICER_CONFIG.read_text())
    cfg["temporal_config"].update(
        label_start_time="2012-07-01",
        label_end_time="2015-01-01",
        model_update_frequency="12 months",
        training_as_of_frequency="6 months",
        max_training_history="2 years",
    )
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def consortium(warehouse, tmp_path_factory):
    from eis_core import departments
    from eis_core.departments import registry
    from eis_core.load.loader import load_drop
    from eis_core.synth import generator
    from eis_core.synth.consortium import CONSORTIUM, department_seed

    root = tmp_path_factory.mktemp("consortium")
    default_contributes = registry.get("default").contributes_to_pooled
    registry.set_contributes("default", False)  # other modules of this worker may have loaded it
    config = small_config(root / "officer_config.yaml")
    for k, (name, n) in enumerate(SIZES.items()):
        try:
            registry.remove(name, export_dir=root / "exports")
        except Exception:  # noqa: BLE001 - not there from an earlier run
            pass
        registry.add(name, officer_config=config, contributes_to_pooled=name != OPTED_OUT)
        scale = replace(list(CONSORTIUM.values())[k], name=name, n_sworn=n)
        generator.generate(scale, department_seed(7, name), root / name, progress=None)
        # a partial drop loads and builds its marts fast: the required tables, and the department's own EIS
        # flags (the legacy EIS of Table 3) for the two that pool; the opted-out one needs only officers
        keep = {"officers.csv", "assignments.csv", "ia_cases.csv"} | ({"eis_flags.csv"} if name != OPTED_OUT else set())
        for f in (root / name).iterdir():
            if f.name not in keep:
                f.unlink()
        (root / name / "_drop.json").write_text(json.dumps({"extracted_at": "2015-12-31T23:59:59"}))
        with departments.use(name):
            assert load_drop(root / name, progress=None).ok
    yield root
    registry.set_contributes("default", default_contributes)
    for name in SIZES:
        try:
            registry.remove(name, export_dir=root / "exports")
        except Exception:  # noqa: BLE001
            pass


@pytest.fixture(scope="module")
def evaluation(consortium):
    """``eis pool evaluate`` on the target (default recipe), its output and the stored evaluation."""
    from eis_core.cli import main
    from eis_core.modeling.pooled_eval import load_evaluation

    r = CliRunner().invoke(main, ["pool", "evaluate", "--department", TARGET, "--recipe-only"])
    assert r.exit_code == 0, r.output
    ev = load_evaluation(TARGET)
    assert ev is not None
    return {**ev, "output": r.output}


def officer_ids(name: str) -> set[str]:
    from eis_core import db, departments

    with departments.use(name), db.connect() as c:
        return {r[0] for r in c.execute("SELECT officer_id FROM raw.officers")}


def test_pooled_training_uses_only_rows_known_before_the_test_date(consortium):
    from eis_core.config import Duration
    from eis_core.modeling.pooled import department_configs, known_before, read_rows
    from eis_core.modeling.splits import make_splits

    tc = department_configs(TARGET)[0].temporal_config
    splits = make_splits(tc)
    assert len(splits) == 2
    span = Duration.parse(str(tc.label_window)).delta()
    every = sorted({d for s in splits for d in s.train_as_of_dates})  # what the evaluation reads too
    assert every == [date(2012, 7, 1), date(2013, 1, 1), date(2013, 7, 1), date(2014, 1, 1)]
    rows = read_rows(OTHER, every, tc.label_window)
    assert rows.officer_id is None  # ids stay in the department
    assert set(rows.as_of) == set(every)
    for s in splits:
        kept = known_before(rows, every, tc.label_window, s.train_label_end)
        assert len(kept.y) > 0
        # no kept row's label window ends after the cutoff, the cutoff is before the first test date ...
        assert max(kept.as_of) + span <= s.train_label_end <= min(s.test_as_of_dates)
        # ... and every row known by then is kept
        expected = sum(1 for d in rows.as_of if d + span <= s.train_label_end)
        assert len(kept.y) == expected
    # the first split's cutoff drops rows the department has (a real filter, not an empty one)
    assert len(known_before(rows, every, tc.label_window, splits[0].train_label_end).y) < len(rows.y)
    # the 2013-07-01 rows (label window ends 2014-07-01) never train the 2014-01-01 split; they do train 2015's
    assert splits[0].train_label_end == date(2014, 1, 1)
    assert len(known_before(rows, [date(2013, 7, 1)], tc.label_window, splits[0].train_label_end).y) == 0
    assert len(known_before(rows, [date(2013, 7, 1)], tc.label_window, splits[1].train_label_end).y) > 0


def test_opted_out_department_contributes_nothing(evaluation):
    from eis_core import db, departments
    from eis_core.modeling.pooled import contributors

    assert OPTED_OUT not in contributors(TARGET) and OTHER in contributors(TARGET)
    pooled = [r for r in evaluation["rows"] if r["kind"] == "pooled"]
    assert pooled and all(OPTED_OUT not in r["trained_on"] and OPTED_OUT not in r["train_rows"] for r in pooled)
    assert all(set(r["trained_on"]) == {TARGET, OTHER} for r in pooled)
    local = [r for r in evaluation["rows"] if r["kind"] == "department_only"]
    assert all(r["trained_on"] == [TARGET] for r in local)
    with departments.use(TARGET), db.connect() as c:
        stored = c.execute(
            "SELECT DISTINCT unnest(trained_on) FROM results.pooled_models WHERE evaluation_id = %s",
            (evaluation["evaluation_id"],),
        ).fetchall()
    assert {r[0] for r in stored} == {TARGET, OTHER}


def test_no_foreign_officer_id_lands_in_the_target(evaluation, consortium):
    from psycopg import sql

    from eis_core import db, departments
    from eis_core.paths import department_home

    foreign = officer_ids(OTHER) | officer_ids(OPTED_OUT)
    own = officer_ids(TARGET)
    assert foreign and own and not (foreign & own)
    found_own = False
    with departments.use(TARGET), db.connect() as c:
        cols = c.execute(
            "SELECT c.table_schema, c.table_name, c.column_name FROM information_schema.columns c "
            "JOIN information_schema.tables t USING (table_schema, table_name) WHERE t.table_type = 'BASE TABLE' "
            "AND c.table_schema IN ('results', 'features', 'labels', 'raw', 'production', 'webapp') "
            "AND c.data_type IN ('text', 'ARRAY', 'jsonb')"
        ).fetchall()
        for schema, table, col in cols:
            q = sql.SQL(
                "SELECT DISTINCT x FROM (SELECT unnest(regexp_matches({}::text, 'o_[0-9a-f]{{10}}', 'g')) x "
                "FROM {}.{}) s"
            ).format(sql.Identifier(col), sql.Identifier(schema), sql.Identifier(table))
            ids = {r[0] for r in c.execute(q)}
            assert not (ids & foreign), f"{schema}.{table}.{col} holds another department's officer id"
            found_own |= bool(ids & own)
    assert found_own  # the scan does see officer ids (the target's own)
    blobs = b"".join(
        p.read_bytes() for p in department_home(TARGET).rglob("*") if p.is_file() and p.stat().st_size < 50_000_000
    )
    assert not any(i.encode() in blobs for i in foreign)
    assert any(i.encode() in blobs for i in own)  # its own matrices do hold its ids


def test_pool_evaluate_and_show_end_to_end(evaluation):
    from eis_core.cli import main
    from eis_core.modeling.pooled_eval import comparison, recommend

    out = evaluation["output"]
    assert "dept-only TP" in out and "\ntotal " in out
    assert f"pooled models trained on: {TARGET}, {OTHER}" in out
    cmp = comparison(evaluation)
    assert [r["split_id"][-10:] for r in cmp] == ["2014-01-01", "2015-01-01"]
    for r in cmp:  # Table 3 counts of the target's own test rows, printed as stored
        assert 0 <= r["pooled_tp"] <= r["n_positive"] and 0 <= r["department_only_tp"] <= r["n_positive"]
        assert f"{r['split_id']:<18} {r['flag_count']:>7} {r['n_positive']:>7} | {r['department_only_tp']:>12}" in out
    verdict, why = recommend(cmp)
    assert f"recommendation: {verdict.upper()} — {why}" in out
    runner = CliRunner()
    r2 = runner.invoke(main, ["pool", "show", "--department", TARGET])
    assert r2.exit_code == 0 and f"recommendation: {verdict.upper()}" in r2.output, r2.output
    r3 = runner.invoke(main, ["pool", "show", "--department", OPTED_OUT])
    assert r3.exit_code == 2 and "no pooled evaluation yet" in r3.output and "Traceback" not in r3.output


def test_design_normalises_within_department_and_as_of_date():
    import pandas as pd

    from eis_core.modeling.pooled import Recipe, Rows, design

    a = Rows(
        "a",
        pd.DataFrame({"x": [1.0, 2.0, 3.0, 10.0]}),
        np.zeros(4, int),
        np.array([date(2014, 1, 1)] * 2 + [date(2015, 1, 1)] * 2, dtype=object),
    )
    b = Rows("b", pd.DataFrame({"x": [100.0, 300.0]}), np.zeros(2, int), np.array([date(2014, 1, 1)] * 2, dtype=object))
    rk = Recipe("x.Y", {}, "rank", True, features="all")
    da, db_ = design(a, ["x"], rk, ["a", "b"]), design(b, ["x"], rk, ["a", "b"])
    assert list(da.columns) == ["pct_x", "dept_a", "dept_b"]
    assert da["pct_x"].tolist() == [0.5, 1.0, 0.5, 1.0] and db_["pct_x"].tolist() == [0.5, 1.0]
    assert da["dept_a"].tolist() == [1.0] * 4 and db_["dept_b"].tolist() == [1.0, 1.0] and db_["dept_a"].sum() == 0
    both = design(b, ["x"], Recipe("x.Y", {}, "raw+rank", False, features="all"), ["a", "b"])
    assert list(both.columns) == ["x", "pct_x"] and both["x"].tolist() == [100.0, 300.0]
    # the department-only model of a recipe has no department column
    assert list(design(a, ["x"], rk, ["a"]).columns) == ["pct_x"]


def test_recommendation_rules():
    from eis_core.modeling.pooled_eval import recommend

    win = [
        {"split_id": "a", "pooled_tp": 3, "department_only_tp": 2, "legacy_tp": 1},
        {"split_id": "b", "pooled_tp": 2, "department_only_tp": 2, "legacy_tp": 2},
    ]
    assert recommend(win)[0] == "pool"
    lose = win + [{"split_id": "c", "pooled_tp": 0, "department_only_tp": 1, "legacy_tp": 0}]
    verdict, why = recommend(lose)
    assert verdict == "do not pool" and "split(s) c" in why
    tie = [{"split_id": "a", "pooled_tp": 2, "department_only_tp": 2, "legacy_tp": 0}]
    assert recommend(tie)[0] == "do not pool"
    assert recommend([])[0] == "do not pool"
