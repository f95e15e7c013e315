"""Train/test matrices on the real warehouse: the small synthetic department loaded into PostgreSQL,
the dbt marts built for a tiny config (tests/modeling_data.py), matrices written and read back.

Checked against the marts themselves: rows = cohort × as-of dates, labels = labels.officer_labels,
features = features.officer_features (to float32 precision), protected attributes =
features.officer_protected; ids stable for one definition and different for another; reuse does not
rewrite the file; no training label window reaches into the test dates.
"""

from __future__ import annotations

import os
import time
from datetime import date

import numpy as np
import pandas as pd
import pytest
from dateutil.relativedelta import relativedelta

from eis_core import db
from eis_core.config import load_labels_config, load_officer_config
from eis_core.modeling import matrices as M
from eis_core.modeling.splits import make_splits
from modeling_data import ALL_DATES, prepared


@pytest.fixture(scope="module")
def setup(warehouse, small_drop, tmp_path_factory):
    return prepared(small_drop, tmp_path_factory.mktemp("modeling") / "m")


@pytest.fixture(scope="module")
def built(setup):
    """build_all_matrices (what `eis matrices build` runs): builds the missing 2014-07-01 first."""
    from eis_core.modeling.pipeline import build_all_matrices

    with db.connect() as conn:
        before = {r[0] for r in conn.execute("SELECT DISTINCT as_of_date FROM features.officer_features")}
    t0 = time.perf_counter()
    out = build_all_matrices(setup["config"], setup["labels"], progress=None)
    return {"before": before, "built": out, "seconds": time.perf_counter() - t0}


def _cfgs(setup):
    return load_officer_config(setup["config"]), load_labels_config(setup["labels"])


def test_missing_as_of_dates_are_built_first(built):
    assert date(2014, 7, 1) not in built["before"]
    with db.connect() as conn:
        after = {r[0] for r in conn.execute("SELECT DISTINCT as_of_date FROM features.officer_features")}
    assert set(ALL_DATES) <= after
    assert [b["split"]["split_id"] for b in built["built"]] == ["split_2014-01-01", "split_2014-07-01"]


def test_rows_labels_features_and_protected_match_the_marts(setup, built):
    for b in built["built"]:
        for kind in ("train", "test"):
            meta = b[kind]
            X, y, m, index = M.load_matrix(meta["matrix_id"], setup["project"])
            dates = [date.fromisoformat(x) for x in meta["as_of_dates"]]
            with db.connect() as conn:
                cohort = conn.execute("SELECT count(*) FROM features.officer_cohort WHERE as_of_date = ANY(%s)",
                                      (dates,)).fetchone()[0]
                labels = pd.DataFrame(conn.execute(
                    "SELECT officer_id, as_of_date, label AS outcome FROM labels.officer_labels WHERE label_name = 'adverse_1y' "
                    "AND as_of_date = ANY(%s)", (dates,)).fetchall(), columns=["officer_id", "as_of_date", "outcome"])
                prot = pd.DataFrame(conn.execute(
                    "SELECT officer_id, as_of_date, race, sex FROM features.officer_protected WHERE as_of_date = ANY(%s)",
                    (dates,)).fetchall(), columns=["officer_id", "as_of_date", "race", "sex"])
                cols = ["ia_cases_1y", "leg_uof_3_in_90d_flag", X.columns[-1]]
                feats = pd.DataFrame(conn.execute(
                    "SELECT officer_id, as_of_date, " + ", ".join(f'"{c}"' for c in cols)
                    + " FROM features.officer_features WHERE as_of_date = ANY(%s)", (dates,)).fetchall(),
                    columns=["officer_id", "as_of_date", *cols])
            assert cohort > 0 and len(X) == len(y) == len(index) == cohort == m["n_rows"]
            assert int(y.sum()) == m["n_positive"] == int(labels["outcome"].sum())
            df = index.assign(label=y.to_numpy())
            merged = df.merge(labels, on=["officer_id", "as_of_date"], how="outer", indicator=True)
            assert (merged["_merge"] == "both").all()
            assert (merged["label"] == merged["outcome"]).all()
            merged = df.merge(prot, on=["officer_id", "as_of_date"])
            assert len(merged) == len(df)
            assert (merged["_protected_race"] == merged["race"]).all() and (merged["_protected_sex"] == merged["sex"]).all()
            got = pd.concat([index[["officer_id", "as_of_date"]], X[cols]], axis=1).merge(
                feats, on=["officer_id", "as_of_date"], suffixes=("", "_mart"))
            assert len(got) == len(X)
            for c in cols:
                np.testing.assert_allclose(got[c].to_numpy(float), got[f"{c}_mart"].to_numpy(float), rtol=1e-6)


def test_matrix_columns_and_dtypes(setup, built):
    meta = built["built"][-1]["train"]
    X, y, m, index = M.load_matrix(meta["matrix_id"], setup["project"])
    assert list(X.columns) == m["feature_columns"] == m["spec"]["feature_columns"]
    assert not {"officer_id", "as_of_date", "label", "_protected_race", "_protected_sex"} & set(X.columns)
    assert not any(c.startswith("prot_") for c in X.columns)           # protected attributes are not features
    assert any(c.startswith("leg_") and c.endswith("_flag") for c in X.columns)  # legacy rules are
    assert set(X.dtypes.astype(str)) <= {"float32", "float64"} and str(y.dtype) == "int8"
    assert list(index.columns) == ["officer_id", "as_of_date", "_protected_race", "_protected_sex"]
    # rows ordered by as-of date then officer: deterministic files
    keys = list(zip(index["as_of_date"], index["officer_id"]))
    assert keys == sorted(keys)


def test_no_training_label_window_reaches_into_the_test_dates(setup, built):
    for b in built["built"]:
        _, _, _, train_idx = M.load_matrix(b["train"]["matrix_id"], setup["project"])
        _, _, _, test_idx = M.load_matrix(b["test"]["matrix_id"], setup["project"])
        last_label_day = max(train_idx["as_of_date"]) + relativedelta(years=1)
        assert last_label_day <= min(test_idx["as_of_date"])
        assert set(train_idx["as_of_date"]).isdisjoint(set(test_idx["as_of_date"]))


def test_matrix_id_is_stable_and_follows_the_definition(setup, built):
    oc, lc = _cfgs(setup)
    split = make_splits(oc.temporal_config)[-1]
    a = M.make_spec(split.train_as_of_dates, oc, lc, split.label_window)
    b = M.make_spec(list(reversed(split.train_as_of_dates)), oc, lc, split.label_window)
    assert M.matrix_id(a) == M.matrix_id(b) == built["built"][-1]["train"]["matrix_id"]
    assert len(M.matrix_id(a)) == 16
    variants = [
        M.make_spec(split.train_as_of_dates[:-1], oc, lc, split.label_window),
        M.make_spec(split.train_as_of_dates, oc, lc, split.label_window, list(a.feature_columns[:-1])),
        M.make_spec(split.train_as_of_dates, oc.model_copy(update={"cohort": oc.cohort.model_copy(
            update={"require_active_assignment": False})}), lc, split.label_window),
        M.make_spec(split.train_as_of_dates, oc, lc.model_copy(update={"adverse_events": {"USE_OF_FORCE": ["UNJUSTIFIED"]}}),
                    split.label_window),
    ]
    ids = {M.matrix_id(v) for v in variants}
    assert len(ids) == len(variants) and M.matrix_id(a) not in ids


def test_data_version_follows_the_load_log(setup, built):
    oc, lc = _cfgs(setup)
    with db.connect() as conn:
        v1 = M.data_version(conn)
        assert set(v1) >= {"officers", "assignments", "ia_cases"}
        spec1 = M.make_spec([date(2014, 1, 1)], oc, lc, conn=conn)
        # an "unchanged" reload of the same files does not change the data, nor the version
        nxt = conn.execute("SELECT max(load_id) + 1 FROM raw.load_log").fetchone()[0]
        conn.execute("INSERT INTO raw.load_log (load_id, drop_path, table_name, status, started_at, finished_at) "
                     "VALUES (%s, 'x', 'officers', 'unchanged', now(), now())", (nxt,))
        assert M.data_version(conn) == v1
        # a load that changed a table is a new data version: every matrix id changes
        conn.execute("INSERT INTO raw.load_log (load_id, drop_path, table_name, status, started_at, finished_at) "
                     "VALUES (%s, 'x', 'ia_cases', 'loaded', now(), now())", (nxt + 1,))
        v2 = M.data_version(conn)
        assert v2["ia_cases"] == nxt + 1 and v2["officers"] == v1["officers"]
        spec2 = M.make_spec([date(2014, 1, 1)], oc, lc, conn=conn)
        assert M.matrix_id(spec1) != M.matrix_id(spec2)
        conn.rollback()  # leave the load log as it was
    with db.connect() as conn:
        assert M.data_version(conn) == v1


def test_reuse_does_not_rewrite_the_file(setup, built):
    meta = built["built"][0]["test"]
    parquet, meta_path = M.matrix_paths(meta["matrix_id"], setup["project"])
    before = (parquet.stat().st_mtime_ns, meta_path.stat().st_mtime_ns)
    spec = M.MatrixSpec.from_dict(meta["spec"])
    again = M.build_matrix(spec, setup["project"], progress=None)
    assert again["reused"] is True and again["matrix_id"] == meta["matrix_id"]
    assert (parquet.stat().st_mtime_ns, meta_path.stat().st_mtime_ns) == before
    # metadata that does not match the file (another row count) is not trusted: rebuilt
    import json

    bad = json.loads(meta_path.read_text())
    bad["n_rows"] += 1
    meta_path.write_text(json.dumps(bad))
    rebuilt = M.build_matrix(spec, setup["project"], progress=None)
    assert rebuilt["reused"] is False and rebuilt["n_rows"] == meta["n_rows"]
    assert not [p for p in parquet.parent.iterdir() if p.name.endswith(".tmp")]


def test_matrices_are_recorded_in_results(setup, built):
    ids = [b[k]["matrix_id"] for b in built["built"] for k in ("train", "test")]
    with db.connect() as conn:
        rows = conn.execute("SELECT matrix_id, kind, split_id, n_rows FROM results.matrices WHERE matrix_id = ANY(%s)",
                            (ids,)).fetchall()
    assert {r[0] for r in rows} == set(ids)
    by = {r[0]: r for r in rows}
    last = built["built"][-1]
    assert by[last["train"]["matrix_id"]][1:3] == ("train", "split_2014-07-01")
    assert by[last["train"]["matrix_id"]][3] == last["train"]["n_rows"]


def test_cli_matrices_build_and_list(setup, built):
    from click.testing import CliRunner

    from eis_core.cli import main

    res = CliRunner().invoke(main, ["matrices", "build", "--config", str(setup["config"]), "--labels",
                                    str(setup["labels"])])
    assert res.exit_code == 0, res.output
    assert "4 matrices (4 reused)" in res.output
    res = CliRunner().invoke(main, ["matrices", "list", "--config", str(setup["config"])])
    assert res.exit_code == 0 and built["built"][0]["train"]["matrix_id"] in res.output
    res = CliRunner().invoke(main, ["splits", "--config", str(setup["config"]), "--plot",
                                    str(setup["root"] / "splits.png")])
    assert res.exit_code == 0 and "split_2014-07-01" in res.output
    assert (setup["root"] / "splits.png").stat().st_size > 0
    assert os.environ.get("EIS_HOME")


def test_run_entry_point_generatematrices(setup, built, capsys):
    from eis_core.run import main

    assert main(["--config", str(setup["config"]), "--labels", str(setup["labels"]), "--generatematrices"]) == 0
    out = capsys.readouterr().out
    assert built["built"][-1]["test"]["matrix_id"] in out and "reused" in out
