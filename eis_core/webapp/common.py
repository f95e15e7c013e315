"""What every router of the web app shares: the navigation, the page renderer, the role and scope checks
(:func:`user_of`, :func:`require_role`, :class:`Denied`), form and parameter parsing, the CSRF check.

Authentication itself is the gate's (:class:`eis_core.webapp.security.AuthGate`, outermost middleware):
no request without a valid session reaches a router; :func:`user_of` is a second line.
"""

from __future__ import annotations

import hmac
from datetime import date
from typing import Any

from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse

from eis_core.webapp import store

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
    ("/admin/departments", "Departments", ("platform_admin",)),
]
PER_PAGE = (25, 50, 100, 250)


def render(request: Request, name: str, ctx: dict, status: int = 200) -> HTMLResponse:
    """Template *name* with the page's user, CSRF token and path (the app's ``state.templates``)."""
    from eis_core import departments

    user = getattr(request.state, "user", None)
    base = {"request": request, "user": user, "csrf": getattr(request.state, "csrf", None), "path": request.url.path}
    base["department"] = departments.current() if user is not None else None
    if user is not None and user.is_platform_admin:  # the department selector of every page
        base["departments"] = store.department_names()
    return request.app.state.templates.TemplateResponse(request, name, {**base, **ctx}, status_code=status)


def settings_of(request: Request):
    """The app's :class:`eis_core.webapp.security.Settings`."""
    return request.app.state.settings


def user_of(request: Request) -> store.User:
    user = getattr(request.state, "user", None)
    if user is None:  # the gate lets no anonymous request through; this is a second line
        raise HTTPException(401, "not authenticated")
    return user


class Denied(HTTPException):
    """A 403 that names what the audit should record (action, target, detail); every 403 is audited by
    the app's error handler, these with their own action (``denied_officer`` …), the rest as ``denied``."""

    def __init__(
        self, detail: str, action: str = "denied", target: str | None = None, audit_detail: dict | None = None
    ) -> None:
        super().__init__(403, detail)
        self.action, self.target, self.audit_detail = action, target, audit_detail


def require_role(request: Request, *roles: str) -> store.User:
    user = user_of(request)
    if not user.may(roles):
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
    if not expected or not hmac.compare_digest(str(token), str(expected)):
        raise HTTPException(403, "csrf_token: missing or wrong (reload the page and submit again)")


def csv_safe(v: Any) -> Any:
    """Neutralise spreadsheet formulas in exported text cells."""
    if isinstance(v, str) and v[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + v
    return v
