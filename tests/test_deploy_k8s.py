"""deploy/k8s/: every manifest validates against the Kubernetes API schema (kubernetes-validate, strict:
an unknown field fails), and the web app and severity API follow the deployment's rules: probes on
routes the apps serve, requests and limits, secrets only by reference, a NetworkPolicy per app."""

from __future__ import annotations

import re
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
K8S = ROOT / "deploy" / "k8s"
K8S_VERSION = "1.33.0"
SECRET_NAME = re.compile(r"PASSWORD|SECRET|FERNET|TOKEN|(^|_)KEY$|_URL$|_CONN")
APPS = {  # deployment -> (source, readiness route, liveness route, port)
    "eis-webapp": (ROOT / "eis_core/webapp/routes_auth.py", "/login", "/login", 8050),  # the login router
    "eis-severity-api": (ROOT / "eis_core/severity/api.py", "/readyz", "/healthz", 8001),
}


def _docs() -> list[tuple[str, dict]]:
    out = []
    for path in sorted(K8S.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if doc:
                out.append((path.name, doc))
    return out


def _kinds() -> dict[tuple[str, str], dict]:
    return {(d["kind"], d["metadata"]["name"]): d for _, d in _docs()}


def test_manifests_validate_against_the_kubernetes_schema():
    docs = _docs()
    assert len(docs) >= 7
    for name, doc in docs:
        try:
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as e:
            pytest.fail(f"{name} {doc['kind']}/{doc['metadata']['name']}: {'.'.join(map(str, e.path))}: {e.message}")


def test_the_validator_rejects_a_broken_manifest():
    dep = _kinds()[("Deployment", "eis-webapp")]
    broken = yaml.safe_load(yaml.safe_dump(dep))
    broken["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {"httpGet": {"path": "/login"}}  # typo
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)


def test_no_plaintext_secret():
    for name, doc in _docs():
        assert doc["kind"] != "Secret", f"{name}: a Secret manifest in the repository (create Secrets out of band)"
        assert doc["kind"] != "ConfigMap" or not any(SECRET_NAME.search(k) for k in doc.get("data", {})), name
        spec = doc["spec"].get("template", {}).get("spec", {})
        for c in spec.get("containers", []) + spec.get("initContainers", []):
            for env in c.get("env", []):
                if SECRET_NAME.search(env["name"]):
                    assert "value" not in env and "secretKeyRef" in env.get("valueFrom", {}), \
                        f"{name}: {c['name']}.{env['name']} must come from a Secret"
    text = "\n".join(p.read_text(encoding="utf-8") for p in K8S.glob("*.yaml"))
    assert not re.search(r"postgres(ql)?://[^\s/@]*:[^\s/@]+@", text.replace("PASSWORD@", "@")), "a URL with a password"


@pytest.mark.parametrize("name", sorted(APPS))
def test_apps_have_probes_resources_service_and_networkpolicy(name):
    source, ready, live, port = APPS[name]
    kinds = _kinds()
    dep = kinds[("Deployment", name)]
    pod = dep["spec"]["template"]
    spec = pod["spec"]
    (c,) = spec["containers"]
    assert c["readinessProbe"]["httpGet"]["path"] == ready and c["livenessProbe"]["httpGet"]["path"] == live
    code = source.read_text(encoding="utf-8")
    for route in {ready, live}:
        assert re.search(rf'@(app|router)\.get\("{re.escape(route)}"', code), f"{source.name} serves no GET {route}"
    assert str(port) in c["command"] and c["ports"][0]["containerPort"] == port
    assert c["resources"]["requests"] and c["resources"]["limits"]
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert c["securityContext"]["allowPrivilegeEscalation"] is False and c["securityContext"]["readOnlyRootFilesystem"]
    assert spec["automountServiceAccountToken"] is False
    assert re.fullmatch(r"[^:]+:\d+\.\d+\.\d+(@sha256:[0-9a-f]{64})?", c["image"]), c["image"]
    env = {e["name"]: e for e in c["env"]}
    assert env["EIS_DATABASE_URL"]["valueFrom"]["secretKeyRef"]["name"] == "eis-warehouse"
    assert not any(k.startswith("AIRFLOW") for k in env), f"{name} gets Airflow settings"

    svc = kinds[("Service", name)]
    assert svc["spec"]["selector"] == dep["spec"]["selector"]["matchLabels"]
    assert svc["spec"].get("type", "ClusterIP") == "ClusterIP", "expose through the Ingress (TLS), not a LoadBalancer"

    pol = kinds[("NetworkPolicy", name)]
    assert pol["spec"]["podSelector"]["matchLabels"] == dep["spec"]["selector"]["matchLabels"]
    assert set(pol["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    ingress_ports = {p["port"] for rule in pol["spec"]["ingress"] for p in rule["ports"]}
    assert ingress_ports == {port}
    assert all(rule.get("from") for rule in pol["spec"]["ingress"]), "an ingress rule open to every pod"
    egress_ports = {p["port"] for rule in pol["spec"]["egress"] for p in rule["ports"]}
    assert egress_ports == {5432, 53}, egress_ports
