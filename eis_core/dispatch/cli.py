"""``eis dispatch``: build the dispatch-level dataset, train and compare the models, suggest officers."""

from __future__ import annotations

import json
from datetime import datetime

import click

from eis_core.config import DEFAULT_LABELS_CONFIG, DEFAULT_OFFICER_CONFIG


def _fail(exc: Exception) -> None:
    click.echo(f"error: {exc}", err=True)
    raise SystemExit(1)


@click.group("dispatch")
def dispatch_cli() -> None:
    """Dispatch-level risk (CMPD paper): which dispatches turn adverse, risk-aware dispatch suggestions.

    Typical use: `eis dispatch build`, `eis dispatch train`, `eis dispatch suggest --call-id C000123456`.
    See docs/dispatch.md.
    """


@dispatch_cli.command("build")
@click.option("--labels", type=click.Path(exists=True, dir_okay=False), default=str(DEFAULT_LABELS_CONFIG),
              show_default=True, help="labels config: the adverse-event definition used for the label.")
@click.option("--config", type=click.Path(exists=True, dir_okay=False), default=str(DEFAULT_OFFICER_CONFIG),
              show_default=True, help="officer config (feature blocks; the dispatch models use none of its dates).")
@click.option("--session-gap-hours", type=float, default=8.0, show_default=True,
              help="a longer gap between two dispatches of an officer starts a new duty session.")
def build_cmd(labels: str, config: str, session_gap_hours: float) -> None:
    """dbt-build dispatch.dispatch_officer_days and dispatch.dispatch_dataset (one row per call x officer)."""
    from eis_core.dispatch.dataset import build_dataset
    from eis_core.transform import TransformError

    try:
        build_dataset(labels=labels, config=config, session_gap_hours=session_gap_hours, progress=click.echo)
    except (TransformError, ValueError) as exc:
        _fail(exc)


@dispatch_cli.command("train")
@click.option("--labels", type=click.Path(exists=True, dir_okay=False), default=str(DEFAULT_LABELS_CONFIG),
              show_default=True, help="labels config (recorded with the experiment).")
@click.option("--negative-ratio", type=float, default=9.0, show_default=True,
              help="sampled negatives per positive (9 = the paper's 10%/90%).")
@click.option("--split-date", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="train before, test on and after this date (default: about 2/3 of the positives before).")
@click.option("--seed", type=int, default=42, show_default=True, help="sampling and forest seed.")
@click.option("--trees", type=int, default=300, show_default=True, help="trees per random forest.")
@click.option("--subset", "subsets", multiple=True,
              type=click.Choice(["dispatch", "stress", "officer", "neighborhood", "all_but_dispatch", "all"]),
              help="feature subsets to compare (repeatable; default: all of them).")
@click.option("--no-report", is_flag=True, default=False, help="skip the plots and the Markdown report.")
def train_cmd(labels, negative_ratio, split_date, seed, trees, subsets, no_report) -> None:
    """Sample, split in time, compare feature subsets (F1 vs random), evaluate on the unsampled later period."""
    from eis_core.dispatch.model import DispatchError, train

    try:
        res = train(labels=labels, negative_ratio=negative_ratio,
                    split_date=split_date.date() if split_date else None, seed=seed, n_estimators=trees,
                    subsets=list(subsets) or None, report=not no_report, progress=click.echo)
    except (DispatchError, ValueError) as exc:
        _fail(exc)
    click.echo(f"run {res['run_id']} (experiment {res['experiment_id']})" +
               (f"; report {res['report']}" if res["report"] else ""))


@dispatch_cli.command("suggest")
@click.option("--call-id", required=True, help="the call to staff (calls_for_service.call_id).")
@click.option("--at", "at", type=click.DateTime(["%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"]), default=None,
              help="moment of the decision (default: the call's received_at).")
@click.option("--top", type=int, default=10, show_default=True, help="officers to show (0 = all).")
@click.option("--json", "as_json", is_flag=True, default=False, help="print JSON instead of a table.")
def suggest_cmd(call_id: str, at: datetime | None, top: int, as_json: bool) -> None:
    """Rank the on-duty, available officers of the call's division by predicted risk (rank 1 = lowest)."""
    from eis_core.dispatch.advisor import SuggestError, suggest

    try:
        ranked = suggest(call_id, at=at)
    except SuggestError as exc:
        _fail(exc)
    shown = ranked if top <= 0 else ranked[:top]
    if as_json:
        click.echo(json.dumps(shown, indent=2))
        return
    if not ranked:
        click.echo(f"call {call_id}: no officer of its division is on duty and available at that moment")
        return
    click.echo(f"call {call_id}: {len(ranked)} officer(s) on duty and available; rank 1 = lowest predicted risk")
    from eis_core.cli_tables import echo_table

    echo_table([("rank", "right"), "officer", ("risk", "right"), "reasons"],
               [(r["rank"], r["officer_id"], f"{r['score']:.3f}", "\n".join(f"- {x}" for x in r["reasons"]))
                for r in shown])


@dispatch_cli.command("report")
@click.option("--run-id", type=int, default=None, help="dispatch-level run (default: the latest).")
def report_cmd(run_id: int | None) -> None:
    """Write the plots (paper figures 6-8) and the Markdown report under $EIS_HOME/reports/dispatch/."""
    from eis_core.dispatch.report import write_report

    try:
        path = write_report(run_id, progress=None)
    except LookupError as exc:
        _fail(exc)
    click.echo(str(path))
