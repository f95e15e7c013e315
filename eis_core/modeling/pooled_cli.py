"""``eis pool evaluate`` (should a department pool?) and ``eis pool show`` (the stored evaluations)."""

from __future__ import annotations

import json
import sys
from typing import NoReturn

import click


def _fail(exc: Exception) -> NoReturn:
    click.secho(f"eis pool: {exc}", fg="red", err=True)
    sys.exit(2)


@click.group("pool", context_settings={"help_option_names": ["-h", "--help"]})
def pool_cli() -> None:
    """Pooled models: train on several departments' rows, evaluate on one department's own splits.

    Only features, labels and as-of dates leave a department (never an officer id); departments that
    opted out (`eis department contribute NAME no`) never contribute rows.  See docs/departments.md.
    """


@pool_cli.command("evaluate")
@click.option("--department", "target", default=None, help="Target department (default: the current one).")
@click.option(
    "--grid/--recipe-only",
    "full_grid",
    default=True,
    show_default=True,
    help="Every recipe of the pooled grid (normalisation x department feature x estimator), or only the default recipe.",
)
@click.option("--no-store", is_flag=True, help="Print only; write nothing to the target's results schema.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (every row).")
def evaluate_cli(target: str | None, full_grid: bool, no_store: bool, as_json: bool) -> None:
    """Per split of the target: department-only vs pooled vs legacy EIS true positives at the legacy EIS's
    flag count, totals, and a recommendation ("pool" / "do not pool", with the reason).

    \b
    Examples:
      eis pool evaluate --department small_a
      eis --department small_b pool evaluate --recipe-only --json
    """
    from eis_core import departments
    from eis_core.modeling.pooled import DEFAULT_RECIPE
    from eis_core.modeling.pooled_eval import comparison, evaluate, recommend, report_text

    name = target or departments.current()
    try:
        ev = evaluate(
            name,
            None if full_grid else [DEFAULT_RECIPE],
            store=not no_store,
            progress=lambda m: click.echo(m, err=True),
        )
    except (click.ClickException, ValueError, RuntimeError) as exc:
        _fail(exc)
    if as_json:
        cmp = comparison(ev)
        verdict, why = recommend(cmp)
        click.echo(json.dumps({**ev, "comparison": cmp, "recommendation": verdict, "reason": why}, default=str))
    else:
        click.echo(report_text(ev, grid=full_grid))


@pool_cli.command("show")
@click.option("--department", "target", default=None, help="Target department (default: the current one).")
def show_cli(target: str | None) -> None:
    """The newest stored pooled evaluation of the department, as `eis pool evaluate` printed it."""
    from eis_core import departments
    from eis_core.modeling.pooled_eval import load_evaluation, report_text

    name = target or departments.current()
    ev = load_evaluation(name)
    if ev is None:
        _fail(
            ValueError(f"department {name} has no pooled evaluation yet: run `eis pool evaluate --department {name}`")
        )
    click.echo(report_text(ev))
