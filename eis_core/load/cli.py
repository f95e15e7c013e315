"""``eis load DIR``."""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.command("load")
@click.argument("drop_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--reject-share",
    default=0.01,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="Reject a table when more than this share of its rows break row-level rules.",
)
@click.option(
    "--extracted-at",
    default=None,
    metavar="YYYY-MM-DDTHH:MM:SS",
    help="When the drop was extracted (no row may be dated later). Default: _drop.json's extracted_at, else now.",
)
@click.option(
    "--max-shrink",
    default=0.2,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="Reject officers, assignments or ia_cases when the drop would shrink the table by more than "
    "this share (a truncated export).",
)
@click.option(
    "--allow-shrink",
    is_flag=True,
    help="The drop is complete although it shrinks a table or drops officers who have history: load it.",
)
@click.option("--wait", is_flag=True, help="When another load is running, wait for it instead of refusing.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON instead of a table.")
def load(
    drop_dir: Path,
    reject_share: float,
    extracted_at: str | None,
    max_shrink: float,
    allow_shrink: bool,
    wait: bool,
    as_json: bool,
) -> None:
    """Validate DROP_DIR with the Great Expectations suites and load it into schema raw.

    Each contract table is loaded in its own transaction: a rejected table (missing file or column,
    wrong type, duplicate key, empty or unreadable file, too many bad rows) keeps its previous data;
    bad rows of an accepted table go to raw.quarantine with their reasons. Every table gets a row in
    raw.load_log. Re-loading the same files is a no-op. Exits 1 when any table is rejected.

    Contract v2: only officers, assignments and ia_cases are required; every other table may be absent
    or a header row only ("not provided", reported once). A drop whose _drop.json says
    "kind": "activity" (calls and stops for forecasting) needs none of the three. Exits 2 on a bad
    folder or manifest, or when another load is running (loads run one at a time).

    A drop is checked as a whole: an officers file that leaves out officers who have history in the
    warehouse, or that shrinks officers, assignments or ia_cases by more than --max-shrink, is rejected
    unless --allow-shrink says the export is complete.
    """
    import json

    from eis_core.load.loader import LoadBusy, load_drop

    try:
        report = load_drop(
            drop_dir,
            reject_share=reject_share,
            extracted_at=extracted_at,
            progress=lambda m: click.echo(m, err=True),
            allow_shrink=allow_shrink,
            max_shrink=max_shrink,
            wait=wait,
        )
    except (ValueError, OSError, LoadBusy) as exc:  # a bad manifest or folder, or a load running: exit 2
        click.echo(f"eis load: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}", err=True)
        sys.exit(2)
    except Exception as exc:  # noqa: BLE001 - e.g. the database went away: one line, never a traceback
        first = (str(exc).strip().splitlines() or [""])[0]
        click.echo(
            f"eis load: the load stopped ({type(exc).__name__}: {first}); every table kept its old or "
            f"its new data, run the load again",
            err=True,
        )
        sys.exit(2)
    click.echo(json.dumps(report.as_dict(), indent=2, default=str) if as_json else report.summary())
    sys.exit(0 if report.ok else 1)
