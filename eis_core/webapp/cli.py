"""``eis webapp`` (serve the web app) and ``eis users add|list|disable|unlock`` (its accounts).

Users live in the installation's registry database (the ``default`` department's), each with a
department: ``--department`` names it (default: ``eis --department`` / ``EIS_DEPARTMENT``, else
``default``)."""

from __future__ import annotations

import sys

import click

from eis_core.webapp import DEFAULT_HOST, DEFAULT_PORT


@click.command("webapp")
@click.option(
    "--host",
    default=DEFAULT_HOST,
    show_default=True,
    help="address to listen on (use 0.0.0.0 only behind a TLS proxy, see docs/webapp.md)",
)
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(1, 65535), help="TCP port")
@click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
)
def webapp_cli(host: str, port: int, log_level: str) -> None:
    """Serve the EIS web app (risk list, officer pages, reviews, models, data quality) against the
    active warehouse (EIS_DATABASE_URL or the embedded PostgreSQL, started if needed).  One app serves
    every department: each user sees their own department's database (a platform admin switches).

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
    active = [u for u in list_users() if not u["disabled"]]  # of every department
    if not active:
        click.echo("warning: no active user yet; create one with `eis users add NAME --role admin`", err=True)
    click.echo(f"EIS web app on http://{host}:{port}/ (warehouse: {db.status().mode}); Ctrl-C stops it")
    uvicorn.run(app, host=host, port=port, log_level=log_level, proxy_headers=False, server_header=False)


@click.group("users")
def users_cli() -> None:
    """Manage the web app's users (roles: platform_admin, admin, analyst, supervisor), each in one department."""


def _registry_schema() -> None:
    """The registry's database (users live there) at the newest schema."""
    from eis_core import departments
    from eis_core.migrations import ensure_schema

    with departments.use(departments.DEFAULT):
        ensure_schema()


def _department(department: str | None) -> str:
    from eis_core import departments
    from eis_core.webapp.store import UserError, check_department

    try:
        return check_department(department or departments.current())
    except UserError as e:
        raise click.ClickException(str(e)) from None


DEPARTMENT_OPTION = click.option(
    "--department",
    default=None,
    help="the user's department (default: `eis --department` / EIS_DEPARTMENT, else 'default')",
)


@users_cli.command("add")
@click.argument("username")
@click.option(
    "--role",
    required=True,
    type=click.Choice(["platform_admin", "admin", "analyst", "supervisor"]),
    help="platform_admin: every department's users, views any department; admin: their department's users "
    "and model-group selection; analyst: read-only, data quality; supervisor: risk list and officers of one "
    "division, reviews",
)
@DEPARTMENT_OPTION
@click.option("--division", default=None, help="the supervisor's division (required for --role supervisor)")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="read the password from standard input (at least 12 characters) instead of generating one",
)
@click.option("--reset", is_flag=True, help="if the user exists: set the new role/division/password and enable it")
@click.option(
    "--new-division",
    is_flag=True,
    help="accept a division no scored officer has yet (otherwise such a name is refused as a typo)",
)
def users_add(
    username: str,
    role: str,
    department: str | None,
    division: str | None,
    password_stdin: bool,
    reset: bool,
    new_division: bool,
) -> None:
    """Create USERNAME in a department with a generated password (printed once; only its argon2 hash is
    stored).  A platform admin belongs to 'default'."""
    from eis_core import departments
    from eis_core.migrations import ensure_schema
    from eis_core.webapp.store import UserError, add_user

    _registry_schema()
    department = departments.DEFAULT if role == "platform_admin" and not department else _department(department)
    with departments.use(department):
        ensure_schema()  # the division is checked against that department's scored officers
    password = sys.stdin.readline().rstrip("\n") if password_stdin else None
    try:
        pw = add_user(
            username,
            role,
            division,
            password,
            created_by="eis users",
            replace=reset,
            allow_new_division=new_division,
            department=department,
        )
    except UserError as e:
        raise click.ClickException(str(e)) from None
    click.echo(
        f"user {username.strip().lower()} ({role}{', division ' + division if division and role == 'supervisor' else ''}"
        f", department {department}) " + ("updated" if reset else "created")
    )
    if not password_stdin:
        click.echo(f"password: {pw}")


@users_cli.command("list")
@click.option("--department", default=None, help="only this department's users (default: every department's)")
def users_list(department: str | None) -> None:
    """List the users (never their passwords)."""
    from eis_core.webapp.store import list_users

    _registry_schema()
    users = list_users(_department(department) if department else None)
    if not users:
        click.echo("no users yet: `eis users add NAME --role admin`")
        return
    from eis_core.cli_tables import echo_table

    echo_table(
        ["user", "role", "division", "status", "last login", "department"],
        [
            (
                u["username"],
                u["role"],
                u["division"] or "-",
                "disabled" if u["disabled"] else "active",
                u["last_login_at"].strftime("%Y-%m-%d %H:%M") if u["last_login_at"] else "-",
                u["department"],
            )
            for u in users
        ],
    )


@users_cli.command("disable")
@click.argument("username")
def users_disable(username: str) -> None:
    """Disable USERNAME (its sessions end at once; the row stays for the audit trail)."""
    from eis_core.webapp.store import UserError, disable_user

    _registry_schema()
    try:
        disable_user(username.strip().lower())
    except UserError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"user {username} disabled")


@users_cli.command("unlock")
@click.argument("username")
def users_unlock(username: str) -> None:
    """Lift USERNAME's login locks (after repeated failed logins) at every address."""
    from eis_core.webapp.store import unlock_user

    _registry_schema()
    n = unlock_user(username.strip().lower(), by="eis users")
    click.echo(f"user {username}: {n} locked address{'es' if n != 1 else ''} unlocked")
