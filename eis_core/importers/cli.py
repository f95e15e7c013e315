"""``eis import cpdp``: the Invisible Institute's Chicago Police data -> a contract v2 drop."""

from __future__ import annotations

import click


class ImportFailed(click.ClickException):
    """One line on stderr, exit code 2, no traceback."""

    exit_code = 2


@click.command("cpdp")
@click.argument("src_dir", type=click.Path(file_okay=False))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Drop folder to write.")
@click.option(
    "--salt",
    default=None,
    help="Salt of the officer-id hash (default: $EIS_IMPORT_SALT, else the fixed documented salt).",
)
@click.option(
    "--max-drop-share",
    default=0.05,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="Fail (exit 2) when a table loses more than this share of its rows to drops.",
)
def cpdp_cmd(src_dir, out_dir, salt, max_drop_share) -> None:
    """Chicago Police data (CPDP fully-unified-data release) -> contract v2 drop folder.

    Writes officers, rank_history, assignments, ia_cases and use_of_force CSVs, _drop.json and
    _import_report.json (every dropped or recoded row by reason). See docs/importers.md."""
    from eis_core.importers.cpdp import run_import
    from eis_core.importers.cpdp_sources import CpdpImportError

    try:
        res = run_import(
            src_dir, out_dir, salt=salt, max_drop_share=max_drop_share, progress=lambda m: click.echo(m, err=True)
        )
    except CpdpImportError as e:
        raise ImportFailed(str(e)) from None
    except (OSError, ValueError) as e:
        raise ImportFailed(f"{e.__class__.__name__}: {e}") from None
    for line in res.summary_lines():
        click.echo(line)
    if res.too_many_dropped:
        raise ImportFailed(
            f"too many rows dropped (over {max_drop_share:.0%}): {', '.join(res.too_many_dropped)}; "
            f"see {res.out_dir / '_import_report.json'}"
        )
