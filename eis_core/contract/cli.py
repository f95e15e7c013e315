"""``eis contract``: show the contract, regenerate or check what is generated from it."""

from __future__ import annotations

import sys

import click


def _generated() -> dict:
    """path -> expected text of every file generated from contract.yaml."""
    from eis_core.contract import load_contract
    from eis_core.load.suites import render_suite, suites_dir

    contract = load_contract()
    out = {suites_dir() / f"{t.name}.json": render_suite(t, contract) for t in contract.ordered_tables()}
    from eis_core.contract import render_dbt
    from eis_core.paths import dbt_project_dir

    out.update({dbt_project_dir() / rel: text for rel, text in render_dbt.render_dbt_files(contract).items()})
    return out


@click.group("contract")
def contract() -> None:
    """The department export contract (eis_core/contract/contract.yaml) and its generated copies."""


@contract.command()
def show() -> None:
    """List tables, keys and columns of the contract."""
    from eis_core.cli_tables import echo_table
    from eis_core.contract import load_contract

    c = load_contract()
    for t in c.ordered_tables():
        click.echo(f"{t.name}{' (optional)' if t.optional else ''}  key={'+'.join(t.primary_key)}")
        echo_table(["column", "type", "codes"],
                   [(col.name, f"{col.type}{'?' if col.nullable else ''}", col.codes or "")
                    for col in t.column_list], indent=4)


@contract.command()
def sync() -> None:
    """Regenerate the Great Expectations suites and dbt sources from the contract."""
    for path, text in _generated().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        click.echo(f"wrote {path}")


@contract.command()
def check() -> None:
    """Exit 1 when a generated file differs from what the contract says."""
    stale = [p for p, text in _generated().items() if not p.exists() or p.read_text(encoding="utf-8") != text]
    for p in stale:
        click.echo(f"out of date: {p}", err=True)
    if stale:
        click.echo("run `eis contract sync` and commit the result", err=True)
    sys.exit(1 if stale else 0)
