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

The routes live in one router per area (``routes_auth``, ``routes_risk``, ``routes_officer``,
``routes_alerts``, ``routes_models``, ``routes_analyst``, ``routes_admin``; shared checks in ``common``,
chart configurations in ``charts``, the Data Docs in ``datadocs``); this module assembles them.  The app
never changes the warehouse's schema: it refuses to start when the schema is not at the migrations' head
(:func:`eis_core.migrations.require_current`: "run `eis db upgrade`").
"""

from __future__ import annotations

import json
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from eis_core.webapp import (
    routes_admin,
    routes_alerts,
    routes_analyst,
    routes_auth,
    routes_models,
    routes_officer,
    routes_risk,
    store,
)
from eis_core.webapp.common import NAV, render
from eis_core.webapp.datadocs import data_docs_dir
from eis_core.webapp.security import AuthGate, Settings, client_of

HERE = Path(__file__).resolve().parent

#: the routers in the order their routes are matched
ROUTERS = (routes_auth, routes_risk, routes_officer, routes_alerts, routes_models, routes_analyst, routes_admin)


def require_current_everywhere() -> None:
    """The registry's database and every registered department's at the migrations' head, else
    :class:`eis_core.migrations.SchemaBehind` naming the department (the app never runs DDL)."""
    from eis_core import departments, migrations

    with departments.use(departments.DEFAULT):
        migrations.require_current()
        names = store.department_names()[1:]
    for name in names:
        with departments.use(name):
            try:
                migrations.require_current()
            except migrations.SchemaBehind as exc:
                raise migrations.SchemaBehind(
                    f"department {name}: {exc} (for this department: `eis --department {name} db upgrade`)"
                ) from None


def create_app(settings: Settings | None = None, data_docs: Path | None = None) -> FastAPI:
    """The web app over the active warehouse (``EIS_DATABASE_URL`` or the embedded server).  *data_docs*:
    the Great Expectations Data Docs site to serve under ``/data-docs/`` (default: the one in EIS_HOME).
    Raises :class:`eis_core.migrations.SchemaBehind` when the warehouse's schema is not current."""
    require_current_everywhere()
    settings = settings or Settings()

    app = FastAPI(title="EIS", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings = settings
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.globals["NAV"] = NAV
    templates.env.filters["num"] = lambda v, d=3: "–" if v is None else f"{v:.{d}f}"
    templates.env.filters["pct"] = lambda v, d=1: "–" if v is None else f"{100 * v:.{d}f} %"
    templates.env.filters["dt"] = lambda v: "–" if v is None else v.strftime("%Y-%m-%d %H:%M")
    templates.env.filters["tojson_pretty"] = lambda v: json.dumps(v, indent=1, default=str, sort_keys=True)
    app.state.templates = templates
    # None: each department's own site (data_docs_dir() inside the request's department)
    app.state.docs_root = Path(data_docs) if data_docs is not None else None
    app.state.swept = {}  # per department: this app's last alert sweep (routes_risk.sweep_alerts)

    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        if exc.status_code == 403:  # every refusal is in the audit: who, what, from where
            user = getattr(request.state, "user", None)
            detail = {
                "path": request.url.path,
                "query": request.url.query[:300] or None,
                "method": request.method,
                "reason": str(exc.detail)[:300],
                **(getattr(exc, "audit_detail", None) or {}),
            }
            await run_in_threadpool(
                store.audit,
                user.username if user else "-",
                getattr(exc, "action", "denied"),
                getattr(exc, "target", None) or request.url.path,
                detail,
                client_of(request),
            )
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)
        return render(request, "error.html", {"status": exc.status_code, "detail": exc.detail}, exc.status_code)

    for module in ROUTERS:
        app.include_router(module.router)
    # the login gate is the outermost middleware: it sees every request, mounts included
    app.add_middleware(AuthGate, settings=settings)
    return app


__all__ = ["ROUTERS", "create_app", "data_docs_dir", "require_current_everywhere"]
