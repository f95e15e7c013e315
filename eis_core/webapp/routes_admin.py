"""The admins' pages: the access audit (search, CSV export), user management, and the platform admin's
departments (list, switch the department in view).

A department's admin sees and changes only the users of their own department (``scope``: any other
user is "no user", 404); a platform admin those of the department they view, and may make platform
admins.  User changes audit in the registry database, marked with the department."""

from __future__ import annotations

import csv
import io
import json
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from eis_core import departments
from eis_core.webapp import store
from eis_core.webapp.common import check_csrf, clean, csv_safe, parse_date, render, require_role, user_of
from eis_core.webapp.security import client_of, safe_next

router = APIRouter()


def admin_scope(user: store.User) -> str | None:
    """The department whose users *user* may change (None: a platform admin, every department)."""
    return None if user.is_platform_admin else departments.current()


def audit_query(
    request: Request,
    user: str | None,
    officer: str | None,
    action: str | None,
    since: str | None,
    until: str | None,
    before: str | None,
    limit: int,
) -> dict:
    viewer = require_role(request, "admin")
    filters = {
        "user": clean(user),
        "officer": clean(officer),
        "action": clean(action),
        "since": parse_date(since, "since"),
        "until": parse_date(until, "until"),
    }
    for k in ("user", "officer", "action"):
        if filters[k] and len(filters[k]) > 100:
            raise HTTPException(400, f"{k}: at most 100 characters")
    try:
        before_id = int(before) if before else None
    except ValueError:
        raise HTTPException(400, "before: not a number") from None
    # the default database is also the registry: its rows about other departments' users are theirs
    rows = store.search_audit(
        filters["user"],
        filters["officer"],
        filters["action"],
        filters["since"],
        filters["until"],
        before_id,
        limit,
        None if viewer.is_platform_admin else departments.current(),
    )
    return {"filters": filters, "rows": rows, "before": before_id}


@router.get("/admin/audit", response_class=HTMLResponse)
def audit_page(
    request: Request,
    user: str | None = None,
    officer: str | None = None,
    action: str | None = None,
    since: str | None = None,
    until: str | None = None,
    before: str | None = None,
):
    """Who did what, when, from where: filter by user, officer (or any target), action and dates."""
    ctx = audit_query(request, user, officer, action, since, until, before, 200)
    f = ctx["filters"]
    query = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in f.items() if v}
    ctx.update(
        actions=store.audit_actions(),
        export_query=urlencode(query),
        next_query=urlencode({**query, "before": ctx["rows"][-1]["audit_id"]}) if len(ctx["rows"]) == 200 else None,
    )
    return render(request, "audit.html", ctx)


@router.get("/admin/audit.csv")
def audit_csv(
    request: Request,
    user: str | None = None,
    officer: str | None = None,
    action: str | None = None,
    since: str | None = None,
    until: str | None = None,
):
    admin = require_role(request, "admin")
    ctx = audit_query(request, user, officer, action, since, until, None, 100_000)
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["audit_id", "at", "username", "action", "target", "client", "detail"])
    for r in ctx["rows"]:
        w.writerow(
            [
                csv_safe(x)
                for x in (
                    r["audit_id"],
                    r["at"].isoformat(),
                    r["username"],
                    r["action"],
                    r["target"],
                    r["client"],
                    json.dumps(r["detail"], default=str) if r["detail"] else "",
                )
            ]
        )
    f = ctx["filters"]
    store.audit(
        admin.username,
        "export_audit",
        "access_audit",
        {**{k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in f.items()}, "rows": len(ctx["rows"])},
        client_of(request),
    )
    return Response(
        buf.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="eis-audit.csv"'},
    )


def users_render(
    request: Request,
    *,
    created: dict | None = None,
    error: str | None = None,
    notice: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    user = user_of(request)
    here = departments.current()
    roles = list(store.DEPARTMENT_ROLES)[::-1]
    if user.is_platform_admin and here == departments.DEFAULT:
        roles.append("platform_admin")
    return render(
        request,
        "users.html",
        {
            "users": [u for u in store.list_users(here) if u["role"] in roles],
            "locks": store.current_locks(here if not user.is_platform_admin else None),
            "divisions": store.known_divisions(),
            "roles": roles,
            "created": created,
            "error": error,
            "notice": notice,
        },
        status,
    )


@router.get("/admin/users", response_class=HTMLResponse)
def users_page(request: Request):
    require_role(request, "admin")
    return users_render(request)


@router.post("/admin/users")
async def users_add(request: Request):
    form = await request.form()
    check_csrf(request, form)
    user = require_role(request, "admin")
    name = str(form.get("username") or "").strip().lower()
    try:
        pw = await run_in_threadpool(
            store.add_user,
            name,
            str(form.get("role") or ""),
            clean(str(form.get("division") or "")),
            None,
            user.username,
            False,
            client_of(request),
            department=departments.current(),
            scope=admin_scope(user),
        )
    except store.UserError as e:
        return users_render(request, error=str(e), status=400)
    return users_render(request, created={"username": name, "password": pw})


@router.post("/admin/users/{username}/{action}")
async def users_change(request: Request, username: str, action: str):
    """disable, enable, unlock (lift the login locks), reset (a new generated password, shown once),
    role (set role and the supervisor's division)."""
    form = await request.form()
    check_csrf(request, form)
    user = require_role(request, "admin")
    client = client_of(request)
    scope = admin_scope(user)
    if action not in ("disable", "enable", "unlock", "reset", "role", "contact"):
        raise HTTPException(404, "action: one of disable, enable, unlock, reset, role, contact")
    if username == user.username and action in ("disable", "role"):
        raise HTTPException(
            400, f"username: you cannot {'disable' if action == 'disable' else 're-role'} your own account"
        )
    try:
        if action == "disable":
            await run_in_threadpool(store.disable_user, username, user.username, client, scope)
        elif action == "unlock":
            n = await run_in_threadpool(store.unlock_user, username, user.username, client, scope)
            return users_render(
                request, notice=f"{username}: login locks lifted ({n} address{'es' if n != 1 else ''} were locked)"
            )
        elif action == "enable":
            await run_in_threadpool(
                lambda: store.update_user(username, by=user.username, client=client, enabled=True, scope=scope)
            )
        elif action == "contact":
            await run_in_threadpool(
                lambda: store.set_contact(
                    username,
                    by=user.username,
                    client=client,
                    email=str(form.get("email") or ""),
                    reports_to=str(form.get("reports_to") or ""),
                    scope=scope,
                )
            )
        elif action == "reset":
            pw = await run_in_threadpool(
                lambda: store.update_user(username, by=user.username, client=client, reset_password=True, scope=scope)
            )
            return users_render(request, created={"username": username, "password": pw})
        else:
            await run_in_threadpool(
                lambda: store.update_user(
                    username,
                    by=user.username,
                    client=client,
                    role=str(form.get("role") or ""),
                    division=clean(str(form.get("division") or "")),
                    scope=scope,
                )
            )
    except store.UserError as e:
        if str(e).startswith("username: no user"):
            raise HTTPException(404, str(e)) from None
        return users_render(request, error=str(e), status=400)
    return RedirectResponse("/admin/users", status_code=303)


@router.get("/admin/departments", response_class=HTMLResponse)
def departments_page(request: Request):
    """The platform admin's list of departments (adding and removing them is the command line's)."""
    require_role(request, "platform_admin")
    with store.registry() as conn:
        rows = conn.execute(
            "SELECT d.name, d.database, d.contributes_to_pooled, d.created_at, "
            "(SELECT count(*) FROM webapp.users u WHERE u.department = d.name) FROM platform.departments d "
            "ORDER BY d.name"
        ).fetchall()
        n_default = conn.execute("SELECT count(*) FROM webapp.users WHERE department = 'default'").fetchone()[0]
    from eis_core import db

    out = [
        {
            "name": "default",
            "database": db.warehouse_db(departments.DEFAULT),
            "contributes": None,
            "created_at": None,
            "users": n_default,
        }
    ]
    out += [{"name": r[0], "database": r[1], "contributes": r[2], "created_at": r[3], "users": r[4]} for r in rows]
    return render(request, "departments.html", {"rows": out})


@router.post("/department")
async def department_switch(request: Request):
    """A platform admin views another department: kept in their (server-side) session, checked against
    the registry on every request; audited in the registry."""
    form = await request.form()
    check_csrf(request, form)
    user = require_role(request, "platform_admin")
    try:
        await run_in_threadpool(
            store.set_viewing, request.state.sid, user, str(form.get("department") or ""), client_of(request)
        )
    except store.UserError as e:
        raise HTTPException(404, str(e)) from None
    return RedirectResponse(safe_next(str(form.get("next") or "/risk")), status_code=303)
