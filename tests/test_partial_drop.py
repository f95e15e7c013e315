"""A real department's first export: only HR and Internal Affairs (officers, assignments, ia_cases),
with and without its use-of-force reports (plus rank history), some values UNKNOWN.

Each variant runs in its own warehouse: `eis load` exits 0 and names the tables not provided once, the
marts build with the blocks the config names, the grid trains, the selection picks a group and a day
is scored. The v2 features are checked against an independent pandas recomputation at an as-of date
(a force report counts from the day it happened, its review only from reviewed_on, rank from
rank_history before the date) and UNKNOWN is treated as missing.
"""

from __future__ import annotations

import json
import shutil
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from conftest import private_eis_home
from eis_core.config import DEFAULT_OFFICER_CONFIG

D = date(2014, 7, 1)
SCORE_DAY = date(2015, 7, 1)


@pytest.fixture(scope="module")
def v2_drop(tmp_path_factory) -> Path:
    from eis_core.synth import generate

    out = tmp_path_factory.mktemp("small_v2")
    generate("small", 42, out, progress=None, contract_version=2)
    return out


def _partial(v2_drop: Path, dest: Path, with_force: bool) -> Path:
    dest.mkdir(parents=True)
    names = ["officers", "assignments", "ia_cases"] + (["use_of_force", "rank_history"] if with_force else [])
    for n in names:
        shutil.copy(v2_drop / f"{n}.csv", dest / f"{n}.csv")
    # a real export does not know everything: every 7th officer's education, every 5th assignment's shift
    off = pd.read_csv(dest / "officers.csv", dtype=str, keep_default_na=False)
    off.loc[off.index % 7 == 3, "education"] = "UNKNOWN"
    off.to_csv(dest / "officers.csv", index=False)
    asg = pd.read_csv(dest / "assignments.csv", dtype=str, keep_default_na=False)
    asg.loc[asg.index % 5 == 1, "shift"] = "UNKNOWN"
    asg.to_csv(dest / "assignments.csv", index=False)
    if with_force:  # a report filed 3 days before D and reviewed 5 days after it: a report on D, not yet a review
        uof = pd.read_csv(dest / "use_of_force.csv", dtype=str, keep_default_na=False)
        i = uof.index[uof["occurred_at"] < (D - timedelta(days=20)).isoformat()][-1]
        uof.loc[i, ["occurred_at", "reviewed_on", "review_outcome"]] = [
            f"{D - timedelta(days=3)}T10:00:00", (D + timedelta(days=5)).isoformat(), "NOT_APPROVED"]
        uof.to_csv(dest / "use_of_force.csv", index=False)
    # a header-only file is "not provided" too
    (dest / "training.csv").write_text((v2_drop / "training.csv").read_text().splitlines()[0] + "\n")
    manifest = json.loads((v2_drop / "_drop.json").read_text())
    (dest / "_drop.json").write_text(json.dumps({"extracted_at": manifest["extracted_at"]}))
    return dest


def _config(folder: Path, project: Path) -> Path:
    cfg = yaml.safe_load(Path(DEFAULT_OFFICER_CONFIG).read_text())
    cfg["project_path"] = str(project)
    cfg["as_of_dates"] = {"start": "2013-01-01", "end": "2014-07-01", "frequency": "6 months"}
    cfg["feature_windows"] = ["6 months", "1 year", "all"]
    cfg["feature_blocks"] = {b: b in ("ia_history", "use_of_force", "characteristics", "outliers", "change",
                                      "legacy_rules") for b in cfg["feature_blocks"]}
    cfg["legacy_rules"] = [
        {"name": "complaints_2_in_365d", "event_types": ["CITIZEN_COMPLAINT", "OFFICER_COMPLAINT"], "count": 2,
         "window": "365 days"},
        {"name": "force_reports_2_in_180d", "source": "use_of_force", "count": 2, "window": "180 days"}]
    cfg["temporal_config"].update({"label_start_time": "2013-01-01", "label_end_time": "2014-07-01",
                                   "max_training_history": "2 years", "training_as_of_frequency": "6 months"})
    cfg["model_grid"] = {"sklearn.tree.DecisionTreeClassifier": {"max_depth": [3], "min_samples_leaf": [10]},
                         "eis_core.modeling.estimators.ScaledLogisticRegression": {"penalty": ["l2"], "C": [0.1]}}
    cfg["baselines"] = {"eis_core.modeling.baselines.PriorBaseline": {},
                        "eis_core.modeling.baselines.LegacyEISBaseline": {}}
    cfg["evaluation"] = {"top_k_absolute": [10, 25], "top_k_percent": [10], "tie_orderings": 3}
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "officer_config.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


@pytest.fixture(scope="module", params=[False, True], ids=["hr_and_ia_only", "with_use_of_force"])
def department(request, v2_drop, tmp_path_factory):
    from eis_core import db
    from eis_core.cli import main
    from eis_core.config import DEFAULT_LABELS_CONFIG
    from eis_core.features import build_features
    from eis_core.modeling.pipeline import run_all
    from eis_core.production.scoring import score_day

    with_force = request.param
    root = tmp_path_factory.mktemp("partial_force" if with_force else "partial")
    drop = _partial(v2_drop, root / "drop", with_force)
    with private_eis_home("eis_partial_"):
        db.start()
        res = CliRunner().invoke(main, ["load", str(drop)])
        config = _config(root / "cfg", root / "project")
        build_features(config, DEFAULT_LABELS_CONFIG, progress=None)
        summary = run_all(config, DEFAULT_LABELS_CONFIG, progress=None)
        scored = score_day(SCORE_DAY, summary["model_group_id"], config=config, labels=DEFAULT_LABELS_CONFIG,
                           progress=None)
        with db.connect() as conn:
            cols = [r[0] for r in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = 'features' "
                "AND table_name = 'officer_features' ORDER BY ordinal_position")]
            cur = conn.execute("SELECT * FROM features.officer_features WHERE as_of_date = %s", (D,))
            at_d = pd.DataFrame(cur.fetchall(), columns=[c.name for c in cur.description]).set_index("officer_id")
            n_cohort = conn.execute("SELECT count(*) FROM features.officer_cohort WHERE as_of_date = %s",
                                    (SCORE_DAY,)).fetchone()[0]
            n_pred = conn.execute("SELECT count(*) FROM production.predictions WHERE as_of_date = %s",
                                  (SCORE_DAY,)).fetchone()[0]
            blocks = dict(conn.execute("SELECT block, status FROM features.feature_blocks").fetchall())
        yield {"with_force": with_force, "drop": drop, "load": res, "summary": summary, "scored": scored,
               "cols": cols, "at_d": at_d, "n_cohort": n_cohort, "n_pred": n_pred, "blocks": blocks}


def test_load_exits_0_and_names_the_tables_not_provided_once(department):
    res = department["load"]
    assert res.exit_code == 0, res.output
    lines = [ln for ln in res.output.splitlines() if ln.startswith("not provided")]
    assert len(lines) == 1
    for t in ("calls_for_service", "dispatches", "arrests", "traffic_stops", "crime_reports", "training"):
        assert t in lines[0]
    assert ("use_of_force" in lines[0]) != department["with_force"]
    assert "REJECTED" not in res.output and "unreadable" not in res.output


def test_the_demo_load_summary_lists_tables_not_the_load_row(department):
    """`eis demo`'s summary reads raw.load_log, whose load-level row '(load)' is not a table."""
    from eis_core.demo import load_summary

    text = load_summary()
    assert "(load)" not in text
    lines = {ln.split()[0]: ln.split() for ln in text.splitlines()[2:] if ln.startswith("  ") and len(ln.split()) == 4}
    assert lines["officers"][1] == "loaded" and int(lines["officers"][2].replace(",", "")) > 0
    assert lines["calls_for_service"][1] == "not_provided" and lines["calls_for_service"][2] == "0"


def test_the_grid_trains_and_a_day_is_scored(department):
    assert department["summary"]["model_group_id"]
    assert department["n_pred"] == department["n_cohort"] > 50


def test_feature_shape_follows_the_blocks_named_not_the_tables_provided(department):
    """Issue 20: with and without use_of_force (and rank_history) the same config gives the same columns."""
    cols = department["cols"]
    assert not [c for c in cols if c.startswith(("dsp_", "arr_", "ts_", "trn_", "fi_", "cit_", "sec_", "flg_", "nbh_"))]
    assert "leg_force_reports_2_in_180d_flag" in cols and "leg_complaints_2_in_365d_flag" in cols
    assert "uof_reports_1y" in cols and "chr_rank_ordinal_missing" in cols
    assert department["blocks"]["use_of_force"] == ("built" if department["with_force"] else "not_provided")
    if not department["with_force"]:  # no force reports: the counts are 0 and the legacy force rule never fires
        assert (department["at_d"]["leg_force_reports_2_in_180d_flag"] == 0).all()
        assert (department["at_d"]["uof_reports_all"] == 0).all()
    SHAPES[department["with_force"]] = cols
    if len(SHAPES) == 2:
        assert SHAPES[True] == SHAPES[False]


#: the column list of each variant (the module's fixture runs both, in order)
SHAPES: dict[bool, list[str]] = {}


def test_unknown_is_missing_not_a_category(department):
    at_d, cols = department["at_d"], department["cols"]
    assert "chr_shift_unknown" not in cols and "chr_education_ordinal_missing" in cols
    off = pd.read_csv(department["drop"] / "officers.csv", dtype=str, keep_default_na=False).set_index("officer_id")
    unknown = off.loc[at_d.index, "education"] == "UNKNOWN"
    assert unknown.any() and (~unknown).any()
    assert (at_d.loc[unknown, "chr_education_ordinal_missing"] == 1).all()
    assert (at_d.loc[~unknown, "chr_education_ordinal_missing"] == 0).all()
    known_codes = ["HS", "SOME_COLLEGE", "ASSOCIATE", "BACHELOR", "GRADUATE"]
    expected = off.loc[at_d.index[~unknown], "education"].map({c: i + 1 for i, c in enumerate(known_codes)})
    assert (at_d.loc[~unknown, "chr_education_ordinal"] == expected.astype(float)).all()
    # the imputed value is the cohort median of the known values, not a code of its own
    assert (at_d.loc[unknown, "chr_education_ordinal"] == float(expected.median())).all()
    shifts = ["chr_shift_day", "chr_shift_evening", "chr_shift_night"]
    assert (at_d[shifts].sum(axis=1) <= 1).all() and (at_d[shifts].sum(axis=1) == 0).any()


def test_force_reports_reviews_and_rank_are_point_in_time(department):
    if not department["with_force"]:
        pytest.skip("needs use_of_force and rank_history")
    at_d, drop = department["at_d"], department["drop"]
    uof = pd.read_csv(drop / "use_of_force.csv", dtype=str, keep_default_na=False)
    day = pd.to_datetime(uof["occurred_at"]).dt.normalize()
    rev = pd.to_datetime(uof["reviewed_on"], errors="coerce")
    d, d_1y, d_180 = pd.Timestamp(D), pd.Timestamp(D.replace(year=D.year - 1)), pd.Timestamp(D - timedelta(days=180))
    ids = at_d.index

    def per_officer(mask) -> pd.Series:
        return uof[mask].groupby("officer_id").size().reindex(ids, fill_value=0).astype(float)

    rep_1y = per_officer((day < d) & (day >= d_1y))
    rep_180 = per_officer((day < d) & (day >= d_180))
    reviewed_all = per_officer(rev.notna() & (rev < d))
    not_app = per_officer(rev.notna() & (rev < d) & uof["review_outcome"].isin(["NOT_APPROVED", "REFERRED_TO_IA"]))
    assert rep_1y.sum() > 0 and reviewed_all.sum() > 0 and not_app.sum() > 0
    # reports filed before D but reviewed on or after D exist, so counting reviews by report date would differ
    assert ((day < d) & (rev >= d)).any()
    assert (at_d["uof_reports_1y"] == rep_1y).all()
    assert (at_d["uof_reviewed_all"] == reviewed_all).all()
    assert (at_d["uof_not_approved_all"] == not_app).all()
    assert (at_d["leg_force_reports_2_in_180d_cases"] == rep_180).all()
    assert (at_d["leg_force_reports_2_in_180d_flag"] == (rep_180 >= 2).astype(float)).all()
    # rank on D: the latest rank_history row before D
    rh = pd.read_csv(drop / "rank_history.csv", dtype=str, keep_default_na=False)
    rh = rh[rh["start_date"] < D.isoformat()].sort_values("start_date").groupby("officer_id").last()["rank"]
    codes = {"OFFICER": 1, "SERGEANT": 2, "LIEUTENANT": 3, "CAPTAIN": 4}
    expected = rh.reindex(ids).map(codes)
    known = expected.notna()
    assert (at_d.loc[known, "chr_rank_ordinal"] == expected[known].astype(float)).all()
    assert (at_d.loc[known, "chr_rank_ordinal_missing"] == 0).all()
    assert (at_d.loc[~known, "chr_rank_ordinal_missing"] == 1).all()


def test_real_demo_and_load_refuse_bad_input_in_one_line(tmp_path):
    from eis_core.cli import main

    res = CliRunner().invoke(main, ["demo", "--real", "chicago", "--src", str(tmp_path / "nowhere")])
    assert res.exit_code == 2 and "does not exist" in res.output and "Traceback" not in res.output
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "_drop.json").write_text('{"kind": "forecast"}')
    res = CliRunner().invoke(main, ["load", str(drop)])
    assert res.exit_code == 2 and "kind must be one of" in res.output and "Traceback" not in res.output
    (drop / "_drop.json").write_text("{not json")
    res = CliRunner().invoke(main, ["load", str(drop)])
    assert res.exit_code == 2 and "eis load:" in res.output and "Traceback" not in res.output
