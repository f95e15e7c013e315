"""Evaluation: hand-computed top-k metrics with ties (worst/best/stochastic), k from percents, Table 3
counts, and an independent recomputation with scikit-learn of metrics evaluate_run stored."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import average_precision_score, brier_score_loss, precision_score, recall_score, roc_auc_score

from eis_core import db
from eis_core.modeling import train as train_mod
from eis_core.modeling.evaluate import (evaluate_run, evaluate_scores, k_for, parse_metric, precision_recall_at_k,
                                        rank_scores, table3_counts, flags_to_match)
from eis_core.modeling.results import start_run
from modeling_synth import SMALL_GRID, build_store, unique_config, with_keys

# one score, a three-way tie at 0.8 holding one positive of three, then two more
SCORES = [0.9, 0.8, 0.8, 0.8, 0.5, 0.1]
LABELS = [1, 0, 1, 0, 1, 0]


def _pr(tie, params, n=30, seed=0):
    return precision_recall_at_k(SCORES, LABELS, params, tie, n, seed)


def test_hand_computed_ties():
    # top 2 cuts the tie: worst puts a negative second, best the positive
    assert _pr("worst", ["2_abs"])["2_abs"]["precision@"] == (0.5, None)
    assert _pr("best", ["2_abs"])["2_abs"]["precision@"] == (1.0, None)
    assert _pr("worst", ["2_abs"])["2_abs"]["recall@"] == (pytest.approx(1 / 3), None)
    assert _pr("best", ["2_abs"])["2_abs"]["recall@"] == (pytest.approx(2 / 3), None)
    # stochastic: the 2nd officer is the tie's positive with probability 1/3 -> mean 2/3, sd 0.5*sqrt(2/9)
    m, sd = _pr("stochastic", ["2_abs"], n=4000)["2_abs"]["precision@"]
    assert m == pytest.approx(2 / 3, abs=0.02) and sd == pytest.approx(0.5 * math.sqrt(2 / 9), abs=0.02)
    # top 4 takes the whole tie: every tie method agrees, sd 0
    for tie in ("worst", "best"):
        assert _pr(tie, ["4_abs"])["4_abs"]["precision@"] == (0.5, None)
    assert _pr("stochastic", ["4_abs"])["4_abs"]["precision@"] == (0.5, 0.0)
    # 50% of 6 = top 3: worst 1/3, best 2/3
    assert _pr("worst", ["50_pct"])["50_pct"]["precision@"][0] == pytest.approx(1 / 3)
    assert _pr("best", ["50_pct"])["50_pct"]["precision@"][0] == pytest.approx(2 / 3)
    # k larger than the list is capped; the whole list: precision = prevalence, recall = 1
    assert _pr("worst", ["100_abs"])["100_abs"]["precision@"][0] == 0.5
    assert _pr("worst", ["100_abs"])["100_abs"]["recall@"][0] == 1.0
    # stochastic is reproducible for a seed
    assert _pr("stochastic", ["2_abs"], seed=7) == _pr("stochastic", ["2_abs"], seed=7)


def test_k_and_metric_names():
    assert k_for(6, "10_pct") == 1 and k_for(6, "50_pct") == 3 and k_for(1509, "1_pct") == 16
    assert k_for(1000, "10_pct") == 100 and k_for(10, "25_abs") == 10
    assert parse_metric("precision@10%") == ("precision@", "10_pct")
    assert parse_metric("recall@100") == ("recall@", "100_abs")
    assert parse_metric("precision@2.5_pct") == ("precision@", "2.5_pct")
    assert parse_metric("roc_auc") == ("roc_auc", "")
    with pytest.raises(ValueError):
        parse_metric("f1")


def test_evaluate_scores_rows_and_undefined_values():
    rows = evaluate_scores(SCORES, LABELS, [2], [50], 10, 0)
    keys = {(r["metric"], r["parameter"], r["tie_method"]) for r in rows}
    assert len(keys) == len(rows) == 3 * 2 * 2 + 3
    assert ("roc_auc", "", "none") in keys and ("brier", "", "none") in keys
    # one class only: AUC/AP undefined (NULL), Brier defined; recall undefined without positives
    rows = {(r["metric"], r["parameter"], r["tie_method"]): r for r in evaluate_scores([0.2, 0.1], [0, 0], [1], [], 3, 0)}
    assert rows[("roc_auc", "", "none")]["value"] is None
    assert rows[("brier", "", "none")]["value"] == pytest.approx((0.04 + 0.01) / 2)
    assert rows[("recall@", "1_abs", "worst")]["value"] is None
    assert rows[("precision@", "1_abs", "best")]["value"] == 0.0


def test_table3_counts_by_hand():
    # legacy flags officers 0, 1, 4 (3 flagged); model ranks: officer 2 first, then 0, 3, ...
    labels = [1, 0, 1, 0, 1, 0]
    legacy = [True, True, False, False, True, False]
    ranks = [2, 6, 1, 3, 4, 5]
    c = table3_counts(ranks, labels, legacy)
    assert c["flag_count"] == 3
    assert (c["legacy_tp"], c["legacy_fp"], c["legacy_tn"], c["legacy_fn"]) == (2, 1, 2, 1)
    # model flags ranks 1..3 = officers 2, 0, 3
    assert (c["tp"], c["fp"], c["tn"], c["fn"]) == (2, 1, 2, 1)
    assert c["flags_to_match"] == 2  # ranks 1 and 2 (officers 2 and 0) are the legacy's 2 true positives
    c = table3_counts([1, 4, 2, 5, 3, 6], labels, legacy)
    assert (c["tp"], c["fp"], c["tn"], c["fn"]) == (3, 0, 3, 0)
    assert c["flags_to_match"] == 2  # officers 0 and 2 are ranks 1 and 2


def test_flags_to_match():
    labels = [0, 1, 0, 0, 1, 1]
    ranks = [1, 2, 3, 4, 5, 6]
    assert flags_to_match(ranks, labels, 0) == 0
    assert flags_to_match(ranks, labels, 1) == 2
    assert flags_to_match(ranks, labels, 2) == 5
    assert flags_to_match(ranks, labels, 3) == 6
    assert flags_to_match(ranks, labels, 4) is None  # more than there are
    assert flags_to_match([6, 5, 4, 3, 2, 1], labels, 2) == 2  # order follows the ranks, not the rows


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 1)), min_size=1, max_size=40), st.integers(1, 50))
def test_worst_le_stochastic_le_best(pairs, k):
    s = np.array([p[0] / 4 for p in pairs])
    y = np.array([p[1] for p in pairs])
    par = [f"{k}_abs"]
    w = precision_recall_at_k(s, y, par, "worst")[par[0]]["precision@"][0]
    b = precision_recall_at_k(s, y, par, "best")[par[0]]["precision@"][0]
    m = precision_recall_at_k(s, y, par, "stochastic", 10, 0)[par[0]]["precision@"][0]
    assert w - 1e-12 <= m <= b + 1e-12
    # without ties all three agree with scikit-learn's precision on the top k
    u = s + np.arange(len(s)) * 1e-6
    kk = min(k, len(s))
    flag = np.zeros(len(s), int)
    flag[np.argsort(-u)[:kk]] = 1
    for tie in ("worst", "best"):
        v = precision_recall_at_k(u, y, par, tie)[par[0]]["precision@"][0]
        assert v == pytest.approx(precision_score(y, flag, zero_division=0.0))


# ----------------------------------------------------------------------------------------- database

@pytest.fixture(scope="module")
def evaluated(warehouse, tmp_path_factory):
    cfg, labels = unique_config(tmp_path_factory.mktemp("eval"))
    store, splits = build_store("evl", n_train=500, n_test=350)
    exp, run = start_run(cfg, labels)
    mp = pytest.MonkeyPatch()
    mp.setattr(train_mod, "_load_matrix", store.loader)
    try:
        res = [train_mod.train_and_score(exp, run, {**sp, "model_config": mc}, cfg.project_path)
               for sp in splits for mc in with_keys(SMALL_GRID)]
    finally:
        mp.undo()
    out = evaluate_run(run)
    return cfg, run, res, out


def _preds(model_id):
    with db.connect() as conn:
        return pd.DataFrame(conn.execute("SELECT officer_id, score, label, rank_abs_no_ties FROM results.predictions "
                                         "WHERE model_id = %s", (model_id,)).fetchall(),
                            columns=["officer_id", "score", "label", "rank"])


def _evals(model_id):
    with db.connect() as conn:
        rows = conn.execute("SELECT metric, parameter, tie_method, value, value_sd, n_examples FROM results.evaluations "
                            "WHERE model_id = %s", (model_id,)).fetchall()
    return {(r[0], r[1], r[2]): (r[3], r[4], r[5]) for r in rows}


def test_stored_metrics_match_scikit_learn(evaluated):
    cfg, run, res, out = evaluated
    ev = cfg.evaluation
    assert out["models"] == len(res) and out["table3"] == len(res)
    per_model = (len(ev.top_k_absolute) + len(ev.top_k_percent)) * 2 * 3 + 3
    assert out["evaluations"] == per_model * len(res)
    for r in res:
        df, e = _preds(r["model_id"]), _evals(r["model_id"])
        y, s = df["label"].to_numpy(), df["score"].to_numpy()
        assert e[("brier", "", "none")][0] == pytest.approx(brier_score_loss(y, s))
        assert e[("roc_auc", "", "none")][0] == pytest.approx(roc_auc_score(y, s))
        assert e[("average_precision", "", "none")][0] == pytest.approx(average_precision_score(y, s))
        n = len(df)
        for par in [f"{k}_abs" for k in ev.top_k_absolute] + [f"{p:g}_pct" for p in ev.top_k_percent]:
            k = k_for(n, par)
            # worst: sort by score desc, negatives first within ties (computed here with pandas)
            worst = df.assign(neg=-s).sort_values(["neg", "label"], kind="mergesort").head(k)
            flag = df.index.isin(worst.index).astype(int)
            assert e[("precision@", par, "worst")][0] == pytest.approx(precision_score(y, flag))
            assert e[("recall@", par, "worst")][0] == pytest.approx(recall_score(y, flag))
            best = df.assign(neg=-s, pos=-df["label"]).sort_values(["neg", "pos"], kind="mergesort").head(k)
            flag = df.index.isin(best.index).astype(int)
            assert e[("precision@", par, "best")][0] == pytest.approx(precision_score(y, flag))
            w, b = e[("precision@", par, "worst")][0], e[("precision@", par, "best")][0]
            st_v, st_sd, n_ex = e[("precision@", par, "stochastic")]
            assert w - 1e-9 <= st_v <= b + 1e-9 and st_sd >= 0 and n_ex == n
            if len(np.unique(s)) == n:  # no ties: all tie methods agree, sd 0
                assert w == pytest.approx(b) == pytest.approx(st_v) and st_sd == pytest.approx(0)


def test_prior_baseline_is_all_ties(evaluated):
    _, _, res, _ = evaluated
    prior = [r for r in res if r["model_group_id"] == res[3]["model_group_id"]]  # SMALL_GRID[3] = PriorBaseline
    for r in prior:
        df, e = _preds(r["model_id"]), _evals(r["model_id"])
        prev = df["label"].mean()
        k = k_for(len(df), "10_pct")
        assert e[("precision@", "10_pct", "worst")][0] == pytest.approx(max(0, k - (len(df) - df["label"].sum())) / k)
        assert e[("precision@", "10_pct", "best")][0] == pytest.approx(min(k, df["label"].sum()) / k)
        assert abs(e[("precision@", "10_pct", "stochastic")][0] - prev) < 0.1


def test_table3_stored_against_the_legacy_eis(evaluated):
    _, run, res, _ = evaluated
    with db.connect() as conn:
        t3 = {r[0]: r[1:] for r in conn.execute(
            "SELECT model_id, split_id, flag_count, tp, fp, tn, fn, legacy_tp, legacy_fp, legacy_tn, legacy_fn "
            "FROM results.table3 WHERE model_id = ANY(%s)", ([r["model_id"] for r in res],)).fetchall()}
    legacy = {r["split_id"]: r["model_id"] for r in res if r["model_group_id"] == res[2]["model_group_id"]}
    for r in res:
        split, k, tp, fp, tn, fn, ltp, lfp, ltn, lfn = t3[r["model_id"]]
        leg = _preds(legacy[split])
        df = _preds(r["model_id"])
        assert k == int((leg["score"] > 0.5).sum()) == tp + fp == ltp + lfp
        assert tp + fp + tn + fn == ltp + lfp + ltn + lfn == len(df)
        # recompute the legacy and model confusions independently
        m = df.merge(leg[["officer_id", "score"]].rename(columns={"score": "legacy"}), on="officer_id")
        lf = m["legacy"] > 0.5
        assert (ltp, lfp) == (int((lf & (m["label"] == 1)).sum()), int((lf & (m["label"] == 0)).sum()))
        mf = m["rank"] <= k
        assert (tp, fn) == (int((mf & (m["label"] == 1)).sum()), int((~mf & (m["label"] == 1)).sum()))
        if r["model_id"] in legacy.values():  # the legacy baseline against itself: identical
            assert (tp, fp, tn, fn) == (ltp, lfp, ltn, lfn)


def test_evaluate_run_is_repeatable(evaluated):
    _, run, res, out = evaluated
    again = evaluate_run(run)
    assert again["evaluations"] == out["evaluations"]
    with db.connect() as conn:
        n = conn.execute("SELECT count(*) FROM results.evaluations WHERE model_id = ANY(%s)",
                         ([r["model_id"] for r in res],)).fetchone()[0]
    assert n == out["evaluations"]


def test_rank_scores_matches_with_ties_definition():
    a, _, w, _ = rank_scores([0.9, 0.8, 0.8, 0.1], seed=0)
    assert list(w) == [1, 2, 2, 4] and a[0] == 1 and a[3] == 4 and sorted(a[1:3]) == [2, 3]
