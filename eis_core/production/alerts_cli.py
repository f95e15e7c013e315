"""``eis alerts``: the intervention workflow's alerts outside the web app (eis_core.production.alerts).

``eis alerts sweep`` is the daily job: it raises an alert for every flagged officer of the newest scored
date who has none open (the scoring does this too, at the end of a successful ``eis score``) and hands
every alert past its due date to the next level, by e-mail.  Schedule it once a day (cron, or after the
Airflow production DAG); it is idempotent, so running it twice raises and escalates nothing more.
``eis alerts list`` prints the alerts, open ones first.
"""

from __future__ import annotations

import json
import sys
from datetime import date

import click


@click.group("alerts", context_settings={"help_option_names": ["-h", "--help"]})
def alerts_cli() -> None:
    """Supervisor alerts: raise the newest scored date's, escalate overdue ones, list them."""


@alerts_cli.command("sweep")
@click.option("--today", help="the day to judge due dates against (YYYY-MM-DD; default: today)")
@click.option("--json", "as_json", is_flag=True, help="print what was done as JSON")
def sweep_cmd(today: str | None, as_json: bool) -> None:
    """Raise the newest scored date's alerts and escalate the overdue ones (e-mail to the assignees).

    Every step is in production.alert_events and, once the web app's schema exists, in its audit log
    (as user `eis alerts`).  Exit code 2 when the warehouse cannot be reached."""
    from eis_core.production import alerts

    try:
        day = date.fromisoformat(today) if today else None
    except ValueError:
        raise click.BadParameter(f"not a date (YYYY-MM-DD): {today!r}", param_hint="--today") from None
    try:
        out = alerts.sweep(by="eis alerts", audit=alerts.webapp_audit("eis alerts"), today=day)
    except Exception as exc:  # noqa: BLE001 - one line, no traceback, for a scheduler's log
        click.echo(f"eis alerts sweep: {type(exc).__name__}: {str(exc).strip().splitlines()[0][:300]}", err=True)
        sys.exit(2)
    if as_json:
        click.echo(json.dumps(out, default=str))
        return
    sent = sum(1 for n in out["notifications"] if n["status"] == "sent")
    click.echo(
        f"raised {len(out['raised'])} alert(s), escalated {len(out['escalated'])}; "
        f"{len(out['notifications'])} e-mail(s), {sent} sent"
    )
    for n in out["notifications"]:
        if n["status"] != "sent":
            click.echo(f"  alert {n['alert_id']}: {n['status']}")


@alerts_cli.command("list")
@click.option(
    "--status",
    default="open",
    show_default=True,
    help="open, overdue, all or a step (acknowledged, met, intervention, followed_up, closed)",
)
@click.option("--division", help="only this division")
def list_cmd(status: str, division: str | None) -> None:
    """The alerts, open ones first (oldest due first)."""
    from eis_core import db
    from eis_core.production import alerts
    from eis_core.production.schema import ensure_production_schema

    if status not in ("open", "overdue", "all", *alerts.STEPS):
        raise click.BadParameter("open, overdue, all or a step", param_hint="--status")
    ensure_production_schema()
    with db.connect() as conn:
        rows = alerts.list_alerts(conn, division, None if status == "all" else status)
    if not rows:
        click.echo("no alerts")
        return
    for a in rows:
        late = " OVERDUE" if a["overdue"] else ""
        click.echo(
            f"{a['alert_id']:>6}  {a['officer_id']:<12} {a['division'] or '-':<12} {a['status']:<12} "
            f"due {a['due_date']}{late}  assigned to {a['assigned_to'] or 'nobody'}"
            f"{'  (escalated x' + str(a['escalation_level']) + ')' if a['escalation_level'] else ''}"
        )
