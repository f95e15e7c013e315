"""The aggregate pages: outcomes (did it help?), units, data quality with the Data Docs, and the side\njobs (forecasts, severity monitoring)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse

from eis_core import db
from eis_core.webapp import queries as q
from eis_core.webapp import store
from eis_core.webapp.charts import monitoring_chart, stops_chart, units_chart
from eis_core.webapp.common import clean, parse_date, render, require_role, settings_of, user_of
from eis_core.webapp.datadocs import data_docs_dir, data_docs_reports, data_docs_response
from eis_core.webapp.security import client_of

router = APIRouter()


@router.get("/outcomes", response_class=HTMLResponse)
def outcomes_page(request: Request, division: str | None = None, evaluation: str | None = None):
    """Did it help?  Aggregates only (no officer is named); admins and analysts."""
    from eis_core.production import outcomes

    user = require_role(request, "admin", "analyst")
    division = clean(division)
    mode = clean(evaluation) or "standard"
    if mode not in ("standard", "adjusted"):
        raise HTTPException(400, "evaluation: standard or adjusted")
    with db.connect() as conn:
        divisions = (
            [
                r[0]
                for r in conn.execute(
                    "SELECT DISTINCT division FROM production.predictions WHERE division IS NOT NULL ORDER BY 1"
                )
            ]
            if q.table_exists(conn, "production.predictions")
            else []
        )
        if division is not None and division not in divisions:
            raise HTTPException(400, "division: not a division of the scored lists")
        cmp = outcomes.compare(conn, division=division)
        ev = outcomes.evaluation(conn, division=division)
        store.audit(
            user.username,
            "view_outcomes",
            "outcomes",
            {"division": division, "evaluation": mode, "types": len(cmp["types"])},
            client_of(request),
            conn,
        )
    return render(
        request,
        "outcomes.html",
        {"cmp": cmp, "ev": ev, "mode": mode, "division": division, "divisions": divisions, "windows": outcomes.WINDOWS},
    )


@router.get("/units", response_class=HTMLResponse)
def units_page(request: Request, date: str | None = None):
    user = user_of(request)
    division = user.division if user.is_supervisor else None
    with db.connect() as conn:
        dates = q.scored_dates(conn)
        as_of = parse_date(date) or (dates[0] if dates else None)
        units = q.unit_risk(conn, as_of, division) if as_of else []
        bias = q.production_bias(conn, as_of) if as_of and not user.is_supervisor else []
    rule = q.bias_rule()
    # production's flag-rate audit checks the flag-rate ratio only (scoring.flag_rate_audit)
    q.explain_bias(bias, rule, ("flag_rate_ratio",))
    chart = units_chart(units)
    return render(
        request,
        "units.html",
        {
            "as_of": as_of,
            "dates": dates,
            "units": units,
            "bias": bias,
            "bias_rule": rule,
            "chart_units": chart,
            "division": division,
        },
    )


# ------------------------------------------------------------------------------ data quality


@router.get("/data-quality", response_class=HTMLResponse)
def data_quality_page(request: Request, table: str | None = None):
    require_role(request, "admin", "analyst")
    table = clean(table)
    with db.connect() as conn:
        log = q.load_log(conn)
        summary = q.quarantine_summary(conn)
        quarantined = q.quarantine_rows(conn, table)
    docs_root = request.app.state.docs_root or data_docs_dir()  # the department's own site
    docs = docs_root / "index.html"
    resp = render(
        request,
        "data_quality.html",
        {
            "log": log,
            "summary": summary,
            "quarantined": quarantined,
            "table": table,
            "data_docs": docs.exists(),
            "reports": data_docs_reports(docs_root),
        },
    )
    settings_of(request).set_docs_cookie(resp, request.state.sid)  # links inside the sandboxed docs keep working
    return resp


@router.get("/data-docs/{path:path}")
def data_docs(request: Request, path: str = ""):
    """The Great Expectations Data Docs, read-only.  They are generated HTML that shows raw drop
    values (a quarantined value can be ``<script>``), so they are served as *untrusted* content: the
    gate sends a CSP with ``sandbox`` (an opaque origin: no cookies, no same-origin requests, no
    scripts, no forms) and ``script-src 'none'``; only files under the site folder, only known types.
    Their CDN stylesheets are blocked by that CSP, so the app's own ``static/data-docs.css`` is linked
    into every page instead."""
    require_role(request, "admin", "analyst")
    return data_docs_response(request.app.state.docs_root or data_docs_dir(), path)


# ------------------------------------------------------------------------------ side jobs


@router.get("/forecasts", response_class=HTMLResponse)
def forecasts_page(request: Request):
    require_role(request, "admin", "analyst")
    with db.connect() as conn:
        data = q.forecasts(conn)
    chart = stops_chart(data["stops"]) if data and data["stops"] else None
    return render(request, "forecasts.html", {"data": data, "chart_stops": chart})


@router.get("/severity", response_class=HTMLResponse)
def severity_page(request: Request):
    require_role(request, "admin", "analyst")
    with db.connect() as conn:
        data = q.severity(conn)
    chart = monitoring_chart(data["monitoring_daily"]) if data and data.get("monitoring_daily") else None
    return render(request, "severity.html", {"data": data, "chart_monitoring": chart, "words": q.SEVERITY_WORDS})
