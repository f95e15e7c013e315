"""train_and_score on a real PostgreSQL: schema results, experiments reused by config hash, idempotent and
resumable training (no duplicate rows, a crash mid-write leaves nothing), ranks, artifacts, COPY counts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from eis_core import db
from eis_core.artifacts.models import load_model
from eis_core.modeling import train as train_mod
from eis_core.modeling.evaluate import rank_scores
from eis_core.modeling.estimators import predict_scores
from eis_core.modeling.results import ensure_results_schema, finish_run, record_matrix, start_run
from modeling_synth import SMALL_GRID, build_store, unique_config, with_keys


@pytest.fixture(scope="module")
def setup(warehouse, tmp_path_factory):
    ensure_results_schema()
    ensure_results_schema()  # idempotent
    cfg, labels = unique_config(tmp_path_factory.mktemp("train"))
    store, splits = build_store("trn")
    return cfg, labels, store, splits


def _count(sql, *args):
    with db.connect() as conn:
        return conn.execute(sql, args).fetchone()[0]


def test_experiment_reused_for_the_same_config(setup):
    cfg, labels, _, _ = setup
    e1, r1 = start_run(cfg, labels)
    e2, r2 = start_run(cfg, labels)
    assert e1 == e2 and r2 > r1
    e3, _ = start_run(cfg.model_copy(update={"random_seed": cfg.random_seed + 1}), labels)
    assert e3 != e1
    finish_run(r2, "done", {"train": 1.5})
    with db.connect() as conn:
        row = conn.execute("SELECT status, timings, random_seed, package_versions, finished_at FROM results.runs "
                           "WHERE run_id = %s", (r2,)).fetchone()
    assert row[0] == "done" and row[1] == {"train": 1.5} and row[2] == cfg.random_seed
    assert row[3]["scikit-learn"] and row[3]["pandas"] and row[4] is not None
    assert _count("SELECT count(*) FROM results.experiments WHERE experiment_id = %s", e1) == 1


def test_record_matrix_upserts(setup):
    _, _, store, _ = setup
    meta = dict(store["trn_train_0"][2])
    record_matrix(meta)
    record_matrix({**meta, "n_rows": 601})
    with db.connect() as conn:
        rows = conn.execute("SELECT n_rows, as_of_dates, metadata->>'label_name' FROM results.matrices "
                            "WHERE matrix_id = %s", (meta["matrix_id"],)).fetchall()
    assert len(rows) == 1 and rows[0][0] == 601 and str(rows[0][1][0]) == "2013-01-01"
    record_matrix(meta)


def test_train_and_score_is_idempotent_and_correct(setup, monkeypatch):
    cfg, labels, store, splits = setup
    monkeypatch.setattr(train_mod, "_load_matrix", store.loader)
    exp, run = start_run(cfg, labels)
    grid = with_keys(SMALL_GRID)
    first = [train_mod.train_and_score(exp, run, {**sp, "model_config": mc}, cfg.project_path)
             for sp in splits for mc in grid]
    assert all(r["status"] == "done" and not r["reused"] for r in first)
    assert len({r["model_id"] for r in first}) == len(splits) * len(grid)
    assert len({r["model_group_id"] for r in first}) == len(grid)  # same features + label on every split
    # second pass (a resumed run): nothing is trained again, no duplicates
    _, run2 = start_run(cfg, labels)
    calls = []
    monkeypatch.setattr(train_mod, "fit_model", lambda *a, **k: calls.append(1))
    again = [train_mod.train_and_score(exp, run2, {**sp, "model_config": mc}, cfg.project_path)
             for sp in splits for mc in grid]
    assert not calls and all(r["reused"] for r in again)
    assert [r["model_id"] for r in again] == [r["model_id"] for r in first]
    ids = [r["model_id"] for r in first]
    assert _count("SELECT count(*) FROM results.models WHERE model_id = ANY(%s)", ids) == len(ids)
    assert _count("SELECT count(*) FROM results.run_models WHERE run_id = %s", run2) == len(ids)
    n_test = sum(len(store[sp["test_matrix_id"]][0]) for sp in splits) * len(grid)
    assert _count("SELECT count(*) FROM results.predictions WHERE model_id = ANY(%s)", ids) == n_test
    assert _count("SELECT count(*) FROM (SELECT model_id, officer_id, as_of_date FROM results.predictions "
                  "WHERE model_id = ANY(%s) GROUP BY 1, 2, 3 HAVING count(*) > 1) d", ids) == 0

    with db.connect() as conn:
        for r, (sp, mc) in zip(first, [(sp, mc) for sp in splits for mc in grid]):
            mid = r["model_id"]
            X, y, _, index = store[sp["test_matrix_id"]]
            m = conn.execute("SELECT artifact_path, train_matrix_id, test_matrix_id, split_id, status "
                             "FROM results.models WHERE model_id = %s", (mid,)).fetchone()
            assert m[1:] == (sp["train_matrix_id"], sp["test_matrix_id"], sp["split_id"], "done")
            df = pd.DataFrame(conn.execute(
                "SELECT officer_id, score, label, rank_abs_no_ties, rank_pct_no_ties, rank_abs_with_ties, "
                "rank_pct_with_ties FROM results.predictions WHERE model_id = %s ORDER BY officer_id", (mid,)).fetchall(),
                columns=["officer_id", "score", "label", "abs_nt", "pct_nt", "abs_wt", "pct_wt"])
            assert len(df) == len(X)  # COPY-written rows = test matrix rows
            # the artifact verifies, loads and reproduces the stored scores
            est = load_model(m[0], kind="officer-model")
            order = index["officer_id"].argsort().to_numpy()
            np.testing.assert_allclose(predict_scores(est, X, index)[order], df["score"].to_numpy(), rtol=1e-12)
            np.testing.assert_array_equal(y.to_numpy()[order], df["label"].to_numpy())
            # ranks: no-ties ranks are a permutation ordered by score; with-ties = 1 + number strictly above
            n = len(df)
            assert sorted(df["abs_nt"]) == list(range(1, n + 1))
            by_rank = df.sort_values("abs_nt")["score"].to_numpy()
            assert np.all(np.diff(by_rank) <= 0)
            s = df["score"].to_numpy()
            expect_wt = np.array([(s > v).sum() + 1 for v in s])
            np.testing.assert_array_equal(df["abs_wt"].to_numpy(), expect_wt)
            assert np.allclose(df["pct_nt"], df["abs_nt"] / n) and np.allclose(df["pct_wt"], df["abs_wt"] / n)
            assert df["pct_nt"].between(0, 1, inclusive="right").all() and df["pct_wt"].gt(0).all()
            imp = conn.execute("SELECT method, count(*), count(importance), min(rank), max(rank) "
                               "FROM results.feature_importances WHERE model_id = %s GROUP BY method", (mid,)).fetchall()
            cls = mc["class_path"].rpartition(".")[2]
            if cls == "RandomForestClassifier":
                assert imp == [("impurity", X.shape[1], X.shape[1], 1, X.shape[1])]
            elif cls == "ScaledLogisticRegression":
                assert imp[0][0] == "coefficient" and imp[0][1] == X.shape[1]
            elif cls == "LegacyEISBaseline":
                assert imp == [("none", 2, 0, None, None)]
            elif cls in ("RandomBaseline", "PriorBaseline"):
                assert imp == []


def test_crash_during_the_write_leaves_nothing_and_resumes(setup, monkeypatch):
    cfg, labels, store, splits = setup
    monkeypatch.setattr(train_mod, "_load_matrix", store.loader)
    exp, run = start_run(cfg, labels)
    mc = with_keys([{"class_path": "sklearn.tree.DecisionTreeClassifier",
                     "hyperparameters": {"max_depth": 4}, "is_baseline": False}])[0]
    task = {**splits[0], "model_config": mc}
    real_copy = train_mod.copy_rows

    def crashing_copy(conn, table, cols, rows):
        if table == "feature_importances":
            raise RuntimeError("worker killed")
        return real_copy(conn, table, cols, rows)

    monkeypatch.setattr(train_mod, "copy_rows", crashing_copy)
    with pytest.raises(RuntimeError, match="worker killed"):
        train_mod.train_and_score(exp, run, task, cfg.project_path)
    monkeypatch.setattr(train_mod, "copy_rows", real_copy)
    # nothing of the model was committed (the predictions COPY ran in the rolled-back transaction)
    gid = train_mod.model_group_id(mc, list(store[task["train_matrix_id"]][0].columns), "adverse_1y")
    mid = train_mod.model_id_for(gid, task["train_matrix_id"], cfg.random_seed)
    assert _count("SELECT count(*) FROM results.models WHERE model_id = %s", mid) == 0
    assert _count("SELECT count(*) FROM results.predictions WHERE model_id = %s", mid) == 0
    res = train_mod.train_and_score(exp, run, task, cfg.project_path)
    assert res["model_id"] == mid and res["status"] == "done" and not res["reused"]
    assert _count("SELECT count(*) FROM results.predictions WHERE model_id = %s", mid) == len(store[task["test_matrix_id"]][0])


def test_a_failing_fit_is_recorded_and_retried(setup, monkeypatch):
    cfg, labels, store, splits = setup
    monkeypatch.setattr(train_mod, "_load_matrix", store.loader)
    exp, run = start_run(cfg, labels)
    mc = with_keys([{"class_path": "eis_core.modeling.estimators.ScaledLogisticRegression",
                     "hyperparameters": {"penalty": "elasticnet"}, "is_baseline": False}])[0]
    with pytest.raises(ValueError, match="penalty"):
        train_mod.train_and_score(exp, run, {**splits[0], "model_config": mc}, cfg.project_path)
    with db.connect() as conn:
        st = conn.execute("SELECT status, message FROM results.models m JOIN results.model_groups g "
                          "USING (model_group_id) WHERE g.hyperparameters = %s::jsonb", ('{"penalty": "elasticnet"}',)).fetchall()
    assert st and st[0][0] == "failed" and "penalty" in st[0][1]


def test_rank_scores_edge_cases():
    a, p, w, q = rank_scores([0.5, 0.5, 0.5], seed=1)
    assert sorted(a) == [1, 2, 3] and list(w) == [1, 1, 1] and np.allclose(q, 1 / 3)
    assert np.array_equal(rank_scores([0.5, 0.5, 0.5], 1)[0], a)  # seeded
    assert rank_scores([], 0)[0].size == 0


@pytest.mark.parametrize("department_flags", [False, True], ids=["rules", "eis_flags"])
def test_with_matrix_files_read_by_load_matrix(setup, tmp_path, department_flags):
    """No fake loader: matrices written as <project>/matrices/<id>.parquet + .json are read by the real
    load_matrix; without a LegacyEISBaseline in the run, Table 3 takes the legacy flags from the matrix:
    the department's own flags (flg_flags_1y) when the matrix has them, else the legacy rule columns."""
    matrices = pytest.importorskip("eis_core.modeling.matrices")
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    from eis_core.modeling.evaluate import evaluate_run
    from modeling_synth import LEGACY_COLS, make_matrix

    cfg, labels, _, _ = setup
    project = tmp_path / "project"
    (project / "matrices").mkdir(parents=True)
    ids = {}
    for kind, d, seed in (("train", "2014-01-01", 5), ("test", "2015-01-01", 6)):
        mid = f"file_{kind}_{int(department_flags)}_{tmp_path.name[-6:]}"
        X, y, meta, index = make_matrix(mid, pd.Timestamp(d).date(), 300, seed, kind, "2015-01-01", department_flags)
        df = pd.concat([index.assign(as_of_date=index["as_of_date"].dt.date, label=y.astype("int8")), X], axis=1)
        path = project / "matrices" / f"{mid}.parquet"
        pq.write_table(pa.Table.from_pandas(df, preserve_index=False), path)
        meta = {**meta, "feature_columns": list(X.columns), "columns": list(df.columns), "path": str(path)}
        del meta["feature_names"]
        (project / "matrices" / f"{mid}.json").write_text(json.dumps(meta))
        record_matrix({**meta, "kind": kind})
        ids[kind] = mid
    exp, run = start_run(cfg.model_copy(update={"project_path": str(project)}), labels)
    mc = with_keys([SMALL_GRID[1]])[0]
    task = {"split_id": "2015-01-01", "train_matrix_id": ids["train"], "test_matrix_id": ids["test"], "model_config": mc}
    res = train_mod.train_and_score(exp, run, task, project)
    assert res["status"] == "done"
    assert train_mod.train_and_score(exp, run, task, project)["reused"]
    out = evaluate_run(run)
    assert out["models"] == 1 and out["table3"] == 1 and out["splits_without_legacy"] == []
    X, y, _, _ = matrices.load_matrix(ids["test"], project)
    with db.connect() as conn:
        k, ltp, match, source = conn.execute(
            "SELECT flag_count, legacy_tp, flags_to_match, legacy_source FROM results.table3 WHERE model_id = %s",
            (res["model_id"],)).fetchone()
    rules = (X[LEGACY_COLS] > 0).any(axis=1).to_numpy()
    flagged = (X["flg_flags_1y"] > 0).to_numpy() if department_flags else rules
    assert source == ("flags" if department_flags else "rules")
    assert k == flagged.sum() and ltp == int((flagged & (y.to_numpy() == 1)).sum())
    if department_flags:
        assert k != rules.sum()  # the comparison really moved off the rules
    assert match is not None and match >= ltp


# ----------------------------------------------------------------------------- interrupted runs

OWNER_SCRIPT = """
import sys, time
from eis_core.config import load_labels_config, load_officer_config
from eis_core.modeling.results import RunLease, start_run
cfg = load_officer_config().model_copy(update={"project_path": sys.argv[1]})
_, run_id = start_run(cfg, load_labels_config())
with RunLease(run_id):
    print(run_id, flush=True)
    time.sleep(600)
"""


def _run_state(run_id: int):
    with db.connect() as conn:
        return conn.execute("SELECT status, timings->>'failed_in', finished_at FROM results.runs WHERE run_id = %s",
                            (run_id,)).fetchone()


def test_a_run_whose_process_is_killed_is_not_left_running(setup, tmp_path):
    """kill -9 of the process that owns a run (no clean-up can run): the next run closes it as failed."""
    import os
    import signal
    import subprocess
    import sys

    from eis_core.modeling.results import reap_interrupted_runs

    proc = subprocess.Popen([sys.executable, "-c", OWNER_SCRIPT, str(tmp_path / "p")], stdout=subprocess.PIPE,
                            text=True, env=os.environ.copy())
    try:
        run_id = int(proc.stdout.readline())
        assert _run_state(run_id)[0] == "running"
        assert run_id not in reap_interrupted_runs()  # alive: its lease is held
        assert _run_state(run_id)[0] == "running"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    cfg, labels, _, _ = setup
    _, next_run = start_run(cfg, labels)  # a new run reaps the dead one first
    status, failed_in, finished = _run_state(run_id)
    assert (status, failed_in) == ("failed", "interrupted") and finished is not None
    assert _run_state(next_run)[0] == "running"
    finish_run(next_run, "done")


def test_a_run_without_heartbeat_is_closed_after_the_stale_time(setup, monkeypatch):
    """Runs spread over Airflow tasks own no lock: a heartbeat older than EIS_RUN_STALE_HOURS means dead."""
    from eis_core.modeling.results import heartbeat, reap_interrupted_runs

    cfg, labels, _, _ = setup
    _, old = start_run(cfg, labels)
    _, fresh = start_run(cfg, labels)
    with db.connect() as conn:
        conn.execute("UPDATE results.runs SET heartbeat_at = now() - interval '7 hours' WHERE run_id = %s", (old,))
        conn.execute("UPDATE results.runs SET heartbeat_at = now() - interval '7 hours' WHERE run_id = %s", (fresh,))
    heartbeat(fresh)  # a task of this run just finished
    monkeypatch.setenv("EIS_RUN_STALE_HOURS", "6")
    dead = reap_interrupted_runs()
    assert old in dead and fresh not in dead
    assert _run_state(old)[:2] == ("failed", "interrupted") and _run_state(fresh)[0] == "running"
    monkeypatch.setenv("EIS_RUN_STALE_HOURS", "soon")
    with pytest.raises(ValueError, match="EIS_RUN_STALE_HOURS"):
        reap_interrupted_runs()
    finish_run(fresh, "done")
