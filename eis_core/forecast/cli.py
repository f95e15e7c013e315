"""``eis forecast ...`` and ``eis import ...``."""

from __future__ import annotations

import sys
from pathlib import Path

import click


def _say(msg: str) -> None:
    click.echo(msg, err=True)


@click.group("forecast")
def forecast_cli() -> None:
    """Forecast calls for service (hourly) and stops (daily), find peak hours, predict call priority.

    Reads calls_for_service / traffic_stops from the warehouse; writes schema forecast
    (runs, backtests, calls_hourly, stops_daily, priority_scores). See docs/forecasting.md.
    """


@forecast_cli.command("run")
@click.option("--horizon-days", default=7, show_default=True, type=click.IntRange(1, 14),
              help="Hourly call forecast horizon in days.")
@click.option("--division", "divisions", multiple=True, metavar="NAME",
              help="Only these divisions (repeatable); the city-wide series ALL is always included.")
@click.option("--origins", default=4, show_default=True, type=click.IntRange(1, 12), help="Backtest origins.")
@click.option("--history-days", default=None, type=click.IntRange(60), help="Use only the last N days of data.")
@click.option("--stops/--no-stops", default=True, show_default=True, help="Also forecast daily stops.")
@click.option("--stops-horizon-days", default=28, show_default=True, type=click.IntRange(1, 56))
@click.option("--drop", "drop_dir", type=click.Path(exists=True, file_okay=False), default=None,
              help="Read a drop folder instead of the warehouse (scores are still stored).")
@click.option("--no-store", is_flag=True, help="Do not write to schema forecast.")
def run_cmd(horizon_days, divisions, origins, history_days, stops, stops_horizon_days, drop_dir, no_store) -> None:
    """Backtest every model (rolling origins), choose by RMSE, forecast ahead and store the results."""
    from eis_core.forecast.run import format_table, run_calls_forecast, run_stops_forecast

    res = run_calls_forecast(horizon_days=horizon_days, divisions=list(divisions) or None, n_origins=origins,
                             history_days=history_days, drop_dir=drop_dir, store=not no_store, progress=_say)
    click.echo(f"Hourly calls, series ALL, backtest over {origins} origins (run {res['run_id']}):")
    click.echo(format_table(res["table"]))
    click.echo("chosen per series: " + ", ".join(f"{k}={v}" for k, v in res["chosen"].items()))
    if stops:
        try:
            sres = run_stops_forecast(horizon_days=stops_horizon_days, divisions=list(divisions) or None,
                                      n_origins=origins, history_days=history_days, drop_dir=drop_dir,
                                      store=not no_store, progress=_say)
        except ValueError as e:
            click.secho(f"stops forecast skipped: {e}", fg="yellow", err=True)
        else:
            click.echo(f"\nDaily stops, series ALL (run {sres['run_id']}):")
            click.echo(format_table(sres["table"]))


@forecast_cli.command("peaks")
@click.option("--series", default="ALL", show_default=True, help="ALL or a division.")
@click.option("--top", default=3, show_default=True, type=click.IntRange(1, 24), help="Hours per weekday.")
@click.option("--png", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Heat-map file (default $EIS_HOME/forecast/peaks_run<N>_<series>.png).")
@click.option("--run-id", type=int, default=None, help="Forecast run (default: the latest).")
def peaks_cmd(series, top, png, run_id) -> None:
    """Busiest expected hours per weekday (chosen model of the latest hourly forecast) and a heat map."""
    from eis_core.forecast.run import format_peaks, peaks_report

    try:
        table, path, rid = peaks_report(series, top, png, run_id)
    except RuntimeError as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"Peak hours, series {series}, forecast run {rid}:")
    click.echo(format_peaks(table))
    click.echo(f"heat map: {path}")


@forecast_cli.command("priority")
@click.option("--test-days", default=90, show_default=True, type=click.IntRange(7), help="Test period (the latest days).")
@click.option("--train-days", default=365, show_default=True, type=click.IntRange(7), help="Training period before it.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for the plots (default $EIS_HOME/forecast).")
@click.option("--no-store", is_flag=True, help="Do not write forecast.priority_scores.")
def priority_cmd(test_days, train_days, out_dir, no_store) -> None:
    """Predict a call's priority band (high 1-3 / medium 4-6 / low 7-9) at receipt; weekday vs weekend test."""
    from eis_core.forecast.priority import format_priority, run_priority

    res = run_priority(test_days=test_days, train_days=train_days, store=not no_store, out_dir=out_dir, progress=_say)
    click.echo(f"Priority band on the calls after {res['split_at']:%Y-%m-%d} (run {res['run_id']}):")
    click.echo(format_priority(res))


@click.group("import")
def import_cli() -> None:
    """Convert City of San Diego open-data exports into contract drop folders (then `eis load DIR`)."""


def _finish(rep, out_dir: Path, load: bool, tables: tuple[str, ...]) -> None:
    click.echo(rep.summary())
    if not rep.ok:
        click.secho(f"too many rejected rows (see {out_dir}/_rejects_*.csv)", fg="red", err=True)
        sys.exit(2)
    if load:
        from eis_core.forecast.importers import load_imported

        ok, summary = load_imported(out_dir, tables, progress=_say)
        click.echo(summary)
        click.echo(f"imported tables {', '.join(tables)}: {'loaded' if ok else 'REJECTED'} "
                   "(the contract's other tables are not part of this import)")
        sys.exit(0 if ok else 1)


def _import_options(fn):
    """The arguments every San Diego importer takes: the export, the drop folder, the reject limit, --load."""
    for deco in reversed([
        click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path)),
        click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
                     help="Drop folder to write."),
        click.option("--max-reject-share", default=0.05, show_default=True, type=click.FloatRange(0, 1),
                     help="Exit non-zero (2) when more than this share of the rows cannot be converted."),
        click.option("--load", is_flag=True, help="Also validate and load the drop (`eis load OUT`)."),
    ]):
        fn = deco(fn)
    return fn


def _run_import(importer: str, csv_file: Path, out_dir: Path, max_reject_share: float, load: bool,
                tables: tuple[str, ...]) -> None:
    from eis_core.forecast import importers

    try:
        rep = getattr(importers, importer)(csv_file, out_dir, max_reject_share)
    except importers.ImportError_ as e:
        raise click.ClickException(str(e)) from e
    _finish(rep, out_dir, load, tables)


@import_cli.command("sd-calls")
@_import_options
def sd_calls(csv_file, out_dir, max_reject_share, load) -> None:
    """San Diego 'Police Calls for Service' CSV -> calls_for_service.csv (+ rejects, information-log rows)."""
    _run_import("import_sd_calls", csv_file, out_dir, max_reject_share, load, ("calls_for_service",))


@import_cli.command("sd-ripa")
@_import_options
def sd_ripa(csv_file, out_dir, max_reject_share, load) -> None:
    """San Diego RIPA 'stops - basic details' CSV -> traffic_stops.csv + placeholder officers.csv."""
    _run_import("import_sd_ripa", csv_file, out_dir, max_reject_share, load, ("officers", "traffic_stops"))


from eis_core.importers.cli import cpdp_cmd  # noqa: E402  (click-only module, light to import)

import_cli.add_command(cpdp_cmd)
