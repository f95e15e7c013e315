"""The artifact store without the warehouse: model files verified before unpickling, atomic writes,
and the same store on a real S3-compatible server (moto's standalone server, started here)."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
from sklearn.tree import DecisionTreeClassifier

from eis_core.artifacts import models as M
from eis_core.artifacts import storage as S
from s3_server import s3_server  # noqa: F401 - the fixture

UNPICKLED: list[str] = []


def _mark(tag: str) -> str:
    UNPICKLED.append(tag)
    return tag


class Canary:
    """Records it when it is unpickled: proves that a refused file was never unpickled."""

    def __init__(self, tag: str) -> None:
        self.tag = tag

    def __reduce__(self):
        return (_mark, (self.tag,))


class WatchTarget:
    """While it is being pickled (the dump is in progress), records whether *target* is visible and
    what it holds, then fails if asked to: the partial dump must never become visible."""

    def __init__(self, target, fail: bool) -> None:
        self.target, self.fail, self.seen = target, fail, None

    def __reduce__(self):
        self.seen = self.target.read_bytes() if self.target.exists() else None
        if self.fail:
            raise pickle.PicklingError("disk full (simulated)")
        return (str, ("ok",))


def _model():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(60, 3)), np.r_[np.zeros(30), np.ones(30)]
    return DecisionTreeClassifier(max_depth=2, random_state=0).fit(X, y), X


def test_round_trip_records_sha256_and_library_versions(tmp_path):
    est, X = _model()
    path = tmp_path / "models" / "m1.joblib"
    rec = M.save_model(est, path, kind="officer-model", extra={"model_id": "m1"})
    side = json.loads((tmp_path / "models" / "m1.joblib.meta.json").read_text())
    assert side == rec and side["sha256"] == S.sha256_bytes(path.read_bytes()) and side["model_id"] == "m1"
    assert side["bytes"] == path.stat().st_size
    assert {"python", "scikit-learn", "numpy", "pandas", "joblib"} <= set(side["library_versions"])
    back = M.load_model(path, kind="officer-model")
    np.testing.assert_array_equal(back.predict_proba(X), est.predict_proba(X))
    assert not [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")]


def test_a_tampered_file_is_refused_and_never_unpickled(tmp_path):
    path = tmp_path / "c.joblib"
    M.save_model(Canary("tampered"), path, kind="officer-model")
    assert M.load_model(path) == "tampered" and UNPICKLED == ["tampered"]  # fine before
    UNPICKLED.clear()
    with open(path, "ab") as f:
        f.write(b"\x00")
    with pytest.raises(M.ArtifactVerificationError) as e:
        M.load_model(path)
    msg = str(e.value)
    assert "\n" not in msg and str(path) in msg and "modified after it was written" in msg and "sha256" in msg
    assert UNPICKLED == []
    # the registry's sha256 (severity) is checked as well, even when file and record agree
    M.save_model(Canary("swapped"), path, kind="officer-model")
    with pytest.raises(M.ArtifactVerificationError, match="modified after registration"):
        M.load_model(path, expected_sha256="0" * 64)
    assert UNPICKLED == []


def test_a_version_mismatch_is_refused_naming_the_library(tmp_path):
    path = tmp_path / "v.joblib"
    M.save_model(Canary("old"), path, kind="officer-model")
    side = path.with_name(path.name + M.SIDECAR_SUFFIX)
    rec = json.loads(side.read_text())
    rec["library_versions"]["scikit-learn"] = "0.24.2"
    side.write_text(json.dumps(rec))
    with pytest.raises(M.ArtifactVerificationError) as e:
        M.load_model(path)
    msg = str(e.value)
    assert "\n" not in msg and str(path) in msg and "scikit-learn 0.24.2 (this environment: " in msg
    # a patch release of Python or numpy is compatible; another numpy major version is not
    rec["library_versions"] = dict(M.library_versions(), python=M.library_versions()["python"].rsplit(".", 1)[0] + ".99")
    side.write_text(json.dumps(rec))
    assert M.load_model(path) == "old"
    rec["library_versions"]["numpy"] = "1.26.4" if not np.__version__.startswith("1.") else "2.0.0"
    side.write_text(json.dumps(rec))
    with pytest.raises(M.ArtifactVerificationError, match=r"numpy \d"):
        M.load_model(path)
    assert UNPICKLED == ["old"]
    UNPICKLED.clear()


def test_a_file_without_its_record_or_of_another_kind_is_refused(tmp_path):
    import joblib

    bare = tmp_path / "bare.joblib"
    joblib.dump(Canary("bare"), bare)
    with pytest.raises(M.ArtifactVerificationError, match="no verification record bare.joblib.meta.json"):
        M.load_model(bare)
    typed = tmp_path / "typed.joblib"
    M.save_model(Canary("typed"), typed, kind="dispatch-model")
    with pytest.raises(M.ArtifactVerificationError, match="'dispatch-model' artifact, expected 'severity-model'"):
        M.load_model(typed, kind="severity-model")
    gone = tmp_path / "gone.joblib"  # a record whose file is not there
    (tmp_path / "gone.joblib.meta.json").write_text((tmp_path / "typed.joblib.meta.json").read_text())
    with pytest.raises(M.ArtifactVerificationError, match="gone.joblib is missing"):
        M.load_model(gone)
    assert UNPICKLED == []


def test_no_partial_file_is_ever_visible(tmp_path):
    target = tmp_path / "models" / "a.joblib"
    first = WatchTarget(target, fail=False)
    M.save_model([first, np.arange(1000)], target, kind="officer-model")
    assert first.seen is None  # while the dump ran, the target did not exist yet
    good = target.read_bytes()
    failing = WatchTarget(target, fail=True)
    with pytest.raises(pickle.PicklingError):
        M.save_model([np.arange(10_000), failing], target, kind="officer-model")
    assert failing.seen == good  # while the second dump ran, the target still held the first file whole
    assert target.read_bytes() == good and M.load_model(target)[0] == "ok"  # the failed dump left nothing
    assert sorted(p.name for p in target.parent.iterdir()) == ["a.joblib", "a.joblib.meta.json"]


def test_local_is_the_default_and_the_setting_is_checked(monkeypatch, tmp_path):
    from eis_core.paths import eis_home

    monkeypatch.delenv(S.ROOT_ENV, raising=False)
    assert S.artifact_root() == eis_home() and S.resolve("project") == eis_home() / "project"
    assert S.resolve(tmp_path) == tmp_path and S.local_dir(tmp_path) == tmp_path
    monkeypatch.setenv(S.ROOT_ENV, str(tmp_path / "store"))
    assert S.resolve("p") == tmp_path / "store" / "p" and (tmp_path / "store").is_dir()
    monkeypatch.setenv(S.ROOT_ENV, "gs://bucket/x")
    with pytest.raises(S.StorageError, match="only a local folder or s3://"):
        S.artifact_root()


def test_the_same_store_on_s3(s3_server, monkeypatch):  # noqa: F811 - the fixture
    monkeypatch.setenv(S.ROOT_ENV, f"s3://{s3_server['bucket']}/unit")
    root = S.artifact_root()
    assert S.is_remote(root) and str(root) == f"s3://{s3_server['bucket']}/unit"
    est, X = _model()
    path = S.resolve("project") / "models" / "m.joblib"
    M.save_model(est, path, kind="officer-model")
    fs = s3_server["fs"]
    keys = sorted(k.rsplit("/", 1)[-1] for k in fs.ls(f"{s3_server['bucket']}/unit/project/models"))
    assert keys == ["m.joblib", "m.joblib.meta.json"]
    np.testing.assert_array_equal(M.load_model(str(path)).predict_proba(X), est.predict_proba(X))
    # an object replaced on the server is refused like a local file
    fs.pipe(f"{s3_server['bucket']}/unit/project/models/m.joblib", pickle.dumps(Canary("s3")))
    with pytest.raises(M.ArtifactVerificationError, match=r"s3://.*/m\.joblib was modified after it was written"):
        M.load_model(str(path))
    assert UNPICKLED == []
    assert S.local_dir(path.parent).parts[-4:] == (s3_server["bucket"], "unit", "project", "models")
