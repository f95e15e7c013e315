"""``eis tokens ...``: the API tokens of the severity service (add, list, disable)."""

from __future__ import annotations

import click

from eis_core.severity.cli_common import fail


@click.group("tokens")
def tokens_cli() -> None:
    """API tokens for the severity service (stored hashed in severity.api_tokens)."""


@tokens_cli.command("add")
@click.argument("name")
def tokens_add(name) -> None:
    """Create a token called NAME and print it (shown only once)."""
    from eis_core.severity.tokens import add_token

    try:
        tid, token = add_token(name)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="NAME") from e
    click.echo(f"token {tid} ({name}) - store it now, it is not shown again:", err=True)
    click.echo(token)


@tokens_cli.command("list")
def tokens_list() -> None:
    """List the tokens (id, name, created, disabled); the tokens themselves are not stored."""
    from eis_core import db
    from eis_core.severity.store import ensure_severity_schema
    from eis_core.severity.tokens import list_tokens

    ensure_severity_schema()
    with db.connect() as conn:
        rows = list_tokens(conn)
    if not rows:
        click.echo("no tokens: `eis tokens add NAME`")
        return
    from eis_core.cli_tables import echo_table

    echo_table(
        [("id", "right"), "name", "created", "status"],
        [
            (r["token_id"], r["name"], f"{r['created_at']:%Y-%m-%d %H:%M}", "DISABLED" if r["disabled"] else "active")
            for r in rows
        ],
    )


@tokens_cli.command("disable")
@click.argument("token_id", type=int)
def tokens_disable(token_id) -> None:
    """Disable token TOKEN_ID (a running service refuses it within its refresh interval)."""
    from eis_core import db
    from eis_core.severity.store import ensure_severity_schema
    from eis_core.severity.tokens import disable_token

    ensure_severity_schema()
    try:
        with db.connect() as conn:
            disable_token(conn, token_id)
    except LookupError as e:
        fail(e)
    click.echo(f"token {token_id} disabled")
