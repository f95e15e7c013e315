"""Logging in: throttling per (user name, client address), authentication, server-side sessions.

All of it lives in the registry database (:func:`registry`): one login for the installation, whatever
department a user belongs to.  A user whose department is no longer registered cannot log in, and
their sessions stop working; a platform admin's session carries the department they view
(:func:`set_viewing`), checked against the registry on every request."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from eis_core.webapp.store.audit import audit_in, registry
from eis_core.webapp.store.users import DEPARTMENT_ROLES, User, UserError, hash_password, hasher

#: a user's department is live: ``default`` or a row of the registry
LIVE_DEPARTMENT = (
    "(u.department = 'default' OR EXISTS (SELECT 1 FROM platform.departments p WHERE p.name = u.department))"
)

#: throttling, per (username, client address): after MAX_FAILURES failed attempts since that pair's last
#: success (or an admin's unlock of the user) within FAILURE_WINDOW, the pair is locked for BASE_LOCK,
#: doubling with every further failure up to MAX_LOCK, counted from the last failure.  Attempts refused
#: while locked are recorded but do not count, so they never extend the lock; another address (the real
#: user's) is not affected, and neither is another user name at the same address.
MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(hours=24)
BASE_LOCK = timedelta(minutes=1)
MAX_LOCK = timedelta(hours=1)


# ----------------------------------------------------------------------------------------- login

LOCK_STATE_SQL = """
WITH since AS (
    SELECT greatest((SELECT max(at) FROM webapp.login_attempts
                     WHERE username = %(u)s AND client IS NOT DISTINCT FROM %(c)s AND success),
                    (SELECT max(at) FROM webapp.login_unlocks WHERE username = %(u)s),
                    now() - %(window)s::interval) AS t)
SELECT count(*), max(a.at) FROM webapp.login_attempts a, since
WHERE a.username = %(u)s AND a.client IS NOT DISTINCT FROM %(c)s AND NOT a.success AND NOT a.refused
  AND a.at > since.t
"""


def lock_duration(failures: int) -> timedelta | None:
    """How long the pair is locked after its *failures*-th counted failure (None: not locked)."""
    if failures < MAX_FAILURES:
        return None
    return min(BASE_LOCK * (2 ** min(failures - MAX_FAILURES, 20)), MAX_LOCK)


def lock_state(conn, username: str, client: str | None) -> tuple[int, datetime | None]:
    """(counted failures, locked until) of the (username, client) pair; locked until is None or past
    when the pair may try again."""
    n, last = conn.execute(LOCK_STATE_SQL, {"u": username, "c": client, "window": FAILURE_WINDOW}).fetchone()
    d = lock_duration(n or 0)
    return int(n or 0), (last + d if d is not None and last is not None else None)


def current_locks(department: str | None = None) -> list[dict]:
    """The (username, client) pairs locked right now (of *department*'s users only, when given), for
    the admin's users page."""
    with registry() as conn:
        pairs = conn.execute(
            "SELECT DISTINCT username, client FROM webapp.login_attempts WHERE NOT success AND NOT refused "
            "AND at > now() - %s::interval AND (%s::text IS NULL OR username IN "
            "(SELECT username FROM webapp.users WHERE department = %s AND role = ANY(%s)))",
            (FAILURE_WINDOW, department, department, list(DEPARTMENT_ROLES)),
        ).fetchall()
        now = datetime.now(UTC)
        out = []
        for username, client in pairs:
            n, until = lock_state(conn, username, client)
            if until is not None and until > now:
                out.append({"username": username, "client": client, "failures": n, "locked_until": until})
    return sorted(out, key=lambda r: (r["username"], r["client"] or ""))


def unlock_user(username: str, by: str = "eis users", client: str | None = None, scope: str | None = None) -> int:
    """Lift every login lock of *username* (all addresses); returns how many pairs were locked.  *scope*:
    the department the caller administers (a user elsewhere is "no user")."""
    username = (username or "").strip().lower()
    department = None
    with registry() as conn:
        row = conn.execute("SELECT role, department FROM webapp.users WHERE username = %s", (username,)).fetchone()
        if scope is not None and (row is None or row[1] != scope or row[0] not in DEPARTMENT_ROLES):
            raise UserError(f"username: no user {username!r}")
        department = row[1] if row else None
    locked = [r for r in current_locks() if r["username"] == username]
    with registry() as conn:
        conn.execute(
            "INSERT INTO webapp.login_unlocks (username, unlocked_by, client) VALUES (%s, %s, %s)",
            (username, by, client),
        )
        audit_in(conn, by, "user_unlock", username, {"locked_pairs": [r["client"] for r in locked]}, client, department)
    return len(locked)


class Throttled(Exception):
    def __init__(self, username: str, retry_after: int) -> None:
        super().__init__(username)
        self.retry_after = retry_after


def authenticate(username: str, password: str, client: str | None) -> User | None:
    """The user when *password* matches an enabled account; None otherwise.  Raises :class:`Throttled`
    while the (username, client) pair is locked (see :data:`MAX_FAILURES`; the password is then not even
    checked, and the refused attempt does not count).  Every attempt is recorded."""
    from argon2.exceptions import InvalidHashError, VerificationError

    username = (username or "").strip().lower()[:100]
    with registry() as conn:
        conn.execute(
            "SELECT pg_advisory_xact_lock(hashtext('eis_login:' || %s || '|' || coalesce(%s, '')))", (username, client)
        )  # concurrent guesses for one pair are counted one after the other
        failures, until = lock_state(conn, username, client)
        now = datetime.now(UTC)
        if until is not None and until > now:
            conn.execute(
                "INSERT INTO webapp.login_attempts (username, client, success, refused) VALUES (%s, %s, false, true)",
                (username, client),
            )
            audit_in(
                conn,
                username or "-",
                "login_throttled",
                username,
                {"failures": failures, "locked_until": until.isoformat()},
                client,
            )
            conn.commit()  # keep the record: the exception below would roll the transaction back
            raise Throttled(username, max(1, int((until - now).total_seconds() + 0.999)))
        row = conn.execute(
            f"SELECT username, role, division, disabled OR NOT {LIVE_DEPARTMENT}, password_hash, department "
            "FROM webapp.users u WHERE username = %s",
            (username,),
        ).fetchone()
        ok = False
        if row is not None and not row[3]:
            try:
                ok = hasher().verify(row[4], password or "")
            except (VerificationError, InvalidHashError):
                ok = False
            if ok and hasher().check_needs_rehash(row[4]):
                conn.execute(
                    "UPDATE webapp.users SET password_hash = %s WHERE username = %s",
                    (hash_password(password), username),
                )
        else:
            # spend the same time as a real check so that unknown names cannot be told apart
            try:
                hasher().verify(_DUMMY_HASH(), password or "")
            except (VerificationError, InvalidHashError):
                pass
        conn.execute(
            "INSERT INTO webapp.login_attempts (username, client, success) VALUES (%s, %s, %s)", (username, client, ok)
        )
        audit_in(
            conn, username or "-", "login" if ok else "login_failed", username, None, client, row[5] if row else None
        )
        if not ok:
            return None
        conn.execute("UPDATE webapp.users SET last_login_at = now() WHERE username = %s", (username,))
        return User(row[0], row[1], row[2], False, row[5])


_dummy: list[str] = []


def _DUMMY_HASH() -> str:  # noqa: N802 - a lazily computed constant
    if not _dummy:
        _dummy.append(hash_password(secrets.token_urlsafe(16)))
    return _dummy[0]


#: a session unused this long ends (EIS_WEBAPP_IDLE_MINUTES); a user has at most this many live sessions
#: (EIS_WEBAPP_MAX_SESSIONS): a new login ends the least recently used beyond it
DEFAULT_IDLE = timedelta(minutes=30)
DEFAULT_MAX_SESSIONS = 3
#: last_seen_at is written at most this often per session (not on every request)
SEEN_RESOLUTION = timedelta(seconds=30)


def create_session(
    username: str, lifetime: timedelta, client: str | None, max_sessions: int = DEFAULT_MAX_SESSIONS
) -> tuple[str, str]:
    """A new server-side session; returns (session id, CSRF token).  The user's sessions beyond
    *max_sessions* (the least recently used first) end."""
    sid, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    with registry() as conn:
        conn.execute("DELETE FROM webapp.sessions WHERE expires_at < now()")
        conn.execute(
            "INSERT INTO webapp.sessions (session_id, username, csrf_token, expires_at, client) "
            "VALUES (%s, %s, %s, %s, %s)",
            (sid, username, csrf, datetime.now(UTC) + lifetime, client),
        )
        ended = conn.execute(
            "DELETE FROM webapp.sessions WHERE session_id IN (SELECT session_id FROM webapp.sessions "
            "WHERE username = %s ORDER BY last_seen_at DESC, created_at DESC OFFSET %s) RETURNING client",
            (username, max(1, max_sessions)),
        ).fetchall()
        if ended:
            audit_in(
                conn, username, "session_limit", username, {"ended": len(ended), "max_sessions": max_sessions}, client
            )
    return sid, csrf


def session_user(session_id: str, idle: timedelta = DEFAULT_IDLE) -> tuple[User, str] | None:
    """(user, CSRF token) of a live session of an enabled user, else None.  A session unused for *idle*
    is over (and deleted); a used one has its last_seen_at moved on."""
    with registry() as conn:
        row = conn.execute(
            "SELECT u.username, u.role, u.division, s.csrf_token, s.last_seen_at < now() - %s::interval, "
            "s.last_seen_at < now() - %s::interval, u.department, "
            "CASE WHEN s.viewing = 'default' OR EXISTS (SELECT 1 FROM platform.departments p WHERE p.name = s.viewing) "
            "THEN s.viewing END FROM webapp.sessions s "
            "JOIN webapp.users u USING (username) "
            f"WHERE s.session_id = %s AND s.expires_at > now() AND NOT u.disabled AND {LIVE_DEPARTMENT}",
            (idle, SEEN_RESOLUTION, session_id),
        ).fetchone()
        if row is None:
            return None
        if row[4]:
            conn.execute("DELETE FROM webapp.sessions WHERE session_id = %s", (session_id,))
            audit_in(
                conn, row[0], "session_idle_timeout", row[0], {"idle_minutes": idle.total_seconds() / 60}, None, row[6]
            )
            return None
        if row[5]:
            conn.execute("UPDATE webapp.sessions SET last_seen_at = now() WHERE session_id = %s", (session_id,))
    viewing = row[7] if row[1] == "platform_admin" else None
    return User(row[0], row[1], row[2], False, row[6], viewing), row[3]


def end_session(session_id: str) -> None:
    with registry() as conn:
        conn.execute("DELETE FROM webapp.sessions WHERE session_id = %s", (session_id,))


def set_viewing(session_id: str, user: User, department: str, client: str | None = None) -> None:
    """Make platform admin *user*'s session view *department* (``default`` or a registered one)."""
    from eis_core.webapp.store.users import check_department

    if not user.is_platform_admin:
        raise UserError("department: only a platform admin switches departments")
    department = check_department(department)
    with registry() as conn:
        conn.execute(
            "UPDATE webapp.sessions SET viewing = %s WHERE session_id = %s AND username = %s",
            (department, session_id, user.username),
        )
        audit_in(conn, user.username, "department_switch", department, {"from": user.scope}, client, department)


def registry_audit(
    username: str,
    action: str,
    target: str | None = None,
    detail: dict | None = None,
    client: str | None = None,
    department: str | None = None,
) -> None:
    """One audit row in the registry database (logins, logouts, user changes)."""
    with registry() as conn:
        audit_in(conn, username, action, target, detail, client, department)


def department_names() -> list[str]:
    """``default`` and the registered departments, by name (the registry's ``platform.departments``)."""
    with registry() as conn:
        return ["default"] + [r[0] for r in conn.execute("SELECT name FROM platform.departments ORDER BY name")]
