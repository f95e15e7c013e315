"""``eis features``: build and inspect the officer feature and label marts."""

from __future__ import annotations

import sys

import click

from eis_core.config import DEFAULT_LABELS_CONFIG, DEFAULT_OFFICER_CONFIG, ConfigError


@click.group("features")
def features_cli() -> None:
    """Officer features (features.officer_features) and labels (labels.officer_labels)."""


@features_cli.command("build")
@click.option("--config", "config", default=str(DEFAULT_OFFICER_CONFIG), show_default=True,
              type=click.Path(dir_okay=False), help="Officer config (as-of grid, windows, blocks, cohort).")
@click.option("--labels", "labels", default=str(DEFAULT_LABELS_CONFIG), show_default=True,
              type=click.Path(dir_okay=False), help="Labels config (adverse events, label windows).")
@click.option("--as-of-date", "as_of", multiple=True, type=click.DateTime(["%Y-%m-%d"]),
              help="Only this as-of date (repeatable): computes and replaces just these dates.")
@click.option("--full-refresh", is_flag=True, help="Rebuild incremental marts from scratch.")
def build(config: str, labels: str, as_of: tuple, full_refresh: bool) -> None:
    """Build cohort, features, labels and the feature dictionary with dbt."""
    from eis_core.features import build_features
    from eis_core.transform import TransformError, format_summary

    dates = [d.date() for d in as_of] or None
    try:
        summary = build_features(config, labels, dates, full_refresh, progress=click.echo)
    except ConfigError as exc:
        click.secho(str(exc), fg="red", err=True)
        sys.exit(2)
    except TransformError as exc:
        click.secho(str(exc), fg="red", err=True)
        sys.exit(1)
    click.echo(format_summary(summary))
    click.echo(f"as-of dates: {', '.join(summary['as_of_dates'])}  ({summary['wall_seconds']} s)")


@features_cli.command("dates")
@click.option("--config", "config", default=str(DEFAULT_OFFICER_CONFIG), show_default=True,
              type=click.Path(dir_okay=False))
def dates_cmd(config: str) -> None:
    """Print the as-of dates of the config's grid."""
    from eis_core.config import load_officer_config

    try:
        cfg = load_officer_config(config)
    except ConfigError as exc:
        click.secho(str(exc), fg="red", err=True)
        sys.exit(2)
    for d in cfg.as_of_dates.dates():
        click.echo(d.isoformat())


@features_cli.command("dictionary")
@click.option("--block", default=None, help="Only this feature block.")
def dictionary(block: str | None) -> None:
    """Print the feature dictionary (name, window, description, imputation)."""
    from eis_core import db

    with db.connect() as conn:
        rows = conn.execute(
            "SELECT feature, block, \"window\", description, imputation FROM features.feature_dictionary "
            "WHERE %s::text IS NULL OR block = %s ORDER BY block, feature", (block, block)).fetchall()
    from eis_core.cli_tables import echo_table

    echo_table(["feature", "block", "window", "description", "imputation"],
               [(f, b, w or "", d, imp or "") for f, b, w, d, imp in rows])
