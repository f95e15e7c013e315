"""Helpers shared by the severity command groups (:mod:`eis_core.severity.cli`, ``eis severity``, and
:mod:`eis_core.severity.tokens_cli`, ``eis tokens``): progress to stderr, the ``--source`` option,
the deciding person, and a one-line error with exit 1.
"""

from __future__ import annotations

import getpass
import os
import sys

import click


def say(msg: str) -> None:
    click.echo(msg, err=True)


def source_option(fn):
    return click.option(
        "--source",
        default=None,
        metavar="SCHEMA.TABLE",
        help="Read crime reports from this relation (default staging.stg_crime_reports, else raw.crime_reports).",
    )(fn)


def source_relation(value):
    """The relation named by --source (None: the default), or a usage error."""
    from eis_core.severity.features import parse_source

    try:
        return parse_source(value)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--source") from e


def person() -> str:
    try:
        return os.environ.get("EIS_USER") or getpass.getuser()
    except Exception:  # noqa: BLE001
        return "unknown"


def fail(e: Exception) -> None:
    click.secho(f"error: {e}", fg="red", err=True)
    sys.exit(1)
