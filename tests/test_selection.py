"""Model selection on constructed evaluations: each rule picks a known model group; winners stored with
the chosen rule marked; the report, plots, leaderboard/Table 3 texts and the `eis select` command."""

from __future__ import annotations

import uuid

import pandas as pd
import pytest
from click.testing import CliRunner
from psycopg.types.json import Jsonb

from eis_core import db
from eis_core.modeling.results import ensure_results_schema
from eis_core.modeling.selection import (apply_rules, leaderboard_frame, leaderboard_text, select_cli,
                                         select_model_group, table3_text, recency_weighted_mean)

# split ids deliberately NOT in time order as strings: time order is b (2013) < a (2014) < c (2015)
SPLITS = {"b": "2013-07-01", "a": "2014-07-01", "c": "2015-07-01"}
ORDER = ["b", "a", "c"]
# precision@10% per split in time order
VALUES = {
    "A": [0.60, 0.60, 0.30],   # best mean (0.50)
    "B": [0.20, 0.30, 0.70],   # best on the latest split
    "C": [0.47, 0.47, 0.47],   # within 0.05 of the best mean, zero variance
    "D": [0.45, 0.45, 0.55],   # max regret 0.15 (A: 0.40, B: 0.40, C: 0.23)
}
# recency-weighted means (weights 0.5, 0.71, 1): A 0.464, B 0.459, C 0.470, D 0.495
EXPECTED = {"best_average": "A", "best_recent": "B", "lowest_variance": "C", "min_regret": "D",
            "recency_weighted": "D"}


def test_recency_weighted_mean():
    wide = pd.DataFrame({"s1": [0.2, 0.8], "s2": [0.4, 0.4], "s3": [0.6, float("nan")]}, index=["x", "y"])
    w = recency_weighted_mean(wide, half_life=1.0)  # weights 0.25, 0.5, 1
    assert w["x"] == pytest.approx((0.05 + 0.2 + 0.6) / 1.75)
    assert w["y"] == pytest.approx((0.2 + 0.2) / 0.75)  # the missing split is left out
    late = pd.DataFrame({"s1": [0.9, 0.1], "s2": [0.1, 0.9]}, index=["early", "late"])
    assert recency_weighted_mean(late).idxmax() == "late"


def test_rules_on_a_frame():
    df = pd.DataFrame([(g, s, v) for g, vals in VALUES.items() for s, v in zip(ORDER, vals)],
                      columns=["model_group_id", "split_id", "value"])
    board, splits = leaderboard_frame(df, ORDER)
    assert splits == ORDER and board["model_group_id"].tolist()[0] == "A"
    assert apply_rules(board) == EXPECTED
    # a metric where lower is better (Brier): negate the values, the same groups win
    neg = df.assign(value=1 - df["value"])
    board, _ = leaderboard_frame(neg, ORDER, greater_is_better=False)
    assert apply_rules(board, greater_is_better=False) == EXPECTED
    # a group missing a split does not compete while complete groups exist
    extra = pd.concat([df, pd.DataFrame([("E", "c", 0.99)], columns=df.columns)])
    board, _ = leaderboard_frame(extra, ORDER)
    assert "E" not in board["model_group_id"].tolist()


@pytest.fixture(scope="module")
def experiment(warehouse, tmp_path_factory):
    ensure_results_schema()
    tag = uuid.uuid4().hex[:8]
    project = tmp_path_factory.mktemp("select")
    exp = f"exp_{tag}"
    groups = {g: f"{g}_{tag}" for g in VALUES}
    with db.connect() as conn:
        conn.execute("INSERT INTO results.experiments (experiment_id, config) VALUES (%s, %s)",
                     (exp, Jsonb({"officer": {"project_path": str(project),
                                              "selection": {"metric": "precision@10%", "rules": list(EXPECTED),
                                                            "chosen_rule": "best_average"}}})))
        run = conn.execute("INSERT INTO results.runs (experiment_id, config_hash, random_seed) VALUES (%s, %s, 1) "
                           "RETURNING run_id", (exp, exp)).fetchone()[0]
        for s, d in SPLITS.items():
            conn.execute("INSERT INTO results.matrices (matrix_id, kind, split_id, as_of_dates) VALUES (%s, 'test', %s, %s::date[])",
                         (f"test_{s}_{tag}", s, [d]))
        for g, gid in groups.items():
            cp = "eis_core.modeling.baselines.PriorBaseline" if g == "B" else "sklearn.ensemble.RandomForestClassifier"
            conn.execute("INSERT INTO results.model_groups (model_group_id, class_path, hyperparameters, feature_list_hash, "
                         "label_name, is_baseline) VALUES (%s, %s, %s, 'f', 'adverse_1y', %s)",
                         (gid, cp, Jsonb({"n_estimators": 50} if g != "B" else {}), g == "B"))
            for s, v in zip(ORDER, VALUES[g]):
                mid = f"m_{g}_{s}_{tag}"
                conn.execute("INSERT INTO results.models (model_id, model_group_id, run_id, split_id, test_matrix_id, status) "
                             "VALUES (%s, %s, %s, %s, %s, 'done')", (mid, gid, run, s, f"test_{s}_{tag}"))
                conn.execute("INSERT INTO results.run_models (run_id, model_id) VALUES (%s, %s)", (run, mid))
                conn.execute("INSERT INTO results.evaluations (model_id, split_id, metric, parameter, tie_method, value, "
                             "value_sd, n_examples) VALUES (%s, %s, 'precision@', '10_pct', 'stochastic', %s, 0.01, 100)",
                             (mid, s, v))
                # a decoy: another tie method with values that would change every winner
                conn.execute("INSERT INTO results.evaluations (model_id, split_id, metric, parameter, tie_method, value) "
                             "VALUES (%s, %s, 'precision@', '10_pct', 'worst', %s)", (mid, s, 1 - v))
                conn.execute("INSERT INTO results.predictions VALUES (%s, 'o1', %s, 0.9, 1, 1, 0.5, 1, 0.5), "
                             "(%s, 'o2', %s, 0.2, 0, 2, 1.0, 2, 1.0)", (mid, SPLITS[s], mid, SPLITS[s]))
                conn.execute("INSERT INTO results.table3 VALUES (%s, %s, %s, 10, 4, 6, 80, 10, 3, 7, 79, 11)",
                             (mid, s, gid))
    return exp, groups, project


def test_select_model_group_stores_every_rule_winner(experiment):
    exp, groups, project = experiment
    res = select_model_group(exp, None, selected_by="pytest")
    assert res["rule"] == "best_average" and res["model_group_id"] == groups["A"]
    assert res["winners"] == {r: groups[g] for r, g in EXPECTED.items()}
    assert [r["model_group_id"] for r in res["leaderboard"]][0] == groups["A"]
    assert res["leaderboard"][0]["per_split"] == dict(zip(ORDER, VALUES["A"]))
    with db.connect() as conn:
        rows = conn.execute("SELECT rule, model_group_id, chosen, metric, selected_by FROM results.selections "
                            "WHERE experiment_id = %s", (exp,)).fetchall()
    assert {r[0]: r[1] for r in rows} == res["winners"]
    assert [r[0] for r in rows if r[2]] == ["best_average"]
    assert {r[3] for r in rows} == {"precision@10%"} and {r[4] for r in rows} == {"pytest"}
    report = project / "reports" / f"selection_{exp}.md"
    assert res["report_path"] == str(report) and report.exists()
    text = report.read_text()
    for section in ("## Rule winners", "## Leaderboard", "## Table 3", "## Precision–recall"):
        assert section in text
    pngs = sorted(p.name for p in report.parent.glob("*.png"))
    assert len(pngs) == 3 and all(p.startswith(f"selection_{exp[:12]}") for p in pngs)
    assert all((report.parent / p).stat().st_size > 1000 for p in pngs)


def test_chosen_rule_from_the_config(experiment):
    exp, groups, _ = experiment
    from eis_core.config import load_officer_config

    cfg = load_officer_config()
    cfg = cfg.model_copy(update={"selection": cfg.selection.model_copy(update={"chosen_rule": "min_regret"}),
                                 "project_path": str(experiment[2])})
    res = select_model_group(exp, cfg)
    assert res["rule"] == "min_regret" and res["model_group_id"] == groups["D"]


def test_texts_and_cli(experiment):
    exp, groups, _ = experiment
    lb = leaderboard_text(exp)
    assert "precision@10%" in lb and "best_average" in lb and "[baseline]" in lb
    t3 = table3_text(exp, groups["A"])
    assert "legacy" in t3 and "all splits" in t3 and "TP +33%" in t3  # 12 vs 9 true positives
    out = CliRunner().invoke(select_cli, ["--experiment", exp])
    assert out.exit_code == 0, out.output
    assert "leaderboard" in out.output and "Table 3" in out.output and "report:" in out.output
    bad = CliRunner().invoke(select_cli, ["--experiment", "nope"])
    assert bad.exit_code != 0 and "no experiment" in bad.output
