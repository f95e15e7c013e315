"""Secrets stay secret on a department's server (issue 18, item 5).

The module starts its own embedded PostgreSQL (so that no database ``airflow`` exists on it yet) and
creates a real non-superuser role on it (LOGIN, a password, NOCREATEDB) owning a warehouse database, the
way an administrator sets up an external server (docs/external-postgres.md).  EIS_DATABASE_URL names that
role; the platform then runs for real through the ``eis`` command line in fresh homes: ``eis load``
(Great Expectations validates every table), ``eis airflow env`` and ``eis airflow migrate``.
"""

from __future__ import annotations

import os
import re
import secrets
import stat
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from conftest import private_eis_home
from minidrop import valid_tables, write_drop

EIS = str(Path(sys.executable).with_name("eis"))


@pytest.fixture(scope="module")
def server():
    """A private embedded server (its own home) and an administrator URL for it."""
    with private_eis_home("eis_secrets_server_", unset=("EIS_DATABASE_URL",)) as home:
        from eis_core import db

        db.start()
        yield {"home": home, "admin": db.database_url("postgres"), "socket": db.url_parts(db.database_url())["host"]}


@pytest.fixture(scope="module")
def app_role(server):
    """LOGIN with a password, no CREATEDB, no superuser, owner of its warehouse database."""
    role, password = "eis_app", "S3cret-" + secrets.token_urlsafe(16)
    with psycopg.connect(server["admin"], autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD {}").format(
            sql.Identifier(role), sql.Literal(password)))
        conn.execute(sql.SQL("CREATE DATABASE eis_dept OWNER {}").format(sql.Identifier(role)))
    with psycopg.connect(server["admin"].replace("/postgres?", "/eis_dept?"), autocommit=True) as conn:
        conn.execute(sql.SQL("ALTER SCHEMA public OWNER TO {}").format(sql.Identifier(role)))
    url = f"postgresql://{role}:{password}@/eis_dept?host={server['socket']}"
    return {"role": role, "password": password, "url": url}


@pytest.fixture()
def fresh_home():
    """A new, empty EIS_HOME (never used with any server)."""
    with private_eis_home("eis_secrets_home_", unset=("EIS_DATABASE_URL",)) as home:
        yield home


def _env(home: Path, url: str | None) -> dict[str, str]:
    env = dict(os.environ, EIS_HOME=str(home), GX_ANALYTICS_ENABLED="False")
    env.pop("EIS_GX_WAREHOUSE_URL", None)
    env.pop("EIS_DATABASE_URL", None)
    if url:
        env["EIS_DATABASE_URL"] = url
    return env


def _eis(args: list[str], env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([EIS, *args], env=env, capture_output=True, text=True, timeout=timeout)


def _one_line_error(proc: subprocess.CompletedProcess) -> str:
    out = (proc.stdout + proc.stderr).strip()
    assert proc.returncode != 0, out
    assert "Traceback" not in out, out
    assert len(out.splitlines()) == 1, out
    return out


def _files_holding(home: Path, secret: str) -> dict[str, int]:
    """Every file under *home* whose bytes contain *secret*, with its permission bits."""
    needle, found = secret.encode(), {}
    for path in home.rglob("*"):
        if path.is_file() and not path.is_symlink():
            try:
                if needle in path.read_bytes():
                    found[str(path.relative_to(home))] = stat.S_IMODE(path.stat().st_mode)
            except OSError:
                continue
    return found


def test_role_without_createdb_is_told_which_database_to_create(app_role, server, fresh_home):
    """The role may not create Airflow's metadata database: one line naming the database and its owner,
    exit 2; once an administrator runs exactly the statement given, the same command succeeds."""
    env = _env(fresh_home, app_role["url"])
    out = _one_line_error(_eis(["airflow", "env"], env))
    assert app_role["password"] not in out
    match = re.search(r'CREATE DATABASE "airflow" OWNER "eis_app";', out)
    assert match, out
    with psycopg.connect(server["admin"], autocommit=True) as conn:
        conn.execute(match.group(0).rstrip(";"))
    proc = _eis(["airflow", "env"], env)
    assert proc.returncode == 0, proc.stderr
    assert "export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=" in proc.stdout


def test_a_missing_warehouse_database_is_one_line(app_role, fresh_home, tmp_path):
    env = _env(fresh_home, app_role["url"].replace("/eis_dept?", "/eis_nowhere?"))
    drop = write_drop(tmp_path / "drop", valid_tables())
    out = _one_line_error(_eis(["load", str(drop)], env))
    assert 'CREATE DATABASE "eis_nowhere" OWNER "eis_app"' in out, out


def test_no_file_readable_by_others_holds_the_password(app_role, server, fresh_home, tmp_path):
    """A real load and the Airflow setup (settings, generated secrets, ``airflow db migrate``) with a
    password in EIS_DATABASE_URL: great_expectations.yml names a config variable instead of the URL, and
    every file of the home that holds the password is readable by its owner only."""
    with psycopg.connect(server["admin"], autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = 'airflow'").fetchone():
            conn.execute('CREATE DATABASE airflow OWNER "eis_app"')
    env = _env(fresh_home, app_role["url"])
    drop = write_drop(tmp_path / "drop", valid_tables())
    proc = _eis(["load", str(drop)], env)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    gx_yml = fresh_home / "gx" / "great_expectations.yml"
    text = gx_yml.read_text()
    assert "connection_string: ${EIS_GX_WAREHOUSE_URL}" in text, text
    assert app_role["password"] not in text

    proc = _eis(["airflow", "migrate"], env, timeout=900)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert (fresh_home / "airflow" / "secrets.json").exists()

    found = _files_holding(fresh_home, app_role["password"])
    leaky = {name: oct(mode) for name, mode in found.items() if mode & 0o077}
    assert not leaky, f"files readable by others hold the database password: {leaky}"
    assert not (fresh_home / "pgdata").exists(), "an external home must not start an embedded server"


def test_home_made_for_an_external_server_refuses_to_start_an_embedded_one(app_role, fresh_home, tmp_path):
    """The home records the mode it was set up for; without EIS_DATABASE_URL later, every command that
    needs the database refuses in one line (exit 2) instead of starting an empty embedded server."""
    proc = _eis(["db", "status"], _env(fresh_home, app_role["url"]))
    assert proc.returncode == 0 and "mode:    external" in proc.stdout, proc.stdout + proc.stderr
    recorded = (fresh_home / "database.json").read_text()
    assert '"external"' in recorded and "eis_app@" in recorded and app_role["password"] not in recorded

    no_url = _env(fresh_home, None)
    drop = write_drop(tmp_path / "drop", valid_tables())
    for args in (["db", "start"], ["db", "status"], ["db", "url"], ["load", str(drop)]):
        out = _one_line_error(_eis(args, no_url))
        assert "EIS_DATABASE_URL is not set" in out and str(fresh_home) in out and "eis_app@" in out, (args, out)
    assert _eis(["db", "start"], no_url).returncode == 2
    assert not (fresh_home / "pgdata").exists()

    # with the URL back, the home works again
    assert _eis(["db", "status"], _env(fresh_home, app_role["url"])).returncode == 0


def test_a_new_home_without_url_is_embedded_and_stays_usable(tmp_path):
    """The refusal is only for homes set up for an external server: a home whose embedded data folder
    exists records embedded (even when EIS_DATABASE_URL is set later), and never refuses."""
    from eis_core import db

    with private_eis_home("eis_secrets_emb_", unset=("EIS_DATABASE_URL",)) as home:
        (home / "pgdata").mkdir()
        (home / "pgdata" / "PG_VERSION").write_text("18\n")
        os.environ["EIS_DATABASE_URL"] = "postgresql://x:y@127.0.0.1:1/eis"
        try:
            db.check_mode()
        finally:
            del os.environ["EIS_DATABASE_URL"]
        assert '"embedded"' in (home / "database.json").read_text()
        db.check_mode()  # no refusal
