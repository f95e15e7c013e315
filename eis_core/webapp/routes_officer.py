"""The officer page (score and rank history, risk factors next to the division, events, reviews),\nits JSON, the review form, and the dispatch advisor's JSON."""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from eis_core import db
from eis_core.production import alerts as alerts_mod
from eis_core.webapp import queries as q
from eis_core.webapp import store
from eis_core.webapp.charts import officer_history_chart
from eis_core.webapp.common import Denied, check_csrf, parse_date, render, user_of
from eis_core.webapp.security import client_of

router = APIRouter()


def officer_context(request: Request, officer_id: str, date_s: str | None, audit_view: bool) -> dict:
    user = user_of(request)
    officer_id = officer_id.strip()
    scope = user.division if user.is_supervisor else None
    with db.connect() as conn:
        as_of = parse_date(date_s) or q.latest_officer_date(conn, officer_id)
        pred = q.prediction(conn, officer_id, as_of) if as_of else None
        if pred is None:
            raise HTTPException(404, f"officer {officer_id!r} has no score"
                                     + (f" on {as_of.isoformat()}" if as_of else ""))
        if scope is not None:
            # the scope rule (docs/security.md): the officer is in the supervisor's division now (on
            # their latest scored date) *and* was on the requested date; anything else is refused
            # without saying where the officer is
            current = q.current_division(conn, officer_id)
            if current != scope or pred["division"] != scope:
                when = "now" if current != scope else f"on {as_of.isoformat()}"
                raise Denied(f"officer {officer_id} is not in your division {when}; "
                             f"you supervise {user.division}", "denied_officer", officer_id,
                             {"as_of_date": as_of.isoformat(), "division": pred["division"],
                              "current_division": current})
        factors = q.risk_factors(conn, officer_id, as_of)
        peers = q.division_peers(conn, as_of, {f["feature"] for f in factors},
                                 {pred["division"]} if pred["division"] else set())
        from eis_core.production.wording import factor_groups

        worded = q.worded_factors(factors, pred["division"], peers)
        peer_rows = []
        for w in worded:
            vals = peers.get((pred["division"], w["primary"]))
            if vals and w["value"] is not None:
                n = len(vals)
                peer_rows.append({"text": w["text"], "value": w["value"], "median": vals[n // 2],
                                  "p90": vals[min(n - 1, int(0.9 * n))], "peers": n,
                                  "below": sum(1 for v in vals if v < w["value"]) / n})
        ctx = {"officer_id": officer_id, "as_of": as_of, "pred": pred,
               "history": q.officer_history(conn, officer_id, scope=scope),
               "factors": factors, "worded": worded, "peer_rows": peer_rows,
               "factor_groups": [g.features for g in factor_groups(factors)],
               "flagged": pred["rank_pct"] <= alerts_mod.flag_share(),
               "alerts": alerts_mod.officer_alerts(conn, officer_id, scope),
               "timeline": q.officer_timeline(conn, officer_id, as_of + timedelta(days=1),
                                              scope),
               "changes": q.rank_changes(conn, officer_id, as_of),
               "reviews": q.reviews(conn, officer_id, scope=scope),
               "events": q.events_summary(conn, officer_id, as_of)}
        if audit_view:
            store.audit(user.username, "view_officer", officer_id, {"as_of_date": as_of.isoformat()},
                        client_of(request), conn)
    return ctx

def officer_render(request: Request, ctx: dict, *, errors: list[str] | None = None, form: dict | None = None,
                   status: int = 200) -> HTMLResponse:
    ctx["chart_history"] = officer_history_chart(ctx["history"])
    ctx["errors"] = errors or []
    ctx["form"] = form or {}
    ctx["can_review"] = user_of(request).can_review()
    with db.connect() as conn:
        ctx["catalogue"] = alerts_mod.catalogue(conn)
    ctx["saved"] = request.query_params.get("saved")
    return render(request, "officer.html", ctx, status)

@router.get("/officers/{officer_id}", response_class=HTMLResponse)
def officer_page(request: Request, officer_id: str, date: str | None = None):
    return officer_render(request, officer_context(request, officer_id, date, audit_view=True))

@router.get("/api/officers/{officer_id}")
def api_officer(request: Request, officer_id: str, date: str | None = None):
    ctx = officer_context(request, officer_id, date, audit_view=True)
    return JSONResponse(json.loads(json.dumps(ctx, default=str)))

@router.get("/api/dispatch/suggest")
def api_dispatch_suggest(request: Request, call_id: str, top: int = 10):
    """Officers on duty and available in the call's division, lowest predicted risk first (issue 9)."""
    from eis_core.dispatch.advisor import SuggestError, suggest

    user = user_of(request)
    call_id = call_id.strip()
    with db.connect() as conn:
        row = conn.execute("SELECT division FROM staging.stg_calls_for_service WHERE call_id = %s",
                           (call_id,)).fetchone() if q.table_exists(conn, "staging.stg_calls_for_service") else None
        if row is None:
            raise HTTPException(404, f"call_id {call_id!r} is not in calls_for_service")
        if not user.sees_division(row[0]):
            raise Denied(f"call {call_id} is not in your division; you supervise {user.division}",
                         "denied_dispatch", call_id, {"division": row[0]})
        store.audit(user.username, "dispatch_suggest", call_id, {"division": row[0]}, client_of(request), conn)
    try:
        ranked = suggest(call_id)
    except SuggestError as exc:
        raise HTTPException(404, str(exc)) from None
    return JSONResponse(json.loads(json.dumps({"call_id": call_id, "division": row[0],
                                               "officers": ranked[:max(top, 0)] if top else ranked},
                                              default=str)))

@router.post("/officers/{officer_id}/reviews")
async def review_submit(request: Request, officer_id: str):
    form = await request.form()
    check_csrf(request, form)
    user = user_of(request)
    if not user.can_review():
        raise HTTPException(403, f"your role ({user.role}) cannot record reviews")
    as_of = parse_date(str(form.get("as_of_date") or ""), "as_of_date")
    if as_of is None:
        raise HTTPException(400, "as_of_date: missing")
    fdict = {k: str(v) for k, v in form.items()}

    def work():
        ctx = officer_context(request, officer_id, as_of.isoformat(), audit_view=False)
        with db.connect() as conn:
            codes = [c["code"] for c in alerts_mod.catalogue(conn)]
        values, errors = q.validate_review(fdict, [f["feature"] for f in ctx["factors"]], as_of, codes,
                                           ctx["factor_groups"])
        if errors:
            return ctx, errors, None
        from eis_core.production.reviews import ReviewError, add_review

        try:  # the production module's own checks (and the table's constraints) have the last word
            rid = add_review(ctx["officer_id"], as_of, user.username, values["agrees"],
                             values["factor_agreement"], values["intervention"], values["intervention_date"],
                             values["dismissal_reason"], values["notes"])
        except ReviewError as e:
            return ctx, [str(e)], None
        store.audit(user.username, "review", ctx["officer_id"],
                    {"as_of_date": as_of.isoformat(), "review_id": rid, "intervention": values["intervention"]},
                    client_of(request))
        return ctx, [], rid

    ctx, errors, rid = await run_in_threadpool(work)
    if errors:
        return officer_render(request, ctx, errors=errors, form=fdict, status=400)
    return RedirectResponse(f"/officers/{ctx['officer_id']}?" + urlencode({"date": as_of.isoformat(),
                                                                          "saved": rid}) + "#reviews",
                            status_code=303)
