"""The alerts of the intervention workflow (list, one alert, its steps) and the admins' intervention\ncatalogue."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from eis_core import db, departments
from eis_core.production import alerts as alerts_mod
from eis_core.webapp import queries as q
from eis_core.webapp import store
from eis_core.webapp.common import Denied, check_csrf, clean, render, require_role, user_of
from eis_core.webapp.routes_risk import sweep_alerts
from eis_core.webapp.security import client_of

router = APIRouter()


def auditor(request: Request, user: store.User):
    client = client_of(request)
    return lambda conn, action, target, detail: store.audit(user.username, action, target, detail, client, conn)


def alert_in_scope(request: Request, conn, alert_id: str) -> tuple[store.User, dict]:
    """The alert, if the user may see it: analysts and admins all; a supervisor only an alert raised
    while the officer was in their division, of an officer who is in it now (docs/security.md)."""
    user = user_of(request)
    try:
        aid = int(alert_id)
    except ValueError:
        raise HTTPException(404, "alert: not an alert number") from None
    a = alerts_mod.get_alert(conn, aid)
    if a is None:
        raise HTTPException(404, f"alert: no alert {aid}")
    if user.is_supervisor and (
        a["division"] != user.division or q.current_division(conn, a["officer_id"]) != user.division
    ):
        raise Denied(
            f"alert {aid} is not in your division; you supervise {user.division}",
            "denied_alert",
            a["officer_id"],
            {"alert_id": aid, "division": a["division"]},
        )
    return user, a


@router.get("/alerts", response_class=HTMLResponse)
def alerts_page(request: Request, status: str | None = None, mine: str | None = None):
    user = user_of(request)
    status = clean(status) or "open"
    if status not in ("open", "overdue", "all", *alerts_mod.STEPS):
        raise HTTPException(400, "status: open, overdue, all or a step")
    sweep_alerts(request, force=True)  # the workflow's own page: always current
    with db.connect() as conn:
        rows = alerts_mod.list_alerts(
            conn,
            user.division if user.is_supervisor else None,
            None if status == "all" else status,
            user.username if mine else None,
        )
        store.audit(
            user.username, "view_alerts", "alerts", {"status": status, "rows": len(rows)}, client_of(request), conn
        )
    return render(
        request,
        "alerts.html",
        {
            "rows": rows,
            "status": status,
            "mine": bool(mine),
            "status_text": alerts_mod.STATUS_TEXT,
            "today": date.today(),
        },
    )


def alert_render(
    request: Request,
    alert_id: str,
    *,
    errors: list[str] | None = None,
    form: dict | None = None,
    status: int = 200,
    audit_view: bool = True,
) -> HTMLResponse:
    with db.connect() as conn:
        user, a = alert_in_scope(request, conn, alert_id)
        review = alerts_mod.alert_review(conn, a["alert_id"])
        factors = q.risk_factors(conn, a["officer_id"], a["as_of_date"])
        peers = q.division_peers(
            conn, a["as_of_date"], {f["feature"] for f in factors}, {a["division"]} if a["division"] else set()
        )
        ctx = {
            "alert": a,
            "review": review,
            "events": alerts_mod.alert_events(conn, a["alert_id"]),
            "notifications": alerts_mod.alert_notifications(conn, a["alert_id"]),
            "catalogue": alerts_mod.catalogue(conn),
            "worded": q.worded_factors(factors, a["division"], peers),
            "status_text": alerts_mod.STATUS_TEXT,
            "today": date.today(),
            "errors": errors or [],
            "form": form or {},
            "can_act": user.is_admin or user.is_supervisor,
            "assignees": [
                u
                for u in store.list_users(departments.current())
                if not u["disabled"]
                and (u["role"] == "admin" or (u["role"] == "supervisor" and u["division"] == a["division"]))
            ]
            if user.is_admin
            else [],
        }
        if audit_view:
            store.audit(
                user.username, "view_alert", a["officer_id"], {"alert_id": a["alert_id"]}, client_of(request), conn
            )
    return render(request, "alert.html", ctx, status)


@router.get("/alerts/{alert_id}", response_class=HTMLResponse)
def alert_page(request: Request, alert_id: str):
    return alert_render(request, alert_id)


@router.post("/alerts/{alert_id}/{step}")
async def alert_step(request: Request, alert_id: str, step: str):
    """acknowledge, meeting, review (review + intervention + follow-up date; editable until closed),
    follow_up, close, assign (admins)."""
    form = await request.form()
    check_csrf(request, form)
    user = user_of(request)
    if step not in ("acknowledge", "meeting", "review", "follow_up", "close", "assign"):
        raise HTTPException(404, "step: acknowledge, meeting, review, follow_up, close or assign")
    if not (user.is_admin or user.is_supervisor) or (step == "assign" and not user.is_admin):
        raise HTTPException(403, f"your role ({user.role}) cannot work alerts")
    fdict = {k: str(v) for k, v in form.items()}

    def work():
        with db.connect() as conn:
            _, a = alert_in_scope(request, conn, alert_id)
        aid, audit = a["alert_id"], auditor(request, user)
        f = fdict
        if step == "acknowledge":
            alerts_mod.acknowledge(aid, user.username, audit)
        elif step == "meeting":
            alerts_mod.record_meeting(aid, user.username, f.get("meeting_date"), f.get("meeting_notes"), audit)
        elif step == "review":
            with db.connect() as conn:
                factors = q.risk_factors(conn, a["officer_id"], a["as_of_date"])
                codes = [c["code"] for c in alerts_mod.catalogue(conn, active_only=False)]
            from eis_core.production.wording import factor_groups

            values, errors = q.validate_review(
                f, [x["feature"] for x in factors], a["as_of_date"], codes, [g.features for g in factor_groups(factors)]
            )
            errors = [e for e in errors if not e.startswith("intervention_date")]  # checked below
            if errors:
                raise alerts_mod.AlertError("; ".join(errors))
            alerts_mod.save_review(
                aid,
                user.username,
                agrees=values["agrees"],
                factor_agreement=values["factor_agreement"],
                intervention=values["intervention"],
                intervention_date=f.get("intervention_date"),
                follow_up_date=f.get("follow_up_date"),
                dismissal_reason=values["dismissal_reason"],
                notes=values["notes"],
                audit=audit,
            )
        elif step == "follow_up":
            alerts_mod.record_follow_up(aid, user.username, f.get("follow_up_notes"), audit)
        elif step == "close":
            alerts_mod.close(aid, user.username, f.get("close_notes"), audit)
        else:
            alerts_mod.reassign(aid, user.username, (f.get("assigned_to") or "").strip().lower(), audit)
        return aid

    try:
        aid = await run_in_threadpool(work)
    except alerts_mod.AlertError as e:
        return alert_render(request, alert_id, errors=str(e).split("; "), form=fdict, status=400, audit_view=False)
    return RedirectResponse(f"/alerts/{aid}?done={step}", status_code=303)


@router.get("/admin/interventions", response_class=HTMLResponse)
def interventions_page(request: Request):
    require_role(request, "admin")
    with db.connect() as conn:
        items = alerts_mod.catalogue(conn, active_only=False)
    return render(request, "interventions.html", {"items": items, "error": None})


@router.post("/admin/interventions")
async def interventions_save(request: Request):
    form = await request.form()
    check_csrf(request, form)
    user = require_role(request, "admin")
    try:
        position = int(str(form.get("position") or 50))
    except ValueError:
        position = -1
    try:
        if not 0 <= position <= 1000:
            raise alerts_mod.AlertError("position: a whole number from 0 to 1000")
        await run_in_threadpool(
            alerts_mod.save_catalogue_item,
            str(form.get("code") or ""),
            str(form.get("label") or ""),
            str(form.get("description") or ""),
            form.get("active") == "yes",
            form.get("needs_follow_up") == "yes",
            position,
            user.username,
            auditor(request, user),
        )
    except alerts_mod.AlertError as e:
        with db.connect() as conn:
            items = alerts_mod.catalogue(conn, active_only=False)
        return render(request, "interventions.html", {"items": items, "error": str(e)}, 400)
    return RedirectResponse("/admin/interventions", status_code=303)
