"""Alerts, the e-mail: the SMTP settings of the web app, the outbox sent after a step commits, the body."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace

from eis_core import db
from eis_core.production.alert_base import STATUS_TEXT
from eis_core.production.schema import ensure_production_schema


def mail_settings(recipient: str):
    """The pipeline's AlertSettings, pointed at the web app's SMTP server and at one recipient."""
    from eis_core.orchestration.notify import AlertSettings

    env = dict(os.environ)
    for k in ("HOST", "PORT", "USER", "PASSWORD", "STARTTLS", "SSL"):
        if env.get(f"EIS_WEBAPP_SMTP_{k}"):
            env[f"EIS_ALERT_SMTP_{k}"] = env[f"EIS_WEBAPP_SMTP_{k}"]
    if env.get("EIS_WEBAPP_EMAIL_FROM"):
        env["EIS_ALERT_EMAIL_FROM"] = env["EIS_WEBAPP_EMAIL_FROM"]
    settings = AlertSettings.from_env(env)
    if not env.get("EIS_ALERT_EMAIL_FROM"):
        settings.email_from = "eis-webapp@" + settings.email_from.split("@", 1)[-1]
    return replace(settings, email_to=[recipient], webhook_url=None)


def smtp_configured() -> bool:
    return bool(os.environ.get("EIS_WEBAPP_SMTP_HOST") or os.environ.get("EIS_ALERT_SMTP_HOST"))


@dataclass
class Outbox:
    """E-mails of one step.  ``add`` writes each one as a *pending* row of ``production.alert_notifications``
    in the step's own transaction, so an alert is never committed without its e-mail; ``send`` delivers,
    after the commit (a slow SMTP server never holds the step's locks), every pending row in the warehouse,
    this step's and any a killed process left behind.  Delivery is at least once: a process killed while
    talking to the SMTP server leaves its row pending, and the next sender tries it again."""

    ids: list[int] = field(default_factory=list)

    def add(self, conn, alert_id: int, username: str | None, subject: str, body: str) -> None:
        self.ids.append(
            conn.execute(
                "INSERT INTO production.alert_notifications (alert_id, recipient, subject, body, status) "
                "VALUES (%s, %s, %s, %s, 'pending') RETURNING notification_id",
                (alert_id, username, subject[:300], body),
            ).fetchone()[0]
        )

    def send(self) -> list[dict]:
        self.ids.clear()
        return deliver_pending()


def _address(conn, username: str | None) -> str | None:
    from eis_core.production.alert_base import department_user

    r = department_user(username)  # users live in the registry database, each with their department
    return r["email"] if r else None


def deliver_pending() -> list[dict]:
    """Deliver every pending notification, oldest first, one row (and one row lock) at a time; concurrent
    senders skip each other's rows.  Returns what happened to each."""
    from eis_core.orchestration.notify import send_email

    ensure_production_schema()
    out: list[dict] = []
    while True:
        with db.connect() as conn:
            row = conn.execute(
                "SELECT notification_id, alert_id, recipient, subject, body "
                "FROM production.alert_notifications WHERE status = 'pending' "
                "ORDER BY notification_id LIMIT 1 FOR UPDATE SKIP LOCKED"
            ).fetchone()
            if row is None:
                return out
            nid, alert_id, username, subject, body = row
            address = _address(conn, username)
            if not username:
                status = "not sent: nobody is assigned"
            elif not address:
                status = f"not sent: {username} has no e-mail address"
            elif not smtp_configured():
                status = "not sent: no SMTP server configured (EIS_WEBAPP_SMTP_HOST)"
            else:
                try:
                    send_email(subject, body or "", mail_settings(address))
                    status = "sent"
                except Exception as exc:  # noqa: BLE001 - a failed e-mail never undoes the step
                    status = f"failed: {type(exc).__name__}: {str(exc)[:200]}"
            conn.execute(
                "UPDATE production.alert_notifications SET address = %s, status = %s, at = now() "
                "WHERE notification_id = %s",
                (address, status, nid),
            )
        out.append({"alert_id": alert_id, "recipient": username, "address": address, "status": status})


def alert_link(alert_id: int) -> str:
    base = (os.environ.get("EIS_WEBAPP_URL") or "").rstrip("/")
    return f"{base}/alerts/{alert_id}" if base else f"/alerts/{alert_id} in the EIS web app"


def mail_body(alert: dict, lead: str) -> str:
    return (
        f"{lead}\n\nOfficer: {alert['officer_id']} ({alert['division'] or 'no division'})\n"
        f"Flagged on the list of: {alert['as_of_date']}\nStatus: {STATUS_TEXT[alert['status']]}\n"
        f"Due: {alert['due_date']}\n\nOpen the alert: {alert_link(alert['alert_id'])}\n\n"
        "This e-mail carries no score and no risk factor: they are in the web app, behind its login.\n"
    )
