"""``eis synth``: write a synthetic department drop."""

from __future__ import annotations

import time
from pathlib import Path

import click

from eis_core.synth.generator import SCALES


def _scale_help() -> str:
    rows = []
    for s in SCALES.values():
        rows.append(
            f"{s.name}: ~{s.n_sworn} sworn officers, {s.start.isoformat()}..{s.end.isoformat()}, "
            f"{s.n_divisions} divisions x {s.beats_per_division} beats"
        )
    return "; ".join(rows)


@click.command(name="synth", context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--scale",
    type=click.Choice(list(SCALES)),
    default="small",
    show_default=True,
    help="Size of the department. " + _scale_help() + ".",
)
@click.option(
    "--seed", type=int, default=42, show_default=True, help="Random seed; the same seed gives byte-identical files."
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder to write the drop into (created if missing; files in it are overwritten).",
)
@click.option(
    "--consortium",
    "consortium_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Instead of one department: write the synthetic consortium (small_a, small_b, small_c: 45-75 officers; "
    "medium_a, medium_b: contributors), one drop per department in DIR/<name>/ and DIR/_consortium.json.",
)
@click.option(
    "--departments",
    "members",
    default=None,
    help="With --consortium: only these members (comma-separated names).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "parquet"]),
    default="csv",
    show_default=True,
    help="File format of the tables.",
)
@click.option(
    "--contract",
    "contract_version",
    type=click.IntRange(1, 2),
    default=1,
    show_default=True,
    help="Contract version of the drop: 2 adds use_of_force, rank_history and ia_cases.allegation.",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress output, only the final summary line.")
def synth(
    scale: str,
    seed: int,
    out_dir: Path | None,
    consortium_dir: Path | None,
    members: str | None,
    fmt: str,
    contract_version: int,
    quiet: bool,
) -> None:
    """Generate a synthetic department drop that follows the department contract.

    Writes one file per contract table (<table>.csv or <table>.parquet) and a manifest _drop.json
    (department, scale, seed, generator_version, extracted_at, rows per table) into --out.
    Officers carry a hidden, slowly drifting risk propensity; stress, long hours, training, beat crime
    and situational call features shape when adverse incidents happen, and a legacy threshold EIS
    writes eis_flags.  See docs/synthetic-department.md.

    \b
    Examples:
      eis synth --scale small --out var/drops/small
      eis synth --scale cmpd --seed 7 --out /data/cmpd --format parquet
      eis synth --scale small --contract 2 --out var/drops/small-v2
      eis synth --consortium var/drops/consortium --seed 11
    """
    if consortium_dir is not None:
        _consortium(consortium_dir, seed, members, fmt, contract_version, quiet)
        return
    if out_dir is None:
        raise click.UsageError("give --out DIR (one department) or --consortium DIR")
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from eis_core.synth.generator import generate

    console = Console(stderr=True, quiet=quiet)
    t0 = time.perf_counter()
    last_rows: dict[str, int] = {}
    with Progress(
        TextColumn("[bold]synth {task.fields[scale]}[/]"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as bar:
        task = bar.add_task("starting", total=None, scale=scale)

        def progress(label: str, done: int, total: int, rows: dict[str, int], elapsed: float) -> None:
            new = {k: v - last_rows.get(k, 0) for k, v in rows.items() if v - last_rows.get(k, 0)}
            last_rows.update(rows)
            bar.update(task, completed=done, total=total, description=label)
            if new:
                bar.console.print(f"  {label:<38} {elapsed:7.1f}s  " + ", ".join(f"{k} +{v:,}" for k, v in new.items()))

        manifest = generate(scale, seed, out_dir, fmt=fmt, progress=progress, contract_version=contract_version)
    elapsed = time.perf_counter() - t0
    table = Table(title=f"{manifest['department']} -> {out_dir}", show_lines=False)
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, n in manifest["tables"].items():
        table.add_row(name, f"{n:,}")
    table.add_row("[bold]total", f"[bold]{sum(manifest['tables'].values()):,}")
    console.print(table)
    click.echo(
        f"wrote {len(manifest['tables'])} tables + _drop.json to {out_dir} in {elapsed:.1f}s "
        f"(seed {seed}, extracted_at {manifest['extracted_at']})"
    )


def _consortium(out: Path, seed: int, members: str | None, fmt: str, contract_version: int, quiet: bool) -> None:
    from eis_core.synth.consortium import generate_consortium

    names = [m.strip() for m in members.split(",") if m.strip()] if members else None

    def progress(name: str, seconds: float) -> None:
        if not quiet:
            click.echo(f"  {name:<10} {seconds:6.1f}s", err=True)

    t0 = time.perf_counter()
    try:
        manifest = generate_consortium(out, seed, names, fmt, contract_version, progress)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    for name, m in manifest["departments"].items():
        click.echo(
            f"{name:<10} {m['n_sworn']:>4} sworn, {m['n_divisions']} divisions, adverse share {m['adverse_share']:.3f}, "
            f"{sum(m['tables'].values()):>9,} rows -> {out / name}"
        )
    click.echo(
        f"wrote {len(manifest['departments'])} department drops + _consortium.json to {out} in "
        f"{time.perf_counter() - t0:.1f}s (seed {seed})"
    )
