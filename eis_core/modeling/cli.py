"""``eis splits`` (the temporal splits of a config) and ``eis matrices build|list``."""

from __future__ import annotations

import json
import sys

import click

from eis_core.config import DEFAULT_LABELS_CONFIG, DEFAULT_OFFICER_CONFIG, ConfigError

_config_opt = click.option("--config", "config", default=str(DEFAULT_OFFICER_CONFIG), show_default=True,
                           type=click.Path(dir_okay=False), help="Officer config (temporal_config).")
_labels_opt = click.option("--labels", "labels", default=str(DEFAULT_LABELS_CONFIG), show_default=True,
                           type=click.Path(dir_okay=False), help="Labels config (label windows).")


def _fail(exc: Exception, code: int) -> None:
    click.secho(str(exc), fg="red", err=True)
    sys.exit(code)


@click.command("splits")
@_config_opt
@click.option("--plot", "plot", type=click.Path(dir_okay=False), default=None,
              help="Also draw the splits as a timeline PNG at this path.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def splits_cli(config: str, plot: str | None, as_json: bool) -> None:
    """Show the temporal splits of the config (timechop semantics; see docs/modeling.md).

    Every training as-of date t of a split has t + label_timespan <= the split's first test date.
    """
    from eis_core.config import load_officer_config
    from eis_core.modeling.splits import SplitError, describe, make_splits, plot_splits

    try:
        cfg = load_officer_config(config)
        if cfg.temporal_config is None:
            raise ConfigError(f"{config}: no temporal_config")
        splits = make_splits(cfg.temporal_config)
    except (ConfigError, SplitError) as exc:
        _fail(exc, 2)
    if as_json:
        click.echo(json.dumps([s.to_dict() for s in splits], indent=2))
    else:
        click.echo(describe(splits))
    if plot:
        path = plot_splits(splits, plot)
        click.echo(f"plot: {path}", err=as_json)


@click.group("matrices")
def matrices_cli() -> None:
    """Train/test matrices (Parquet under <project_path>/matrices, one per matrix definition)."""


@matrices_cli.command("build")
@_config_opt
@_labels_opt
@click.option("--split", "split_ids", multiple=True, help="Only this split id (repeatable), e.g. split_2015-01-01.")
def build_cmd(config: str, labels: str, split_ids: tuple[str, ...]) -> None:
    """Build (or reuse) the train and test matrix of every temporal split.

    Builds the feature marts first for any as-of date they lack; a matrix whose definition (dates,
    label, features, cohort, data version) is unchanged is reused, not rewritten.
    """
    import time

    from eis_core.modeling.matrices import MatrixError
    from eis_core.modeling.pipeline import build_all_matrices
    from eis_core.modeling.splits import SplitError
    from eis_core.transform import TransformError

    t0 = time.perf_counter()
    try:
        built = build_all_matrices(config, labels, progress=click.echo, split_ids=list(split_ids) or None)
    except (ConfigError, SplitError, ValueError) as exc:
        _fail(exc, 2)
    except (MatrixError, TransformError) as exc:
        _fail(exc, 1)
    click.echo("")
    echo_built_matrices(built, time.perf_counter() - t0)


def echo_built_matrices(built: list[dict], seconds: float) -> None:
    """The train/test matrices of each split as a table, and how many were reused."""
    from eis_core.cli_tables import echo_table

    echo_table(["split", "train matrix", ("rows", "right"), ("pos", "right"), "test matrix", ("rows", "right"),
                ("pos", "right")],
               [(b["split"]["split_id"], b["train"]["matrix_id"], f"{b['train']['n_rows']:,}",
                 f"{b['train']['n_positive']:,}", b["test"]["matrix_id"], f"{b['test']['n_rows']:,}",
                 f"{b['test']['n_positive']:,}") for b in built])
    reused = sum(int(b[k].get("reused", False)) for b in built for k in ("train", "test"))
    click.echo(f"{2 * len(built)} matrices ({reused} reused) in {seconds:.1f} s")


@matrices_cli.command("list")
@click.option("--config", "config", default=str(DEFAULT_OFFICER_CONFIG), show_default=True,
              type=click.Path(dir_okay=False), help="Officer config (its project_path).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_cmd(config: str, as_json: bool) -> None:
    """List the matrices under the config's project_path (newest first)."""
    from eis_core.config import load_officer_config
    from eis_core.modeling.matrices import list_matrices, project_dir

    try:
        cfg = load_officer_config(config)
    except ConfigError as exc:
        _fail(exc, 2)
    metas = list_matrices(project_dir(cfg))
    if as_json:
        keys = ("matrix_id", "as_of_dates", "label_name", "n_rows", "n_positive", "n_features", "bytes",
                "created_at", "build_seconds", "path")
        click.echo(json.dumps([{k: m.get(k) for k in keys} for m in metas], indent=2))
        return
    if not metas:
        click.echo(f"no matrices under {project_dir(cfg) / 'matrices'} (`eis matrices build`)")
        return
    from eis_core.cli_tables import echo_table

    def span(dates: list) -> str:
        return dates[0] if len(dates) == 1 else f"{dates[0]}…{dates[-1]} ({len(dates)})" if dates else "-"

    echo_table(["matrix", "as-of dates", "label", ("rows", "right"), ("pos", "right"), ("feat", "right"),
                ("MB", "right"), "created"],
               [(m["matrix_id"], span(m.get("as_of_dates") or []), m.get("label_name", ""), f"{m.get('n_rows', 0):,}",
                 f"{m.get('n_positive', 0):,}", m.get("n_features", 0), f"{m.get('bytes', 0) / 2**20:.1f}",
                 m.get("created_at", "")) for m in metas])
