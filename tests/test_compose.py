"""Consistency checks of the department-server deployment: docker-compose.yml, .env.example and
docker/Dockerfile.

No Docker engine is needed: the YAML-level checks always run. ``docker compose config`` (which
validates the file against the Compose specification without an engine) runs only when a Compose
CLI is installed; otherwise that one test is skipped with the reason.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from eis_core import db

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
DOCKERFILE = ROOT / "docker" / "Dockerfile"
LOCK = ROOT / "requirements.lock"

AIRFLOW_SERVICES = {
    "airflow-init", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-worker",
    "airflow-triggerer",
}
EXPECTED_SERVICES = {"postgres", "redis"} | AIRFLOW_SERVICES
SECRET_NAME = re.compile(r"PASSWORD|SECRET|FERNET|TOKEN|(^|_)KEY$")

# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?message}, ${NAME?message}, ${NAME:+alt}, ${NAME+alt}
_REF = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}")
_BARE = re.compile(r"\$(?P<name>[A-Za-z_][A-Za-z0-9_]*)")


# --- helpers ----------------------------------------------------------------------------------------

def _compose_text() -> str:
    return COMPOSE.read_text(encoding="utf-8")


def _compose() -> dict:
    return yaml.safe_load(_compose_text())


def _env_example() -> dict[str, str]:
    env: dict[str, str] = {}
    for n, line in enumerate(ENV_EXAMPLE.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        assert "=" in line, f".env.example line {n} is not KEY=VALUE: {line!r}"
        key, value = line.split("=", 1)
        assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key.strip()), f".env.example line {n}: bad name {key!r}"
        assert key.strip() not in env, f".env.example defines {key.strip()} twice"
        env[key.strip()] = value.strip()
    return env


def _strings(node, path=()):
    """Every string in the parsed compose file (keys excluded), with its path."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _strings(v, path + (str(k),))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _strings(v, path + (str(i),))
    elif isinstance(node, str):
        yield path, node


def _refs(value: str) -> list[tuple[str, str | None]]:
    """(name, operator) of every variable reference in a compose string; `$$` is a literal `$`."""
    text = value.replace("$$", "")
    refs = [(m.group("name"), m.group("op")) for m in _REF.finditer(text)]
    bare = _BARE.findall(_REF.sub("", text))
    return refs + [(name, None) for name in bare]


def _interpolate(value: str, env: dict[str, str]) -> str:
    """Compose-style interpolation of one string with *env* (what `docker compose` does with .env)."""
    def sub(m: re.Match) -> str:
        name, op, arg = m.group("name"), m.group("op"), m.group("arg") or ""
        val = env.get(name)
        if op in (":?", "?"):
            if val is None or (op == ":?" and val == ""):
                raise AssertionError(f"required variable {name} is unset: {arg}")
            return val
        if op == ":-":
            return val if val else arg
        if op == "-":
            return val if val is not None else arg
        if op == ":+":
            return arg if val else ""
        if op == "+":
            return arg if val is not None else ""
        return val or ""

    parts = value.split("$$")
    return "$".join(_REF.sub(sub, p) for p in parts)


def _resolve(node, env):
    if isinstance(node, dict):
        return {k: _resolve(v, env) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve(v, env) for v in node]
    if isinstance(node, str):
        return _interpolate(node, env)
    return node


def _resolved() -> dict:
    return _resolve(_compose(), _env_example())


def _environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {k: "" if v is None else str(v) for k, v in env.items()}


def _airflow_envs() -> dict[str, dict[str, str]]:
    services = _resolved()["services"]
    return {name: _environment(services[name]) for name in sorted(AIRFLOW_SERVICES)}


def _lock_version(package: str) -> str:
    for line in LOCK.read_text(encoding="utf-8").splitlines():
        m = re.fullmatch(r"\s*([A-Za-z0-9_.\-]+)\s*==\s*([^\s;#]+).*", line)
        if m and re.sub(r"[-_.]+", "-", m.group(1)).lower() == package:
            return m.group(2)
    raise AssertionError(f"{package} is not pinned in requirements.lock")


def _volume_mounts(service: dict) -> list[tuple[str, str]]:
    """(source, container path) of every volume of a service, short or long syntax."""
    mounts = []
    for v in service.get("volumes") or []:
        if isinstance(v, str):
            parts = v.split(":")
            if len(parts) >= 2:
                mounts.append((parts[0], parts[1]))
        else:
            mounts.append((str(v.get("source", "")), str(v["target"])))
    return mounts


def _is_host_path(source: str) -> bool:
    return source.startswith((".", "/", "~"))


# --- the file parses and has the expected shape ------------------------------------------------------

def test_compose_parses_and_has_expected_services():
    data = _compose()
    assert isinstance(data, dict) and isinstance(data.get("services"), dict)
    missing = EXPECTED_SERVICES - set(data["services"])
    assert not missing, f"docker-compose.yml lacks services {sorted(missing)}"
    assert "version" not in data, "the top-level `version` key is obsolete in the Compose specification"


def test_postgres_service():
    data = _resolved()
    pg = data["services"]["postgres"]
    assert pg["image"] == "postgres:16"
    mounts = dict((t, s) for s, t in _volume_mounts(pg))
    assert "/var/lib/postgresql/data" in mounts, "the postgres data directory must be on a volume"
    assert mounts["/var/lib/postgresql/data"] in (data.get("volumes") or {}), "postgres data: use a named volume"
    assert pg.get("healthcheck", {}).get("test"), "postgres needs a healthcheck"

    init_src = mounts.get("/docker-entrypoint-initdb.d")
    assert init_src, "postgres must mount an init script folder at /docker-entrypoint-initdb.d"
    init_dir = (ROOT / init_src).resolve()
    assert init_dir.is_dir() and init_dir.is_relative_to(ROOT / "docker"), init_dir
    scripts = "\n".join(p.read_text(encoding="utf-8") for p in sorted(init_dir.iterdir()) if p.is_file())
    for dbname in (db.WAREHOUSE_DB, db.AIRFLOW_DB):
        assert re.search(rf"CREATE DATABASE\s+{dbname}\b", scripts, re.I), f"init script does not create {dbname}"
    # the init script gets the role's password from the environment, which compose passes from .env
    assert "EIS_DB_PASSWORD" in scripts and "EIS_DB_PASSWORD" in _environment(_compose()["services"]["postgres"])


def test_redis_service():
    redis = _compose()["services"]["redis"]
    assert str(redis["image"]).startswith("redis:")
    assert redis.get("healthcheck", {}).get("test"), "redis needs a healthcheck"


# --- every Airflow service shares one configuration -------------------------------------------------

def test_airflow_services_merge_the_common_anchor():
    """Each Airflow service merges the very `x-airflow-common` mapping (`<<: *airflow-common`)."""
    root = yaml.compose(_compose_text())
    top = {k.value: v for k, v in root.value}
    assert "x-airflow-common" in top, "docker-compose.yml has no x-airflow-common extension"
    common = top["x-airflow-common"]
    services = {k.value: v for k, v in top["services"].value}
    for name in sorted(AIRFLOW_SERVICES):
        merges = [v for k, v in services[name].value if k.tag == "tag:yaml.org,2002:merge"]
        assert any(m is common for m in merges), f"{name} does not merge <<: *airflow-common"
    env_node = {k.value: v for k, v in common.value}["environment"]
    for name in sorted(AIRFLOW_SERVICES):
        env = {k.value: v for k, v in services[name].value}.get("environment")
        if env is not None:  # a service that overrides environment must merge the common one
            merges = [v for k, v in env.value if k.tag == "tag:yaml.org,2002:merge"]
            assert any(m is env_node for m in merges), f"{name}.environment does not merge *airflow-common-env"


def test_airflow_services_use_celery_and_the_same_backends():
    envs = _airflow_envs()
    services = _resolved()["services"]
    same = [
        "AIRFLOW__CORE__EXECUTOR", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW__CELERY__BROKER_URL",
        "AIRFLOW__CELERY__RESULT_BACKEND", "AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__API__SECRET_KEY",
        "AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__CORE__EXECUTION_API_SERVER_URL", "AIRFLOW__CORE__DAGS_FOLDER",
        "AIRFLOW__CORE__LOAD_EXAMPLES", "EIS_DATABASE_URL", "AIRFLOW_CONN_EIS_WAREHOUSE", "EIS_HOME",
    ]
    for key in same:
        values = {name: env.get(key) for name, env in envs.items()}
        assert None not in values.values(), f"{key} missing in {[n for n, v in values.items() if v is None]}"
        assert len(set(values.values())) == 1, f"{key} differs between Airflow services: {values}"
    any_env = next(iter(envs.values()))
    assert any_env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert any_env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "False"
    for key in ("AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__API__SECRET_KEY", "AIRFLOW__API_AUTH__JWT_SECRET"):
        assert any_env[key], f"{key} resolves to an empty value"
    images = {name: services[name].get("image") for name in AIRFLOW_SERVICES}
    assert len(set(images.values())) == 1 and None not in images.values(), images
    builds = {name: repr(services[name].get("build")) for name in AIRFLOW_SERVICES}
    assert len(set(builds.values())) == 1, builds
    build = services["airflow-scheduler"]["build"]
    assert (ROOT / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE


def test_database_urls_point_at_the_postgres_service():
    services = _resolved()["services"]
    env = _airflow_envs()["airflow-scheduler"]
    pg_host = "postgres"
    assert str(services[pg_host]["image"]).startswith("postgres:")

    meta = urlsplit(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    assert meta.scheme == "postgresql+psycopg2"
    assert (meta.hostname, meta.port or 5432, meta.path) == (pg_host, 5432, "/" + db.AIRFLOW_DB)

    warehouse = urlsplit(env["EIS_DATABASE_URL"])
    assert warehouse.scheme == "postgresql"
    assert (warehouse.hostname, warehouse.port or 5432, warehouse.path) == (pg_host, 5432, "/" + db.WAREHOUSE_DB)
    assert warehouse.username and warehouse.password, "EIS_DATABASE_URL needs credentials"

    # Airflow's metadata URL is exactly what eis_core.db derives from EIS_DATABASE_URL, so code that
    # calls db.sqlalchemy_url("airflow") inside a container reaches the same database.
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == db.with_database(
        env["EIS_DATABASE_URL"], db.AIRFLOW_DB, "psycopg2")

    # the Airflow connection the DAGs may use is the warehouse too
    assert env["AIRFLOW_CONN_EIS_WAREHOUSE"] == env["EIS_DATABASE_URL"]

    backend = env["AIRFLOW__CELERY__RESULT_BACKEND"]
    assert backend.startswith("db+postgresql")
    assert urlsplit(backend.removeprefix("db+")).hostname == pg_host

    broker = urlsplit(env["AIRFLOW__CELERY__BROKER_URL"])
    assert broker.scheme == "redis" and broker.hostname == "redis"


def test_airflow_services_wait_for_their_dependencies():
    services = _compose()["services"]
    for name in sorted(AIRFLOW_SERVICES):
        deps = services[name].get("depends_on") or {}
        assert deps.get("postgres", {}).get("condition") == "service_healthy", name
        assert deps.get("redis", {}).get("condition") == "service_healthy", name
        if name != "airflow-init":
            assert deps.get("airflow-init", {}).get("condition") == "service_completed_successfully", name
    init_env = _environment(services["airflow-init"])
    assert init_env.get("_AIRFLOW_DB_MIGRATE") == "true" and init_env.get("_AIRFLOW_WWW_USER_CREATE") == "true"


def test_airflow_components_start_after_the_api_server_is_healthy():
    # tasks talk to the api-server's Task Execution API from their first second: no start-up race
    services = _compose()["services"]
    for name in ("airflow-scheduler", "airflow-dag-processor", "airflow-triggerer", "airflow-worker"):
        deps = services[name].get("depends_on") or {}
        assert deps.get("airflow-apiserver", {}).get("condition") == "service_healthy", name
    env = _environment(services["airflow-scheduler"])
    assert int(env["AIRFLOW__API__WORKERS"]) >= 2
    assert int(env["AIRFLOW__WORKERS__EXECUTION_API_RETRIES"]) >= 10


def test_alert_and_staleness_settings_reach_every_airflow_service():
    from eis_core.orchestration.notify import AlertSettings

    services = _compose()["services"]
    keys = {"EIS_ALERT_EMAIL_TO", "EIS_ALERT_SMTP_HOST", "EIS_ALERT_SMTP_PORT", "EIS_ALERT_SMTP_USER",
            "EIS_ALERT_SMTP_PASSWORD", "EIS_ALERT_WEBHOOK_URL", "EIS_STALE_AFTER_DAYS", "EIS_MISSED_DAYS"}
    for name in sorted(AIRFLOW_SERVICES - {"airflow-init"}):
        env = _environment(services[name])
        assert keys <= set(env), (name, sorted(keys - set(env)))
    # with .env.example's values nothing is configured to receive alerts, and the settings parse
    resolved = {k: v for k, v in _resolved()["services"]["airflow-worker"]["environment"].items()}
    settings = AlertSettings.from_env({k: str(v) for k, v in resolved.items()})
    assert settings.channels == [] and settings.smtp_port == 25 and settings.smtp_user is None


def test_published_ports_are_bound_to_localhost():
    for name, svc in _resolved()["services"].items():
        for port in svc.get("ports") or []:
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} on every interface"


def test_the_env_file_is_not_visible_inside_the_containers():
    for name, svc in _compose()["services"].items():
        mounts = [str(v) for v in svc.get("volumes") or []]
        if any(m.startswith("./:") for m in mounts):
            assert "/dev/null:/opt/eis/.env:ro" in mounts, f"{name} mounts the repository with .env in it"


def test_every_long_running_service_has_a_healthcheck():
    for name, svc in _compose()["services"].items():
        if name != "airflow-init":
            assert (svc.get("healthcheck") or {}).get("test"), f"{name} has no healthcheck"


def test_dags_folder_is_the_mounted_repository_dags():
    services = _resolved()["services"]
    dags = (ROOT / "dags").resolve()
    assert dags.is_dir()
    for name in sorted(AIRFLOW_SERVICES):
        folder = _environment(services[name])["AIRFLOW__CORE__DAGS_FOLDER"]
        container_paths = []
        for source, target in _volume_mounts(services[name]):
            if not _is_host_path(source):
                continue
            host = (ROOT / source).resolve()
            if dags == host or dags.is_relative_to(host):
                container_paths.append((Path(target) / dags.relative_to(host)).as_posix())
        assert container_paths, f"{name} does not mount the repository's dags/"
        assert folder in container_paths, f"{name}: DAGS_FOLDER {folder} is not where dags/ is mounted {container_paths}"
        assert folder == "/opt/eis/dags"


def test_execution_api_url_names_the_api_server():
    services = _resolved()["services"]
    api = services["airflow-apiserver"]
    assert "api-server" in str(api["command"])
    url = urlsplit(_environment(api)["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"])
    assert url.hostname == "airflow-apiserver"
    container_ports = {int(str(p).rsplit(":", 1)[-1].split("/")[0]) for p in api.get("ports", [])}
    api_port = int(_environment(api).get("AIRFLOW__API__PORT", 8080))
    assert (url.port or 80) == api_port and api_port in container_ports, (url.geturl(), container_ports)
    assert url.path.rstrip("/") == "/execution"


# --- secrets ----------------------------------------------------------------------------------------

def test_every_compose_variable_is_in_env_example_and_vice_versa():
    referenced = {name for _, s in _strings(_compose()) for name, _ in _refs(s)}
    defined = set(_env_example())
    assert referenced - defined == set(), f"used in docker-compose.yml, missing from .env.example: {sorted(referenced - defined)}"
    assert defined - referenced == set(), f"in .env.example, unused by docker-compose.yml: {sorted(defined - referenced)}"


def test_compose_uses_braced_references_only():
    for path, s in _strings(_compose()):
        bare = _BARE.findall(_REF.sub("", s.replace("$$", "")))
        assert not bare, f"{'.'.join(path)}: use ${{VAR}} (or $$ for a literal $), found ${bare}"


def test_secrets_are_required_variables():
    refs = [(name, op) for _, s in _strings(_compose()) for name, op in _refs(s)]
    secrets = {name for name, _ in refs if SECRET_NAME.search(name)}
    assert {"POSTGRES_PASSWORD", "EIS_DB_PASSWORD", "AIRFLOW_FERNET_KEY", "AIRFLOW_API_SECRET_KEY",
            "AIRFLOW_JWT_SECRET", "AIRFLOW_ADMIN_PASSWORD"} <= secrets
    for name, op in refs:
        if name in secrets:
            assert op == ":?", f"secret {name} must be referenced as ${{{name}:?message}}, found op {op!r}"


def test_no_secret_literal_in_compose():
    data = _compose()
    only_refs = re.compile(r"^(\$\{[^}]+\})+$")
    for path, s in _strings(data):
        key = path[-1]
        if path[-2:-1] == ("environment",) and SECRET_NAME.search(key):
            assert only_refs.match(s), f"{'.'.join(path)} must come from .env, found a literal"
        for m in re.finditer(r"[a-z0-9+]+://([^/@\s]*)@", s):
            userinfo = m.group(1)
            if ":" in userinfo:
                password = userinfo.split(":", 1)[1]
                assert password == "" or only_refs.match(password), f"{'.'.join(path)}: literal password in a URL"
    text = _compose_text()
    for key, value in _env_example().items():
        if SECRET_NAME.search(key):
            assert value not in text, f"the placeholder of {key} is written into docker-compose.yml"
    for word in ("airflow:airflow@", "postgres:postgres@", "PASSWORD: airflow", "PASSWORD: postgres"):
        assert word not in text


def test_env_example_holds_placeholders_and_env_is_ignored():
    for key, value in _env_example().items():
        if SECRET_NAME.search(key):
            assert "change-me" in value, f".env.example must hold a placeholder for {key}, not a real value"
    ignored = [ln.strip() for ln in (ROOT / ".gitignore").read_text().splitlines()]
    assert ".env" in ignored, ".env (the real secrets) must be git-ignored"


# --- the image --------------------------------------------------------------------------------------

def test_dockerfile_base_image_matches_the_lock():
    text = DOCKERFILE.read_text(encoding="utf-8")
    froms = re.findall(r"^FROM\s+(\S+)", text, re.M)
    assert len(froms) == 1, f"expected one FROM line, found {froms}"
    m = re.fullmatch(r"apache/airflow:(?P<airflow>[0-9.]+)-python(?P<python>[0-9.]+)", froms[0])
    assert m, f"base image {froms[0]} is not apache/airflow:<version>-python<version>"
    assert m.group("airflow") == _lock_version("apache-airflow") == _lock_version("apache-airflow-core")
    assert m.group("python") == "3.11"
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    pinned = re.search(r'"apache-airflow(?:\[[^\]]*\])?==([0-9.]+)"', pyproject)
    assert pinned and pinned.group(1) == m.group("airflow"), "pyproject.toml pins another Airflow"
    requires = re.search(r'requires-python\s*=\s*">=3\.(\d+)"', pyproject)
    assert requires and int(requires.group(1)) <= 11, "the image's Python 3.11 must satisfy requires-python"


def test_dockerfile_installs_the_lock_and_the_project_without_deps():
    text = DOCKERFILE.read_text(encoding="utf-8")
    runs = " ".join(re.findall(r"^RUN\s+(.*)", text.replace("\\\n", " "), re.M))
    assert re.search(r"pip install\b[^&]*-r\s+\S*requirements\.lock", runs), "requirements.lock is not installed"
    assert re.search(r"pip install\b[^&]*--no-deps[^&]*\s(-e\s+)?/opt/eis\b", runs), "project not installed --no-deps"
    assert re.search(r"^COPY\b.*requirements\.lock", text, re.M)


# --- the real Compose CLI, when there is one ---------------------------------------------------------

def _compose_cli() -> list[str] | None:
    for cmd in (["docker", "compose"], ["docker-compose"]):
        if shutil.which(cmd[0]) is None:
            continue
        try:
            ok = subprocess.run(cmd + ["version"], capture_output=True, timeout=30).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            ok = False
        if ok:
            return cmd
    return None


def test_docker_compose_config(tmp_path):
    cli = _compose_cli()
    if cli is None:
        pytest.skip("no Docker Compose CLI here (`docker compose version` fails: the compose plugin is not "
                    "installed); the YAML-level checks above still ran")
    base = cli + ["--project-directory", str(ROOT), "-f", str(COMPOSE)]
    ok = subprocess.run(base + ["--env-file", str(ENV_EXAMPLE), "config", "--quiet"],
                        capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    # without the secrets, compose must refuse (the ${VAR:?message} references)
    empty = tmp_path / "empty.env"
    empty.write_text("")
    clean_env = {k: v for k, v in os.environ.items() if not SECRET_NAME.search(k)}
    bad = subprocess.run(base + ["--env-file", str(empty), "config", "--quiet"],
                         capture_output=True, text=True, timeout=120, env=clean_env)
    assert bad.returncode != 0, "docker compose accepted the file without the required secrets"
    assert "POSTGRES_PASSWORD" in bad.stderr or "EIS_DB_PASSWORD" in bad.stderr or "AIRFLOW_" in bad.stderr, bad.stderr
