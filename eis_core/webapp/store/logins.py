"""Logging in: throttling per (user name, client address), authentication, server-side sessions."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta, timezone

from eis_core import db
from eis_core.webapp.store.audit import audit_in
from eis_core.webapp.store.users import User, hash_password, hasher

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


def current_locks() -> list[dict]:
    """The (username, client) pairs locked right now, for the admin's users page."""
    with db.connect() as conn:
        pairs = conn.execute(
            "SELECT DISTINCT username, client FROM webapp.login_attempts WHERE NOT success AND NOT refused "
            "AND at > now() - %s::interval", (FAILURE_WINDOW,)).fetchall()
        now = datetime.now(timezone.utc)
        out = []
        for username, client in pairs:
            n, until = lock_state(conn, username, client)
            if until is not None and until > now:
                out.append({"username": username, "client": client, "failures": n, "locked_until": until})
    return sorted(out, key=lambda r: (r["username"], r["client"] or ""))


def unlock_user(username: str, by: str = "eis users", client: str | None = None) -> int:
    """Lift every login lock of *username* (all addresses); returns how many pairs were locked."""
    username = (username or "").strip().lower()
    locked = [r for r in current_locks() if r["username"] == username]
    with db.connect() as conn:
        conn.execute("INSERT INTO webapp.login_unlocks (username, unlocked_by, client) VALUES (%s, %s, %s)",
                     (username, by, client))
        audit_in(conn, by, "user_unlock", username, {"locked_pairs": [r["client"] for r in locked]}, client)
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
    with db.connect() as conn:
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('eis_login:' || %s || '|' || coalesce(%s, '')))",
                     (username, client))  # concurrent guesses for one pair are counted one after the other
        failures, until = lock_state(conn, username, client)
        now = datetime.now(timezone.utc)
        if until is not None and until > now:
            conn.execute("INSERT INTO webapp.login_attempts (username, client, success, refused) "
                         "VALUES (%s, %s, false, true)", (username, client))
            audit_in(conn, username or "-", "login_throttled", username,
                   {"failures": failures, "locked_until": until.isoformat()}, client)
            conn.commit()  # keep the record: the exception below would roll the transaction back
            raise Throttled(username, max(1, int((until - now).total_seconds() + 0.999)))
        row = conn.execute("SELECT username, role, division, disabled, password_hash FROM webapp.users "
                           "WHERE username = %s", (username,)).fetchone()
        ok = False
        if row is not None and not row[3]:
            try:
                ok = hasher().verify(row[4], password or "")
            except (VerificationError, InvalidHashError):
                ok = False
            if ok and hasher().check_needs_rehash(row[4]):
                conn.execute("UPDATE webapp.users SET password_hash = %s WHERE username = %s",
                             (hash_password(password), username))
        else:
            # spend the same time as a real check so that unknown names cannot be told apart
            try:
                hasher().verify(_DUMMY_HASH(), password or "")
            except (VerificationError, InvalidHashError):
                pass
        conn.execute("INSERT INTO webapp.login_attempts (username, client, success) VALUES (%s, %s, %s)",
                     (username, client, ok))
        audit_in(conn, username or "-", "login" if ok else "login_failed", username, None, client)
        if not ok:
            return None
        conn.execute("UPDATE webapp.users SET last_login_at = now() WHERE username = %s", (username,))
        return User(row[0], row[1], row[2], False)


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


def create_session(username: str, lifetime: timedelta, client: str | None,
                   max_sessions: int = DEFAULT_MAX_SESSIONS) -> tuple[str, str]:
    """A new server-side session; returns (session id, CSRF token).  The user's sessions beyond
    *max_sessions* (the least recently used first) end."""
    sid, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    with db.connect() as conn:
        conn.execute("DELETE FROM webapp.sessions WHERE expires_at < now()")
        conn.execute("INSERT INTO webapp.sessions (session_id, username, csrf_token, expires_at, client) "
                     "VALUES (%s, %s, %s, %s, %s)",
                     (sid, username, csrf, datetime.now(timezone.utc) + lifetime, client))
        ended = conn.execute(
            "DELETE FROM webapp.sessions WHERE session_id IN (SELECT session_id FROM webapp.sessions "
            "WHERE username = %s ORDER BY last_seen_at DESC, created_at DESC OFFSET %s) RETURNING client",
            (username, max(1, max_sessions))).fetchall()
        if ended:
            audit_in(conn, username, "session_limit", username,
                   {"ended": len(ended), "max_sessions": max_sessions}, client)
    return sid, csrf


def session_user(session_id: str, idle: timedelta = DEFAULT_IDLE) -> tuple[User, str] | None:
    """(user, CSRF token) of a live session of an enabled user, else None.  A session unused for *idle*
    is over (and deleted); a used one has its last_seen_at moved on."""
    with db.connect() as conn:
        row = conn.execute(
            "SELECT u.username, u.role, u.division, s.csrf_token, s.last_seen_at < now() - %s::interval, "
            "s.last_seen_at < now() - %s::interval FROM webapp.sessions s "
            "JOIN webapp.users u USING (username) "
            "WHERE s.session_id = %s AND s.expires_at > now() AND NOT u.disabled",
            (idle, SEEN_RESOLUTION, session_id)).fetchone()
        if row is None:
            return None
        if row[4]:
            conn.execute("DELETE FROM webapp.sessions WHERE session_id = %s", (session_id,))
            audit_in(conn, row[0], "session_idle_timeout", row[0], {"idle_minutes": idle.total_seconds() / 60})
            return None
        if row[5]:
            conn.execute("UPDATE webapp.sessions SET last_seen_at = now() WHERE session_id = %s", (session_id,))
    return User(row[0], row[1], row[2], False), row[3]


def end_session(session_id: str) -> None:
    with db.connect() as conn:
        conn.execute("DELETE FROM webapp.sessions WHERE session_id = %s", (session_id,))
