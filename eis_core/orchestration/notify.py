"""Alerts: e-mail through a configurable SMTP server and/or a JSON webhook.

Configured entirely by environment variables (the Airflow stack, ``airflow dags test`` and docker-compose
pass them through to every task process):

================================  ==========================================================================
``EIS_ALERT_EMAIL_TO``            comma-separated recipients; no e-mail is sent without it
``EIS_ALERT_EMAIL_FROM``          sender (default ``eis-airflow@<hostname>``)
``EIS_ALERT_SMTP_HOST``           SMTP server (default ``localhost``)
``EIS_ALERT_SMTP_PORT``           port (default 25; 465 with ``EIS_ALERT_SMTP_SSL=true``)
``EIS_ALERT_SMTP_USER``           login, when the server wants one ...
``EIS_ALERT_SMTP_PASSWORD``       ... and its password (never written to any file or log)
``EIS_ALERT_SMTP_STARTTLS``       ``true``: STARTTLS after EHLO (port 587 servers)
``EIS_ALERT_SMTP_SSL``            ``true``: implicit TLS (port 465 servers)
``EIS_ALERT_WEBHOOK_URL``         POST a JSON body ``{"text", "subject", "body", ...}`` here (Slack, Teams and
                                  Mattermost incoming webhooks read ``text``)
``EIS_ALERT_TIMEOUT``             seconds per delivery attempt (default 10)
================================  ==========================================================================

Standard library only (smtplib, urllib): DAG files import this module at parse time.  A delivery that
fails is reported on stderr and in the returned list; it never raises, so an alert can never mask the
failure it reports.
"""

from __future__ import annotations

import json
import os
import smtplib
import socket
import ssl
import sys
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


@dataclass
class AlertSettings:
    email_to: list[str] = field(default_factory=list)
    email_from: str = ""
    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    smtp_ssl: bool = False
    webhook_url: str | None = None
    timeout: float = 10.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> AlertSettings:
        env = os.environ if env is None else env
        ssl_on = _truthy(env.get("EIS_ALERT_SMTP_SSL"))
        return cls(
            email_to=[a.strip() for a in env.get("EIS_ALERT_EMAIL_TO", "").split(",") if a.strip()],
            email_from=env.get("EIS_ALERT_EMAIL_FROM") or f"eis-airflow@{socket.gethostname()}",
            smtp_host=env.get("EIS_ALERT_SMTP_HOST") or "localhost",
            smtp_port=int(env.get("EIS_ALERT_SMTP_PORT") or (465 if ssl_on else 25)),
            smtp_user=env.get("EIS_ALERT_SMTP_USER") or None,
            smtp_password=env.get("EIS_ALERT_SMTP_PASSWORD") or None,
            smtp_starttls=_truthy(env.get("EIS_ALERT_SMTP_STARTTLS")),
            smtp_ssl=ssl_on,
            webhook_url=env.get("EIS_ALERT_WEBHOOK_URL") or None,
            timeout=float(env.get("EIS_ALERT_TIMEOUT") or 10),
        )

    @property
    def channels(self) -> list[str]:
        return (["email"] if self.email_to else []) + (["webhook"] if self.webhook_url else [])


def send_email(subject: str, body: str, settings: AlertSettings) -> None:
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = settings.email_from
    msg["To"] = ", ".join(settings.email_to)
    msg.set_content(body)
    if settings.smtp_ssl:
        server: smtplib.SMTP = smtplib.SMTP_SSL(
            settings.smtp_host, settings.smtp_port, timeout=settings.timeout, context=ssl.create_default_context()
        )
    else:
        server = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.timeout)
    with server:
        server.ehlo()
        if settings.smtp_starttls and not settings.smtp_ssl:
            server.starttls(context=ssl.create_default_context())
            server.ehlo()
        if settings.smtp_user:
            server.login(settings.smtp_user, settings.smtp_password or "")
        server.send_message(msg)


def send_webhook(subject: str, body: str, settings: AlertSettings, extra: dict | None = None) -> None:
    if not settings.webhook_url:
        raise ValueError("no webhook URL: set EIS_ALERT_WEBHOOK_URL")
    payload = {"text": f"{subject}\n{body}", "subject": subject, "body": body, **(extra or {})}
    req = urllib.request.Request(
        settings.webhook_url,
        data=json.dumps(payload, default=str).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=settings.timeout) as resp:  # noqa: S310 (configured URL)
        if resp.status >= 300:
            raise OSError(f"webhook answered HTTP {resp.status}")


def send_alert(
    subject: str, body: str, *, extra: dict | None = None, settings: AlertSettings | None = None
) -> dict[str, str]:
    """Deliver one alert on every configured channel; returns ``{channel: "sent" | "failed: ..."}``.

    Never raises: a channel that fails is reported on stderr (the task log) and in the result.
    """
    settings = settings or AlertSettings.from_env()
    out: dict[str, str] = {}
    if not settings.channels:
        print(f"alert not sent (no EIS_ALERT_EMAIL_TO / EIS_ALERT_WEBHOOK_URL configured): {subject}", file=sys.stderr)
        return out
    for channel in settings.channels:
        try:
            if channel == "email":
                send_email(subject, body, settings)
            else:
                send_webhook(subject, body, settings, extra)
            out[channel] = "sent"
        except Exception as exc:  # noqa: BLE001 - an alert must never mask what it reports
            out[channel] = f"failed: {type(exc).__name__}: {exc}"
            print(f"alert via {channel} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
    print(f"alert {subject!r}: {out}", file=sys.stderr)
    return out


__all__ = ["AlertSettings", "send_alert", "send_email", "send_webhook"]
