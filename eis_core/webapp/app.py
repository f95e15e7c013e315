"""The EIS web app: FastAPI/Starlette, server-side Jinja2 pages, Chart.js served from ``static/vendor``.

``create_app()`` builds the application against the active warehouse (``eis_core.db``).  Pages:

* ``/login`` (the only page without a session), ``/logout`` (POST)
* ``/risk`` ranked officers of a scored date, filters, ``/risk.csv`` export (audited)
* ``/officers/{id}`` score and rank history, risk factors, events by block, reviews, the review form
* ``/models`` experiments, model groups, metrics over the splits, Table 3, curves, importances, bias
* ``/outcomes`` adverse events after each intervention type next to matched flagged officers without one,
  and the interventions-adjusted precision (eis_core.production.outcomes)
* ``/units`` division/unit risk; ``/data-quality`` load log, quarantine, GE Data Docs (``/data-docs/``)
* ``/forecasts``, ``/severity`` the side jobs; ``/admin/users`` user management (admin)
* ``/api/...`` JSON for the same data (401 without a session)

Roles: ``admin`` everything (users, model-group selection, reviews); ``analyst`` everything read-only;
``supervisor`` the risk list and officer pages of their own division, and reviews.
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from eis_core import db
from eis_core.production import alerts as alerts_mod
from eis_core.webapp import queries as q
from eis_core.webapp import store
from eis_core.webapp.security import (
    DOCS_COOKIE,
    DOCS_PREFIX,
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    AuthGate,
    Settings,
    client_of,
    safe_next,
)

HERE = Path(__file__).resolve().parent

#: the navigation; later issues add their page here (path, label, roles allowed)
NAV = [
    ("/risk", "Risk list", ("admin", "analyst", "supervisor")),
    ("/alerts", "Alerts", ("admin", "analyst", "supervisor")),
    ("/units", "Units", ("admin", "analyst", "supervisor")),
    ("/outcomes", "Did it help?", ("admin", "analyst")),
    ("/models", "Models", ("admin", "analyst")),
    ("/data-quality", "Data quality", ("admin", "analyst")),
    ("/forecasts", "Forecasts", ("admin", "analyst")),
    ("/severity", "Severity monitoring", ("admin", "analyst")),
    ("/admin/users", "Users", ("admin",)),
    ("/admin/audit", "Audit", ("admin",)),
    ("/admin/interventions", "Interventions", ("admin",)),
]
PER_PAGE = (25, 50, 100, 250)

PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f",
           "#bcbd22"]

#: an interval's edges (forecast bands): neutral grey, the band lightly shaded
BAND = "#8a94a6"
BAND_FILL = "rgba(138, 148, 166, 0.18)"


def data_docs_dir() -> Path:
    from eis_core.paths import gx_dir

    return gx_dir() / "uncommitted" / "data_docs" / "local_site"


# ----------------------------------------------------------------------------------------- helpers

def user_of(request: Request) -> store.User:
    user = getattr(request.state, "user", None)
    if user is None:  # the gate lets no anonymous request through; this is a second line
        raise HTTPException(401, "not authenticated")
    return user


class Denied(HTTPException):
    """A 403 that names what the audit should record (action, target, detail); every 403 is audited by
    the app's error handler, these with their own action (``denied_officer`` …), the rest as ``denied``."""

    def __init__(self, detail: str, action: str = "denied", target: str | None = None,
                 audit_detail: dict | None = None) -> None:
        super().__init__(403, detail)
        self.action, self.target, self.audit_detail = action, target, audit_detail


def require_role(request: Request, *roles: str) -> store.User:
    user = user_of(request)
    if user.role not in roles:
        raise HTTPException(403, f"your role ({user.role}) cannot open this page")
    return user


def parse_date(value: str | None, field: str = "date") -> date | None:
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise HTTPException(400, f"{field}: not a date (YYYY-MM-DD): {value[:20]!r}") from None


def int_param(value: str | None, field: str, lo: int, hi: int) -> int | None:
    if value in (None, ""):
        return None
    try:
        v = int(value)
    except ValueError:
        raise HTTPException(400, f"{field}: not a whole number: {value[:20]!r}") from None
    if not lo <= v <= hi:
        raise HTTPException(400, f"{field}: between {lo} and {hi}")
    return v


def clean(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def check_csrf(request: Request, form) -> None:
    if any("\x00" in str(v) for _, v in form.multi_items()):
        raise HTTPException(400, "form: NUL characters are not allowed")
    token = form.get("csrf_token") or ""
    expected = getattr(request.state, "csrf", None)
    import hmac

    if not expected or not hmac.compare_digest(str(token), str(expected)):
        raise HTTPException(403, "csrf_token: missing or wrong (reload the page and submit again)")


def csv_safe(v: Any) -> Any:
    """Neutralise spreadsheet formulas in exported text cells."""
    if isinstance(v, str) and v[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + v
    return v


def line_chart(labels: list, datasets: list[dict], *, y_title: str = "", x_title: str = "", y_reverse: bool = False,
               kind: str = "line", y_min: float | None = None, y_max: float | None = None) -> dict:
    for i, ds in enumerate(datasets):
        ds.setdefault("borderColor", PALETTE[i % len(PALETTE)])
        ds.setdefault("backgroundColor", PALETTE[i % len(PALETTE)])
        if kind == "line":
            ds.setdefault("pointRadius", 2)
            ds.setdefault("tension", 0)
            ds.setdefault("fill", False)
    y: dict[str, Any] = {"title": {"display": bool(y_title), "text": y_title}, "reverse": y_reverse}
    if y_min is not None:
        y["min"] = y_min
    if y_max is not None:
        y["max"] = y_max
    return {"type": kind, "data": {"labels": labels, "datasets": datasets},
            "options": {"animation": False, "responsive": True, "maintainAspectRatio": False,
                        "scales": {"x": {"title": {"display": bool(x_title), "text": x_title}}, "y": y},
                        "plugins": {"legend": {"display": len(datasets) > 1}}}}


def xy_chart(series: list[tuple[str, list, list]], *, x_title: str, y_title: str, diagonal: bool = False) -> dict:
    datasets = [{"label": name, "data": [{"x": a, "y": b} for a, b in zip(xs, ys)], "showLine": True,
                 "pointRadius": 0, "borderColor": PALETTE[i % len(PALETTE)], "borderWidth": 2}
                for i, (name, xs, ys) in enumerate(series)]
    if diagonal:
        datasets.append({"label": "random", "data": [{"x": 0, "y": 0}, {"x": 1, "y": 1}], "showLine": True,
                         "pointRadius": 0, "borderColor": "#999", "borderDash": [4, 4], "borderWidth": 1})
    return {"type": "scatter", "data": {"datasets": datasets},
            "options": {"animation": False, "responsive": True, "maintainAspectRatio": False,
                        "scales": {"x": {"min": 0, "max": 1, "title": {"display": True, "text": x_title}},
                                   "y": {"min": 0, "max": 1, "title": {"display": True, "text": y_title}}}}}


DATA_DOCS_TYPES = {".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8", ".png": "image/png",
                   ".gif": "image/gif", ".jpg": "image/jpeg", ".svg": "image/svg+xml", ".ico": "image/x-icon",
                   ".otf": "font/otf", ".ttf": "font/ttf", ".woff": "font/woff", ".woff2": "font/woff2",
                   ".json": "application/json"}
EXTERNAL_ASSET = re.compile(rb"""<script\b[^>]*\bsrc\s*=\s*["']?(?:https?:)?//[^>]*>\s*</script\s*>|"""
                            rb"""<(?:link|img)\b[^>]*\b(?:href|src)\s*=\s*["']?(?:https?:)?//[^>]*>""", re.I)
DATA_DOCS_STYLESHEET = b'<link rel="stylesheet" href="/static/data-docs.css">'


def data_docs_reports(root: Path, limit: int = 60) -> list[dict]:
    """The validation pages of the Data Docs site, newest first: GE's own index lists them only through
    JavaScript, which the sandbox does not run, so the data-quality page lists them itself (escaped)."""
    base = root / "validations"
    if not base.is_dir():
        return []
    out = []
    for page in base.glob("*/*/*/*.html"):  # validations/<suite>/<run name>/<run time>/<batch>.html
        rel = page.relative_to(root)
        suite, _run, run_time = rel.parts[1:4]
        out.append({"href": "/data-docs/" + "/".join(quote(p) for p in rel.parts), "suite": suite,
                    "run_time": run_time, "batch": page.stem})
    out.sort(key=lambda r: r["run_time"], reverse=True)
    return out[:limit]


def data_docs_response(root: Path, path: str) -> Response:
    from fastapi.responses import FileResponse

    root = root.resolve()
    target = (root / (path or "index.html")).resolve()
    if target != root and root not in target.parents:
        raise HTTPException(404, "not a Data Docs file")
    if target.is_dir():
        target = target / "index.html"
    kind = DATA_DOCS_TYPES.get(target.suffix.lower())
    if kind is None or not target.is_file():
        raise HTTPException(404, "no such Data Docs page (the docs are built by the loader)")
    if target.suffix.lower() != ".html":
        return FileResponse(target, media_type=kind)
    # the CDN assets (and GE's tracking logo) would be blocked by the CSP anyway; drop them so that the
    # browser does not even try (this is tidying, not the security boundary: the CSP is)
    body = EXTERNAL_ASSET.sub(b"", target.read_bytes())
    head = body.lower().find(b"</head>")
    body = (body[:head] + DATA_DOCS_STYLESHEET + body[head:]) if head >= 0 else DATA_DOCS_STYLESHEET + body
    return Response(body, media_type=kind)


# ----------------------------------------------------------------------------------------- the app

def create_app(settings: Settings | None = None, data_docs: Path | None = None) -> FastAPI:
    """The web app over the active warehouse (``EIS_DATABASE_URL`` or the embedded server).  *data_docs*:
    the Great Expectations Data Docs site to serve under ``/data-docs/`` (default: the one in EIS_HOME)."""
    from eis_core.modeling.results import ensure_results_schema
    from eis_core.production.schema import ensure_production_schema

    settings = settings or Settings()
    store.ensure_webapp_schema()
    ensure_production_schema()
    ensure_results_schema()

    app = FastAPI(title="EIS", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings = settings
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.globals["NAV"] = NAV
    templates.env.filters["num"] = lambda v, d=3: "–" if v is None else f"{v:.{d}f}"
    templates.env.filters["pct"] = lambda v, d=1: "–" if v is None else f"{100 * v:.{d}f} %"
    templates.env.filters["dt"] = lambda v: "–" if v is None else v.strftime("%Y-%m-%d %H:%M")
    templates.env.filters["tojson_pretty"] = lambda v: json.dumps(v, indent=1, default=str, sort_keys=True)

    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    docs_root = Path(data_docs) if data_docs is not None else data_docs_dir()

    def render(request: Request, name: str, ctx: dict, status: int = 200) -> HTMLResponse:
        user = getattr(request.state, "user", None)
        base = {"request": request, "user": user, "csrf": getattr(request.state, "csrf", None),
                "path": request.url.path}
        return templates.TemplateResponse(request, name, {**base, **ctx}, status_code=status)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        if exc.status_code == 403:  # every refusal is in the audit: who, what, from where
            user = getattr(request.state, "user", None)
            detail = {"path": request.url.path, "query": request.url.query[:300] or None,
                      "method": request.method, "reason": str(exc.detail)[:300],
                      **(getattr(exc, "audit_detail", None) or {})}
            await run_in_threadpool(store.audit, user.username if user else "-", getattr(exc, "action", "denied"),
                                    getattr(exc, "target", None) or request.url.path, detail, client_of(request))
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)
        return render(request, "error.html", {"status": exc.status_code, "detail": exc.detail}, exc.status_code)

    # ------------------------------------------------------------------------------ login / logout

    @app.get("/login", response_class=HTMLResponse)
    def login_page(request: Request, next: str | None = None):
        import secrets

        # reuse the browser's pre-login token while it is valid, so that a second tab (or any other
        # request that lands here) does not invalidate the form already shown
        token = None
        try:
            token = settings.login_signer.unsign(request.cookies.get(LOGIN_CSRF_COOKIE) or "", max_age=1500).decode()
        except Exception:  # noqa: BLE001 - missing, expired or forged: issue a new one
            token = None
        token = token or secrets.token_urlsafe(32)
        resp = render(request, "login.html", {"login_csrf": token, "next": safe_next(next), "error": None})
        resp.set_cookie(LOGIN_CSRF_COOKIE, settings.login_signer.sign(token).decode(),
                        **settings.cookie_kwargs(1800))
        return resp

    @app.post("/login")
    async def login_submit(request: Request):
        import hmac

        form = await request.form()
        if any("\x00" in str(v) for _, v in form.multi_items()):
            raise HTTPException(400, "form: NUL characters are not allowed")
        cookie = request.cookies.get(LOGIN_CSRF_COOKIE)
        try:
            expected = settings.login_signer.unsign(cookie or "", max_age=1800).decode()
        except Exception:  # noqa: BLE001 - any bad or missing cookie
            expected = None
        if not expected or not hmac.compare_digest(str(form.get("csrf_token") or ""), expected):
            raise HTTPException(403, "csrf_token: the login form expired; reload the page and try again")
        username = str(form.get("username") or "")
        password = str(form.get("password") or "")
        nxt = safe_next(str(form.get("next") or "/"))
        client = client_of(request)
        try:
            user = await run_in_threadpool(store.authenticate, username, password, client)
        except store.Throttled as t:
            minutes = max(1, round(t.retry_after / 60))
            resp = render(request, "login.html", {"login_csrf": expected, "next": nxt, "error": (
                f"Too many failed attempts for this user from this address. Try again in {minutes} minute"
                f"{'s' if minutes > 1 else ''}, or ask an administrator to unlock the account.")}, 429)
            resp.headers["Retry-After"] = str(t.retry_after)
            return resp
        if user is None:
            return render(request, "login.html", {"login_csrf": expected, "next": nxt,
                                                  "error": "Unknown user or wrong password."}, 401)
        sid, _ = await run_in_threadpool(store.create_session, user.username, settings.lifetime, client,
                                         settings.max_sessions)
        resp = RedirectResponse(nxt, status_code=303)
        resp.set_cookie(SESSION_COOKIE, settings.sign(sid), **settings.cookie_kwargs(int(settings.lifetime.total_seconds())))
        resp.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
        return resp

    @app.post("/logout")
    async def logout(request: Request):
        form = await request.form()
        check_csrf(request, form)
        user = user_of(request)
        sid = request.state.sid
        await run_in_threadpool(store.end_session, sid)
        await run_in_threadpool(store.audit, user.username, "logout", None, None, client_of(request))
        resp = RedirectResponse("/login", status_code=303)
        resp.delete_cookie(SESSION_COOKIE, path="/")
        resp.delete_cookie(DOCS_COOKIE, path=DOCS_PREFIX)
        return resp

    @app.get("/favicon.ico")
    def favicon(request: Request):
        return Response(status_code=204)  # pages without a <link rel=icon> (the Data Docs) ask for it

    @app.get("/")
    def home(request: Request):
        user_of(request)
        return RedirectResponse("/risk", status_code=303)

    # ------------------------------------------------------------------------------ risk list

    swept = {"at": None, "as_of": None}  # this process's last sweep (time.monotonic(), newest scored date)

    def sweep_alerts(request: Request, newest: date | None = None, force: bool = False) -> None:
        """Raise the newest date's alerts and escalate overdue ones (eis_core.production.alerts.sweep).
        The scoring raises a day's alerts itself and ``eis alerts sweep`` escalates on a schedule; a page
        view is the fallback: the alerts page sweeps on every view, the risk list at most once every
        ``settings.sweep_seconds`` (EIS_WEBAPP_SWEEP_SECONDS, default 60) and whenever a newer date has
        been scored since.  A failure here is logged and never breaks the page."""
        import time

        now = time.monotonic()
        if (not force and swept["at"] is not None and newest == swept["as_of"]
                and now - swept["at"] < settings.sweep_seconds):
            return
        swept.update(at=now, as_of=newest)
        from eis_core.production.alerts import sweep

        client = client_of(request)
        try:
            sweep(by="eis", audit=lambda conn, action, target, detail: store.audit("eis", action, target, detail,
                                                                                   client, conn))
        except Exception as exc:  # noqa: BLE001
            import logging

            logging.getLogger("eis.webapp").warning("alert sweep failed: %s: %s", type(exc).__name__, exc)

    def risk_context(request: Request, conn, date_s: str | None, division: str | None, unit: str | None,
                     show: str | None = None, sort: str | None = None, sweep: bool = False) -> dict:
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
                raise Denied(f"division: you supervise {user.division}; other divisions are not shown",
                             "denied_division", division[:100])
            division = user.division
        dates = q.scored_dates(conn)
        if sweep:
            sweep_alerts(request, dates[0] if dates else None)
        as_of = parse_date(date_s) or (dates[0] if dates else None)
        if as_of is None:
            return {"as_of": None, "dates": [], "rows": [], "division": division, "unit": unit, "units": [],
                    "run": None, "show": show, "sort": sort, "all_rows": 0, "counts": {k: 0 for k in q.RISK_SHOWS}}
        rows = q.risk_list(conn, as_of, division, unit, user.division if user.is_supervisor else None)
        counts = {k: sum(1 for r in rows if f(r)) for k, f in q.RISK_SHOWS.items()}
        rows = sorted((r for r in rows if q.RISK_SHOWS[show](r)), key=q.RISK_SORTS[sort])
        return {"as_of": as_of, "dates": dates, "division": division, "unit": unit, "show": show, "sort": sort,
                "rows": rows, "counts": counts,
                "units": q.divisions_units(conn, as_of, user.division if user.is_supervisor else None),
                "run": q.scoring_run(conn, as_of)}

    def word_rows(conn, rows: list[dict], as_of, limit: int | None = 3) -> None:
        """Each row's risk factors (``r["factors"]``, read for these rows only) and, as grouped sentences
        next to its division, ``r["worded"]``."""
        if not rows:
            return
        q.attach_factors(conn, as_of, rows)
        peers = q.division_peers(conn, as_of, {f["feature"] for r in rows for f in r["factors"]},
                                 {r["division"] for r in rows if r["division"]})
        for r in rows:
            r["worded"] = q.worded_factors(r["factors"], r["division"], peers, limit)

    def audit_list(request: Request, action: str, ctx: dict, conn=None) -> None:
        store.audit(user_of(request).username, action, "risk_list",
                    {"as_of_date": ctx["as_of"].isoformat() if ctx["as_of"] else None, "division": ctx["division"],
                     "unit": ctx["unit"], "show": ctx.get("show"), "rows": len(ctx["rows"])},
                    client_of(request), conn)

    @app.get("/risk", response_class=HTMLResponse)
    def risk_page(request: Request, date: str | None = None, division: str | None = None, unit: str | None = None,
                  show: str | None = None, sort: str | None = None, page: str | None = None, per: str | None = None):
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
            ctx["rows"] = ctx["rows"][(page_n - 1) * per_n: page_n * per_n]
            word_rows(conn, ctx["rows"], ctx["as_of"])
            audit_list(request, "view_risk_list", ctx, conn)
        divisions = sorted({u["division"] for u in ctx["units"] if u["division"]})
        ctx["divisions"] = divisions
        base = {k: v for k, v in (("date", ctx["as_of"]), ("division", ctx["division"]), ("unit", ctx["unit"]))
                if v}
        ctx["export_query"] = urlencode({**base, **({"show": ctx["show"]} if ctx["show"] != "all" else {}),
                                         **({"sort": ctx["sort"]} if ctx["sort"] != "rank" else {})})
        ctx["base_query"] = base
        ctx.update(page=page_n, pages=pages, per=per_n, per_choices=PER_PAGE, sorts=list(q.RISK_SORTS),
                   flag_share=alerts_mod.flag_share())

        def link(**kw) -> str:
            params = {**base, "show": ctx["show"], "sort": ctx["sort"], "per": per_n, "page": 1, **kw}
            return "/risk?" + urlencode({k: v for k, v in params.items()
                                         if v not in (None, "") and not (k == "show" and v == "all")
                                         and not (k == "sort" and v == "rank") and not (k == "per" and v == 50)
                                         and not (k == "page" and v == 1)})
        ctx["link"] = link
        return render(request, "risk.html", ctx)

    @app.get("/risk.csv")
    def risk_csv(request: Request, date: str | None = None, division: str | None = None, unit: str | None = None,
                 show: str | None = None, sort: str | None = None):
        user = user_of(request)
        with db.connect() as conn:
            ctx = risk_context(request, conn, date, division, unit, show, sort)
            if ctx["as_of"] is None:
                raise HTTPException(404, "date: nothing has been scored yet")
            word_rows(conn, ctx["rows"], ctx["as_of"])
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(["as_of_date", "rank", "officer_id", "score", "rank_pct", "division", "unit", "rank_move_7d",
                    "rank_move_30d", "top_risk_factors", "last_review_date", "last_reviewer", "last_intervention",
                    "flagged", "alert_status", "alert_due", "overdue"])
        for r in ctx["rows"]:
            factors = "; ".join(f"{f['text']} ({f['direction']} the risk)" for f in r["worded"])
            w.writerow([csv_safe(x) for x in (ctx["as_of"].isoformat(), r["rank_abs"], r["officer_id"],
                                              f"{r['score']:.6f}", f"{r['rank_pct']:.4f}", r["division"], r["unit"],
                                              r["move_7"], r["move_30"], factors, r["review_date"], r["reviewer"],
                                              r["intervention"], "yes" if r["flagged"] else "no", r["alert_status"],
                                              r["alert_due"], "yes" if r["overdue"] else "no")])
        store.audit(user.username, "export_csv", "risk_list",
                    {"as_of_date": ctx["as_of"].isoformat(), "division": ctx["division"], "unit": ctx["unit"],
                     "rows": len(ctx["rows"])}, client_of(request))
        name = f"eis-risk-{ctx['as_of'].isoformat()}{'-' + ctx['division'] if ctx['division'] else ''}.csv"
        safe_name = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
        return Response(buf.getvalue(), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{safe_name}"'})

    @app.get("/api/risk")
    def api_risk(request: Request, date: str | None = None, division: str | None = None, unit: str | None = None,
                 show: str | None = None, sort: str | None = None):
        with db.connect() as conn:
            ctx = risk_context(request, conn, date, division, unit, show, sort)
            word_rows(conn, ctx["rows"], ctx["as_of"], None)
            audit_list(request, "api_risk", ctx, conn)  # the whole list as JSON: audited like the CSV export
        return JSONResponse(json.loads(json.dumps(
            {"as_of_date": ctx["as_of"], "division": ctx["division"], "unit": ctx["unit"], "officers": ctx["rows"]},
            default=str)))

    # ------------------------------------------------------------------------------ officer page

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
        hist = ctx["history"]
        ctx["chart_history"] = {
            "type": "line",
            "data": {"labels": [h["as_of_date"].isoformat() for h in hist],
                     "datasets": [{"label": "score", "data": [round(h["score"], 4) for h in hist], "yAxisID": "y",
                                   "borderColor": PALETTE[1], "backgroundColor": PALETTE[1], "pointRadius": 2},
                                  {"label": "rank (1 = highest risk)", "data": [h["rank_abs"] for h in hist],
                                   "yAxisID": "y1", "borderColor": PALETTE[0], "backgroundColor": PALETTE[0],
                                   "pointRadius": 2}]},
            "options": {"animation": False, "responsive": True, "maintainAspectRatio": False,
                        "scales": {"y": {"position": "left", "title": {"display": True, "text": "score"}},
                                   "y1": {"position": "right", "reverse": True, "grid": {"drawOnChartArea": False},
                                          "title": {"display": True, "text": "rank"}}}}}
        ctx["errors"] = errors or []
        ctx["form"] = form or {}
        ctx["can_review"] = user_of(request).can_review()
        with db.connect() as conn:
            ctx["catalogue"] = alerts_mod.catalogue(conn)
        ctx["saved"] = request.query_params.get("saved")
        return render(request, "officer.html", ctx, status)

    @app.get("/officers/{officer_id}", response_class=HTMLResponse)
    def officer_page(request: Request, officer_id: str, date: str | None = None):
        return officer_render(request, officer_context(request, officer_id, date, audit_view=True))

    @app.get("/api/officers/{officer_id}")
    def api_officer(request: Request, officer_id: str, date: str | None = None):
        ctx = officer_context(request, officer_id, date, audit_view=True)
        return JSONResponse(json.loads(json.dumps(ctx, default=str)))

    @app.get("/api/dispatch/suggest")
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

    @app.post("/officers/{officer_id}/reviews")
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

    # ------------------------------------------------------------------------------ alerts (intervention workflow)

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
        if user.is_supervisor and (a["division"] != user.division
                                   or q.current_division(conn, a["officer_id"]) != user.division):
            raise Denied(f"alert {aid} is not in your division; you supervise {user.division}", "denied_alert",
                         a["officer_id"], {"alert_id": aid, "division": a["division"]})
        return user, a

    @app.get("/alerts", response_class=HTMLResponse)
    def alerts_page(request: Request, status: str | None = None, mine: str | None = None):
        user = user_of(request)
        status = clean(status) or "open"
        if status not in ("open", "overdue", "all", *alerts_mod.STEPS):
            raise HTTPException(400, "status: open, overdue, all or a step")
        sweep_alerts(request, force=True)  # the workflow's own page: always current
        with db.connect() as conn:
            rows = alerts_mod.list_alerts(conn, user.division if user.is_supervisor else None,
                                          None if status == "all" else status,
                                          user.username if mine else None)
            store.audit(user.username, "view_alerts", "alerts", {"status": status, "rows": len(rows)},
                        client_of(request), conn)
        return render(request, "alerts.html", {"rows": rows, "status": status, "mine": bool(mine),
                                               "status_text": alerts_mod.STATUS_TEXT, "today": date.today()})

    def alert_render(request: Request, alert_id: str, *, errors: list[str] | None = None, form: dict | None = None,
                     status: int = 200, audit_view: bool = True) -> HTMLResponse:
        with db.connect() as conn:
            user, a = alert_in_scope(request, conn, alert_id)
            review = alerts_mod.alert_review(conn, a["alert_id"])
            factors = q.risk_factors(conn, a["officer_id"], a["as_of_date"])
            peers = q.division_peers(conn, a["as_of_date"], {f["feature"] for f in factors},
                                     {a["division"]} if a["division"] else set())
            ctx = {"alert": a, "review": review, "events": alerts_mod.alert_events(conn, a["alert_id"]),
                   "notifications": alerts_mod.alert_notifications(conn, a["alert_id"]),
                   "catalogue": alerts_mod.catalogue(conn), "worded": q.worded_factors(factors, a["division"], peers),
                   "status_text": alerts_mod.STATUS_TEXT, "today": date.today(), "errors": errors or [],
                   "form": form or {}, "can_act": user.is_admin or user.is_supervisor,
                   "assignees": [u for u in store.list_users() if not u["disabled"] and (
                       u["role"] == "admin" or (u["role"] == "supervisor" and u["division"] == a["division"]))]
                   if user.is_admin else []}
            if audit_view:
                store.audit(user.username, "view_alert", a["officer_id"], {"alert_id": a["alert_id"]},
                            client_of(request), conn)
        return render(request, "alert.html", ctx, status)

    @app.get("/alerts/{alert_id}", response_class=HTMLResponse)
    def alert_page(request: Request, alert_id: str):
        return alert_render(request, alert_id)

    @app.post("/alerts/{alert_id}/{step}")
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

                values, errors = q.validate_review(f, [x["feature"] for x in factors], a["as_of_date"], codes,
                                                   [g.features for g in factor_groups(factors)])
                errors = [e for e in errors if not e.startswith("intervention_date")]  # checked below
                if errors:
                    raise alerts_mod.AlertError("; ".join(errors))
                alerts_mod.save_review(aid, user.username, agrees=values["agrees"],
                                       factor_agreement=values["factor_agreement"], intervention=values["intervention"],
                                       intervention_date=f.get("intervention_date"),
                                       follow_up_date=f.get("follow_up_date"),
                                       dismissal_reason=values["dismissal_reason"], notes=values["notes"], audit=audit)
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
            return alert_render(request, alert_id, errors=str(e).split("; "), form=fdict, status=400,
                                audit_view=False)
        return RedirectResponse(f"/alerts/{aid}?done={step}", status_code=303)

    @app.get("/admin/interventions", response_class=HTMLResponse)
    def interventions_page(request: Request):
        require_role(request, "admin")
        with db.connect() as conn:
            items = alerts_mod.catalogue(conn, active_only=False)
        return render(request, "interventions.html", {"items": items, "error": None})

    @app.post("/admin/interventions")
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
            await run_in_threadpool(alerts_mod.save_catalogue_item, str(form.get("code") or ""),
                                    str(form.get("label") or ""), str(form.get("description") or ""),
                                    form.get("active") == "yes", form.get("needs_follow_up") == "yes", position,
                                    user.username, auditor(request, user))
        except alerts_mod.AlertError as e:
            with db.connect() as conn:
                items = alerts_mod.catalogue(conn, active_only=False)
            return render(request, "interventions.html", {"items": items, "error": str(e)}, 400)
        return RedirectResponse("/admin/interventions", status_code=303)

    # ------------------------------------------------------------------------------ models

    @app.get("/models", response_class=HTMLResponse)
    def models_page(request: Request, experiment: str | None = None, metric: str | None = None,
                    group: str | None = None, model: str | None = None, k: str | None = None,
                    label: str | None = None, page: str | None = None):
        user = require_role(request, "admin", "analyst")
        top_k = int_param(k, "k", 1, 100000)
        pred_page = int_param(page, "page", 1, 100000) or 1
        if label not in (None, "", "0", "1"):
            raise HTTPException(400, "label: 0, 1 or empty")
        pred_label = int(label) if label in ("0", "1") else None
        from eis_core.modeling import selection as sel

        with db.connect() as conn:
            exps = q.experiments(conn)
        exp_ids = [e["experiment_id"] for e in exps]
        if experiment and experiment not in exp_ids:
            raise HTTPException(404, f"experiment: no experiment {experiment!r}")
        experiment = experiment or (exp_ids[0] if exp_ids else None)
        ctx: dict[str, Any] = {"experiments": exps, "experiment": experiment, "lb": None, "is_admin": user.is_admin}
        if experiment is None:
            return render(request, "models.html", ctx)
        with db.connect() as conn:
            metrics = q.metric_choices(conn, experiment)
        if metric and metric not in metrics:
            raise HTTPException(400, f"metric: not evaluated in this experiment: {metric[:40]!r}")
        lb = sel.leaderboard(experiment, metric)
        with db.connect() as conn:
            chosen = q.chosen_selection(conn, experiment)
            ctx.update(metrics=metrics, metric=lb["metric"], lb=lb, chosen=chosen,
                       selections=q.selections(conn, experiment))
            groups = [r["model_group_id"] for r in lb["rows"]]
            if group and group not in groups:
                raise HTTPException(404, f"group: no model group {group[:40]!r} in this experiment")
            group = group or (chosen["model_group_id"] if chosen and chosen["model_group_id"] in groups else None) \
                or lb["winners"].get("best_average") or (groups[0] if groups else None)
            ctx["group"] = group
            ctx["group_name"] = next((r["name"] for r in lb["rows"] if r["model_group_id"] == group), group)
            mlist = q.group_models(conn, experiment, group) if group else []
            ids = [m["model_id"] for m in mlist]
            if model and model not in ids:
                raise HTTPException(404, f"model: no model {model[:40]!r} in this model group")
            model = model or (ids[-1] if ids else None)
            ctx.update(models=mlist, model=model)
            if model:
                ctx["curves"] = q.curves(conn, model)
                ctx["importances"] = q.feature_importances(conn, model)
                ctx["risk_curves"] = q.risk_curves(conn, model)
                ctx["direction"] = q.risk_curve_direction(conn, model)
                ctx["permutation"] = q.permutation_importances(conn, model)
                folder = q.explain_dir(conn, model)
                ctx["plots"] = [n for n in q.EXPLAIN_PLOTS if folder is not None and (folder / n).is_file()]
                ctx["bias"] = q.results_bias(conn, model)
                rule = q.bias_rule()
                ctx["bias_rule"] = rule
                if ctx["bias"]:
                    q.explain_bias(ctx["bias"], rule, ("flag_rate_ratio", "tpr_ratio", "fpr_ratio"))
                # the analyst's pages: score distribution by label, train vs test features, rank overlap,
                # the predictions with their labels, comments
                ctx["score_dist"] = q.score_distribution(conn, model)
                current = next(m for m in mlist if m["model_id"] == model)
                n_test = ctx["curves"]["n"] if ctx.get("curves") else 0
                top_k = top_k or max(1, -(-n_test // 10))  # default: the top 10 % of the test rows
                ctx["top_k"] = top_k
                names = {r["model_group_id"]: r["name"] for r in lb["rows"]}
                ctx["group_names"] = names
                ctx["overlap_models"] = q.top_k_across_models(conn, experiment, current["split_id"], top_k)
                ctx["overlap_time"] = q.top_k_over_time(conn, mlist, top_k)
                per = 50
                total, preds = q.model_predictions(conn, model, pred_label, (pred_page - 1) * per, per)
                ctx["predictions"] = {"total": total, "rows": preds, "page": pred_page, "label": pred_label,
                                      "pages": max(1, -(-total // per)), "per": per}
                mats = q.model_matrices(conn, model)
                ctx["comments"] = store.model_comments(conn, model)
                ctx["model_qs"] = urlencode({"experiment": experiment, "metric": lb["metric"], "group": group,
                                             "model": model, "k": top_k})
                store.audit(user.username, "view_model", model,
                            {"experiment_id": experiment, "group": group, "k": top_k, "label": pred_label,
                             "page": pred_page}, client_of(request), conn)
            else:
                mats = None
        if mats is not None:
            feats = [i["feature"] for i in ctx.get("importances") or []]
            if not feats:
                from eis_core.modeling.matrices import MatrixError, read_meta

                try:
                    feats = list(read_meta(mats["train"], mats["project"])["feature_columns"])
                except (MatrixError, OSError, KeyError, ValueError):
                    feats = []
            ctx["feature_dist"] = q.feature_distributions(mats, feats)
        else:
            ctx["feature_dist"] = None
        t3 = sel.table3(experiment, group) if group else []
        ctx["table3"] = t3
        if t3:
            from eis_core.modeling.evaluate import relative_change

            tot = sel.table3_total(t3)
            ctx["table3_total"] = tot
            ctx["table3_change"] = {k: relative_change(tot[k], tot["legacy_" + k]) for k in ("tp", "fp", "tn", "fn")}
        # charts
        top = [r for r in lb["rows"] if not r["is_baseline"]][:6] + [r for r in lb["rows"] if r["is_baseline"]][:4]
        ctx["chart_metric"] = line_chart(
            lb["splits"], [{"label": r["name"][:60] + (" [baseline]" if r["is_baseline"] else ""),
                            "data": [r["per_split"].get(s) for s in lb["splits"]],
                            "borderDash": [5, 4] if r["is_baseline"] else []} for r in top],
            y_title=lb["metric"], x_title="temporal split (test as-of date order)")
        cv = ctx.get("curves")
        if cv:
            ctx["chart_pr"] = xy_chart([("precision–recall", cv["recall"], cv["precision"])], x_title="recall",
                                       y_title="precision")
            ctx["chart_roc"] = xy_chart([("ROC", cv["fpr"], cv["tpr"])], x_title="false positive rate",
                                        y_title="true positive rate", diagonal=True)
            ctx["chart_threshold"] = xy_chart([("precision", cv["share"], cv["precision"]),
                                               ("recall", cv["share"], cv["recall"])],
                                              x_title="share of officers flagged (top k %)", y_title="value")
        imp = ctx.get("importances") or []
        if imp:
            ctx["chart_importance"] = line_chart([i["feature"] for i in imp],
                                                 [{"label": "importance", "data": [i["importance"] for i in imp]}],
                                                 kind="bar")
            ctx["chart_importance"]["options"]["indexAxis"] = "y"
            # every bar its label (Chart.js skips every second one when they do not fit): no auto-skip, and
            # the chart grows with the number of bars
            ctx["chart_importance"]["options"]["scales"]["y"]["ticks"] = {"autoSkip": False, "font": {"size": 11}}
            ctx["importance_height"] = next((h for h in (360, 480, 640, 800) if h >= 16 * len(imp) + 60), 800)
        rc = ctx.get("risk_curves") or []
        charts = []
        for feat in list(dict.fromkeys(r["feature"] for r in rc))[:6]:
            pts = [r for r in rc if r["feature"] == feat]
            charts.append((feat, line_chart([f"{p['bin_low']:.3g}–{p['bin_high']:.3g}" if p["bin_low"] is not None
                                             else str(p["bin"]) for p in pts],
                                            [{"label": "mean score", "data": [p["mean_score"] for p in pts]}],
                                            y_title="mean score", x_title=feat)))
        ctx["risk_curve_charts"] = charts
        sd = ctx.get("score_dist")
        if sd:
            ctx["chart_scores"] = line_chart(
                sd["labels"], [{"label": f"no adverse incident (label 0, n = {sd['n'][0]})", "data": sd["share"][0],
                                "borderColor": PALETTE[0], "backgroundColor": PALETTE[0]},
                               {"label": f"adverse incident (label 1, n = {sd['n'][1]})", "data": sd["share"][1],
                                "borderColor": PALETTE[3], "backgroundColor": PALETTE[3]}],
                kind="bar", y_title="share of the label's officers", x_title="score")
        fd = ctx.get("feature_dist") or {}
        ctx["feature_charts"] = [
            (f, line_chart(f["labels"], [{"label": "train", "data": f["train"]["share"], "borderColor": PALETTE[0],
                                          "backgroundColor": PALETTE[0]},
                                         {"label": "test", "data": f["test"]["share"], "borderColor": PALETTE[4],
                                          "backgroundColor": PALETTE[4]}],
                           kind="bar", y_title="share of rows", x_title=f["feature"]))
            for f in fd.get("features") or []]
        return render(request, "models.html", ctx)

    @app.post("/models/{model_id}/comments")
    async def model_comment(request: Request, model_id: str):
        """An analyst's or admin's note on one model (kept in webapp.model_comments, audited)."""
        form = await request.form()
        check_csrf(request, form)
        user = require_role(request, "admin", "analyst")
        body = str(form.get("body") or "")

        def work():
            with db.connect() as conn:
                if not q.model_exists(conn, model_id):
                    raise HTTPException(404, f"model: no model {model_id[:40]!r}")
                try:
                    cid = store.add_model_comment(conn, model_id, user.username, body)
                except store.UserError as e:
                    raise HTTPException(400, str(e)) from None
                store.audit(user.username, "model_comment", model_id, {"comment_id": cid, "length": len(body.strip())},
                            client_of(request), conn)
                return q.model_context(conn, model_id)

        where = await run_in_threadpool(work)
        params = {"model": model_id}
        if where:
            params.update(experiment=where["experiment_id"], group=where["model_group_id"])
        return RedirectResponse("/models?" + urlencode(params) + "#comments", status_code=303)

    @app.get("/models/plots/{model_id}/{name}")
    def model_plot(request: Request, model_id: str, name: str):
        """A PNG written by the production explanations (risk-score curves, directionality, permutation
        importance); only those file names, only under the model's own folder."""
        require_role(request, "admin", "analyst")
        from fastapi.responses import FileResponse

        if name not in q.EXPLAIN_PLOTS:
            raise HTTPException(404, f"name: not a model plot ({', '.join(q.EXPLAIN_PLOTS)})")
        with db.connect() as conn:
            folder = q.explain_dir(conn, model_id)
        if folder is None:
            raise HTTPException(404, f"model: no model {model_id[:40]!r} with an experiment")
        path = (folder / name).resolve()
        if path.parent != folder.resolve() or not path.is_file():
            raise HTTPException(404, f"{name} has not been drawn for this model")
        return FileResponse(path, media_type="image/png")

    @app.post("/models/select")
    async def models_select(request: Request):
        form = await request.form()
        check_csrf(request, form)
        user = require_role(request, "admin")
        experiment = str(form.get("experiment") or "")
        group = str(form.get("model_group_id") or "")
        metric = str(form.get("metric") or "")[:60]
        reason = str(form.get("reason") or "").strip()
        if len(reason) < 5 or len(reason) > 500:
            # production scores with the newest chosen group: the switch needs a deliberate, stated reason
            raise HTTPException(400, "reason: say why this model group should score production "
                                     "(5 to 500 characters); it is kept in the audit")

        def work():
            with db.connect() as conn:
                if not q.group_exists(conn, experiment, group):
                    raise HTTPException(400, "model_group_id: not a model group of this experiment")
                previous = q.chosen_selection(conn, experiment)
                sid = q.insert_manual_selection(conn, experiment, metric or "manual", group, user.username)
                store.audit(user.username, "select_model_group", group,
                            {"experiment_id": experiment, "selection_id": sid, "reason": reason,
                             "previous_group": previous["model_group_id"] if previous else None},
                            client_of(request), conn)

        await run_in_threadpool(work)
        return RedirectResponse("/models?" + urlencode({"experiment": experiment, "group": group}), status_code=303)

    # ------------------------------------------------------------------------------ units

    @app.get("/outcomes", response_class=HTMLResponse)
    def outcomes_page(request: Request, division: str | None = None, evaluation: str | None = None):
        """Did it help?  Aggregates only (no officer is named); admins and analysts."""
        from eis_core.production import outcomes

        user = require_role(request, "admin", "analyst")
        division = clean(division)
        mode = clean(evaluation) or "standard"
        if mode not in ("standard", "adjusted"):
            raise HTTPException(400, "evaluation: standard or adjusted")
        with db.connect() as conn:
            divisions = ([r[0] for r in conn.execute("SELECT DISTINCT division FROM production.predictions "
                                                      "WHERE division IS NOT NULL ORDER BY 1")]
                         if q.table_exists(conn, "production.predictions") else [])
            if division is not None and division not in divisions:
                raise HTTPException(400, "division: not a division of the scored lists")
            cmp = outcomes.compare(conn, division=division)
            ev = outcomes.evaluation(conn, division=division)
            store.audit(user.username, "view_outcomes", "outcomes",
                        {"division": division, "evaluation": mode, "types": len(cmp["types"])},
                        client_of(request), conn)
        return render(request, "outcomes.html", {"cmp": cmp, "ev": ev, "mode": mode, "division": division,
                                                 "divisions": divisions, "windows": outcomes.WINDOWS})

    @app.get("/units", response_class=HTMLResponse)
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
        labels = [f"{u['division']} / {u['unit']}" for u in units]
        chart = line_chart(labels, [{"label": "mean score", "data": [round(u["mean_score"], 4) for u in units]},
                                    {"label": "officers in the top 5 %", "data": [u["top5_count"] for u in units],
                                     "yAxisID": "y1"}], kind="bar")
        chart["options"]["scales"]["y1"] = {"position": "right", "grid": {"drawOnChartArea": False},
                                            "title": {"display": True, "text": "officers in the top 5 %"}}
        chart["options"]["scales"]["y"]["title"] = {"display": True, "text": "mean score"}
        return render(request, "units.html", {"as_of": as_of, "dates": dates, "units": units, "bias": bias,
                                              "bias_rule": rule,
                                              "chart_units": chart, "division": division})

    # ------------------------------------------------------------------------------ data quality

    @app.get("/data-quality", response_class=HTMLResponse)
    def data_quality_page(request: Request, table: str | None = None):
        require_role(request, "admin", "analyst")
        table = clean(table)
        with db.connect() as conn:
            log = q.load_log(conn)
            summary = q.quarantine_summary(conn)
            quarantined = q.quarantine_rows(conn, table)
        docs = docs_root / "index.html"
        resp = render(request, "data_quality.html", {"log": log, "summary": summary, "quarantined": quarantined,
                                                     "table": table, "data_docs": docs.exists(),
                                                     "reports": data_docs_reports(docs_root)})
        settings.set_docs_cookie(resp, request.state.sid)  # links inside the sandboxed docs keep working
        return resp

    @app.get("/data-docs/{path:path}")
    def data_docs(request: Request, path: str = ""):
        """The Great Expectations Data Docs, read-only.  They are generated HTML that shows raw drop
        values (a quarantined value can be ``<script>``), so they are served as *untrusted* content: the
        gate sends a CSP with ``sandbox`` (an opaque origin: no cookies, no same-origin requests, no
        scripts, no forms) and ``script-src 'none'``; only files under the site folder, only known types.
        Their CDN stylesheets are blocked by that CSP, so the app's own ``static/data-docs.css`` is linked
        into every page instead."""
        require_role(request, "admin", "analyst")
        return data_docs_response(docs_root, path)

    # ------------------------------------------------------------------------------ side jobs

    @app.get("/forecasts", response_class=HTMLResponse)
    def forecasts_page(request: Request):
        require_role(request, "admin", "analyst")
        with db.connect() as conn:
            data = q.forecasts(conn)
        chart = None
        if data and data["stops"]:
            s = data["stops"]
            chart = line_chart([r["day"].isoformat() for r in s],
                               # the band's two edges are one thing (the 80 % interval): one neutral colour,
                               # shaded between them, never a red/green pair that reads as bad/good
                               [{"label": f"forecast ({s[0]['series']})", "data": [r["yhat"] for r in s],
                                 "borderColor": PALETTE[0], "backgroundColor": PALETTE[0]},
                                {"label": "80 % interval (lower edge)", "data": [r["lo_80"] for r in s],
                                 "borderDash": [3, 3], "borderColor": BAND, "backgroundColor": BAND_FILL,
                                 "pointRadius": 0},
                                {"label": "80 % interval (upper edge)", "data": [r["hi_80"] for r in s],
                                 "borderDash": [3, 3], "borderColor": BAND, "backgroundColor": BAND_FILL,
                                 "pointRadius": 0, "fill": "-1"}],
                               y_title="stops per day")
        return render(request, "forecasts.html", {"data": data, "chart_stops": chart})

    @app.get("/severity", response_class=HTMLResponse)
    def severity_page(request: Request):
        require_role(request, "admin", "analyst")
        with db.connect() as conn:
            data = q.severity(conn)
        chart = None
        if data and data.get("monitoring_daily"):
            m = sorted(data["monitoring_daily"], key=lambda r: r["day"])
            chart = line_chart([r["day"].isoformat() for r in m],
                               [{"label": "macro F1", "data": [r["macro_f1"] for r in m]},
                                {"label": "accuracy", "data": [r["accuracy"] for r in m]}], y_min=0, y_max=1)
        return render(request, "severity.html", {"data": data, "chart_monitoring": chart, "words": q.SEVERITY_WORDS})

    # ------------------------------------------------------------------------------ users (admin)

    # ------------------------------------------------------------------------------ audit (admin)

    def audit_query(request: Request, user: str | None, officer: str | None, action: str | None,
                    since: str | None, until: str | None, before: str | None, limit: int) -> dict:
        require_role(request, "admin")
        filters = {"user": clean(user), "officer": clean(officer), "action": clean(action),
                   "since": parse_date(since, "since"), "until": parse_date(until, "until")}
        for k in ("user", "officer", "action"):
            if filters[k] and len(filters[k]) > 100:
                raise HTTPException(400, f"{k}: at most 100 characters")
        try:
            before_id = int(before) if before else None
        except ValueError:
            raise HTTPException(400, "before: not a number") from None
        rows = store.search_audit(filters["user"], filters["officer"], filters["action"], filters["since"],
                                  filters["until"], before_id, limit)
        return {"filters": filters, "rows": rows, "before": before_id}

    @app.get("/admin/audit", response_class=HTMLResponse)
    def audit_page(request: Request, user: str | None = None, officer: str | None = None,
                   action: str | None = None, since: str | None = None, until: str | None = None,
                   before: str | None = None):
        """Who did what, when, from where: filter by user, officer (or any target), action and dates."""
        ctx = audit_query(request, user, officer, action, since, until, before, 200)
        f = ctx["filters"]
        query = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in f.items() if v}
        ctx.update(actions=store.audit_actions(), export_query=urlencode(query),
                   next_query=urlencode({**query, "before": ctx["rows"][-1]["audit_id"]})
                   if len(ctx["rows"]) == 200 else None)
        return render(request, "audit.html", ctx)

    @app.get("/admin/audit.csv")
    def audit_csv(request: Request, user: str | None = None, officer: str | None = None,
                  action: str | None = None, since: str | None = None, until: str | None = None):
        admin = require_role(request, "admin")
        ctx = audit_query(request, user, officer, action, since, until, None, 100_000)
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(["audit_id", "at", "username", "action", "target", "client", "detail"])
        for r in ctx["rows"]:
            w.writerow([csv_safe(x) for x in (r["audit_id"], r["at"].isoformat(), r["username"], r["action"],
                                              r["target"], r["client"],
                                              json.dumps(r["detail"], default=str) if r["detail"] else "")])
        f = ctx["filters"]
        store.audit(admin.username, "export_audit", "access_audit",
                    {**{k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in f.items()},
                     "rows": len(ctx["rows"])}, client_of(request))
        return Response(buf.getvalue(), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="eis-audit.csv"'})

    def users_render(request: Request, *, created: dict | None = None, error: str | None = None,
                     notice: str | None = None, status: int = 200) -> HTMLResponse:
        return render(request, "users.html", {"users": store.list_users(), "locks": store.current_locks(),
                                              "divisions": store.known_divisions(), "created": created,
                                              "error": error, "notice": notice}, status)

    @app.get("/admin/users", response_class=HTMLResponse)
    def users_page(request: Request):
        require_role(request, "admin")
        return users_render(request)

    @app.post("/admin/users")
    async def users_add(request: Request):
        form = await request.form()
        check_csrf(request, form)
        user = require_role(request, "admin")
        name = str(form.get("username") or "").strip().lower()
        try:
            pw = await run_in_threadpool(store.add_user, name, str(form.get("role") or ""),
                                         clean(str(form.get("division") or "")), None, user.username, False,
                                         client_of(request))
        except store.UserError as e:
            return users_render(request, error=str(e), status=400)
        return users_render(request, created={"username": name, "password": pw})

    @app.post("/admin/users/{username}/{action}")
    async def users_change(request: Request, username: str, action: str):
        """disable, enable, unlock (lift the login locks), reset (a new generated password, shown once),
        role (set role and the supervisor's division)."""
        form = await request.form()
        check_csrf(request, form)
        user = require_role(request, "admin")
        client = client_of(request)
        if action not in ("disable", "enable", "unlock", "reset", "role", "contact"):
            raise HTTPException(404, "action: one of disable, enable, unlock, reset, role, contact")
        if username == user.username and action in ("disable", "role"):
            raise HTTPException(400, f"username: you cannot {'disable' if action == 'disable' else 're-role'} "
                                     "your own account")
        try:
            if action == "disable":
                await run_in_threadpool(store.disable_user, username, user.username, client)
            elif action == "unlock":
                n = await run_in_threadpool(store.unlock_user, username, user.username, client)
                return users_render(request, notice=f"{username}: login locks lifted ({n} address"
                                                    f"{'es' if n != 1 else ''} were locked)")
            elif action == "enable":
                await run_in_threadpool(lambda: store.update_user(username, by=user.username, client=client,
                                                                  enabled=True))
            elif action == "contact":
                await run_in_threadpool(lambda: store.set_contact(
                    username, by=user.username, client=client, email=str(form.get("email") or ""),
                    reports_to=str(form.get("reports_to") or "")))
            elif action == "reset":
                pw = await run_in_threadpool(lambda: store.update_user(username, by=user.username, client=client,
                                                                       reset_password=True))
                return users_render(request, created={"username": username, "password": pw})
            else:
                await run_in_threadpool(lambda: store.update_user(
                    username, by=user.username, client=client, role=str(form.get("role") or ""),
                    division=clean(str(form.get("division") or ""))))
        except store.UserError as e:
            if str(e).startswith("username: no user"):
                raise HTTPException(404, str(e)) from None
            return users_render(request, error=str(e), status=400)
        return RedirectResponse("/admin/users", status_code=303)

    return _wrap(app, settings)


def _wrap(app: FastAPI, settings: Settings) -> FastAPI:
    """Install the login gate as the outermost middleware (it sees every request, mounts included)."""
    app.add_middleware(AuthGate, settings=settings)
    return app
