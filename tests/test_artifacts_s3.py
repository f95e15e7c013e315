"""The demo's artifact path on S3-compatible object storage: with ``EIS_ARTIFACT_ROOT=s3://bucket/prefix``
the matrices and the model files of a small modeling run (two splits, a decision tree and the prior
baseline), the daily scoring that reloads the selected model, and a production retrain all go to a real
S3 server (moto's standalone server, started by the test) - nothing to the local project folder - and
every model object there verifies."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from eis_core import db
from modeling_data import prepared, write_config
from s3_server import s3_server  # noqa: F401 - the fixture

D = date(2015, 7, 1)
PREFIX = "demo"


@pytest.fixture(scope="module")
def s3_run(small_drop, tmp_path_factory, s3_server):  # noqa: F811 - the fixture
    from eis_core.modeling.pipeline import run_all

    data = prepared(small_drop, tmp_path_factory.mktemp("s3") / "m")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EIS_ARTIFACT_ROOT", f"s3://{s3_server['bucket']}/{PREFIX}")
        cfg = write_config(data["root"] / "s3cfg", Path("s3project"), temporal_config={
            "feature_start_time": "2012-01-01", "label_start_time": "2013-01-01", "label_end_time": "2014-07-01",
            "model_update_frequency": "6 months", "max_training_history": "2 years",
            "training_as_of_frequency": "6 months", "test_duration": "0 days", "test_as_of_frequency": "6 months",
            "label_timespan": "1 year"},
            # a seed of its own: its model ids differ from a same-shaped run another module of this worker
            # made (with local files), so every model here is trained and stored on S3, not reused
            random_seed=4242)
        summary = run_all(cfg, data["labels"], progress=None)
        yield {**data, "config": cfg, "group": summary["model_group_id"], "s3": s3_server}
    # the worker's later modules share this warehouse and the same model groups (its prior baseline, its
    # tree): retire the models whose files are on this test's S3 server, which stops with the module
    with db.connect() as conn:
        conn.execute("UPDATE results.models SET status = 'retired (S3 test)' WHERE artifact_path LIKE 's3://%%'")


def _objects(s3, sub: str) -> list[str]:
    s3["fs"].invalidate_cache()
    return sorted(p.rsplit("/", 1)[-1] for p in s3["fs"].find(f"{s3['bucket']}/{PREFIX}/s3project/{sub}"))


def test_matrices_and_models_are_objects_in_the_bucket_and_verify(s3_run):
    from eis_core.artifacts.models import verify_model
    from eis_core.paths import eis_home

    s3 = s3_run["s3"]
    matrices = _objects(s3, "matrices")
    parquet = [m for m in matrices if m.endswith(".parquet")]
    assert len(parquet) >= 3 and sorted(m[:-8] for m in parquet) == sorted(
        m[:-5] for m in matrices if m.endswith(".json"))
    with db.connect() as conn:
        rows = conn.execute("SELECT model_id, artifact_path FROM results.models m JOIN results.run_models r "
                            "USING (model_id) WHERE m.status = 'done' AND m.artifact_path LIKE 's3://%%'").fetchall()
        paths = {r[0] for r in conn.execute("SELECT path FROM results.matrices WHERE path LIKE 's3://%%'")}
    assert len(rows) >= 4 and len(paths) >= 3  # 2 splits x (tree + prior); train and test matrices
    models = _objects(s3, "models")
    for model_id, url in rows:
        assert url == f"s3://{s3['bucket']}/{PREFIX}/s3project/models/{model_id}.joblib"
        assert {f"{model_id}.joblib", f"{model_id}.joblib.meta.json"} <= set(models)
        assert verify_model(url, kind="officer-model")["model_id"] == model_id
    assert not (eis_home() / "s3project" / "matrices").exists()  # nothing went to the local folder
    assert not (eis_home() / "s3project" / "models").exists()


def test_scoring_reloads_from_s3_and_a_retrain_is_stored_there(s3_run, monkeypatch):
    from eis_core.production.scoring import score_day

    monkeypatch.setenv("EIS_ARTIFACT_ROOT", f"s3://{s3_run['s3']['bucket']}/{PREFIX}")
    stored = score_day(D, s3_run["group"], mode="stored", config=s3_run["config"], labels=s3_run["labels"],
                       progress=None, max_stale_days=100_000)
    assert stored.n_scored > 50
    with db.connect() as conn:
        n = conn.execute("SELECT count(*) FROM production.predictions WHERE as_of_date = %s AND model_id = %s",
                         (D, stored.model_id)).fetchone()[0]
    assert n == stored.n_scored
    retrained = score_day(D, s3_run["group"], mode="retrain", config=s3_run["config"], labels=s3_run["labels"],
                          progress=None, max_stale_days=100_000)
    assert retrained.model_id != stored.model_id
    assert f"{retrained.model_id}.joblib.meta.json" in _objects(s3_run["s3"], "models")


def test_a_model_object_replaced_on_the_server_is_refused(s3_run, monkeypatch):
    from eis_core.production.scoring import ProductionError, score_day

    s3 = s3_run["s3"]
    monkeypatch.setenv("EIS_ARTIFACT_ROOT", f"s3://{s3['bucket']}/{PREFIX}")
    with db.connect() as conn:
        url = conn.execute("SELECT artifact_path FROM production.scoring_runs s JOIN results.models m "
                           "USING (model_id) WHERE s.as_of_date = %s", (D,)).fetchone()[0]
    key = url[len("s3://"):]
    good = s3["fs"].cat_file(key)
    s3["fs"].pipe_file(key, good + b"\0")
    try:
        with pytest.raises(ProductionError, match=r"s3://.*\.joblib was modified after it was written"):
            score_day(D, s3_run["group"], mode="retrain", config=s3_run["config"], labels=s3_run["labels"],
                      progress=None, max_stale_days=100_000)
    finally:
        s3["fs"].pipe_file(key, good)
