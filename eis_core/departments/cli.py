"""``eis department add|list|show|remove|contribute``: the departments of this installation."""

from __future__ import annotations

from pathlib import Path

import click


@click.group("department")
def department_cli() -> None:
    """The departments this installation serves, each with its own database, files and configs.

    `default` always exists (what a single-department installation uses). Every other `eis` command works
    for one department: `eis --department NAME ...` or EIS_DEPARTMENT=NAME (docs/departments.md)."""


@department_cli.command("add")
@click.argument("name")
@click.option(
    "--config",
    "officer_config",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Officer config to copy in (default: configs/officer_config.yaml).",
)
@click.option(
    "--labels",
    "labels_config",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Labels config to copy in (default: configs/labels_config.yaml).",
)
@click.option("--no-pooling", is_flag=True, help="Its features never train pooled models.")
@click.option("--update", is_flag=True, help="The department may exist already: keep its data, take the given configs.")
def add_cmd(name: str, officer_config: Path | None, labels_config: Path | None, no_pooling: bool, update: bool) -> None:
    """Add department NAME: a new database on this server at the newest schema, its folder and configs."""
    from eis_core.config import ConfigError
    from eis_core.departments import registry

    try:
        dept = registry.add(name, officer_config, labels_config, contributes_to_pooled=not no_pooling, exist_ok=update)
    except ConfigError as exc:
        raise click.ClickException(str(exc).splitlines()[0] + " (see `eis config check`)") from None
    click.echo(f"department {dept.name}: database {dept.database}, folder {dept.home}")
    click.echo(f"  configs: {dept.officer_config}, {dept.labels_config}")
    click.echo(f"  next: eis --department {dept.name} load DROP_DIR")


@department_cli.command("list")
def list_cmd() -> None:
    """Every department: database, pooled-model contribution, when it was added."""
    from eis_core.cli_tables import echo_table
    from eis_core.departments import registry

    rows = [
        [
            d.name,
            d.database,
            "yes" if d.contributes_to_pooled else "no",
            d.created_at.strftime("%Y-%m-%d %H:%M") if d.created_at else "(installation)",
        ]
        for d in registry.list_departments()
    ]
    echo_table(["department", "database", "pools", "added"], rows)


@department_cli.command("show")
@click.argument("name")
def show_cmd(name: str) -> None:
    """Where department NAME keeps its data, files and configs."""
    from eis_core.departments import registry

    d = registry.get(name)
    click.echo(f"department: {d.name}\ndatabase:   {d.database}\nfolder:     {d.home}")
    click.echo(f"configs:    {d.officer_config}\n            {d.labels_config}")
    click.echo(f"pools:      {'yes' if d.contributes_to_pooled else 'no'}")


@department_cli.command("contribute")
@click.argument("name")
@click.argument("choice", type=click.Choice(["yes", "no"]))
def contribute_cmd(name: str, choice: str) -> None:
    """Whether NAME's features may train pooled models (yes/no); its own models are unaffected."""
    from eis_core.departments import registry

    d = registry.set_contributes(name, choice == "yes")
    click.echo(f"department {d.name}: contributes to pooled models: {'yes' if d.contributes_to_pooled else 'no'}")


@department_cli.command("remove")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option(
    "--export-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the export goes (default: $EIS_HOME/exports).",
)
def remove_cmd(name: str, yes: bool, export_dir: Path | None) -> None:
    """Remove department NAME: export its database (pg_dump) and configs, then drop the database and
    disable its web-app users."""
    from eis_core.departments import registry

    d = registry.get(name)
    if not yes:
        click.confirm(f"Remove department {d.name} and drop its database {d.database} (an export is kept)?", abort=True)
    out = registry.remove(d.name, export_dir)
    click.echo(f"department {d.name} removed; export: {out}")
