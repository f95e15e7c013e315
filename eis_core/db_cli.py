"""``eis db``: manage the warehouse server and its schema migrations."""

from __future__ import annotations

import click

from eis_core import db


@click.group("db")
def db_group() -> None:
    """Manage the warehouse PostgreSQL and its schema (`eis db upgrade`).

    Embedded by default (data in $EIS_HOME/pgdata, Unix socket only); with EIS_DATABASE_URL set,
    these commands only report on that server and never start or stop it.
    """


@db_group.command()
def start() -> None:
    """Start the embedded server and create the warehouse database."""
    st = db.start()
    click.echo(f"{st.mode} PostgreSQL running: {st.url}")


@db_group.command()
def stop() -> None:
    """Stop the embedded server (its data stays in $EIS_HOME/pgdata)."""
    st = db.stop()
    click.echo(f"{st.mode} PostgreSQL {'still running' if st.running else 'stopped'}")


@db_group.command()
def status() -> None:
    """Say whether the server runs; exit 1 when it does not."""
    st = db.status()
    click.echo(f"mode:    {st.mode}\nrunning: {'yes' if st.running else 'no'}")
    if st.pgdata:
        click.echo(f"pgdata:  {st.pgdata}")
    if st.pid:
        click.echo(f"pid:     {st.pid}")
    if st.url:
        click.echo(f"url:     {st.url}")
    raise SystemExit(0 if st.running else 1)


@db_group.command()
@click.option("--database", default=None, help="Database name on the server (default: the department's warehouse).")
@click.option("--driver", default=None, help="SQLAlchemy driver suffix, e.g. psycopg2.")
def url(database: str, driver: str | None) -> None:
    """Print the connection URL (starts the embedded server if needed)."""
    click.echo(db.database_url(database, driver=driver))


@db_group.command()
def upgrade() -> None:
    """Create or upgrade the warehouse's fixed schemas to the newest migration (alembic; idempotent).

    Run it after installing a new version, before `eis webapp` (which refuses a schema that is behind).
    A warehouse made before the migrations is adopted: what it lacks is added, nothing is dropped."""
    from eis_core import migrations

    out = migrations.upgrade()
    if out["adopted"]:
        click.echo("adopted a warehouse made before the migrations (its tables kept, missing ones added)")
    if out["from"] == out["to"]:
        click.echo(f"warehouse schema already at {out['to']} (head)")
    else:
        click.echo(f"warehouse schema upgraded: {out['from'] or '(none)'} -> {out['to']} (head)")


@db_group.command()
def current() -> None:
    """Print the warehouse's schema revision; exit 1 when it is not the newest (run `eis db upgrade`)."""
    from eis_core import migrations

    have, need = migrations.current(), migrations.head()
    click.echo(f"{have or '(none)'}{' (head)' if have == need else f'  (head is {need}: run `eis db upgrade`)'}")
    raise SystemExit(0 if have == need else 1)


@db_group.command()
def history() -> None:
    """List the schema migrations, oldest first (the current one marked)."""
    from eis_core import migrations

    have = migrations.current()
    for r in migrations.history():
        click.echo(f"{'*' if r['revision'] == have else ' '} {r['revision']}  {r['doc']}")
