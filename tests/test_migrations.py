"""The warehouse's fixed schemas by alembic migrations (eis_core.migrations, `eis db upgrade`).

Against real, fresh PostgreSQL databases: an upgrade reproduces exactly the schema the pre-migration code
created (tests/fixtures/schema_baseline.json, a catalogue snapshot taken once by running that code's DDL),
is idempotent, adopts a warehouse made by the old code, serialises concurrent upgrades, and the web app
refuses to start on a warehouse that is behind."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import webapp_data as wd
from schema_snapshot import snapshot

FIXTURE = Path(__file__).parent / "fixtures" / "schema_baseline.json"
REPO = Path(__file__).resolve().parents[1]
BASELINE = "0005"
#: what the revisions after the baseline add to its catalogue snapshot (0006: the alert e-mails' outbox;
#: 0007: one bias-audit table, results.bias_audit with a scope, production.bias_audit moved into it;
#: 0008: the registry of departments, platform.departments; 0009: users scoped by department)
AFTER_BASELINE = {
    "columns": ["production.alert_notifications 008 body text null=YES default=None",
                "results.bias_audit 019 scope text null=NO default='test_split'::text",
                "platform.departments 001 name text null=NO default=None",
                "platform.departments 002 database text null=NO default=None",
                "platform.departments 003 contributes_to_pooled boolean null=NO default=true",
                "platform.departments 004 created_at timestamp with time zone null=NO default=now()",
                "platform.departments 005 created_by text null=NO default=CURRENT_USER",
                # 0010: pooled models
                "results.pooled_models 001 pooled_model_id text null=NO default=None",
                "results.pooled_models 002 evaluation_id text null=NO default=None",
                "results.pooled_models 003 target_department text null=NO default=None",
                "results.pooled_models 004 split_id text null=NO default=None",
                "results.pooled_models 005 recipe text null=NO default=None",
                "results.pooled_models 006 recipe_config jsonb null=NO default=None",
                "results.pooled_models 007 kind text null=NO default=None",
                "results.pooled_models 008 trained_on ARRAY null=NO default=None",
                "results.pooled_models 009 train_rows jsonb null=NO default=None",
                "results.pooled_models 010 train_label_end date null=NO default=None",
                "results.pooled_models 011 test_as_of_dates ARRAY null=NO default=None",
                "results.pooled_models 012 features ARRAY null=NO default=None",
                "results.pooled_models 013 created_at timestamp with time zone null=NO default=now()",
                "results.pooled_table3 001 pooled_model_id text null=NO default=None",
                "results.pooled_table3 002 flag_count integer null=NO default=None",
                "results.pooled_table3 003 tp integer null=NO default=None",
                "results.pooled_table3 004 fp integer null=NO default=None",
                "results.pooled_table3 005 tn integer null=NO default=None",
                "results.pooled_table3 006 fn integer null=NO default=None",
                "results.pooled_table3 007 legacy_tp integer null=NO default=None",
                "results.pooled_table3 008 legacy_fp integer null=NO default=None",
                "results.pooled_table3 009 legacy_tn integer null=NO default=None",
                "results.pooled_table3 010 legacy_fn integer null=NO default=None",
                "results.pooled_table3 011 flags_to_match integer null=YES default=None",
                "results.pooled_table3 012 legacy_source text null=YES default=None",
                "webapp.users 012 department text null=NO default='default'::text",
                "webapp.sessions 008 viewing text null=YES default=None",
                "webapp.access_audit 008 department text null=YES default=None"],
    "indexes": ["production.alert_notifications alert_notifications_pending_idx CREATE INDEX "
                "alert_notifications_pending_idx ON production.alert_notifications USING btree (notification_id) "
                "WHERE (status = 'pending'::text)",
                "results.bias_audit bias_audit_pkey CREATE UNIQUE INDEX bias_audit_pkey ON results.bias_audit USING "
                "btree (scope, model_id, as_of_date, threshold, attribute, group_value)",
                "results.bias_audit bias_audit_scored_day_idx CREATE INDEX bias_audit_scored_day_idx ON "
                "results.bias_audit USING btree (as_of_date) WHERE (scope = 'scored_day'::text)",
                "platform.departments departments_database_key CREATE UNIQUE INDEX departments_database_key ON "
                "platform.departments USING btree (database)",
                "platform.departments departments_pkey CREATE UNIQUE INDEX departments_pkey ON platform.departments "
                "USING btree (name)",
                "results.pooled_models pooled_models_evaluation_idx CREATE INDEX pooled_models_evaluation_idx ON "
                "results.pooled_models USING btree (evaluation_id)",
                "results.pooled_models pooled_models_pkey CREATE UNIQUE INDEX pooled_models_pkey ON "
                "results.pooled_models USING btree (pooled_model_id)",
                "results.pooled_table3 pooled_table3_pkey CREATE UNIQUE INDEX pooled_table3_pkey ON "
                "results.pooled_table3 USING btree (pooled_model_id)",
                "webapp.users users_department_idx CREATE INDEX users_department_idx ON webapp.users USING btree "
                "(department, role)"],
}
#: ... and what they take away (0007: the old table and the old key)
REMOVED_AFTER_BASELINE = {
    "columns": lambda x: x.startswith("production.bias_audit "),
    "indexes": lambda x: x.startswith("production.bias_audit ") or x.startswith("results.bias_audit bias_audit_pkey "),
}


def expected_head() -> dict:
    out = json.loads(FIXTURE.read_text())
    for part, extra in AFTER_BASELINE.items():
        out[part] = sorted([x for x in out[part] if not REMOVED_AFTER_BASELINE[part](x)] + extra)
    return out


@pytest.fixture()
def fresh(warehouse, request):
    """A new empty database on the session's server, the active warehouse for the test."""
    from eis_core import migrations

    cleanup = wd.isolated_database("eis_mig_" + re.sub(r"\W", "", request.node.name)[:40].lower())
    migrations.forget()
    try:
        yield
    finally:
        migrations.forget()
        cleanup()


def shape() -> dict:
    from eis_core import db

    with db.connect() as c:
        return snapshot(c)


def test_upgrade_creates_exactly_the_old_schema_and_is_idempotent(fresh):
    from click.testing import CliRunner

    from eis_core import migrations
    from eis_core.db_cli import db_group

    assert migrations.current() is None
    out = migrations.upgrade(BASELINE)
    assert out == {"from": None, "to": BASELINE, "adopted": False}
    expected = json.loads(FIXTURE.read_text())
    got = shape()
    for part in ("schemas", "columns", "constraints", "indexes", "sequences"):
        assert got[part] == expected[part], part
    # the later revisions add exactly what they say, and the reversible ones go back
    assert migrations.upgrade() == {"from": BASELINE, "to": migrations.head(), "adopted": False}
    got = shape()
    head = expected_head()
    for part in ("columns", "indexes"):
        assert sorted(got[part]) == head[part], part
    migrations.downgrade(BASELINE)
    assert shape() == expected
    migrations.upgrade()
    got = shape()
    from eis_core import db

    with db.connect() as c:  # the baseline's seed rows (the default intervention catalogue) are there once
        assert c.execute("SELECT count(*) FROM production.intervention_catalogue").fetchone()[0] == 7
    # again: nothing changes, the command says so
    runner = CliRunner()
    r = runner.invoke(db_group, ["upgrade"])
    assert r.exit_code == 0 and "already at" in r.output, r.output
    assert shape() == got
    with db.connect() as c:
        assert c.execute("SELECT count(*) FROM production.intervention_catalogue").fetchone()[0] == 7
    r = runner.invoke(db_group, ["current"])
    assert r.exit_code == 0 and "(head)" in r.output
    r = runner.invoke(db_group, ["history"])
    revs = [h["revision"] for h in migrations.history()]
    assert r.exit_code == 0 and revs[0] == "0001" and revs[-1] == migrations.head()
    assert f"* {migrations.head()}" in r.output


def test_a_warehouse_made_by_the_old_code_is_adopted(fresh):
    """The old code created schemas piecemeal (here: only the loader's and the web app's had run) and
    no version table; the upgrade keeps their rows, adds what is missing and records the head."""
    from eis_core import db, migrations
    from eis_core.webapp.store import hash_password

    sql_of = {}
    for f in sorted(Path(migrations.HERE, "versions").glob("0*.py")):
        text = f.read_text()
        if 'SQL = r"""' in text:  # the baseline revisions
            sql_of[f.name[:4]] = text.split('SQL = r"""', 1)[1].split('"""', 1)[0]
    with db.connect() as c:
        c.execute(sql_of["0001"])
        c.execute(sql_of["0004"])
        c.execute("INSERT INTO webapp.users (username, role, password_hash) VALUES ('old_admin', 'admin', %s)",
                  (hash_password("an old password, long enough"),))
    assert migrations.current() is None and "webapp.users" in migrations.legacy_tables()
    out = migrations.upgrade()
    assert out["adopted"] is True and out["from"] is None and out["to"] == migrations.head()
    got, head = shape(), expected_head()
    assert sorted(got["columns"]) == head["columns"] and sorted(got["indexes"]) == head["indexes"]
    with db.connect() as c:
        assert c.execute("SELECT role FROM webapp.users WHERE username = 'old_admin'").fetchone()[0] == "admin"


def test_concurrent_upgrades_run_one_after_the_other(fresh):
    """Two processes (two Airflow tasks) upgrading an empty warehouse at once: the advisory lock makes
    the second wait and then find the head; both succeed, one version row."""
    import os
    import subprocess
    import sys

    from eis_core import db, migrations

    code = "from eis_core import migrations; print(migrations.upgrade())"
    procs = [subprocess.Popen([sys.executable, "-c", code], env=dict(os.environ), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=240) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1][-500:] for o in outs]
    assert sorted(shape()["columns"]) == expected_head()["columns"]
    with db.connect() as c:
        assert [r[0] for r in c.execute("SELECT version_num FROM public.eis_alembic_version")] == [migrations.head()]


def test_an_upgrade_blocked_by_a_busy_table_gives_up_and_says_so(fresh, monkeypatch):
    """A job mid-transaction on a table the upgrade must alter: the upgrade waits LOCK_TIMEOUT, rolls
    back whole and names the fix, instead of hanging (or deadlocking its own process)."""
    import psycopg

    from eis_core import db, migrations

    sql_0001 = Path(migrations.HERE, "versions", "0001_loader_bookkeeping.py").read_text()
    with db.connect() as c:  # an old warehouse: 0001's tables, no version table
        c.execute(sql_0001.split('SQL = r"""', 1)[1].split('"""', 1)[0])
    monkeypatch.setattr(migrations, "LOCK_TIMEOUT", "1s")
    busy = psycopg.connect(db.database_url())
    try:
        busy.execute("SELECT count(*) FROM raw.load_log")  # holds its lock until the transaction ends
        with pytest.raises(migrations.SchemaBehind, match=r"waited 1s .* rolled back: .*run `eis db upgrade`"):
            migrations.upgrade()
        assert migrations.current() is None and "results.runs" not in migrations.legacy_tables()  # nothing kept
    finally:
        busy.close()
    assert migrations.upgrade()["to"] == migrations.head()


def test_the_web_app_refuses_a_warehouse_that_is_behind(fresh):
    from click.testing import CliRunner

    from eis_core import db, migrations
    from eis_core.webapp.app import create_app
    from eis_core.webapp.cli import webapp_cli
    from eis_core.webapp.security import Settings

    with pytest.raises(migrations.SchemaBehind, match=r"never upgraded.*run `eis db upgrade`"):
        create_app(Settings(secret="g" * 40))
    with db.connect() as c:  # and it ran no DDL while refusing
        assert c.execute("SELECT count(*) FROM pg_namespace WHERE nspname IN ('webapp', 'production', 'results')"
                         ).fetchone()[0] == 0
    r = CliRunner().invoke(webapp_cli, [])
    assert r.exit_code != 0 and "run `eis db upgrade`" in r.output and "Traceback" not in r.output
    migrations.upgrade()
    with db.connect() as c:
        c.execute("UPDATE public.eis_alembic_version SET version_num = '0004'")
    with pytest.raises(migrations.SchemaBehind, match=r"at revision 0004.*run `eis db upgrade`"):
        create_app(Settings(secret="g" * 40))
    migrations.upgrade()  # 0004 -> head: the remaining baseline revision completes (idempotently)
    assert create_app(Settings(secret="g" * 40)) is not None


#: modules that may still write DDL, and why: tables whose columns come from data, not from the code
DDL_ALLOWED = {
    "eis_core/load/ddl.py": "raw.<table> per contract table and side tables (contract-driven)",
    "eis_core/load/loader.py": "per-load side tables in raw_incoming (dropped, trimmed, copied)",
    "eis_core/load/table_load.py": "raw.<table> gains the extra columns a file carries (raw tables are contract- and data-driven)",
    "eis_core/severity/sandbox.py": "a sandbox copy of a drop's crime_reports file (columns from the file)",
}


def test_no_ddl_outside_the_migrations():
    pattern = re.compile(r"\b(CREATE\s+(UNIQUE\s+)?(TABLE|SCHEMA|INDEX|SEQUENCE|VIEW)|ALTER\s+TABLE)\b", re.I)
    offenders = []
    for path in sorted((REPO / "eis_core").rglob("*.py")):
        rel = path.relative_to(REPO).as_posix()
        if rel.startswith("eis_core/migrations/") or rel in DDL_ALLOWED:
            continue
        if pattern.search(path.read_text(encoding="utf-8")):
            offenders.append(rel)
    assert offenders == [], f"DDL outside eis_core/migrations: {offenders}"


def test_0007_moves_the_days_bias_audit_into_the_one_table_and_back(fresh):
    from eis_core import db, migrations

    migrations.upgrade("0006")
    row = ("2015-07-01", "m1", "top5%", "race", "BLACK", "WHITE", 40, 3, 0.075, 0.9, False)
    with db.connect() as c:
        c.execute("INSERT INTO production.bias_audit (as_of_date, model_id, threshold, attribute, group_value, "
                  "reference_group, group_size, flagged, flag_rate, flag_rate_ratio, out_of_range) "
                  "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)", row)
    migrations.upgrade()
    moved = "SELECT scope, split_id, model_id, group_value, flagged, flag_rate_ratio FROM results.bias_audit"
    with db.connect() as c:
        assert c.execute("SELECT to_regclass('production.bias_audit')").fetchone()[0] is None
        assert c.execute(moved).fetchall() == [("scored_day", "production", "m1", "BLACK", 3, 0.9)]
    migrations.downgrade("0006")
    with db.connect() as c:
        assert c.execute("SELECT model_id, group_value, flagged FROM production.bias_audit").fetchall() == \
            [("m1", "BLACK", 3)]
        assert c.execute("SELECT count(*) FROM results.bias_audit").fetchone()[0] == 0
