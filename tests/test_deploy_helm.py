"""deploy/helm/airflow-values.yaml: valid for the Airflow Helm chart as far as can be checked offline
(deploy/helm/schema/README.md says why the chart's own schema is not used), and true to the deployment's
rules: CeleryExecutor, the EIS image at the locked Airflow version, PgBouncer, remote logs on S3, every
secret by reference, the pool policy kept."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml
from kubernetes_validate import utils as kv

ROOT = Path(__file__).resolve().parent.parent
VALUES = ROOT / "deploy" / "helm" / "airflow-values.yaml"
SUBSET = ROOT / "deploy" / "helm" / "schema" / "values.subset.schema.json"
K8S_VERSION = "1.33.0"
SECRET_NAME = re.compile(r"PASSWORD|SECRET|FERNET|TOKEN|(^|_)KEY$|_URL$|^AIRFLOW_CONN_")


def _values() -> dict:
    return yaml.safe_load(VALUES.read_text(encoding="utf-8"))


def _lock_version(package: str) -> str:
    for line in (ROOT / "requirements.lock").read_text(encoding="utf-8").splitlines():
        name, _, version = line.partition("==")  # hashed lock: "name[extra]==1.2.3 \\" then --hash lines
        if name.split("[")[0].strip().lower() == package and version:
            return version.split()[0]
    raise AssertionError(package)


def test_values_match_the_chart_subset_schema():
    schema = json.loads(SUBSET.read_text(encoding="utf-8"))
    jsonschema.Draft7Validator.check_schema(schema)
    jsonschema.Draft7Validator(schema).validate(_values())


@pytest.mark.parametrize("mutation", [
    lambda v: v.update(exectuor="CeleryExecutor"),                    # a misspelt top-level key
    lambda v: v.update(executor="Celery"),                            # not an executor the chart knows
    lambda v: v["workers"].update(replicas="2"),                      # a string where the chart wants an integer
    lambda v: v["secret"].append({"envName": "X", "secretName": "Bad_Name", "secretKey": "k"}),
])
def test_the_subset_schema_rejects_what_the_chart_would(mutation):
    schema = json.loads(SUBSET.read_text(encoding="utf-8"))
    values = copy.deepcopy(_values())
    mutation(values)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft7Validator(schema).validate(values)


def _resources(node, path=()):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "resources" and isinstance(v, dict):
                yield path + (k,), v
            else:
                yield from _resources(v, path + (k,))


def test_every_resources_block_is_a_kubernetes_resource_requirements():
    """What the chart's schema $refs (io.k8s.api.core.v1.ResourceRequirements), from the real API schema."""
    defs = kv.schema_contents(f"kubernetes-json-schema/v{K8S_VERSION}-local-strict/_definitions.json", K8S_VERSION)
    schema = {"$ref": "#/$defs/io.k8s.api.core.v1.ResourceRequirements", "$defs": defs["$defs"]}
    validator = jsonschema.Draft202012Validator(schema)
    blocks = dict(_resources(_values()))
    assert {("workers", "resources"), ("scheduler", "resources"), ("apiServer", "resources"),
            ("pgbouncer", "resources")} <= set(blocks)
    with pytest.raises(jsonschema.ValidationError):  # the strict definition: `request` is no field of it
        validator.validate({"request": {"cpu": "4"}})
    for path, block in blocks.items():
        validator.validate(block)
        assert block.get("requests") and block.get("limits"), f"{'.'.join(path)}: requests and limits"


def test_executor_image_and_policy():
    v = _values()
    assert v["executor"] == "CeleryExecutor"
    airflow = _lock_version("apache-airflow")
    assert v["airflowVersion"] == v["defaultAirflowTag"] == v["images"]["airflow"]["tag"] == airflow
    assert v["images"]["airflow"]["repository"] == v["defaultAirflowRepository"]
    assert not v["defaultAirflowRepository"].startswith("apache/airflow"), "the chart must run the EIS image"
    # the image's airflow_local_settings.py (the pool policy) is kept, not replaced by the chart's
    assert "airflowLocalSettings" in v and v["airflowLocalSettings"] is None
    assert v["config"]["core"]["dags_folder"] == "/opt/eis/dags"
    assert v["dags"]["gitSync"]["enabled"] is False and v["dags"]["persistence"]["enabled"] is False


def test_pgbouncer_external_database_and_remote_logs():
    v = _values()
    assert v["pgbouncer"]["enabled"] is True and v["pgbouncer"]["maxClientConn"] > v["pgbouncer"]["metadataPoolSize"]
    assert v["postgresql"]["enabled"] is False
    logging = v["config"]["logging"]
    assert logging["remote_logging"] == "True" and logging["remote_base_log_folder"].startswith("s3://")
    conn_env = "AIRFLOW_CONN_" + logging["remote_log_conn_id"].upper()
    assert conn_env in {s["envName"] for s in v["secret"]}, "the log bucket's connection must come from a Secret"
    assert v["logs"]["persistence"]["enabled"] is False and v["workers"]["persistence"]["enabled"] is False


def test_no_secret_in_the_values():
    v = _values()
    for key in ("fernetKey", "apiSecretKey", "jwtSecret", "webserverSecretKey"):
        assert v.get(key) in (None, ""), f"{key} written in the values file"
    for key in ("fernetKeySecretName", "apiSecretKeySecretName", "jwtSecretName"):
        assert v[key], f"{key}: reference the Secret"
    for key in ("metadataSecretName", "resultBackendSecretName", "brokerUrlSecretName"):
        assert v["data"][key], key
    assert "metadataConnection" not in v["data"]
    for item in v["env"]:
        assert not SECRET_NAME.search(item["name"]) or item["value"] == "", f"{item['name']} set in plain text"
    secret_envs = {s["envName"] for s in v["secret"]}
    assert {"EIS_DATABASE_URL", "AIRFLOW_CONN_EIS_WAREHOUSE", "EIS_ALERT_SMTP_PASSWORD"} <= secret_envs
    text = VALUES.read_text(encoding="utf-8")
    assert not re.search(r"://[^/\s:@]+:[^/\s@]+@(?!DB-HOST|eis-airflow-redis|/)", text), "a URL with a password"
    assert v["webserver"]["defaultUser"]["enabled"] is False, "the chart's user job takes the password from values"


def test_pools_are_documented_and_created():
    pools = json.loads((ROOT / "deploy" / "airflow" / "pools.json").read_text(encoding="utf-8"))
    job = yaml.safe_load((ROOT / "deploy" / "k8s" / "airflow-pools-job.yaml").read_text(encoding="utf-8"))
    cmd = job["spec"]["template"]["spec"]["containers"][0]["command"]
    assert cmd == ["airflow", "pools", "import", "/opt/eis/deploy/airflow/pools.json"]
    assert pools["eis_dbt"]["slots"] == 1
    docs = (ROOT / "docs" / "deployment.md").read_text(encoding="utf-8")
    for name in pools:
        assert name in docs, f"pool {name} is not in docs/deployment.md"
