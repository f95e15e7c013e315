"""``eis import cpdp``: the Invisible Institute's Chicago Police data -> a contract v2 drop."""

from __future__ import annotations

import click


@click.command("cpdp")
@click.argument("src_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Drop folder to write.")
def cpdp_cmd(src_dir, out_dir) -> None:
    """Chicago Police data (CPDP fully-unified-data release) -> contract v2 drop folder."""
    raise click.ClickException("the CPDP importer is not built yet")
