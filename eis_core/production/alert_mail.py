"""Alerts, the e-mail: the SMTP settings of the web app, the outbox sent after a step commits, the body."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace

from eis_core import db
from eis_core.production.alert_base import STATUS_TEXT


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
    """E-mails of one step, sent after its transaction commits (a slow SMTP server never holds a lock)."""

    items: list[tuple[int, str | None, str, str]] = field(default_factory=list)  # alert, user, subject, body

    def add(self, alert_id: int, username: str | None, subject: str, body: str) -> None:
        self.items.append((alert_id, username, subject, body))

    def send(self) -> list[dict]:
        from eis_core.orchestration.notify import send_email

        out = []
        for alert_id, username, subject, body in self.items:
            address = None
            if username:
                with db.connect() as conn:
                    if conn.execute("SELECT to_regclass('webapp.users')").fetchone()[0]:
                        r = conn.execute("SELECT email FROM webapp.users WHERE username = %s AND NOT disabled",
                                         (username,)).fetchone()
                        address = r[0] if r else None
            if not username:
                status = "not sent: nobody is assigned"
            elif not address:
                status = f"not sent: {username} has no e-mail address"
            elif not smtp_configured():
                status = "not sent: no SMTP server configured (EIS_WEBAPP_SMTP_HOST)"
            else:
                try:
                    send_email(subject, body, mail_settings(address))
                    status = "sent"
                except Exception as exc:  # noqa: BLE001 - a failed e-mail never undoes the step
                    status = f"failed: {type(exc).__name__}: {str(exc)[:200]}"
            with db.connect() as conn:
                conn.execute("INSERT INTO production.alert_notifications (alert_id, recipient, address, subject, "
                             "status) VALUES (%s, %s, %s, %s, %s)", (alert_id, username, address, subject[:300], status))
            out.append({"alert_id": alert_id, "recipient": username, "address": address, "status": status})
        self.items.clear()
        return out


def alert_link(alert_id: int) -> str:
    base = (os.environ.get("EIS_WEBAPP_URL") or "").rstrip("/")
    return f"{base}/alerts/{alert_id}" if base else f"/alerts/{alert_id} in the EIS web app"


def mail_body(alert: dict, lead: str) -> str:
    return (f"{lead}\n\nOfficer: {alert['officer_id']} ({alert['division'] or 'no division'})\n"
            f"Flagged on the list of: {alert['as_of_date']}\nStatus: {STATUS_TEXT[alert['status']]}\n"
            f"Due: {alert['due_date']}\n\nOpen the alert: {alert_link(alert['alert_id'])}\n\n"
            "This e-mail carries no score and no risk factor: they are in the web app, behind its login.\n")

