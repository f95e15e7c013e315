"""``eis webapp`` (serve the web app) and ``eis users add|list|disable`` (its accounts)."""

from __future__ import annotations

import sys

import click

from eis_core.webapp import DEFAULT_HOST, DEFAULT_PORT


@click.command("webapp")
@click.option("--host", default=DEFAULT_HOST, show_default=True,
              help="address to listen on (use 0.0.0.0 only behind a TLS proxy, see docs/webapp.md)")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(1, 65535), help="TCP port")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["critical", "error", "warning", "info", "debug"]))
def webapp_cli(host: str, port: int, log_level: str) -> None:
    """Serve the EIS web app (risk list, officer pages, reviews, models, data quality) against the
    active warehouse (EIS_DATABASE_URL or the embedded PostgreSQL, started if needed).

    Needs at least one user: `eis users add NAME --role admin` (or `make demo`, which prints one)."""
    import uvicorn

    from eis_core import db
    from eis_core.migrations import SchemaBehind
    from eis_core.webapp.app import create_app
    from eis_core.webapp.store import list_users

    db.start()
    try:
        app = create_app()  # never changes the schema: refuses a warehouse that is behind
    except SchemaBehind as exc:
        raise click.ClickException(str(exc)) from None
    active = [u for u in list_users() if not u["disabled"]]
    if not active:
        click.echo("warning: no active user yet; create one with `eis users add NAME --role admin`", err=True)
    click.echo(f"EIS web app on http://{host}:{port}/ (warehouse: {db.status().mode}); Ctrl-C stops it")
    uvicorn.run(app, host=host, port=port, log_level=log_level, proxy_headers=False, server_header=False)


@click.group("users")
def users_cli() -> None:
    """Manage the web app's users (roles: admin, analyst, supervisor)."""


@users_cli.command("add")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(["admin", "analyst", "supervisor"]),
              help="admin: users and model-group selection; analyst: read-only, data quality; "
                   "supervisor: risk list and officers of one division, reviews")
@click.option("--division", default=None, help="the supervisor's division (required for --role supervisor)")
@click.option("--password-stdin", is_flag=True,
              help="read the password from standard input (at least 12 characters) instead of generating one")
@click.option("--reset", is_flag=True, help="if the user exists: set the new role/division/password and enable it")
@click.option("--new-division", is_flag=True,
              help="accept a division no scored officer has yet (otherwise such a name is refused as a typo)")
def users_add(username: str, role: str, division: str | None, password_stdin: bool, reset: bool,
              new_division: bool) -> None:
    """Create USERNAME with a generated password (printed once; only its argon2 hash is stored)."""
    from eis_core.migrations import ensure_schema
    from eis_core.webapp.store import UserError, add_user

    ensure_schema()
    password = sys.stdin.readline().rstrip("\n") if password_stdin else None
    try:
        pw = add_user(username, role, division, password, created_by="eis users", replace=reset,
                      allow_new_division=new_division)
    except UserError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"user {username.strip().lower()} ({role}{', division ' + division if division and role == 'supervisor' else ''}) "
               + ("updated" if reset else "created"))
    if not password_stdin:
        click.echo(f"password: {pw}")


@users_cli.command("list")
def users_list() -> None:
    """List the users (never their passwords)."""
    from eis_core.migrations import ensure_schema
    from eis_core.webapp.store import list_users

    ensure_schema()
    users = list_users()
    if not users:
        click.echo("no users yet: `eis users add NAME --role admin`")
        return
    from eis_core.cli_tables import echo_table

    echo_table(["user", "role", "division", "status", "last login"],
               [(u["username"], u["role"], u["division"] or "-", "disabled" if u["disabled"] else "active",
                 u["last_login_at"].strftime("%Y-%m-%d %H:%M") if u["last_login_at"] else "-") for u in users])


@users_cli.command("disable")
@click.argument("username")
def users_disable(username: str) -> None:
    """Disable USERNAME (its sessions end at once; the row stays for the audit trail)."""
    from eis_core.migrations import ensure_schema
    from eis_core.webapp.store import UserError, disable_user

    ensure_schema()
    try:
        disable_user(username.strip().lower())
    except UserError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"user {username} disabled")


@users_cli.command("unlock")
@click.argument("username")
def users_unlock(username: str) -> None:
    """Lift USERNAME's login locks (after repeated failed logins) at every address."""
    from eis_core.migrations import ensure_schema
    from eis_core.webapp.store import unlock_user

    ensure_schema()
    n = unlock_user(username.strip().lower(), by="eis users")
    click.echo(f"user {username}: {n} locked address{'es' if n != 1 else ''} unlocked")
