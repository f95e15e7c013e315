"""Sessions, the login gate, CSRF and security headers.

* The session cookie ``eis_session`` carries only a random session id, signed (itsdangerous,
  timestamped: a cookie older than the session lifetime is refused even before the database is asked),
  ``HttpOnly``, ``SameSite=Strict``, ``Path=/``, ``Max-Age`` = the lifetime, and ``Secure`` when
  ``EIS_WEBAPP_SECURE_COOKIES=1`` (behind TLS).  The session itself lives in ``webapp.sessions``.
* :class:`AuthGate` is *default deny*: every path except ``/login`` and ``/static/`` needs a live
  session of an enabled user; without one a page request is redirected to the login page (303) and an
  ``/api/`` request gets 401.  Routes added later are therefore protected without doing anything.
* Departments: a request of a logged-in user runs inside ``departments.use(user.scope)`` (set here,
  before any route or dependency runs; anyio copies the context into the worker threads of sync
  routes), so every ``db.connect()`` of the request reaches that department's database.  The session
  (in the registry database) says whose user it is and, for a platform admin, which department they
  view; both are checked against the registry on every request.
* CSRF: every POST form carries the session's token (``csrf_token``); the login form a token bound
  to a signed pre-login cookie.  A POST without the right token gets 403.
"""

from __future__ import annotations

import logging
import os
import secrets
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse

from eis_core.paths import platform_home

log = logging.getLogger(__name__)
SESSION_COOKIE = "eis_session"
#: the Data Docs are served sandboxed (an opaque origin), so the browser does not send the
#: ``SameSite=Strict`` session cookie when a link inside them is followed; this second cookie carries
#: the same session id, signed with its own salt, ``SameSite=Lax``, ``Path=/data-docs/`` - it is accepted
#: only there (read-only GETs of static reports), so it cannot reach any other page or any POST
DOCS_COOKIE = "eis_docs"
DOCS_PREFIX = "/data-docs/"
LOGIN_CSRF_COOKIE = "eis_login_csrf"
PUBLIC_PREFIXES = ("/static/",)
PUBLIC_PATHS = ("/login",)

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
#: GE Data Docs are generated HTML that shows raw values of the drops (a quarantined value may be
#: ``<script>``): they are untrusted content.  ``sandbox`` without ``allow-same-origin`` gives them an
#: opaque origin (no cookies, no same-origin fetch, no forms, no scripts even if another layer failed),
#: and ``script-src 'none'`` forbids every script; styles and images from this server only.
DATA_DOCS_CSP = (
    "sandbox; default-src 'none'; script-src 'none'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; form-action 'none'; base-uri 'none'; "
    "frame-ancestors 'none'"
)


def secret_key() -> str:
    """``EIS_WEBAPP_SECRET``, else a random key kept in ``$EIS_HOME/webapp/secret_key`` (mode 0600), one
    for the installation (all departments)."""
    env = os.environ.get("EIS_WEBAPP_SECRET")
    if env:
        if len(env) < 32:
            raise ValueError("EIS_WEBAPP_SECRET: at least 32 characters")
        return env
    path = platform_home() / "webapp" / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
        os.replace(tmp, path)
    return Path(path).read_text().strip()


class Settings:
    def __init__(
        self,
        *,
        secret: str | None = None,
        session_hours: float | None = None,
        secure_cookies: bool | None = None,
        trusted_proxies: str | None = None,
        idle_minutes: float | None = None,
        max_sessions: int | None = None,
        sweep_seconds: float | None = None,
    ) -> None:
        self.secret = secret or secret_key()
        hours = session_hours if session_hours is not None else float(os.environ.get("EIS_WEBAPP_SESSION_HOURS", "8"))
        self.lifetime = timedelta(hours=hours)
        self.secure = (
            secure_cookies
            if secure_cookies is not None
            else os.environ.get("EIS_WEBAPP_SECURE_COOKIES", "") in ("1", "true", "yes")
        )
        self.idle = timedelta(
            minutes=idle_minutes if idle_minutes is not None else float(os.environ.get("EIS_WEBAPP_IDLE_MINUTES", "30"))
        )
        self.max_sessions = (
            max_sessions if max_sessions is not None else int(os.environ.get("EIS_WEBAPP_MAX_SESSIONS", "3"))
        )
        #: the risk list runs the alert sweep at most this often (the alerts page on every view)
        self.sweep_seconds = (
            sweep_seconds if sweep_seconds is not None else float(os.environ.get("EIS_WEBAPP_SWEEP_SECONDS", "60"))
        )
        self.trusted_proxies = parse_networks(
            trusted_proxies if trusted_proxies is not None else os.environ.get("EIS_WEBAPP_TRUSTED_PROXIES", "")
        )
        self.signer = TimestampSigner(self.secret, salt="eis-webapp-session")
        self.login_signer = TimestampSigner(self.secret, salt="eis-webapp-login-csrf")
        self.docs_signer = TimestampSigner(self.secret, salt="eis-webapp-data-docs")

    def sign(self, value: str) -> str:
        return self.signer.sign(value).decode()

    def unsign(self, cookie: str | None) -> str | None:
        if not cookie:
            return None
        try:
            return self.signer.unsign(cookie, max_age=int(self.lifetime.total_seconds())).decode()
        except (BadSignature, SignatureExpired):
            return None

    def unsign_docs(self, cookie: str | None) -> str | None:
        if not cookie:
            return None
        try:
            return self.docs_signer.unsign(cookie, max_age=int(self.lifetime.total_seconds())).decode()
        except (BadSignature, SignatureExpired):
            return None

    def cookie_kwargs(self, max_age: int) -> dict:
        return {"max_age": max_age, "httponly": True, "samesite": "strict", "secure": self.secure, "path": "/"}

    def set_docs_cookie(self, response, sid: str) -> None:
        response.set_cookie(
            DOCS_COOKIE,
            self.docs_signer.sign(sid).decode(),
            max_age=int(self.lifetime.total_seconds()),
            httponly=True,
            samesite="lax",
            secure=self.secure,
            path=DOCS_PREFIX,
        )


def parse_networks(text: str) -> tuple:
    """``EIS_WEBAPP_TRUSTED_PROXIES``: comma-separated addresses or CIDR networks of the reverse proxies
    whose ``X-Forwarded-For`` is believed (empty: none, the header is ignored)."""
    import ipaddress

    out = []
    for part in (text or "").replace(" ", ",").split(","):
        if part:
            try:
                out.append(ipaddress.ip_network(part, strict=False))
            except ValueError:
                raise ValueError(f"EIS_WEBAPP_TRUSTED_PROXIES: not an address or network: {part!r}") from None
    return tuple(out)


def _in(networks: tuple, addr: str) -> bool:
    import ipaddress

    try:
        ip = ipaddress.ip_address(addr.strip())
    except ValueError:
        return False
    return any(ip in n for n in networks)


def client_of(request: Request) -> str | None:
    """The client's address: the TCP peer, or - only when the peer is a configured trusted proxy - the
    right-most ``X-Forwarded-For`` address that is not itself a trusted proxy (the left part of that header
    is whatever the client wrote, so it is never believed)."""
    peer = request.client.host if request.client else None
    app = request.scope.get("app")
    settings = getattr(getattr(app, "state", None), "settings", None)
    trusted = getattr(settings, "trusted_proxies", ())
    if not trusted or peer is None or not _in(trusted, peer):
        return peer
    hops = [h.strip() for h in ",".join(request.headers.getlist("x-forwarded-for")).split(",") if h.strip()]
    for hop in reversed(hops):
        if not _in(trusted, hop):
            return hop[:64]
    return peer


class AuthGate:
    """Pure ASGI middleware: authentication for every path that is not public, plus security headers."""

    def __init__(self, app, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    @staticmethod
    def is_public(path: str) -> bool:
        return path in PUBLIC_PATHS or any(path.startswith(p) for p in PUBLIC_PREFIXES)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        csp = DATA_DOCS_CSP if path.startswith("/data-docs") else CSP

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                extra = [
                    (b"content-security-policy", csp.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"x-frame-options", b"DENY"),
                    (b"referrer-policy", b"same-origin"),
                ]
                if not path.startswith("/static/"):
                    extra.append((b"cache-control", b"no-store"))
                headers += [(k, v) for k, v in extra if k not in names]
                message = {**message, "headers": headers}
            await send(message)

        from urllib.parse import unquote_to_bytes

        raw = scope.get("query_string", b"") + scope.get("raw_path", b"") + path.encode("utf-8", "surrogateescape")
        if b"\x00" in unquote_to_bytes(raw) or any(ord(ch) < 32 for ch in path):
            # PostgreSQL text cannot hold NUL, and no identifier of this app has control characters
            resp = (
                JSONResponse({"detail": "request: NUL or control characters are not allowed"}, status_code=400)
                if path.startswith("/api/")
                else PlainTextResponse("400 Bad Request: NUL or control characters are not allowed", status_code=400)
            )
            await resp(scope, receive, send_with_headers)
            return
        started = False

        async def send_tracked(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send_with_headers(message)

        try:
            await self._gate(scope, receive, send_tracked, path)
        except Exception:  # noqa: BLE001 - a 500 that still carries the security headers
            log.exception("unhandled error on %s", path)
            if started:
                raise
            await PlainTextResponse("500 Internal Server Error: the error is in the server log", status_code=500)(
                scope, receive, send_with_headers
            )

    async def _gate(self, scope, receive, send_with_headers, path: str) -> None:
        request = Request(scope)
        scope.setdefault("state", {})
        scope["state"]["user"] = None
        if self.is_public(path):
            await self.app(scope, receive, send_with_headers)
            return
        sid = self.settings.unsign(request.cookies.get(SESSION_COOKIE))
        if sid is None and path.startswith(DOCS_PREFIX) and scope.get("method") in ("GET", "HEAD"):
            sid = self.settings.unsign_docs(request.cookies.get(DOCS_COOKIE))
        found = None
        if sid:
            from eis_core.webapp.store import session_user

            found = await run_in_threadpool(session_user, sid, self.settings.idle)  # the registry's
        if found is None:
            if path.startswith("/api/"):
                resp = JSONResponse(
                    {"detail": "not authenticated"}, status_code=401, headers={"WWW-Authenticate": 'Cookie realm="eis"'}
                )
            else:
                target = path + (("?" + scope["query_string"].decode("latin-1")) if scope.get("query_string") else "")
                resp = RedirectResponse("/login?next=" + quote(target, safe=""), status_code=303)
            if sid or request.cookies.get(SESSION_COOKIE):
                resp.delete_cookie(SESSION_COOKIE, path="/")
            await resp(scope, receive, send_with_headers)
            return
        user, csrf = found
        scope["state"]["user"] = user
        scope["state"]["csrf"] = csrf
        scope["state"]["sid"] = sid
        from eis_core import departments

        with departments.use(user.scope):  # every query of this request goes to the user's department
            await self.app(scope, receive, send_with_headers)


def safe_next(target: str | None) -> str:
    """Only same-site relative paths are followed after login."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    if target.startswith("/login"):
        return "/"
    return target
