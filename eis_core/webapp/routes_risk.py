"""The risk list of a scored date (page, CSV export, JSON), its filters and the throttled alert sweep."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from eis_core import db
from eis_core.production import alerts as alerts_mod
from eis_core.webapp import queries as q
from eis_core.webapp import store
from eis_core.webapp.common import PER_PAGE, Denied, clean, csv_safe, parse_date, render, settings_of, user_of
from eis_core.webapp.security import client_of

router = APIRouter()


def sweep_alerts(request: Request, newest: date | None = None, force: bool = False) -> None:
    """Raise the newest date's alerts and escalate overdue ones (eis_core.production.alerts.sweep).
    The scoring raises a day's alerts itself and ``eis alerts sweep`` escalates on a schedule; a page
    view is the fallback: the alerts page sweeps on every view, the risk list at most once every
    ``settings.sweep_seconds`` (EIS_WEBAPP_SWEEP_SECONDS, default 60) and whenever a newer date has
    been scored since.  A failure here is logged and never breaks the page."""
    import time

    now = time.monotonic()
    from eis_core import departments

    settings = settings_of(request)
    swept = request.app.state.swept.setdefault(departments.current(), {"at": None, "as_of": None})
    if (
        not force
        and swept["at"] is not None
        and newest == swept["as_of"]
        and now - swept["at"] < settings.sweep_seconds
    ):
        return
    swept.update(at=now, as_of=newest)
    from eis_core.production.alerts import sweep

    client = client_of(request)
    try:
        sweep(
            by="eis",
            audit=lambda conn, action, target, detail: store.audit("eis", action, target, detail, client, conn),
        )
    except Exception as exc:  # noqa: BLE001
        import logging

        logging.getLogger("eis.webapp").warning("alert sweep failed: %s: %s", type(exc).__name__, exc)


def risk_context(
    request: Request,
    conn,
    date_s: str | None,
    division: str | None,
    unit: str | None,
    show: str | None = None,
    sort: str | None = None,
    sweep: bool = False,
) -> dict:
    """The whole (filtered, sorted) list of a date, one light row per officer, without risk factors
    (:func:`word_rows` adds them to the rows shown); *sweep*: run the throttled alert sweep first."""
    user = user_of(request)
    division, unit = clean(division), clean(unit)
    show, sort = clean(show) or "all", clean(sort) or "rank"
    if show not in q.RISK_SHOWS:
        raise HTTPException(400, f"show: one of {', '.join(q.RISK_SHOWS)}")
    if sort not in q.RISK_SORTS:
        raise HTTPException(400, f"sort: one of {', '.join(q.RISK_SORTS)}")
    if user.is_supervisor:
        if division is not None and division != user.division:
            raise Denied(
                f"division: you supervise {user.division}; other divisions are not shown",
                "denied_division",
                division[:100],
            )
        division = user.division
    dates = q.scored_dates(conn)
    if sweep:
        sweep_alerts(request, dates[0] if dates else None)
    as_of = parse_date(date_s) or (dates[0] if dates else None)
    if as_of is None:
        return {
            "as_of": None,
            "dates": [],
            "rows": [],
            "division": division,
            "unit": unit,
            "units": [],
            "run": None,
            "show": show,
            "sort": sort,
            "all_rows": 0,
            "counts": {k: 0 for k in q.RISK_SHOWS},
        }
    rows = q.risk_list(conn, as_of, division, unit, user.division if user.is_supervisor else None)
    counts = {k: sum(1 for r in rows if f(r)) for k, f in q.RISK_SHOWS.items()}
    rows = sorted((r for r in rows if q.RISK_SHOWS[show](r)), key=q.RISK_SORTS[sort])
    return {
        "as_of": as_of,
        "dates": dates,
        "division": division,
        "unit": unit,
        "show": show,
        "sort": sort,
        "rows": rows,
        "counts": counts,
        "units": q.divisions_units(conn, as_of, user.division if user.is_supervisor else None),
        "run": q.scoring_run(conn, as_of),
    }


def word_rows(conn, rows: list[dict], as_of, limit: int | None = 3) -> None:
    """Each row's risk factors (``r["factors"]``, read for these rows only) and, as grouped sentences
    next to its division, ``r["worded"]``."""
    if not rows:
        return
    q.attach_factors(conn, as_of, rows)
    peers = q.division_peers(
        conn, as_of, {f["feature"] for r in rows for f in r["factors"]}, {r["division"] for r in rows if r["division"]}
    )
    for r in rows:
        r["worded"] = q.worded_factors(r["factors"], r["division"], peers, limit)


def audit_list(request: Request, action: str, ctx: dict, conn=None) -> None:
    store.audit(
        user_of(request).username,
        action,
        "risk_list",
        {
            "as_of_date": ctx["as_of"].isoformat() if ctx["as_of"] else None,
            "division": ctx["division"],
            "unit": ctx["unit"],
            "show": ctx.get("show"),
            "rows": len(ctx["rows"]),
        },
        client_of(request),
        conn,
    )


@router.get("/risk", response_class=HTMLResponse)
def risk_page(
    request: Request,
    date: str | None = None,
    division: str | None = None,
    unit: str | None = None,
    show: str | None = None,
    sort: str | None = None,
    page: str | None = None,
    per: str | None = None,
):
    user_of(request)
    try:
        page_n = max(1, int(page or 1))
        per_n = int(per or 50)
    except ValueError:
        raise HTTPException(400, "page, per: whole numbers") from None
    if per_n not in PER_PAGE:
        raise HTTPException(400, f"per: one of {', '.join(map(str, PER_PAGE))}")
    with db.connect() as conn:  # one connection for the page: the list, the shown rows' factors, the audit
        ctx = risk_context(request, conn, date, division, unit, show, sort, sweep=True)
        total = len(ctx["rows"])
        pages = max(1, -(-total // per_n))
        page_n = min(page_n, pages)
        ctx["total"] = total
        ctx["rows"] = ctx["rows"][(page_n - 1) * per_n : page_n * per_n]
        word_rows(conn, ctx["rows"], ctx["as_of"])
        audit_list(request, "view_risk_list", ctx, conn)
    divisions = sorted({u["division"] for u in ctx["units"] if u["division"]})
    ctx["divisions"] = divisions
    base = {k: v for k, v in (("date", ctx["as_of"]), ("division", ctx["division"]), ("unit", ctx["unit"])) if v}
    ctx["export_query"] = urlencode(
        {
            **base,
            **({"show": ctx["show"]} if ctx["show"] != "all" else {}),
            **({"sort": ctx["sort"]} if ctx["sort"] != "rank" else {}),
        }
    )
    ctx["base_query"] = base
    ctx.update(
        page=page_n,
        pages=pages,
        per=per_n,
        per_choices=PER_PAGE,
        sorts=list(q.RISK_SORTS),
        flag_share=alerts_mod.flag_share(),
    )

    def link(**kw) -> str:
        params = {**base, "show": ctx["show"], "sort": ctx["sort"], "per": per_n, "page": 1, **kw}
        return "/risk?" + urlencode(
            {
                k: v
                for k, v in params.items()
                if v not in (None, "")
                and not (k == "show" and v == "all")
                and not (k == "sort" and v == "rank")
                and not (k == "per" and v == 50)
                and not (k == "page" and v == 1)
            }
        )

    ctx["link"] = link
    return render(request, "risk.html", ctx)


@router.get("/risk.csv")
def risk_csv(
    request: Request,
    date: str | None = None,
    division: str | None = None,
    unit: str | None = None,
    show: str | None = None,
    sort: str | None = None,
):
    user = user_of(request)
    with db.connect() as conn:
        ctx = risk_context(request, conn, date, division, unit, show, sort)
        if ctx["as_of"] is None:
            raise HTTPException(404, "date: nothing has been scored yet")
        word_rows(conn, ctx["rows"], ctx["as_of"])
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(
        [
            "as_of_date",
            "rank",
            "officer_id",
            "score",
            "rank_pct",
            "division",
            "unit",
            "rank_move_7d",
            "rank_move_30d",
            "top_risk_factors",
            "last_review_date",
            "last_reviewer",
            "last_intervention",
            "flagged",
            "alert_status",
            "alert_due",
            "overdue",
        ]
    )
    for r in ctx["rows"]:
        factors = "; ".join(f"{f['text']} ({f['direction']} the risk)" for f in r["worded"])
        w.writerow(
            [
                csv_safe(x)
                for x in (
                    ctx["as_of"].isoformat(),
                    r["rank_abs"],
                    r["officer_id"],
                    f"{r['score']:.6f}",
                    f"{r['rank_pct']:.4f}",
                    r["division"],
                    r["unit"],
                    r["move_7"],
                    r["move_30"],
                    factors,
                    r["review_date"],
                    r["reviewer"],
                    r["intervention"],
                    "yes" if r["flagged"] else "no",
                    r["alert_status"],
                    r["alert_due"],
                    "yes" if r["overdue"] else "no",
                )
            ]
        )
    store.audit(
        user.username,
        "export_csv",
        "risk_list",
        {
            "as_of_date": ctx["as_of"].isoformat(),
            "division": ctx["division"],
            "unit": ctx["unit"],
            "rows": len(ctx["rows"]),
        },
        client_of(request),
    )
    name = f"eis-risk-{ctx['as_of'].isoformat()}{'-' + ctx['division'] if ctx['division'] else ''}.csv"
    safe_name = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    return Response(
        buf.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{safe_name}"'},
    )


@router.get("/api/risk")
def api_risk(
    request: Request,
    date: str | None = None,
    division: str | None = None,
    unit: str | None = None,
    show: str | None = None,
    sort: str | None = None,
):
    with db.connect() as conn:
        ctx = risk_context(request, conn, date, division, unit, show, sort)
        word_rows(conn, ctx["rows"], ctx["as_of"], None)
        audit_list(request, "api_risk", ctx, conn)  # the whole list as JSON: audited like the CSV export
    return JSONResponse(
        json.loads(
            json.dumps(
                {"as_of_date": ctx["as_of"], "division": ctx["division"], "unit": ctx["unit"], "officers": ctx["rows"]},
                default=str,
            )
        )
    )
