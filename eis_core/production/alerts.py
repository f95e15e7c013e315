"""The intervention workflow: a flag becomes an alert a supervisor works through to a close.

Steps (``production.alerts.status``)::

    open ──acknowledge──▶ acknowledged ──meeting──▶ met ──review + intervention──▶ intervention
         ──follow-up──▶ followed_up ──close──▶ closed
    (an intervention that needs no follow-up, e.g. "none", may be closed straight after the review)

* **Flagged** = in the top ``EIS_FLAG_TOP_PERCENT`` % (default 5) of a scored date's list, the same
  rule the risk list marks.  :func:`raise_alerts` turns every flagged officer of the newest scored date
  who has no open alert into one, assigned to a supervisor of the officer's division (the one with the
  fewest open alerts) with a due date ``EIS_ALERT_DUE_DAYS`` (default 7) days ahead.
* Every step moves the due date on (the meeting within the due days, the intervention's follow-up date,
  a week to close after the follow-up).  :func:`escalate_overdue` hands an alert whose due date has
  passed to the next level (the assignee's ``reports_to``, else an admin), gives it
  ``EIS_ALERT_ESCALATION_DAYS`` (default 3) more days, and says so by e-mail.
* The review of an alert (``production.reviews.alert_id``, one per alert) is editable until the alert
  is closed; every change is kept in ``production.alert_events`` and, through the *audit* callback
  the web app passes, in ``webapp.access_audit``.
* E-mail goes to the assignee's address (``webapp.users.email``) through the SMTP server configured by
  ``EIS_WEBAPP_SMTP_HOST`` / ``_PORT`` / ``_USER`` / ``_PASSWORD`` / ``_STARTTLS`` / ``_SSL`` and
  ``EIS_WEBAPP_EMAIL_FROM`` (falling back to the ``EIS_ALERT_SMTP_*`` settings of the pipeline alerts),
  written as a pending row of ``production.alert_notifications`` in the step's transaction and sent
  after it commits (a process killed in between leaves it pending; the next score, sweep or web-app
  step sends it), with the outcome of each delivery in the same row.
  The e-mail names the officer id and the due date and links to the alert; it carries no score and no
  risk factor.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any, Callable

from psycopg.types.json import Jsonb

from eis_core import db
from eis_core.production.schema import ensure_production_schema

STEPS = ("open", "acknowledged", "met", "intervention", "followed_up", "closed")
STATUS_TEXT = {"open": "new — not yet acknowledged", "acknowledged": "acknowledged — meeting to hold",
               "met": "met — choose an intervention", "intervention": "intervention chosen — follow-up to do",
               "followed_up": "followed up — ready to close", "closed": "closed"}

Audit = Callable[[Any, str, str, dict], None] | None


class AlertError(ValueError):
    """A step that cannot be taken now; the message names the field or says what to do first."""


def _env_int(name: str, default: int) -> int:
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
    return _env_int("EIS_ALERT_DUE_DAYS", 7)


def escalation_days() -> int:
    return _env_int("EIS_ALERT_ESCALATION_DAYS", 3)


# ----------------------------------------------------------------------------------------- e-mail

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
        self.ids.append(conn.execute(
            "INSERT INTO production.alert_notifications (alert_id, recipient, subject, body, status) "
            "VALUES (%s, %s, %s, %s, 'pending') RETURNING notification_id",
            (alert_id, username, subject[:300], body)).fetchone()[0])

    def send(self) -> list[dict]:
        self.ids.clear()
        return deliver_pending()


def _address(conn, username: str | None) -> str | None:
    if not username or not conn.execute("SELECT to_regclass('webapp.users')").fetchone()[0]:
        return None
    r = conn.execute("SELECT email FROM webapp.users WHERE username = %s AND NOT disabled", (username,)).fetchone()
    return r[0] if r else None


def deliver_pending() -> list[dict]:
    """Deliver every pending notification, oldest first, one row (and one row lock) at a time; concurrent
    senders skip each other's rows.  Returns what happened to each."""
    from eis_core.orchestration.notify import send_email

    ensure_production_schema()
    out = []
    while True:
        with db.connect() as conn:
            row = conn.execute("SELECT notification_id, alert_id, recipient, subject, body "
                               "FROM production.alert_notifications WHERE status = 'pending' "
                               "ORDER BY notification_id LIMIT 1 FOR UPDATE SKIP LOCKED").fetchone()
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
            conn.execute("UPDATE production.alert_notifications SET address = %s, status = %s, at = now() "
                         "WHERE notification_id = %s", (address, status, nid))
        out.append({"alert_id": alert_id, "recipient": username, "address": address, "status": status})


def _link(alert_id: int) -> str:
    base = (os.environ.get("EIS_WEBAPP_URL") or "").rstrip("/")
    return f"{base}/alerts/{alert_id}" if base else f"/alerts/{alert_id} in the EIS web app"


def _mail_body(alert: dict, lead: str) -> str:
    return (f"{lead}\n\nOfficer: {alert['officer_id']} ({alert['division'] or 'no division'})\n"
            f"Flagged on the list of: {alert['as_of_date']}\nStatus: {STATUS_TEXT[alert['status']]}\n"
            f"Due: {alert['due_date']}\n\nOpen the alert: {_link(alert['alert_id'])}\n\n"
            "This e-mail carries no score and no risk factor: they are in the web app, behind its login.\n")


# ----------------------------------------------------------------------------------------- reading

def _rows(conn, query: str, params: Any = ()) -> list[dict]:
    cur = conn.execute(query, params)
    cols = [d.name for d in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]


def catalogue(conn, active_only: bool = True) -> list[dict]:
    return _rows(conn, "SELECT code, label, description, active, position, needs_follow_up, updated_at, updated_by "
                       "FROM production.intervention_catalogue WHERE active OR NOT %s ORDER BY position, code",
                 (active_only,))


def get_alert(conn, alert_id: int, lock: bool = False) -> dict | None:
    out = _rows(conn, "SELECT a.*, c.label AS intervention_label, c.needs_follow_up FROM production.alerts a "
                      "LEFT JOIN production.intervention_catalogue c ON c.code = a.intervention "
                      "WHERE a.alert_id = %s" + (" FOR UPDATE OF a" if lock else ""), (alert_id,))
    return out[0] if out else None


def alert_events(conn, alert_id: int) -> list[dict]:
    return _rows(conn, "SELECT event_id, at, actor, step, detail FROM production.alert_events WHERE alert_id = %s "
                       "ORDER BY event_id", (alert_id,))


def alert_notifications(conn, alert_id: int) -> list[dict]:
    return _rows(conn, "SELECT at, recipient, address, subject, status FROM production.alert_notifications "
                       "WHERE alert_id = %s ORDER BY notification_id", (alert_id,))


def alert_review(conn, alert_id: int) -> dict | None:
    out = _rows(conn, "SELECT review_id, as_of_date, reviewer, reviewed_at, agrees_with_score, factor_agreement, "
                      "dismissal_reason, intervention, intervention_date, notes, updated_at, updated_by "
                      "FROM production.reviews WHERE alert_id = %s", (alert_id,))
    return out[0] if out else None


def list_alerts(conn, division: str | None = None, status: str | None = None, assigned_to: str | None = None,
                limit: int = 500) -> list[dict]:
    """Alerts, open ones first (oldest due first); *division*: only alerts raised while the officer was
    in it and whose officer is in it now (the scope rule of docs/security.md)."""
    return _rows(conn, """
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
                 {"div": division, "status": status, "who": assigned_to, "n": limit})


def officer_alerts(conn, officer_id: str, scope: str | None = None) -> list[dict]:
    return _rows(conn, "SELECT a.alert_id, a.as_of_date, a.status, a.assigned_to, a.due_date, a.created_at, "
                       "a.acknowledged_at, a.meeting_date, a.intervention, c.label AS intervention_label, "
                       "a.intervention_date, a.follow_up_date, a.followed_up_at, a.closed_at, a.escalation_level, "
                       "(a.status <> 'closed' AND a.due_date < current_date) AS overdue "
                       "FROM production.alerts a LEFT JOIN production.intervention_catalogue c ON c.code = a.intervention "
                       "WHERE a.officer_id = %s AND (%s::text IS NULL OR a.division = %s) ORDER BY a.as_of_date DESC",
                 (officer_id, scope, scope))


# ----------------------------------------------------------------------------------------- writing

def _event(conn, alert_id: int, actor: str, step: str, detail: dict | None, audit: Audit, officer_id: str) -> None:
    conn.execute("INSERT INTO production.alert_events (alert_id, actor, step, detail) VALUES (%s, %s, %s, %s)",
                 (alert_id, actor, step, Jsonb(detail or {})))
    if audit is not None:
        audit(conn, f"alert_{step}", officer_id, {"alert_id": alert_id, **(detail or {})})


def _users_table(conn) -> bool:
    return bool(conn.execute("SELECT to_regclass('webapp.users')").fetchone()[0])


def assignee_for(conn, division: str | None) -> str | None:
    """The enabled supervisor of *division* with the fewest open alerts (then by name); None if none."""
    if division is None or not _users_table(conn):
        return None
    r = conn.execute(
        "SELECT u.username FROM webapp.users u WHERE u.role = 'supervisor' AND NOT u.disabled AND u.division = %s "
        "ORDER BY (SELECT count(*) FROM production.alerts a WHERE a.assigned_to = u.username AND a.status <> 'closed'), "
        "u.username LIMIT 1", (division,)).fetchone()
    return r[0] if r else None


def next_level(conn, username: str | None, division: str | None) -> str | None:
    """Who an overdue alert of *username* goes to: their ``reports_to`` when that user is enabled and may
    see the division (an admin, or a supervisor of it), else the first enabled admin; None when there is
    no one above (an admin without reports_to)."""
    if not _users_table(conn):
        return None
    if username:
        r = conn.execute("SELECT u.reports_to, u.role FROM webapp.users u WHERE u.username = %s", (username,)).fetchone()
        if r and r[0]:
            up = conn.execute("SELECT role, division FROM webapp.users WHERE username = %s AND NOT disabled",
                              (r[0],)).fetchone()
            if up and (up[0] == "admin" or (up[0] == "supervisor" and up[1] == division)):
                return r[0]
        if r and r[1] == "admin":
            return None
    a = conn.execute("SELECT username FROM webapp.users WHERE role = 'admin' AND NOT disabled "
                     "AND username IS DISTINCT FROM %s ORDER BY username LIMIT 1", (username,)).fetchone()
    return a[0] if a else None


def raise_alerts(as_of: date | None = None, by: str = "eis", audit: Audit = None, today: date | None = None,
                 outbox: Outbox | None = None) -> list[int]:
    """One alert for every flagged officer of *as_of* (default: the newest scored date) who has no open
    alert and none for that date yet; returns the new alert ids.  E-mails go to the assignees (sent
    here unless an *outbox* is given)."""
    ensure_production_schema()
    today = today or date.today()
    box = outbox or Outbox()
    new: list[int] = []
    with db.connect() as conn:
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('eis_raise_alerts'))")
        as_of = as_of or conn.execute("SELECT max(as_of_date) FROM production.predictions").fetchone()[0]
        if as_of is None:
            return []
        flagged = _rows(conn, "SELECT p.officer_id, p.division, p.score, p.rank_abs, p.rank_pct "
                              "FROM production.predictions p WHERE p.as_of_date = %s AND p.rank_pct <= %s "
                              "AND NOT EXISTS (SELECT 1 FROM production.alerts a WHERE a.officer_id = p.officer_id "
                              "                AND (a.status <> 'closed' OR a.as_of_date = p.as_of_date)) "
                              "ORDER BY p.rank_abs", (as_of, flag_share()))
        for f in flagged:
            who = assignee_for(conn, f["division"])
            due = today + timedelta(days=due_days())
            aid = conn.execute(
                "INSERT INTO production.alerts (officer_id, as_of_date, division, score, rank_abs, rank_pct, "
                "assigned_to, due_date, created_by) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING alert_id",
                (f["officer_id"], as_of, f["division"], f["score"], f["rank_abs"], f["rank_pct"], who, due,
                 by)).fetchone()[0]
            _event(conn, aid, by, "created", {"as_of_date": as_of.isoformat(), "rank": f["rank_abs"],
                                              "assigned_to": who, "due_date": due.isoformat()}, audit, f["officer_id"])
            alert = get_alert(conn, aid)
            box.add(conn, aid, who, f"EIS alert: officer {f['officer_id']} flagged, due {due}",
                    _mail_body(alert, f"Officer {f['officer_id']} is in the top {flag_share():.0%} of the risk list "
                                      f"of {as_of} and has been assigned to you."))
            new.append(aid)
    if outbox is None:
        box.send()
    return new


def escalate_overdue(by: str = "eis", audit: Audit = None, today: date | None = None,
                     outbox: Outbox | None = None) -> list[int]:
    """Hand every alert past its due date to the next level; returns the escalated alert ids."""
    ensure_production_schema()
    today = today or date.today()
    box = outbox or Outbox()
    done = []
    with db.connect() as conn:
        due = [r[0] for r in conn.execute("SELECT alert_id FROM production.alerts WHERE status <> 'closed' "
                                          "AND due_date < %s ORDER BY alert_id FOR UPDATE SKIP LOCKED", (today,))]
        for aid in due:
            a = get_alert(conn, aid)
            up = next_level(conn, a["assigned_to"], a["division"])
            new_due = today + timedelta(days=escalation_days())
            conn.execute("UPDATE production.alerts SET escalation_level = escalation_level + 1, "
                         "assigned_to = coalesce(%s, assigned_to), due_date = %s WHERE alert_id = %s",
                         (up, new_due, aid))
            _event(conn, aid, by, "escalated", {"from": a["assigned_to"], "to": up or a["assigned_to"],
                                                "level": a["escalation_level"] + 1, "was_due": a["due_date"].isoformat(),
                                                "due_date": new_due.isoformat()}, audit, a["officer_id"])
            a = get_alert(conn, aid)
            if up:
                lead = (f"The alert on officer {a['officer_id']} was not worked by its due date and has been "
                        f"escalated to you (level {a['escalation_level']}).")
            else:
                lead = (f"The alert on officer {a['officer_id']} is overdue (level {a['escalation_level']}); "
                        "there is no one above to escalate it to.")
            box.add(conn, aid, up or a["assigned_to"], f"EIS alert overdue: officer {a['officer_id']}, escalated",
                    _mail_body(a, lead))
            done.append(aid)
    if outbox is None:
        box.send()
    return done


def webapp_audit(username: str = "eis", client: str | None = None) -> Audit:
    """An *audit* callback writing to the web app's ``webapp.access_audit`` (as *username*) when that table
    exists, so that alerts raised outside the web app (the scoring, ``eis alerts sweep``) show in its audit
    viewer like the ones a page view raises; a no-op before the web app's schema exists."""

    def write(conn, action: str, target: str, detail: dict) -> None:
        if conn.execute("SELECT to_regclass('webapp.access_audit')").fetchone()[0]:
            from eis_core.webapp import store

            store.audit(username, action, target, detail, client, conn)
    return write


def after_scoring(as_of: date, progress: Callable[[str], Any] | None = None, by: str = "eis score") -> list[int]:
    """The end of a successful ``score_day`` (eis_core.production.scoring): the flagged officers of the
    newest scored date (which is *as_of* unless an older date was re-scored) become alerts at once, not when
    somebody first opens the web app.  A failure here is reported and never undoes the scoring."""
    try:
        new = raise_alerts(by=by, audit=webapp_audit(by))
    except Exception as exc:  # noqa: BLE001 - the day is scored; the next sweep raises the alerts
        import logging

        msg = (f"{as_of}: alerts not raised ({type(exc).__name__}: {str(exc)[:200]}); "
               "`eis alerts sweep` raises them")
        logging.getLogger("eis.alerts").warning(msg)
        if progress:
            progress(msg)
        return []
    if progress and new:
        progress(f"{as_of}: {len(new)} new alert{'s' if len(new) != 1 else ''} raised for the flagged officers")
    return new


def sweep(by: str = "eis", audit: Audit = None, today: date | None = None) -> dict:
    """Raise the newest date's alerts and escalate the overdue ones (the web app runs this when the risk
    list or the alerts page is opened; a scheduler can call it too)."""
    box = Outbox()
    raised = raise_alerts(by=by, audit=audit, today=today, outbox=box)
    escalated = escalate_overdue(by=by, audit=audit, today=today, outbox=box)
    sent = box.send()
    return {"raised": raised, "escalated": escalated, "notifications": sent}


def _load(conn, alert_id: int, allowed: tuple[str, ...], what: str) -> dict:
    a = get_alert(conn, alert_id, lock=True)
    if a is None:
        raise AlertError(f"alert: no alert {alert_id}")
    if a["status"] not in allowed:
        raise AlertError(f"{what}: not possible while the alert is {STATUS_TEXT[a['status']]}")
    return a


def _parse_date(v: Any, name: str, required: bool = True) -> date | None:
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


def _text(v: Any, name: str, limit: int = 4000, required: bool = False) -> str | None:
    s = (str(v) if v is not None else "").strip() or None
    if required and not s:
        raise AlertError(f"{name}: required")
    if s and len(s) > limit:
        raise AlertError(f"{name}: at most {limit} characters")
    return s


def acknowledge(alert_id: int, actor: str, audit: Audit = None) -> dict:
    with db.connect() as conn:
        a = _load(conn, alert_id, ("open",), "acknowledge")
        conn.execute("UPDATE production.alerts SET status = 'acknowledged', acknowledged_at = now(), "
                     "acknowledged_by = %s WHERE alert_id = %s", (actor, alert_id))
        _event(conn, alert_id, actor, "acknowledged", None, audit, a["officer_id"])
        return get_alert(conn, alert_id)


def record_meeting(alert_id: int, actor: str, meeting_date: Any, notes: Any, audit: Audit = None,
                   today: date | None = None) -> dict:
    today = today or date.today()
    with db.connect() as conn:
        a = _load(conn, alert_id, ("acknowledged", "met"), "meeting")
        d = _parse_date(meeting_date, "meeting_date")
        if d > today:
            raise AlertError(f"meeting_date: {d} is in the future; record the meeting once it has taken place")
        if d < a["as_of_date"]:
            raise AlertError(f"meeting_date: {d} is before the flag ({a['as_of_date']})")
        n = _text(notes, "meeting_notes")
        due = today + timedelta(days=due_days())
        conn.execute("UPDATE production.alerts SET status = 'met', meeting_date = %s, meeting_notes = %s, "
                     "due_date = %s WHERE alert_id = %s", (d, n, due, alert_id))
        _event(conn, alert_id, actor, "meeting", {"meeting_date": d.isoformat(), "notes": n,
                                                  "edited": a["status"] == "met"}, audit, a["officer_id"])
        return get_alert(conn, alert_id)


def save_review(alert_id: int, actor: str, *, agrees: bool, factor_agreement: dict[str, bool],
                intervention: str, intervention_date: Any, follow_up_date: Any, dismissal_reason: str | None,
                notes: str | None, audit: Audit = None, today: date | None = None) -> dict:
    """The alert's review and its intervention: created once, edited in place until the alert closes."""
    today = today or date.today()
    with db.connect() as conn:
        a = _load(conn, alert_id, ("met", "intervention", "followed_up"), "review")
        cat = {c["code"]: c for c in catalogue(conn, active_only=False)}
        item = cat.get(intervention)
        if item is None or (not item["active"] and intervention != a["intervention"]):
            active = ", ".join(c for c, v in cat.items() if v["active"])
            raise AlertError(f"intervention: choose one of the catalogue ({active})")
        if not agrees and not (dismissal_reason or "").strip():
            raise AlertError("dismissal_reason: required when you do not agree with the score")
        idate = _parse_date(intervention_date, "intervention_date", required=intervention != "none")
        if intervention == "none":
            idate = None
        elif idate < a["as_of_date"]:
            raise AlertError(f"intervention_date: cannot be before the flag ({a['as_of_date']})")
        fdate = _parse_date(follow_up_date, "follow_up_date", required=bool(item["needs_follow_up"]))
        if fdate is not None and fdate < (idate or a["as_of_date"]):
            raise AlertError("follow_up_date: cannot be before the intervention")
        factors = [r[0] for r in conn.execute("SELECT feature FROM production.risk_factors WHERE officer_id = %s "
                                              "AND as_of_date = %s ORDER BY position", (a["officer_id"], a["as_of_date"]))]
        missing = [f for f in factors if f not in factor_agreement]
        if missing or not factors:
            raise AlertError("factor_agreement: say whether you agree with every risk factor")
        fa = Jsonb({f: bool(factor_agreement[f]) for f in factors})
        reason = _text(dismissal_reason, "dismissal_reason", 2000) if not agrees else None
        n = _text(notes, "notes")
        old = alert_review(conn, alert_id)
        if old is None:
            rid = conn.execute(
                "INSERT INTO production.reviews (as_of_date, officer_id, reviewer, agrees_with_score, factor_agreement, "
                "dismissal_reason, intervention, intervention_date, notes, alert_id) "
                "VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s) RETURNING review_id",
                (a["as_of_date"], a["officer_id"], actor, agrees, fa, reason, intervention, idate, n,
                 alert_id)).fetchone()[0]
        else:
            rid = old["review_id"]
            conn.execute("UPDATE production.reviews SET agrees_with_score = %s, factor_agreement = %s, "
                         "dismissal_reason = %s, intervention = %s, intervention_date = %s, notes = %s, "
                         "updated_at = now(), updated_by = %s WHERE review_id = %s",
                         (agrees, fa, reason, intervention, idate, n, actor, rid))
        status = "followed_up" if a["status"] == "followed_up" else "intervention"
        due = fdate or today + timedelta(days=due_days())
        conn.execute("UPDATE production.alerts SET status = %s, intervention = %s, intervention_date = %s, "
                     "follow_up_date = %s, due_date = %s WHERE alert_id = %s",
                     (status, intervention, idate, fdate, due if status == "intervention" else a["due_date"], alert_id))
        detail = {"review_id": rid, "intervention": intervention,
                  "intervention_date": idate.isoformat() if idate else None,
                  "follow_up_date": fdate.isoformat() if fdate else None, "agrees_with_score": agrees}
        if old is not None:
            detail["previous"] = {"intervention": old["intervention"], "agrees_with_score": old["agrees_with_score"],
                                  "intervention_date": old["intervention_date"].isoformat()
                                  if old["intervention_date"] else None}
        _event(conn, alert_id, actor, "review_edited" if old else "intervention", detail, audit, a["officer_id"])
        return get_alert(conn, alert_id)


def record_follow_up(alert_id: int, actor: str, notes: Any, audit: Audit = None, today: date | None = None) -> dict:
    today = today or date.today()
    with db.connect() as conn:
        a = _load(conn, alert_id, ("intervention",), "follow_up")
        n = _text(notes, "follow_up_notes", required=True)
        conn.execute("UPDATE production.alerts SET status = 'followed_up', followed_up_at = now(), "
                     "follow_up_notes = %s, due_date = %s WHERE alert_id = %s",
                     (n, today + timedelta(days=due_days()), alert_id))
        _event(conn, alert_id, actor, "follow_up", {"notes": n}, audit, a["officer_id"])
        return get_alert(conn, alert_id)


def close(alert_id: int, actor: str, notes: Any, audit: Audit = None) -> dict:
    with db.connect() as conn:
        a = _load(conn, alert_id, ("intervention", "followed_up"), "close")
        if a["status"] == "intervention" and a["needs_follow_up"]:
            raise AlertError(f"close: record the follow-up of the {a['intervention_label'].lower()} first "
                             f"(due {a['follow_up_date']})")
        n = _text(notes, "close_notes")
        conn.execute("UPDATE production.alerts SET status = 'closed', closed_at = now(), closed_by = %s, "
                     "close_notes = %s WHERE alert_id = %s", (actor, n, alert_id))
        _event(conn, alert_id, actor, "closed", {"notes": n}, audit, a["officer_id"])
        return get_alert(conn, alert_id)


def reassign(alert_id: int, actor: str, username: str, audit: Audit = None) -> dict:
    with db.connect() as conn:
        a = _load(conn, alert_id, STEPS[:-1], "assign")
        r = conn.execute("SELECT role, division FROM webapp.users WHERE username = %s AND NOT disabled",
                         (username,)).fetchone()
        if r is None or not (r[0] == "admin" or (r[0] == "supervisor" and r[1] == a["division"])):
            raise AlertError("assigned_to: an enabled admin or a supervisor of the officer's division")
        conn.execute("UPDATE production.alerts SET assigned_to = %s WHERE alert_id = %s", (username, alert_id))
        _event(conn, alert_id, actor, "assigned", {"from": a["assigned_to"], "to": username}, audit, a["officer_id"])
        return get_alert(conn, alert_id)


def save_catalogue_item(code: str, label: str, description: str | None, active: bool, needs_follow_up: bool,
                        position: int, by: str, audit: Audit = None) -> None:
    """Add or change one intervention of the catalogue (codes are never deleted: reviews name them)."""
    import re

    ensure_production_schema()
    code = (code or "").strip().lower()
    if not re.match(r"^[a-z][a-z0-9_]{1,40}$", code):
        raise AlertError("code: 2-41 characters, lower-case letters, digits and '_', starting with a letter")
    label = _text(label, "label", 80, required=True)
    description = _text(description, "description", 300)
    if code == "none" and (not active or needs_follow_up):
        raise AlertError("code: 'none' stays active and needs no follow-up")
    with db.connect() as conn:
        old = _rows(conn, "SELECT label, description, active, needs_follow_up, position FROM "
                          "production.intervention_catalogue WHERE code = %s", (code,))
        conn.execute("INSERT INTO production.intervention_catalogue (code, label, description, active, position, "
                     "needs_follow_up, updated_by) VALUES (%s,%s,%s,%s,%s,%s,%s) ON CONFLICT (code) DO UPDATE SET "
                     "label = EXCLUDED.label, description = EXCLUDED.description, active = EXCLUDED.active, "
                     "position = EXCLUDED.position, needs_follow_up = EXCLUDED.needs_follow_up, updated_at = now(), "
                     "updated_by = EXCLUDED.updated_by", (code, label, description, active, position, needs_follow_up, by))
        if audit is not None:
            audit(conn, "intervention_catalogue", code, {"label": label, "active": active,
                                                         "needs_follow_up": needs_follow_up,
                                                         "previous": old[0] if old else None})
