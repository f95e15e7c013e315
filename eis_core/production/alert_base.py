"""Alerts, the shared part: the steps and their wording, the settings (flag share, due and escalation
days), reading alerts, and recording an event of an alert.  The workflow is :mod:`eis_core.production.alerts`."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from psycopg.types.json import Jsonb

STEPS = ("open", "acknowledged", "met", "intervention", "followed_up", "closed")
STATUS_TEXT = {
    "open": "new — not yet acknowledged",
    "acknowledged": "acknowledged — meeting to hold",
    "met": "met — choose an intervention",
    "intervention": "intervention chosen — follow-up to do",
    "followed_up": "followed up — ready to close",
    "closed": "closed",
}

Audit = Callable[[Any, str, str, dict], None] | None


class AlertError(ValueError):
    """A step that cannot be taken now; the message names the field or says what to do first."""


def env_int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name) or default)
    except ValueError:
        return default


def flag_share() -> float:
    """The share of a scored date's list that is flagged (``EIS_FLAG_TOP_PERCENT``, default 5 %)."""
    try:
        p = float(os.environ.get("EIS_FLAG_TOP_PERCENT") or 5)
    except ValueError:
        p = 5.0
    return min(max(p, 0.0), 100.0) / 100.0


def due_days() -> int:
    return env_int("EIS_ALERT_DUE_DAYS", 7)


def escalation_days() -> int:
    return env_int("EIS_ALERT_ESCALATION_DAYS", 3)


# ----------------------------------------------------------------------------------------- reading


def rows_of(conn, query: str, params: Any = ()) -> list[dict]:
    cur = conn.execute(query, params)
    cols = [d.name for d in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]


def catalogue(conn, active_only: bool = True) -> list[dict]:
    return rows_of(
        conn,
        "SELECT code, label, description, active, position, needs_follow_up, updated_at, updated_by "
        "FROM production.intervention_catalogue WHERE active OR NOT %s ORDER BY position, code",
        (active_only,),
    )


def get_alert(conn, alert_id: int, lock: bool = False) -> dict | None:
    out = rows_of(
        conn,
        "SELECT a.*, c.label AS intervention_label, c.needs_follow_up FROM production.alerts a "
        "LEFT JOIN production.intervention_catalogue c ON c.code = a.intervention "
        "WHERE a.alert_id = %s" + (" FOR UPDATE OF a" if lock else ""),
        (alert_id,),
    )
    return out[0] if out else None


def existing_alert(conn, alert_id: int) -> dict:
    """:func:`get_alert` of an alert this transaction has just created or changed (AlertError if it is gone)."""
    a = get_alert(conn, alert_id)
    if a is None:
        raise AlertError(f"alert: no alert {alert_id}")
    return a


def alert_events(conn, alert_id: int) -> list[dict]:
    return rows_of(
        conn,
        "SELECT event_id, at, actor, step, detail FROM production.alert_events WHERE alert_id = %s ORDER BY event_id",
        (alert_id,),
    )


def alert_notifications(conn, alert_id: int) -> list[dict]:
    return rows_of(
        conn,
        "SELECT at, recipient, address, subject, status FROM production.alert_notifications "
        "WHERE alert_id = %s ORDER BY notification_id",
        (alert_id,),
    )


def alert_review(conn, alert_id: int) -> dict | None:
    out = rows_of(
        conn,
        "SELECT review_id, as_of_date, reviewer, reviewed_at, agrees_with_score, factor_agreement, "
        "dismissal_reason, intervention, intervention_date, notes, updated_at, updated_by "
        "FROM production.reviews WHERE alert_id = %s",
        (alert_id,),
    )
    return out[0] if out else None


def list_alerts(
    conn, division: str | None = None, status: str | None = None, assigned_to: str | None = None, limit: int = 500
) -> list[dict]:
    """Alerts, open ones first (oldest due first); *division*: only alerts raised while the officer was
    in it and whose officer is in it now (the scope rule of docs/security.md)."""
    return rows_of(
        conn,
        """
        SELECT a.alert_id, a.officer_id, a.as_of_date, a.division, a.score, a.rank_abs, a.status, a.assigned_to,
               a.escalation_level, a.due_date, a.created_at, a.intervention, c.label AS intervention_label,
               a.follow_up_date, a.closed_at, (a.status <> 'closed' AND a.due_date < current_date) AS overdue
        FROM production.alerts a LEFT JOIN production.intervention_catalogue c ON c.code = a.intervention
        WHERE (%(div)s::text IS NULL OR (a.division = %(div)s AND (
                 SELECT p.division FROM production.predictions p WHERE p.officer_id = a.officer_id
                 ORDER BY p.as_of_date DESC LIMIT 1) = %(div)s))
          AND (%(status)s::text IS NULL OR (%(status)s = 'open' AND a.status <> 'closed') OR a.status = %(status)s
               OR (%(status)s = 'overdue' AND a.status <> 'closed' AND a.due_date < current_date))
          AND (%(who)s::text IS NULL OR a.assigned_to = %(who)s)
        ORDER BY a.status = 'closed', a.due_date, a.alert_id LIMIT %(n)s""",
        {"div": division, "status": status, "who": assigned_to, "n": limit},
    )


def officer_alerts(conn, officer_id: str, scope: str | None = None) -> list[dict]:
    return rows_of(
        conn,
        "SELECT a.alert_id, a.as_of_date, a.status, a.assigned_to, a.due_date, a.created_at, "
        "a.acknowledged_at, a.meeting_date, a.intervention, c.label AS intervention_label, "
        "a.intervention_date, a.follow_up_date, a.followed_up_at, a.closed_at, a.escalation_level, "
        "(a.status <> 'closed' AND a.due_date < current_date) AS overdue "
        "FROM production.alerts a LEFT JOIN production.intervention_catalogue c ON c.code = a.intervention "
        "WHERE a.officer_id = %s AND (%s::text IS NULL OR a.division = %s) ORDER BY a.as_of_date DESC",
        (officer_id, scope, scope),
    )


def record_event(
    conn, alert_id: int, actor: str, step: str, detail: dict | None, audit: Audit, officer_id: str
) -> None:
    conn.execute(
        "INSERT INTO production.alert_events (alert_id, actor, step, detail) VALUES (%s, %s, %s, %s)",
        (alert_id, actor, step, Jsonb(detail or {})),
    )
    if audit is not None:
        audit(conn, f"alert_{step}", officer_id, {"alert_id": alert_id, **(detail or {})})


def department_users(where: str = "true", params: tuple = (), enabled_only: bool = True) -> list[dict]:
    """The users of the current department matching the SQL condition *where* (username, role, division,
    email, reports_to), by name.  Users live in the installation's registry database (the ``default``
    department's ``webapp.users``, eis_core.webapp.store), each with their department; the alerts of a
    department go only to its own users."""
    from eis_core import db, departments

    with db.connect(db.warehouse_db(departments.DEFAULT)) as conn:
        if not db.scalar(conn, "SELECT to_regclass('webapp.users')"):
            return []
        return rows_of(
            conn,
            "SELECT username, role, division, email, reports_to FROM webapp.users "
            f"WHERE department = %s AND (NOT disabled OR NOT %s) AND ({where}) ORDER BY username",
            (departments.current(), enabled_only, *params),
        )


def department_user(username: str | None, enabled_only: bool = True) -> dict | None:
    """User *username* of the current department (enabled, unless *enabled_only* is false), else None."""
    if not username:
        return None
    found = department_users("username = %s", (username,), enabled_only)
    return found[0] if found else None
