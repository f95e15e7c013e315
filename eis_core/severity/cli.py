"""``eis severity ...`` (train, serve, retrain, promote, rollback, status, monitor); ``eis tokens ...`` is in
:mod:`eis_core.severity.tokens_cli` (re-exported here)."""

from __future__ import annotations

import click

from eis_core.severity.cli_common import fail, person, say, source_option, source_relation
from eis_core.severity.tokens_cli import tokens_cli

#: ``eis tokens`` lives in eis_core.severity.tokens_cli; kept importable from here (eis_core/cli.py)
__all__ = ["severity_cli", "tokens_cli"]


@click.group("severity")
def severity_cli() -> None:
    """Crime-report severity (HIGH/MEDIUM/LOW): train, serve over HTTP, retrain daily, monitor.

    Reads the contract table crime_reports; writes schema severity and model artifacts under
    $EIS_HOME/models/severity/. See docs/severity.md.
    """


@severity_cli.command("train")
@click.option("--as-of", default=None, help="Use what was known at this time (default: the latest data).")
@click.option(
    "--test-days",
    default=60,
    show_default=True,
    type=click.IntRange(1),
    help="Score on the outcomes known in the last N days; train on those known before.",
)
@click.option(
    "--window-days", default=None, type=click.IntRange(1), help="Rolling training window (default: all history)."
)
@click.option(
    "--assessment-lag-days",
    default=45,
    show_default=True,
    type=click.IntRange(0),
    help="A severity counts as known at clearance or, at the latest, this many days after filing.",
)
@click.option(
    "--promote/--no-promote", default=None, help="Make it the champion (default: only when there is no champion yet)."
)
@source_option
def train_cmd(as_of, test_days, window_days, assessment_lag_days, promote, source) -> None:
    """Train a model, compare it with the majority and offense-rule baselines, register it."""
    from eis_core import db
    from eis_core.severity.registry import champion_version, set_champion
    from eis_core.severity.store import ensure_severity_schema
    from eis_core.severity.train import format_metrics, train_model

    try:
        ensure_severity_schema()
        res = train_model(
            as_of=as_of,
            test_days=test_days,
            window_days=window_days,
            assessment_lag_days=assessment_lag_days,
            source=source_relation(source),
            progress=say,
        )
        with db.connect() as conn:
            champ = champion_version(conn)
            if (promote is None and champ is None) or (promote and champ != res["version"]):
                set_champion(
                    res["version"],
                    conn,
                    person(),
                    "first model" if champ is None else "trained with --promote",
                    kind="train",
                )
                champ = res["version"]
    except (LookupError, ValueError) as e:
        fail(e)
    click.echo(f"model {res['version']} ({'champion' if champ == res['version'] else 'challenger'}):")
    click.echo(format_metrics(res["metrics"]))


@severity_cli.command("retrain")
@click.option("--as-of", default=None, help="Run as of this time (default: the latest data).")
@click.option("--window-days", default=365, show_default=True, type=click.IntRange(1), help="Rolling training window.")
@click.option(
    "--holdout-days",
    default=30,
    show_default=True,
    type=click.IntRange(1),
    help="The newest outcomes held out to compare champion and challenger.",
)
@click.option(
    "--margin",
    default=0.0,
    show_default=True,
    type=click.FloatRange(-1, 1),
    help="Promote when challenger macro-F1 >= champion macro-F1 - margin.",
)
@click.option(
    "--min-holdout",
    default=30,
    show_default=True,
    type=click.IntRange(1),
    help="Keep the champion when fewer held-out outcomes exist.",
)
@click.option("--force", is_flag=True, help="Retrain even when no new outcomes arrived.")
@source_option
def retrain_cmd(as_of, window_days, holdout_days, margin, min_holdout, force, source) -> None:
    """One champion/challenger round (what the severity_retrain DAG runs daily)."""
    from eis_core.severity.retrain import run_retrain

    try:
        res = run_retrain(
            as_of,
            window_days=window_days,
            holdout_days=holdout_days,
            margin=margin,
            min_holdout=min_holdout,
            source=source_relation(source),
            decided_by=person(),
            force=force,
            progress=say,
        )
    except (LookupError, ValueError) as e:
        fail(e)
    click.echo(f"{'promoted' if res['promoted'] else 'not promoted'}: {res['reason']} (decision {res['decision_id']})")


def _change(version, by, reason, kind) -> None:
    from eis_core import db
    from eis_core.severity.registry import load_model, set_champion
    from eis_core.severity.store import ensure_severity_schema

    try:
        with db.connect() as conn:
            ensure_severity_schema(conn)
            load_model(version, conn=conn)  # refuse a missing, tampered or incompatible artifact
            did = set_champion(version, conn, by or person(), reason, kind=kind)
    except Exception as e:  # noqa: BLE001 - LookupError, ValueError, IncompatibleModelError: all user-facing
        fail(e)
    click.echo(
        f"{version} is now the champion ({kind}, decision {did}); a running service switches within "
        "its refresh interval"
    )


@severity_cli.command("promote")
@click.argument("version")
@click.option("--by", default=None, help="Who decided (default: the current user).")
@click.option("--reason", default="manual promotion", show_default=True)
def promote_cmd(version, by, reason) -> None:
    """Make VERSION the champion (the current champion retires); the decision is recorded."""
    _change(version, by, reason, "promote")


@severity_cli.command("rollback")
@click.argument("version")
@click.option("--by", default=None, help="Who decided (default: the current user).")
@click.option("--reason", default="manual rollback", show_default=True)
def rollback_cmd(version, by, reason) -> None:
    """Return to an earlier model VERSION (it must have been champion before); the decision is recorded."""
    from eis_core import db
    from eis_core.severity.store import ensure_severity_schema

    ensure_severity_schema()
    with db.connect() as conn:
        was = conn.execute(
            "SELECT 1 FROM severity.decisions WHERE promoted AND challenger_version = %s LIMIT 1", (version,)
        ).fetchone()
    if not was:
        fail(LookupError(f"{version} was never the champion; use `eis severity promote {version}` for a new model"))
    _change(version, by, reason, "rollback")


@severity_cli.command("status")
@click.option("--decisions", default=5, show_default=True, type=click.IntRange(0), help="Latest decisions to show.")
def status_cmd(decisions) -> None:
    """The registry (models and their status), the latest decisions, monitoring and alerts."""
    from eis_core import db
    from eis_core.severity.registry import list_models
    from eis_core.severity.store import ensure_severity_schema

    ensure_severity_schema()
    with db.connect() as conn:
        models = list_models(conn)
        dec = conn.execute(
            "SELECT decision_id, decided_at, challenger_version, promoted, decided_by, reason "
            "FROM severity.decisions ORDER BY decision_id DESC LIMIT %s",
            (decisions,),
        ).fetchall()
        mon = conn.execute(
            "SELECT day, model_version, n_resolved, macro_f1, accuracy FROM severity.monitoring_daily "
            "ORDER BY day DESC, model_version LIMIT 5"
        ).fetchall()
        alerts = conn.execute(
            "SELECT raised_at, day, kind, message FROM severity.alerts ORDER BY alert_id DESC LIMIT 5"
        ).fetchall()
    if not models:
        click.echo("no severity models yet: `eis severity train`")
        return
    from eis_core.cli_tables import echo_table

    echo_table(
        ["version", "status", "train window", ("n_train", "right"), ("macro-F1", "right")],
        [
            (
                m["version"],
                m["status"],
                f"{m['train_start']} .. {m['train_end']}",
                f"{m['n_train'] or 0:,}",
                f"{float(m['macro_f1']):.3f}" if m["macro_f1"] else "-",
            )
            for m in models
        ],
    )
    if dec:
        click.echo("\ndecisions:")
        for d in dec:
            click.echo(
                f"  #{d[0]} {d[1]:%Y-%m-%d %H:%M} {d[2] or '-'} {'PROMOTED' if d[3] else 'kept'} by {d[4]}: {d[5]}"
            )
    if mon:
        click.echo("\nmonitoring (latest days):")
        for r in mon:
            f1 = "-" if r[3] is None else f"{r[3]:.3f}"
            acc = "-" if r[4] is None else f"{r[4]:.3f}"
            click.echo(f"  {r[0]} {r[1]} resolved {r[2]} macro-F1 {f1} accuracy {acc}")
    if alerts:
        click.echo("\nalerts (latest):")
        for a in alerts:
            click.echo(f"  {a[0]:%Y-%m-%d %H:%M} [{a[2]}] {a[1]}: {a[3]}")


@severity_cli.command("monitor")
@click.option("--day", default=None, help="Day to monitor (default: the latest day in the data).")
@click.option(
    "--days", default=1, show_default=True, type=click.IntRange(1, 366), help="Monitor this many days up to --day."
)
@click.option("--model", "model_version", default=None, help="Model version (default: the champion).")
@click.option(
    "--psi-threshold",
    default=0.2,
    show_default=True,
    type=click.FloatRange(0),
    help="Drift alert above this PSI (beat_reports_30d: 2.5, see docs/severity.md).",
)
@click.option(
    "--f1-drop",
    default=0.05,
    show_default=True,
    type=click.FloatRange(0),
    help="Alert when the day's macro-F1 is this far below the model's test macro-F1.",
)
@click.option(
    "--drift-days",
    default=30,
    show_default=True,
    type=click.IntRange(1),
    help="Drift compares the reports filed in this many days up to the day.",
)
@source_option
def monitor_cmd(day, days, model_version, psi_threshold, f1_drop, drift_days, source) -> None:
    """Daily macro-F1/accuracy on resolved reports, feature drift (PSI), per-division F1, alerts."""
    import datetime as dt

    import pandas as pd

    from eis_core.severity.features import data_end
    from eis_core.severity.monitoring import run_monitoring
    from eis_core.severity.train import load_frame

    try:
        frame = load_frame(source_relation(source))
        last = pd.Timestamp(day).date() if day else data_end(frame).date()
        for i in range(days - 1, -1, -1):
            res = run_monitoring(
                last - dt.timedelta(days=i),
                frame=frame,
                model_version=model_version,
                psi_threshold=psi_threshold,
                f1_drop=f1_drop,
                drift_days=drift_days,
                progress=click.echo,
            )
            for kind, msg in res["alerts"]:
                click.secho(f"  ALERT [{kind}] {msg}", fg="yellow")
    except Exception as e:  # noqa: BLE001 - LookupError / IncompatibleModelError / ValueError: user-facing
        fail(e)


@severity_cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0 in a container).")
@click.option("--port", default=8001, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--model",
    "model_version",
    default=None,
    help="Serve this version (default: the champion, followed across promotions).",
)
@click.option(
    "--refresh-seconds",
    default=10.0,
    show_default=True,
    type=click.FloatRange(0.5),
    help="How often tokens, beat history and the champion are re-read.",
)
@click.option("--access-log/--no-access-log", default=False, show_default=True)
@source_option
def serve_cmd(host, port, model_version, refresh_seconds, access_log, source) -> None:
    """Serve the severity API (one uvicorn worker). OpenAPI docs at http://HOST:PORT/docs."""
    from eis_core.severity.api import serve

    click.echo(f"severity API on http://{host}:{port} (docs at /docs); token: `eis tokens add NAME`", err=True)
    serve(
        host=host,
        port=port,
        model_version=model_version,
        refresh_seconds=refresh_seconds,
        access_log=access_log,
        source=source_relation(source),
    )
