"""Daily production scoring on the small synthetic department, end to end on the real warehouse.

A tiny modeling run (decision tree + prior baseline, two splits) gives a selected model group; then
days are scored and the production schema is checked against independent recomputations.
"""

from __future__ import annotations

import json
from datetime import date, timedelta

import numpy as np
import pandas as pd
import psycopg
import pytest
from click.testing import CliRunner
from modeling_data import prepared, write_config

from eis_core import db

D = date(2015, 7, 1)


@pytest.fixture(scope="module")
def run(small_drop, tmp_path_factory):
    from eis_core.modeling.pipeline import run_all

    data = prepared(small_drop, tmp_path_factory.mktemp("production") / "m")
    root = data["root"]
    # half-yearly training as-of dates keep the retrain test cheap (they are the prebuilt ones)
    cfg = write_config(root / "prod", data["project"], temporal_config={
        "feature_start_time": "2012-01-01", "label_start_time": "2013-01-01", "label_end_time": "2014-07-01",
        "model_update_frequency": "6 months", "max_training_history": "2 years",
        "training_as_of_frequency": "6 months", "test_duration": "0 days", "test_as_of_frequency": "6 months",
        "label_window": "1 year"})
    summary = run_all(cfg, data["labels"], progress=None)
    assert summary["model_group_id"], summary
    return {**data, "config": cfg, "group": summary["model_group_id"], "experiment": summary["experiment_id"]}


def _score(run, d, **kw):
    from eis_core.production.scoring import score_day

    return score_day(d, kw.pop("group", run["group"]), config=run["config"], labels=run["labels"], progress=None, **kw)


def _rows(table: str, d: date, order: str) -> list[tuple]:
    from psycopg import sql

    with db.connect() as conn:
        if table == "bias_audit":  # the day's audit lives in the one bias-audit table, scope 'scored_day'
            return conn.execute(sql.SQL(
                "SELECT as_of_date, model_id, threshold, attribute, group_value, reference_group, group_size, flagged, "
                "flag_rate, flag_rate_ratio, out_of_range FROM results.bias_audit WHERE scope = 'scored_day' "
                "AND as_of_date = %s ORDER BY {}").format(sql.SQL(order)), (d,)).fetchall()
        return conn.execute(sql.SQL("SELECT * FROM {} WHERE as_of_date = %s ORDER BY {}").format(
            sql.Identifier("production", table), sql.SQL(order)), (d,)).fetchall()


TABLES = {"predictions": "officer_id", "risk_factors": "officer_id, position", "unit_risk": "division, unit",
          "bias_audit": "threshold, attribute, group_value", "rank_changes": "officer_id, days_back"}


@pytest.fixture(scope="module")
def scored(run):
    first = _score(run, D)
    return {"result": first, "rows": {t: _rows(t, D, o) for t, o in TABLES.items()}}


def test_rerun_replaces_the_day_with_identical_rows(run, scored):
    again = _score(run, D)
    assert again.model_id == scored["result"].model_id
    for t, order in TABLES.items():
        assert _rows(t, D, order) == scored["rows"][t], t
    with db.connect() as conn:
        assert conn.execute("SELECT count(*) FROM production.scoring_runs WHERE as_of_date = %s", (D,)).fetchone()[0] == 1


def test_every_cohort_officer_is_scored_and_ranked_once(run, scored):
    preds = scored["rows"]["predictions"]
    with db.connect() as conn:
        cohort = {r[0] for r in conn.execute("SELECT officer_id FROM features.officer_cohort WHERE as_of_date = %s", (D,))}
    officers = [r[1] for r in preds]
    assert len(officers) == len(set(officers)) == len(cohort) == scored["result"].n_scored > 50
    assert set(officers) == cohort
    ranks = sorted(r[4] for r in preds)
    assert ranks == list(range(1, len(ranks) + 1))
    by_rank = sorted(preds, key=lambda r: r[4])
    assert all(a[3] >= b[3] for a, b in zip(by_rank, by_rank[1:]))  # rank 1 = highest score


def test_an_officer_separated_before_the_date_is_never_scored(run, scored):
    with db.connect() as conn:
        gone = {r[0] for r in conn.execute("SELECT officer_id FROM raw.officers WHERE separation_date <= %s", (D,))}
        active_before = {r[0] for r in conn.execute(
            "SELECT officer_id FROM features.officer_cohort WHERE as_of_date = %s", (date(2013, 1, 1),))}
    assert gone & active_before, "the small department should have officers who left between 2013 and the date"
    scored_ids = {r[1] for r in scored["rows"]["predictions"]}
    assert not (gone & scored_ids)


def test_risk_factors_exist_for_every_scored_officer(run, scored):
    factors = scored["rows"]["risk_factors"]
    per = pd.Series([r[1] for r in factors]).value_counts()
    assert set(per.index) == {r[1] for r in scored["rows"]["predictions"]}
    assert (per == 5).all()
    df = pd.DataFrame(factors, columns=["as_of_date", "officer_id", "position", "feature", "block", "value",
                                        "contribution", "direction", "label", "method"])
    assert ((df["contribution"] > 0) == (df["direction"] == "raises")).all()
    # largest absolute contribution first
    for _, g in df.groupby("officer_id"):
        c = g.sort_values("position")["contribution"].abs().to_numpy()
        assert (np.diff(c) <= 1e-12).all()
    # the value shown is the officer's feature value on D in the mart
    row = df.iloc[0]
    from psycopg import sql

    with db.connect() as conn:
        v = conn.execute(sql.SQL("SELECT {} FROM features.officer_features WHERE officer_id = %s AND as_of_date = %s")
                         .format(sql.Identifier(row["feature"])), (row["officer_id"], D)).fetchone()[0]
    assert float(v) == pytest.approx(row["value"], rel=1e-6)
    assert df["label"].str.contains(r"\((?:raises|lowers) the risk\)").all()
    assert df["method"].str.startswith("shap.TreeExplainer").all()  # the selected group is the decision tree


def test_rank_changes_use_calendar_days_and_backfills_refresh_them(run, scored):
    prev = D - timedelta(days=1)
    with db.connect() as conn:
        before = dict(conn.execute("SELECT officer_id, previous_rank FROM production.rank_changes "
                                   "WHERE as_of_date = %s AND days_back = 1", (D,)).fetchall())
    assert before and all(v is None for v in before.values())  # D - 1 was not scored yet: NULL, not a row lag
    _score(run, prev)  # backfill the day before
    with db.connect() as conn:
        ranks_prev = dict(conn.execute("SELECT officer_id, rank_abs FROM production.predictions WHERE as_of_date = %s",
                                       (prev,)).fetchall())
        ranks_d = dict(conn.execute("SELECT officer_id, rank_abs FROM production.predictions WHERE as_of_date = %s",
                                    (D,)).fetchall())
        rc = conn.execute("SELECT officer_id, days_back, previous_rank, rank_change FROM production.rank_changes "
                          "WHERE as_of_date = %s", (D,)).fetchall()
    for off, days, previous, change in rc:
        if days == 1:
            assert previous == ranks_prev.get(off)
            assert change == (None if previous is None else previous - ranks_d[off])
        else:  # 7, 30, 90, 365 days earlier were never scored
            assert previous is None and change is None


def test_a_backfilled_range_run_twice_gives_identical_rows(run):
    from eis_core.production.cli import score_cli

    days = [date(2015, 8, 1), date(2015, 8, 2)]
    args = ["--date", "2015-08-01", "--to", "2015-08-02", "--model-group", run["group"], "--config",
            str(run["config"]), "--labels", str(run["labels"]), "--json"]
    first = CliRunner().invoke(score_cli, args)
    assert first.exit_code == 0, first.output
    assert [r["as_of_date"] for r in json.loads(first.output)] == [d.isoformat() for d in days]
    rows = {(t, d): _rows(t, d, o) for t, o in TABLES.items() for d in days}
    assert all(rows[("predictions", d)] for d in days)
    again = CliRunner().invoke(score_cli, args)
    assert again.exit_code == 0, again.output
    assert {(t, d): _rows(t, d, o) for t, o in TABLES.items() for d in days} == rows
    # the second day compares against the first: one calendar day back
    with db.connect() as conn:
        n = conn.execute("SELECT count(previous_rank) FROM production.rank_changes WHERE as_of_date = %s "
                         "AND days_back = 1", (days[1],)).fetchone()[0]
    assert n > 0


def test_unit_risk_matches_the_predictions(run, scored):
    preds = pd.DataFrame(scored["rows"]["predictions"], columns=["as_of_date", "officer_id", "model_id", "score",
                                                                 "rank_abs", "rank_pct", "division", "unit"])
    exp = preds.groupby(["division", "unit"]).agg(officers=("score", "size"), mean=("score", "mean"),
                                                  top5=("rank_pct", lambda s: int((s <= 0.05).sum())))
    for _, div, unit, officers, mean, _mx, top5 in scored["rows"]["unit_risk"]:
        assert exp.loc[(div, unit), "officers"] == officers
        assert exp.loc[(div, unit), "mean"] == pytest.approx(mean)
        assert exp.loc[(div, unit), "top5"] == top5


def test_production_bias_audit_matches_an_independent_recomputation(run, scored):
    preds = pd.DataFrame(scored["rows"]["predictions"], columns=["as_of_date", "officer_id", "model_id", "score",
                                                                 "rank_abs", "rank_pct", "division", "unit"])
    with db.connect() as conn:
        prot = pd.DataFrame(conn.execute("SELECT officer_id, race, sex FROM features.officer_protected "
                                         "WHERE as_of_date = %s", (D,)).fetchall(), columns=["officer_id", "race", "sex"])
    df = preds.merge(prot, on="officer_id")
    n = len(df)
    audit = pd.DataFrame(scored["rows"]["bias_audit"], columns=[
        "as_of_date", "model_id", "threshold", "attribute", "group_value", "reference_group", "group_size", "flagged",
        "flag_rate", "flag_rate_ratio", "out_of_range"])
    k10 = int(np.ceil(n * 0.10))
    part = audit[(audit["threshold"] == "top10%") & (audit["attribute"] == "race")].set_index("group_value")
    flagged = df["rank_abs"] <= k10
    rates = flagged.groupby(df["race"]).mean()
    sizes = df["race"].value_counts()
    ref = sizes.idxmax()
    assert set(part.index) == set(rates.index)
    for g in rates.index:
        assert part.loc[g, "group_size"] == sizes[g]
        assert part.loc[g, "flag_rate"] == pytest.approx(rates[g])
        assert part.loc[g, "reference_group"] == ref
        if rates[ref] > 0:
            ratio = rates[g] / rates[ref]
            assert part.loc[g, "flag_rate_ratio"] == pytest.approx(ratio)
            assert bool(part.loc[g, "out_of_range"]) == (not (0.8 <= ratio <= 1.25)) or sizes[g] < 10
    # the legacy EIS's flag count is one of the audited thresholds
    assert audit["threshold"].str.startswith("flag_count=").any()


def test_results_bias_audit_matches_a_hand_computation(run):
    from eis_core.production.insights import audit_model_group

    assert audit_model_group(run["group"], progress=None) > 0
    with db.connect() as conn:
        model_id, as_of = conn.execute("SELECT model_id, as_of_date FROM results.bias_audit b WHERE scope = 'test_split' AND model_id IN "
                                       "(SELECT model_id FROM results.models WHERE model_group_id = %s) LIMIT 1",
                                       (run["group"],)).fetchone()
        audit = pd.DataFrame(conn.execute(
            "SELECT group_value, group_size, flagged, precision, tpr, fpr, fnr, tpr_ratio FROM results.bias_audit "
            "WHERE scope = 'test_split' AND model_id = %s AND as_of_date = %s AND threshold = 'top10%%' "
            "AND attribute = 'sex'",
            (model_id, as_of)).fetchall(), columns=["g", "size", "flagged", "precision", "tpr", "fpr", "fnr", "tpr_ratio"]
        ).set_index("g")
        pred = pd.DataFrame(conn.execute(
            "SELECT p.rank_abs_no_ties, p.label, pr.sex FROM results.predictions p JOIN features.officer_protected pr "
            "ON pr.officer_id = p.officer_id AND pr.as_of_date = p.as_of_date WHERE p.model_id = %s "
            "AND p.as_of_date = %s", (model_id, as_of)).fetchall(), columns=["rank", "label", "sex"])
    k = int(np.ceil(len(pred) * 0.10))
    pred["flag"] = pred["rank"] <= k
    for g, part in pred.groupby("sex"):
        tp = int((part["flag"] & (part["label"] == 1)).sum())
        fp = int((part["flag"] & (part["label"] == 0)).sum())
        fn = int((~part["flag"] & (part["label"] == 1)).sum())
        tn = int((~part["flag"] & (part["label"] == 0)).sum())
        row = audit.loc[g]
        assert row["size"] == len(part) and row["flagged"] == tp + fp
        if tp + fp:
            assert row["precision"] == pytest.approx(tp / (tp + fp))
        if tp + fn:
            assert row["tpr"] == pytest.approx(tp / (tp + fn))
            assert row["fnr"] == pytest.approx(fn / (tp + fn))
        if fp + tn:
            assert row["fpr"] == pytest.approx(fp / (fp + tn))


def test_bad_requests_get_clear_errors(run):
    from eis_core.production.scoring import ProductionError, resolve_model_group

    with pytest.raises(ProductionError, match="in the future"):
        _score(run, date.today() + timedelta(days=1))
    with pytest.raises(ProductionError, match="unknown model group 'nope'"):
        _score(run, D, group="nope")
    with pytest.raises(ProductionError, match="before any training data"):
        _score(run, date(2013, 6, 1))
    with db.connect() as conn:  # nothing selected: seen inside a transaction that is rolled back
        conn.execute("DELETE FROM results.selections")
        with pytest.raises(ProductionError, match="no model group has been selected"):
            resolve_model_group(conn, None)
        conn.rollback()
    from eis_core.production.cli import score_cli

    res = CliRunner().invoke(score_cli, ["--date", "2999-01-01", "--config", str(run["config"])])
    assert res.exit_code == 2 and "in the future" in res.output


def test_retrain_mode_fits_on_the_window_ending_at_the_date(run):
    d = date(2015, 1, 1)
    res = _score(run, d, mode="retrain")
    with db.connect() as conn:
        split, train_id = conn.execute("SELECT split_id, train_matrix_id FROM results.models WHERE model_id = %s",
                                       (res.model_id,)).fetchone()
        dates = conn.execute("SELECT as_of_dates FROM results.matrices WHERE matrix_id = %s", (train_id,)).fetchone()[0]
        mode = conn.execute("SELECT mode, model_id FROM production.scoring_runs WHERE as_of_date = %s", (d,)).fetchone()
    assert split == "production" and mode == ("retrain", res.model_id)
    assert max(dates) == date(2014, 1, 1)  # label windows end by the scored date
    again = _score(run, d, mode="retrain")
    assert again.model_id == res.model_id  # reused, not refitted


def test_reviews_are_complete_or_refused_and_survive_a_rescore(run, scored):
    from eis_core.production.reviews import ReviewError, add_review, list_reviews, review_outcomes

    officer = scored["rows"]["predictions"][0][1]
    feats = [r[3] for r in scored["rows"]["risk_factors"] if r[1] == officer]
    with pytest.raises(ReviewError, match="dismissal_reason"):
        add_review(officer, D, "sgt", False, {f: False for f in feats}, "none")
    with pytest.raises(ReviewError, match="intervention_date"):
        add_review(officer, D, "sgt", True, {f: True for f in feats}, "training")
    with pytest.raises(ReviewError, match="missing"):
        add_review(officer, D, "sgt", True, {feats[0]: True}, "none")
    with pytest.raises(ReviewError, match="not scored"):
        add_review("nobody", D, "sgt", True, {"x": True}, "none")
    rid = add_review(officer, D, "sgt", True, {f: True for f in feats}, "counselling", D + timedelta(days=3))
    with db.connect() as conn, pytest.raises(psycopg.errors.CheckViolation):  # the table refuses it too
        conn.execute("INSERT INTO production.reviews (as_of_date, officer_id, reviewer, agrees_with_score, "
                     "factor_agreement, intervention) VALUES (%s, %s, 'x', false, '{\"a\": true}', 'none')", (D, officer))
    _score(run, D)
    assert any(r["review_id"] == rid for r in list_reviews(officer))
    assert any(r["intervention"] == "counselling" for r in review_outcomes())


def test_risk_curves_partial_dependence_and_permutation_importance(run):
    from eis_core.production.insights import explain_model, newest_model_of_group

    model_id = newest_model_of_group(run["group"])
    out = explain_model(model_id, top=4, n_samples=400, n_repeats=2, progress=None)
    with db.connect() as conn:
        curves = pd.DataFrame(conn.execute("SELECT feature, bin, mean_score, n FROM results.risk_curves WHERE model_id = %s",
                                           (model_id,)).fetchall(), columns=["feature", "bin", "mean", "n"])
        direction = dict(conn.execute("SELECT feature, directionality FROM results.risk_curve_direction "
                                      "WHERE model_id = %s", (model_id,)).fetchall())
        n_perm = conn.execute("SELECT count(*) FROM results.permutation_importances WHERE model_id = %s",
                              (model_id,)).fetchone()[0]
    assert len(curves) and curves.groupby("feature")["n"].sum().eq(400).all()
    for f, g in curves.groupby("feature"):
        g = g.dropna().sort_values("bin")
        assert direction[f] == pytest.approx(g["mean"].iloc[-1] - g["mean"].iloc[0])
    assert n_perm == len(out["features"])
    from pathlib import Path

    assert Path(out["plots"]["risk_curves"]).stat().st_size > 1000


def test_the_production_dag_scores_its_logical_date(run):
    from eis_core.orchestration import stack

    d = date(2015, 7, 3)
    lines: list[str] = []
    code = stack.run_dag("eis_production", {"config": str(run["config"]), "labels": str(run["labels"]),
                                            "model_group": run["group"]}, d.isoformat(), output=lines.append)
    assert code == 0, "\n".join(lines[-40:])
    with db.connect() as conn:
        row = conn.execute("SELECT n_scored, scored_by FROM production.scoring_runs WHERE as_of_date = %s", (d,)).fetchone()
    assert row is not None and row[0] > 50 and row[1] == "airflow:eis_production"


def test_the_cli_risk_list_words_factors_like_the_web_app(run):
    """`eis score` / `eis demo` print each officer's factors as the web app's plain sentences, not as the
    mart's column descriptions."""
    from eis_core.production.risk_list import risk_list, risk_list_text
    from eis_core.production.wording import sentences

    _score(run, D)
    rows = risk_list(D, 3)
    text = risk_list_text(D, top=3)
    assert rows and all(r["factors"] for r in rows)
    for r in rows:
        said = sentences(r["factors"], None, 3)
        assert said and all(f"- {s.text}" in text for s in said), text
    shown = [line.strip()[2:] for line in text.splitlines() if line.strip().startswith("- ")]
    described = {f["label"] for r in rows for f in r["factors"]} - {s.text for r in rows for s in sentences(r["factors"])}
    assert shown and not described & set(shown), text
