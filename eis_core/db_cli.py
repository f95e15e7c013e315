"""``eis db``: manage the warehouse server."""

from __future__ import annotations

import click

from eis_core import db


@click.group("db")
def db_group() -> None:
    """Manage the warehouse PostgreSQL.

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
@click.option("--database", default=db.WAREHOUSE_DB, show_default=True, help="Database name on the server.")
@click.option("--driver", default=None, help="SQLAlchemy driver suffix, e.g. psycopg2.")
def url(database: str, driver: str | None) -> None:
    """Print the connection URL (starts the embedded server if needed)."""
    click.echo(db.database_url(database, driver=driver))
