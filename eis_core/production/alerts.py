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

Modules: :mod:`~eis_core.production.alert_base` (steps, settings, reading), :mod:`~eis_core.production.alert_mail`
(e-mail), :mod:`~eis_core.production.alert_steps` (the supervisor's steps); here raising, escalating and the
sweep.  Every public name of those modules is importable from here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from eis_core import db
from eis_core.production.alert_base import (  # noqa: F401 (re-exported)
    STATUS_TEXT,
    STEPS,
    AlertError,
    Audit,
    alert_events,
    alert_notifications,
    alert_review,
    catalogue,
    department_user,
    department_users,
    due_days,
    env_int,
    escalation_days,
    existing_alert,
    flag_share,
    get_alert,
    list_alerts,
    officer_alerts,
    record_event,
    rows_of,
)
from eis_core.production.alert_mail import (  # noqa: F401
    Outbox,
    alert_link,
    deliver_pending,
    mail_body,
    mail_settings,
    smtp_configured,
)
from eis_core.production.alert_steps import (  # noqa: F401 (re-exported)
    acknowledge,
    close,
    reassign,
    record_follow_up,
    record_meeting,
    save_catalogue_item,
    save_review,
)
from eis_core.production.schema import ensure_production_schema


def assignee_for(conn, division: str | None) -> str | None:
    """The enabled supervisor of *division* (in the current department) with the fewest open alerts (then
    by name); None if none."""
    if division is None:
        return None
    names = [u["username"] for u in department_users("role = 'supervisor' AND division = %s", (division,))]
    if not names:
        return None
    r = conn.execute(
        "SELECT u FROM unnest(%s::text[]) u ORDER BY (SELECT count(*) FROM production.alerts a "
        "WHERE a.assigned_to = u AND a.status <> 'closed'), u LIMIT 1",
        (names,),
    ).fetchone()
    return r[0] if r else None


def next_level(conn, username: str | None, division: str | None) -> str | None:
    """Who an overdue alert of *username* goes to: their ``reports_to`` when that user is enabled and may
    see the division (an admin, or a supervisor of it), else the first enabled admin; None when there is
    no one above (an admin without reports_to).  Only users of the current department are considered."""
    if username:
        r = department_user(username, enabled_only=False)
        if r and r["reports_to"]:
            up = department_user(r["reports_to"])
            if up and (up["role"] == "admin" or (up["role"] == "supervisor" and up["division"] == division)):
                return r["reports_to"]
        if r and r["role"] == "admin":
            return None
    a = department_users("role = 'admin' AND username IS DISTINCT FROM %s", (username,))
    return a[0]["username"] if a else None


def raise_alerts(
    as_of: date | None = None,
    by: str = "eis",
    audit: Audit = None,
    today: date | None = None,
    outbox: Outbox | None = None,
) -> list[int]:
    """One alert for every flagged officer of *as_of* (default: the newest scored date) who has no open
    alert and none for that date yet; returns the new alert ids.  E-mails go to the assignees (sent
    here unless an *outbox* is given)."""
    ensure_production_schema()
    today = today or date.today()
    box = outbox or Outbox()
    new: list[int] = []
    with db.connect() as conn:
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('eis_raise_alerts'))")
        as_of = as_of or db.scalar(conn, "SELECT max(as_of_date) FROM production.predictions")
        if as_of is None:
            return []
        flagged = rows_of(
            conn,
            "SELECT p.officer_id, p.division, p.score, p.rank_abs, p.rank_pct "
            "FROM production.predictions p WHERE p.as_of_date = %s AND p.rank_pct <= %s "
            "AND NOT EXISTS (SELECT 1 FROM production.alerts a WHERE a.officer_id = p.officer_id "
            "                AND (a.status <> 'closed' OR a.as_of_date = p.as_of_date)) "
            "ORDER BY p.rank_abs",
            (as_of, flag_share()),
        )
        for f in flagged:
            who = assignee_for(conn, f["division"])
            due = today + timedelta(days=due_days())
            aid = db.scalar(
                conn,
                "INSERT INTO production.alerts (officer_id, as_of_date, division, score, rank_abs, rank_pct, "
                "assigned_to, due_date, created_by) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING alert_id",
                (f["officer_id"], as_of, f["division"], f["score"], f["rank_abs"], f["rank_pct"], who, due, by),
            )
            record_event(
                conn,
                aid,
                by,
                "created",
                {
                    "as_of_date": as_of.isoformat(),
                    "rank": f["rank_abs"],
                    "assigned_to": who,
                    "due_date": due.isoformat(),
                },
                audit,
                f["officer_id"],
            )
            alert = existing_alert(conn, aid)
            box.add(
                conn,
                aid,
                who,
                f"EIS alert: officer {f['officer_id']} flagged, due {due}",
                mail_body(
                    alert,
                    f"Officer {f['officer_id']} is in the top {flag_share():.0%} of the risk list "
                    f"of {as_of} and has been assigned to you.",
                ),
            )
            new.append(aid)
    if outbox is None:
        box.send()
    return new


def escalate_overdue(
    by: str = "eis", audit: Audit = None, today: date | None = None, outbox: Outbox | None = None
) -> list[int]:
    """Hand every alert past its due date to the next level; returns the escalated alert ids."""
    ensure_production_schema()
    today = today or date.today()
    box = outbox or Outbox()
    done = []
    with db.connect() as conn:
        due = [
            r[0]
            for r in conn.execute(
                "SELECT alert_id FROM production.alerts WHERE status <> 'closed' "
                "AND due_date < %s ORDER BY alert_id FOR UPDATE SKIP LOCKED",
                (today,),
            )
        ]
        for aid in due:
            a = existing_alert(conn, aid)
            up = next_level(conn, a["assigned_to"], a["division"])
            new_due = today + timedelta(days=escalation_days())
            conn.execute(
                "UPDATE production.alerts SET escalation_level = escalation_level + 1, "
                "assigned_to = coalesce(%s, assigned_to), due_date = %s WHERE alert_id = %s",
                (up, new_due, aid),
            )
            record_event(
                conn,
                aid,
                by,
                "escalated",
                {
                    "from": a["assigned_to"],
                    "to": up or a["assigned_to"],
                    "level": a["escalation_level"] + 1,
                    "was_due": a["due_date"].isoformat(),
                    "due_date": new_due.isoformat(),
                },
                audit,
                a["officer_id"],
            )
            a = existing_alert(conn, aid)
            if up:
                lead = (
                    f"The alert on officer {a['officer_id']} was not worked by its due date and has been "
                    f"escalated to you (level {a['escalation_level']})."
                )
            else:
                lead = (
                    f"The alert on officer {a['officer_id']} is overdue (level {a['escalation_level']}); "
                    "there is no one above to escalate it to."
                )
            box.add(
                conn,
                aid,
                up or a["assigned_to"],
                f"EIS alert overdue: officer {a['officer_id']}, escalated",
                mail_body(a, lead),
            )
            done.append(aid)
    if outbox is None:
        box.send()
    return done


def webapp_audit(username: str = "eis", client: str | None = None) -> Audit:
    """An *audit* callback writing to the web app's ``webapp.access_audit`` (as *username*) when that table
    exists, so that alerts raised outside the web app (the scoring, ``eis alerts sweep``) show in its audit
    viewer like the ones a page view raises; a no-op before the web app's schema exists."""

    def write(conn, action: str, target: str, detail: dict) -> None:
        if db.scalar(conn, "SELECT to_regclass('webapp.access_audit')"):
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

        msg = f"{as_of}: alerts not raised ({type(exc).__name__}: {str(exc)[:200]}); `eis alerts sweep` raises them"
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
