"""Alerts, the supervisor's steps: acknowledge, record the meeting, the review and intervention, the
follow-up, close, reassign; and the admin's intervention catalogue."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, Literal, overload

from psycopg.types.json import Jsonb

from eis_core import db
from eis_core.production.alert_base import (
    STATUS_TEXT,
    STEPS,
    AlertError,
    Audit,
    alert_review,
    catalogue,
    department_user,
    due_days,
    existing_alert,
    get_alert,
    record_event,
    rows_of,
)
from eis_core.production.schema import ensure_production_schema


def load_for_step(conn, alert_id: int, allowed: tuple[str, ...], what: str) -> dict:
    a = get_alert(conn, alert_id, lock=True)
    if a is None:
        raise AlertError(f"alert: no alert {alert_id}")
    if a["status"] not in allowed:
        raise AlertError(f"{what}: not possible while the alert is {STATUS_TEXT[a['status']]}")
    return a


@overload
def parse_step_date(v: Any, name: str, required: Literal[True] = True) -> date: ...


@overload
def parse_step_date(v: Any, name: str, required: bool) -> date | None: ...


def parse_step_date(v: Any, name: str, required: bool = True) -> date | None:
    if isinstance(v, date):
        return v
    s = (str(v) if v is not None else "").strip()
    if not s:
        if required:
            raise AlertError(f"{name}: required (YYYY-MM-DD)")
        return None
    try:
        return date.fromisoformat(s)
    except ValueError:
        raise AlertError(f"{name}: not a date (YYYY-MM-DD): {s[:20]!r}") from None


@overload
def step_text(v: Any, name: str, limit: int = 4000, *, required: Literal[True]) -> str: ...


@overload
def step_text(v: Any, name: str, limit: int = 4000, required: bool = False) -> str | None: ...


def step_text(v: Any, name: str, limit: int = 4000, required: bool = False) -> str | None:
    s = (str(v) if v is not None else "").strip() or None
    if required and not s:
        raise AlertError(f"{name}: required")
    if s and len(s) > limit:
        raise AlertError(f"{name}: at most {limit} characters")
    return s


def acknowledge(alert_id: int, actor: str, audit: Audit = None) -> dict:
    with db.connect() as conn:
        a = load_for_step(conn, alert_id, ("open",), "acknowledge")
        conn.execute(
            "UPDATE production.alerts SET status = 'acknowledged', acknowledged_at = now(), "
            "acknowledged_by = %s WHERE alert_id = %s",
            (actor, alert_id),
        )
        record_event(conn, alert_id, actor, "acknowledged", None, audit, a["officer_id"])
        return existing_alert(conn, alert_id)


def record_meeting(
    alert_id: int, actor: str, meeting_date: Any, notes: Any, audit: Audit = None, today: date | None = None
) -> dict:
    today = today or date.today()
    with db.connect() as conn:
        a = load_for_step(conn, alert_id, ("acknowledged", "met"), "meeting")
        d = parse_step_date(meeting_date, "meeting_date")
        if d > today:
            raise AlertError(f"meeting_date: {d} is in the future; record the meeting once it has taken place")
        if d < a["as_of_date"]:
            raise AlertError(f"meeting_date: {d} is before the flag ({a['as_of_date']})")
        n = step_text(notes, "meeting_notes")
        due = today + timedelta(days=due_days())
        conn.execute(
            "UPDATE production.alerts SET status = 'met', meeting_date = %s, meeting_notes = %s, "
            "due_date = %s WHERE alert_id = %s",
            (d, n, due, alert_id),
        )
        record_event(
            conn,
            alert_id,
            actor,
            "meeting",
            {"meeting_date": d.isoformat(), "notes": n, "edited": a["status"] == "met"},
            audit,
            a["officer_id"],
        )
        return existing_alert(conn, alert_id)


def save_review(
    alert_id: int,
    actor: str,
    *,
    agrees: bool,
    factor_agreement: dict[str, bool],
    intervention: str,
    intervention_date: Any,
    follow_up_date: Any,
    dismissal_reason: str | None,
    notes: str | None,
    audit: Audit = None,
    today: date | None = None,
) -> dict:
    """The alert's review and its intervention: created once, edited in place until the alert closes."""
    today = today or date.today()
    with db.connect() as conn:
        a = load_for_step(conn, alert_id, ("met", "intervention", "followed_up"), "review")
        cat = {c["code"]: c for c in catalogue(conn, active_only=False)}
        item = cat.get(intervention)
        if item is None or (not item["active"] and intervention != a["intervention"]):
            active = ", ".join(c for c, v in cat.items() if v["active"])
            raise AlertError(f"intervention: choose one of the catalogue ({active})")
        if not agrees and not (dismissal_reason or "").strip():
            raise AlertError("dismissal_reason: required when you do not agree with the score")
        idate = parse_step_date(intervention_date, "intervention_date", required=intervention != "none")
        if intervention == "none":
            idate = None
        elif idate < a["as_of_date"]:
            raise AlertError(f"intervention_date: cannot be before the flag ({a['as_of_date']})")
        fdate = parse_step_date(follow_up_date, "follow_up_date", required=bool(item["needs_follow_up"]))
        if fdate is not None and fdate < (idate or a["as_of_date"]):
            raise AlertError("follow_up_date: cannot be before the intervention")
        factors = [
            r[0]
            for r in conn.execute(
                "SELECT feature FROM production.risk_factors WHERE officer_id = %s "
                "AND as_of_date = %s ORDER BY position",
                (a["officer_id"], a["as_of_date"]),
            )
        ]
        missing = [f for f in factors if f not in factor_agreement]
        if missing or not factors:
            raise AlertError("factor_agreement: say whether you agree with every risk factor")
        fa = Jsonb({f: bool(factor_agreement[f]) for f in factors})
        reason = step_text(dismissal_reason, "dismissal_reason", 2000) if not agrees else None
        n = step_text(notes, "notes")
        old = alert_review(conn, alert_id)
        if old is None:
            rid = db.scalar(
                conn,
                "INSERT INTO production.reviews (as_of_date, officer_id, reviewer, agrees_with_score, factor_agreement, "
                "dismissal_reason, intervention, intervention_date, notes, alert_id) "
                "VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s) RETURNING review_id",
                (a["as_of_date"], a["officer_id"], actor, agrees, fa, reason, intervention, idate, n, alert_id),
            )
        else:
            rid = old["review_id"]
            conn.execute(
                "UPDATE production.reviews SET agrees_with_score = %s, factor_agreement = %s, "
                "dismissal_reason = %s, intervention = %s, intervention_date = %s, notes = %s, "
                "updated_at = now(), updated_by = %s WHERE review_id = %s",
                (agrees, fa, reason, intervention, idate, n, actor, rid),
            )
        status = "followed_up" if a["status"] == "followed_up" else "intervention"
        due = fdate or today + timedelta(days=due_days())
        conn.execute(
            "UPDATE production.alerts SET status = %s, intervention = %s, intervention_date = %s, "
            "follow_up_date = %s, due_date = %s WHERE alert_id = %s",
            (status, intervention, idate, fdate, due if status == "intervention" else a["due_date"], alert_id),
        )
        detail = {
            "review_id": rid,
            "intervention": intervention,
            "intervention_date": idate.isoformat() if idate else None,
            "follow_up_date": fdate.isoformat() if fdate else None,
            "agrees_with_score": agrees,
        }
        if old is not None:
            detail["previous"] = {
                "intervention": old["intervention"],
                "agrees_with_score": old["agrees_with_score"],
                "intervention_date": old["intervention_date"].isoformat() if old["intervention_date"] else None,
            }
        record_event(conn, alert_id, actor, "review_edited" if old else "intervention", detail, audit, a["officer_id"])
        return existing_alert(conn, alert_id)


def record_follow_up(alert_id: int, actor: str, notes: Any, audit: Audit = None, today: date | None = None) -> dict:
    today = today or date.today()
    with db.connect() as conn:
        a = load_for_step(conn, alert_id, ("intervention",), "follow_up")
        n = step_text(notes, "follow_up_notes", required=True)
        conn.execute(
            "UPDATE production.alerts SET status = 'followed_up', followed_up_at = now(), "
            "follow_up_notes = %s, due_date = %s WHERE alert_id = %s",
            (n, today + timedelta(days=due_days()), alert_id),
        )
        record_event(conn, alert_id, actor, "follow_up", {"notes": n}, audit, a["officer_id"])
        return existing_alert(conn, alert_id)


def close(alert_id: int, actor: str, notes: Any, audit: Audit = None) -> dict:
    with db.connect() as conn:
        a = load_for_step(conn, alert_id, ("intervention", "followed_up"), "close")
        if a["status"] == "intervention" and a["needs_follow_up"]:
            raise AlertError(
                f"close: record the follow-up of the {a['intervention_label'].lower()} first "
                f"(due {a['follow_up_date']})"
            )
        n = step_text(notes, "close_notes")
        conn.execute(
            "UPDATE production.alerts SET status = 'closed', closed_at = now(), closed_by = %s, "
            "close_notes = %s WHERE alert_id = %s",
            (actor, n, alert_id),
        )
        record_event(conn, alert_id, actor, "closed", {"notes": n}, audit, a["officer_id"])
        return existing_alert(conn, alert_id)


def reassign(alert_id: int, actor: str, username: str, audit: Audit = None) -> dict:
    with db.connect() as conn:
        a = load_for_step(conn, alert_id, STEPS[:-1], "assign")
        r = department_user(username)  # only a user of this department
        if r is None or not (r["role"] == "admin" or (r["role"] == "supervisor" and r["division"] == a["division"])):
            raise AlertError("assigned_to: an enabled admin or a supervisor of the officer's division")
        conn.execute("UPDATE production.alerts SET assigned_to = %s WHERE alert_id = %s", (username, alert_id))
        record_event(
            conn, alert_id, actor, "assigned", {"from": a["assigned_to"], "to": username}, audit, a["officer_id"]
        )
        return existing_alert(conn, alert_id)


def save_catalogue_item(
    code: str,
    label: str,
    description: str | None,
    active: bool,
    needs_follow_up: bool,
    position: int,
    by: str,
    audit: Audit = None,
) -> None:
    """Add or change one intervention of the catalogue (codes are never deleted: reviews name them)."""
    import re

    ensure_production_schema()
    code = (code or "").strip().lower()
    if not re.match(r"^[a-z][a-z0-9_]{1,40}$", code):
        raise AlertError("code: 2-41 characters, lower-case letters, digits and '_', starting with a letter")
    label = step_text(label, "label", 80, required=True)
    description = step_text(description, "description", 300)
    if code == "none" and (not active or needs_follow_up):
        raise AlertError("code: 'none' stays active and needs no follow-up")
    with db.connect() as conn:
        old = rows_of(
            conn,
            "SELECT label, description, active, needs_follow_up, position FROM "
            "production.intervention_catalogue WHERE code = %s",
            (code,),
        )
        conn.execute(
            "INSERT INTO production.intervention_catalogue (code, label, description, active, position, "
            "needs_follow_up, updated_by) VALUES (%s,%s,%s,%s,%s,%s,%s) ON CONFLICT (code) DO UPDATE SET "
            "label = EXCLUDED.label, description = EXCLUDED.description, active = EXCLUDED.active, "
            "position = EXCLUDED.position, needs_follow_up = EXCLUDED.needs_follow_up, updated_at = now(), "
            "updated_by = EXCLUDED.updated_by",
            (code, label, description, active, position, needs_follow_up, by),
        )
        if audit is not None:
            audit(
                conn,
                "intervention_catalogue",
                code,
                {
                    "label": label,
                    "active": active,
                    "needs_follow_up": needs_follow_up,
                    "previous": old[0] if old else None,
                },
            )
