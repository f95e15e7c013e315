"""``eis forecast ...`` and ``eis import ...``."""

from __future__ import annotations

from pathlib import Path

import click


def _say(msg: str) -> None:
    click.echo(msg, err=True)


class UserError(click.ClickException):
    """A one-line ``Error: ...`` on stderr and exit code 2 (too little data, a missing table, a bad option)."""

    exit_code = 2


def _one_line(e: BaseException | str) -> str:
    text = " ".join(str(e).split()) or type(e).__name__
    return text if len(text) <= 300 else text[:297] + "..."


class OneLineCommand(click.Command):
    """Usage errors become one line (no usage block); data errors from the library become one line too."""

    def make_context(self, info_name, args, parent=None, **extra):
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.exceptions.NoArgsIsHelpError:
            raise
        except click.UsageError as e:
            raise UserError(
                f"{parent.command_path + ' ' if parent else ''}{info_name}: {_one_line(e.format_message())}"
            ) from None

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort, SystemExit):
            raise
        except (ValueError, RuntimeError, LookupError, OSError) as e:
            raise UserError(_one_line(e)) from None
        except Exception as e:  # database errors and anything unforeseen: still one line, never a traceback
            import psycopg

            if isinstance(e, psycopg.Error):
                raise UserError(f"warehouse: {_one_line(e)}") from None
            raise click.ClickException(f"internal error {type(e).__name__}: {_one_line(e)}") from None


class OneLineGroup(click.Group):
    command_class = OneLineCommand

    def resolve_command(self, ctx, args):
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError as e:
            raise UserError(f"{ctx.command_path}: {_one_line(e.format_message())}") from None


@click.group("forecast", cls=OneLineGroup)
def forecast_cli() -> None:
    """Forecast calls for service (hourly) and stops (daily), find peak hours, predict call priority.

    Reads calls_for_service / traffic_stops from the warehouse (or a drop folder with --drop); writes
    schema forecast (runs, backtests, calls_hourly, stops_daily, priority_scores). Any history of at
    least 14 days works: the backtest shortens its horizon and origins to fit. See docs/forecasting.md.
    """


_DROP = click.option(
    "--drop",
    "drop_dir",
    type=click.Path(exists=True, file_okay=False),
    default=None,
    help="Read a drop folder instead of the warehouse.",
)


@forecast_cli.command("run")
@click.option(
    "--horizon-days",
    default=7,
    show_default=True,
    type=click.IntRange(1, 14),
    help="Hourly call forecast horizon in days (the backtest may use fewer, see its output).",
)
@click.option(
    "--division",
    "divisions",
    multiple=True,
    metavar="NAME",
    help="Only these divisions (repeatable); the city-wide series ALL is always included.",
)
@click.option(
    "--origins",
    default=4,
    show_default=True,
    type=click.IntRange(1, 12),
    help="Backtest origins (fewer when the history is short).",
)
@click.option("--history-days", default=None, type=click.IntRange(14), help="Use only the last N days of data.")
@click.option("--stops/--no-stops", default=True, show_default=True, help="Also forecast daily stops.")
@click.option("--stops-horizon-days", default=28, show_default=True, type=click.IntRange(1, 56))
@_DROP
@click.option("--no-store", is_flag=True, help="Do not write to schema forecast.")
def run_cmd(horizon_days, divisions, origins, history_days, stops, stops_horizon_days, drop_dir, no_store) -> None:
    """Backtest every model (rolling origins), choose by RMSE, forecast ahead and store the results."""
    from eis_core.forecast.run import format_table, run_calls_forecast, run_stops_forecast

    res = run_calls_forecast(
        horizon_days=horizon_days,
        divisions=list(divisions) or None,
        n_origins=origins,
        history_days=history_days,
        drop_dir=drop_dir,
        store=not no_store,
        progress=_say,
    )
    lay = res["layout"]
    click.echo(f"Hourly calls, series ALL, {lay.note} (run {res['run_id']}):")
    click.echo(format_table(res["table"]))
    for reason in lay.skipped.values():
        click.echo(reason)
    click.echo("chosen per series: " + ", ".join(f"{k}={v}" for k, v in res["chosen"].items()))
    click.echo(f"forecast: {horizon_days * 24} h ahead from {res['forecast']['ts'].min()}")
    if stops:
        try:
            sres = run_stops_forecast(
                horizon_days=stops_horizon_days,
                divisions=list(divisions) or None,
                n_origins=origins,
                history_days=history_days,
                drop_dir=drop_dir,
                store=not no_store,
                progress=lambda m: None,
            )
        except ValueError as e:
            click.echo(f"stops forecast skipped: {_one_line(e)}", err=True)
        else:
            click.echo(f"\nDaily stops, series ALL, {sres['layout'].note} (run {sres['run_id']}):")
            click.echo(format_table(sres["table"]))
            for reason in sres["layout"].skipped.values():
                click.echo(reason)


@forecast_cli.command("peaks")
@click.option("--series", default="ALL", show_default=True, help="ALL or a division.")
@click.option("--top", default=3, show_default=True, type=click.IntRange(1, 24), help="Hours per weekday.")
@click.option(
    "--png",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Heat-map file (default $EIS_HOME/forecast/peaks_run<N>_<series>.png).",
)
@click.option("--run-id", type=click.IntRange(1), default=None, help="Forecast run (default: the latest).")
@click.option(
    "--drop",
    "drop_dir",
    type=click.Path(exists=True, file_okay=False),
    default=None,
    help="Show the observed history of this drop folder (no stored forecast needed).",
)
def peaks_cmd(series, top, png, run_id, drop_dir) -> None:
    """Busiest expected hours per weekday (chosen model of the latest hourly forecast) and a heat map;
    without a stored forecast, the busiest observed hours of the history."""
    from eis_core.forecast.run import format_peaks, peaks_report

    table, path, rid = peaks_report(series, top, png, run_id, drop_dir=drop_dir)
    if rid is None:
        click.echo(
            f"Peak hours, series {series}: no stored forecast{' used' if drop_dir else ''}, "
            f"observed calls per weekday x hour in the history:"
        )
    else:
        click.echo(f"Peak hours, series {series}, forecast run {rid}:")
    click.echo(format_peaks(table))
    click.echo(f"heat map: {path}")


@forecast_cli.command("priority")
@click.option(
    "--test-days",
    default=None,
    type=click.IntRange(1),
    help="Test window: the last N calendar days exactly [default: a fifth of the days with data, at most 90].",
)
@click.option("--train-days", default=365, show_default=True, type=click.IntRange(7), help="Training period before it.")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder for the plots (default $EIS_HOME/forecast).",
)
@_DROP
@click.option("--no-store", is_flag=True, help="Do not write forecast.priority_scores.")
def priority_cmd(test_days, train_days, out_dir, drop_dir, no_store) -> None:
    """Predict a call's San Diego priority band (emergency / urgent / non_urgent / report) at receipt;
    weekday vs weekend vs holiday with effect sizes."""
    from eis_core.forecast.priority import format_priority, run_priority

    res = run_priority(
        test_days=test_days,
        train_days=train_days,
        store=not no_store,
        out_dir=out_dir,
        drop_dir=drop_dir,
        progress=_say,
    )
    click.echo(f"Priority band on the calls from {res['split_at']:%Y-%m-%d} (run {res['run_id']}):")
    click.echo(format_priority(res))


@click.group("import", cls=OneLineGroup)
def import_cli() -> None:
    """Convert real exports into drop folders (then `eis load DIR`): San Diego open data (calls, RIPA stops:
    activity drops) and the Chicago CPDP release (a contract v2 department drop)."""


def _finish(rep, out_dir: Path, load: bool, tables: tuple[str, ...]) -> None:
    click.echo(rep.summary())
    if not rep.ok:
        raise UserError(
            f"too many rejected rows: {100 * rep.reject_share:.1f} % > {100 * rep.max_reject_share:.1f} % "
            f"(see {out_dir}/_rejects_*.csv)"
        )
    if load:
        from eis_core.forecast.importers import load_imported

        ok, statuses, summary = load_imported(out_dir, tables, progress=_say)
        click.echo(summary)
        if not ok:
            raise click.ClickException(
                "imported table(s) not loaded: " + ", ".join(f"{t} {s}" for t, s in statuses.items())
            )
        click.echo(f"imported table(s) loaded: {', '.join(f'{t} {s}' for t, s in statuses.items())}")


def _import_options(fn):
    """The arguments every San Diego importer takes: the export, the drop folder, the reject limit, --load."""
    for deco in reversed(
        [
            click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path)),
            click.option(
                "--out",
                "out_dir",
                required=True,
                type=click.Path(file_okay=False, path_type=Path),
                help="Drop folder to write.",
            ),
            click.option(
                "--max-reject-share",
                default=0.05,
                show_default=True,
                type=click.FloatRange(0, 1),
                help="Exit non-zero (2) when more than this share of the rows cannot be converted.",
            ),
            click.option("--load", is_flag=True, help="Also validate and load the drop (`eis load OUT`)."),
        ]
    ):
        fn = deco(fn)
    return fn


def _run_import(
    importer: str, csv_file: Path, out_dir: Path, max_reject_share: float, load: bool, tables: tuple[str, ...]
) -> None:
    from eis_core.forecast import importers

    try:
        rep = getattr(importers, importer)(csv_file, out_dir, max_reject_share)
    except importers.ImportError_ as e:
        raise UserError(_one_line(e)) from None
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
