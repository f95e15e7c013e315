"""``eis load DIR``."""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.command("load")
@click.argument("drop_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--reject-share", default=0.01, show_default=True, type=click.FloatRange(0, 1),
              help="Reject a table when more than this share of its rows break row-level rules.")
@click.option("--extracted-at", default=None, metavar="YYYY-MM-DDTHH:MM:SS",
              help="When the drop was extracted (no row may be dated later). Default: _drop.json's "
                   "extracted_at, else now.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON instead of a table.")
def load(drop_dir: Path, reject_share: float, extracted_at: str | None, as_json: bool) -> None:
    """Validate DROP_DIR with the Great Expectations suites and load it into schema raw.

    Each contract table is loaded in its own transaction: a rejected table (missing file or column,
    wrong type, duplicate key, empty or unreadable file, too many bad rows) keeps its previous data;
    bad rows of an accepted table go to raw.quarantine with their reasons. Every table gets a row in
    raw.load_log. Re-loading the same files is a no-op. Exits 1 when any table is rejected.

    Contract v2: only officers, assignments and ia_cases are required; every other table may be absent
    or a header row only ("not provided", reported once). A drop whose _drop.json says
    "kind": "activity" (calls and stops for forecasting) needs none of the three. Exits 2 on a bad
    folder or manifest.
    """
    import json

    from eis_core.load.loader import load_drop

    try:
        report = load_drop(drop_dir, reject_share=reject_share, extracted_at=extracted_at,
                           progress=lambda m: click.echo(m, err=True))
    except (ValueError, OSError) as exc:  # a bad manifest (JSONDecodeError is a ValueError) or folder: exit 2
        click.echo(f"eis load: {exc}", err=True)
        sys.exit(2)
    click.echo(json.dumps(report.as_dict(), indent=2, default=str) if as_json else report.summary())
    sys.exit(0 if report.ok else 1)
