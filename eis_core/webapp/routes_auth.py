"""Login (the only page without a session), logout, the home redirect."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from eis_core.webapp import store
from eis_core.webapp.common import check_csrf, render, settings_of, user_of
from eis_core.webapp.security import DOCS_COOKIE, DOCS_PREFIX, LOGIN_CSRF_COOKIE, SESSION_COOKIE, client_of, safe_next

router = APIRouter()


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str | None = None):
    import secrets

    settings = settings_of(request)

    # reuse the browser's pre-login token while it is valid, so that a second tab (or any other
    # request that lands here) does not invalidate the form already shown
    token = None
    try:
        token = settings.login_signer.unsign(request.cookies.get(LOGIN_CSRF_COOKIE) or "", max_age=1500).decode()
    except Exception:  # noqa: BLE001 - missing, expired or forged: issue a new one
        token = None
    token = token or secrets.token_urlsafe(32)
    resp = render(request, "login.html", {"login_csrf": token, "next": safe_next(next), "error": None})
    resp.set_cookie(LOGIN_CSRF_COOKIE, settings.login_signer.sign(token).decode(), **settings.cookie_kwargs(1800))
    return resp


@router.post("/login")
async def login_submit(request: Request):
    import hmac

    settings = settings_of(request)
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
        resp = render(
            request,
            "login.html",
            {
                "login_csrf": expected,
                "next": nxt,
                "error": (
                    f"Too many failed attempts for this user from this address. Try again in {minutes} minute"
                    f"{'s' if minutes > 1 else ''}, or ask an administrator to unlock the account."
                ),
            },
            429,
        )
        resp.headers["Retry-After"] = str(t.retry_after)
        return resp
    if user is None:
        return render(
            request,
            "login.html",
            {"login_csrf": expected, "next": nxt, "error": "Unknown user or wrong password."},
            401,
        )
    sid, _ = await run_in_threadpool(
        store.create_session, user.username, settings.lifetime, client, settings.max_sessions
    )
    resp = RedirectResponse(nxt, status_code=303)
    resp.set_cookie(
        SESSION_COOKIE, settings.sign(sid), **settings.cookie_kwargs(int(settings.lifetime.total_seconds()))
    )
    resp.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return resp


@router.post("/logout")
async def logout(request: Request):
    form = await request.form()
    check_csrf(request, form)
    user = user_of(request)
    sid = request.state.sid
    await run_in_threadpool(store.end_session, sid)
    await run_in_threadpool(
        store.registry_audit, user.username, "logout", None, None, client_of(request), user.department
    )
    resp = RedirectResponse("/login", status_code=303)
    resp.delete_cookie(SESSION_COOKIE, path="/")
    resp.delete_cookie(DOCS_COOKIE, path=DOCS_PREFIX)
    return resp


@router.get("/favicon.ico")
def favicon(request: Request):
    return Response(status_code=204)  # pages without a <link rel=icon> (the Data Docs) ask for it


@router.get("/")
def home(request: Request):
    user_of(request)
    return RedirectResponse("/risk", status_code=303)
