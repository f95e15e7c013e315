"""Schema ``webapp``: users and roles, server-side sessions, login attempts and the access audit.

* ``users``          one row per person: username, role (``admin`` / ``analyst`` / ``supervisor``), the
                     supervisor's division, an argon2id password hash (never the password), disabled flag.
* ``sessions``       one row per logged-in browser: a random id (the cookie carries it, signed), the
                     user, the CSRF token, expiry.  Logout and disabling a user delete the rows, so a
                     copied cookie stops working at once.
* ``login_attempts`` every login attempt (username, client address, success) for throttling.
* ``access_audit``   who did what and when: every officer page view, every export, every review, every
                     model-group selection, logins and user changes.

Passwords are hashed with argon2id (argon2-cffi, memory-hard); there is no default password anywhere:
``eis users add`` and the demo generate one and print it once.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from psycopg.types.json import Jsonb

from eis_core import db

ROLES = ("admin", "analyst", "supervisor")
USERNAME_RE = re.compile(r"^[a-z][a-z0-9_.-]{1,62}$")
MIN_PASSWORD_LENGTH = 12

#: throttling, per (username, client address): after MAX_FAILURES failed attempts since that pair's last
#: success (or an admin's unlock of the user) within FAILURE_WINDOW, the pair is locked for BASE_LOCK,
#: doubling with every further failure up to MAX_LOCK, counted from the last failure.  Attempts refused
#: while locked are recorded but do not count, so they never extend the lock; another address (the real
#: user's) is not affected, and neither is another user name at the same address.
MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(hours=24)
BASE_LOCK = timedelta(minutes=1)
MAX_LOCK = timedelta(hours=1)

DDL = r"""
CREATE SCHEMA IF NOT EXISTS webapp;

CREATE TABLE IF NOT EXISTS webapp.users (
    username      text PRIMARY KEY CHECK (username ~ '^[a-z][a-z0-9_.-]{1,62}$'),
    role          text NOT NULL CHECK (role IN ('admin', 'analyst', 'supervisor')),
    division      text,
    password_hash text NOT NULL CHECK (password_hash LIKE '$argon2%'),
    disabled      boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now(),
    created_by    text,
    password_set_at timestamptz NOT NULL DEFAULT now(),
    last_login_at timestamptz,
    CONSTRAINT users_supervisor_division CHECK (
        role <> 'supervisor' OR (division IS NOT NULL AND length(btrim(division)) > 0))
);

CREATE TABLE IF NOT EXISTS webapp.sessions (
    session_id  text PRIMARY KEY,
    username    text NOT NULL REFERENCES webapp.users (username) ON DELETE CASCADE,
    csrf_token  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    client      text
);
CREATE INDEX IF NOT EXISTS sessions_user_idx ON webapp.sessions (username);
ALTER TABLE webapp.sessions ADD COLUMN IF NOT EXISTS last_seen_at timestamptz NOT NULL DEFAULT now();

CREATE TABLE IF NOT EXISTS webapp.login_attempts (
    attempt_id  bigserial PRIMARY KEY,
    username    text NOT NULL,
    client      text,
    success     boolean NOT NULL,
    at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS login_attempts_user_idx ON webapp.login_attempts (username, at);
CREATE INDEX IF NOT EXISTS login_attempts_client_idx ON webapp.login_attempts (client, at);
-- refused: the attempt came while the (user, address) pair was locked; it is recorded, never counted
ALTER TABLE webapp.login_attempts ADD COLUMN IF NOT EXISTS refused boolean NOT NULL DEFAULT false;
CREATE INDEX IF NOT EXISTS login_attempts_pair_idx ON webapp.login_attempts (username, client, at);

CREATE TABLE IF NOT EXISTS webapp.login_unlocks (
    unlock_id   bigserial PRIMARY KEY,
    username    text NOT NULL,
    at          timestamptz NOT NULL DEFAULT now(),
    unlocked_by text NOT NULL,
    client      text
);
CREATE INDEX IF NOT EXISTS login_unlocks_user_idx ON webapp.login_unlocks (username, at);

CREATE TABLE IF NOT EXISTS webapp.access_audit (
    audit_id    bigserial PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    username    text NOT NULL,
    action      text NOT NULL,
    target      text,
    detail      jsonb,
    client      text
);
CREATE INDEX IF NOT EXISTS access_audit_at_idx ON webapp.access_audit (at);
CREATE INDEX IF NOT EXISTS access_audit_target_idx ON webapp.access_audit (action, target);
-- the intervention workflow: where a user's alert e-mails go, and who an overdue alert escalates to
ALTER TABLE webapp.users ADD COLUMN IF NOT EXISTS email text CHECK (email IS NULL OR email ~ '^[^@\s]+@[^@\s]+$');
ALTER TABLE webapp.users ADD COLUMN IF NOT EXISTS reports_to text;

-- the analysts' notes on a model (results.models.model_id; no foreign key: results is another schema
-- that the modeling code may rebuild)
CREATE TABLE IF NOT EXISTS webapp.model_comments (
    comment_id  bigserial PRIMARY KEY,
    model_id    text NOT NULL,
    username    text NOT NULL,
    body        text NOT NULL CHECK (length(btrim(body)) BETWEEN 1 AND 2000),
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS model_comments_model_idx ON webapp.model_comments (model_id, created_at);
"""

MAX_COMMENT = 2000



class UserError(ValueError):
    """Bad input for a user operation (the message names the field)."""


@dataclass(frozen=True)
class User:
    username: str
    role: str
    division: str | None
    disabled: bool = False

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def is_supervisor(self) -> bool:
        return self.role == "supervisor"

    def can_review(self) -> bool:
        return self.role in ("admin", "supervisor")

    def sees_division(self, division: str | None) -> bool:
        return self.role != "supervisor" or (division is not None and division == self.division)


def ensure_webapp_schema() -> None:
    """Create schema ``webapp`` and its tables when missing (safe to call concurrently)."""
    db.ensure_ddl("eis_webapp_schema", DDL)


def _hasher():
    from argon2 import PasswordHasher

    return PasswordHasher()  # argon2id, RFC 9106 low-memory profile defaults (64 MiB, t=3)


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def generate_password() -> str:
    """A random password (about 120 bits) that is easy to copy: letters, digits, dashes."""
    return "-".join(secrets.token_urlsafe(6).replace("_", "x").replace("-", "y") for _ in range(4))


def _check_fields(username: str, role: str, division: str | None, password: str | None) -> None:
    if not USERNAME_RE.match(username or ""):
        raise UserError("username: 2-63 characters, lower-case letters, digits, '_', '.', '-', starting with a letter")
    if role not in ROLES:
        raise UserError(f"role: must be one of {', '.join(ROLES)} (got {role!r})")
    if role == "supervisor" and not (division or "").strip():
        raise UserError("division: a supervisor needs the division whose officers they supervise")
    if password is not None and len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"password: at least {MIN_PASSWORD_LENGTH} characters")


def known_divisions(conn=None) -> list[str]:
    """The divisions of the scored officers (``production.predictions``); empty before the first scoring."""
    def read(c) -> list[str]:
        if not c.execute("SELECT to_regclass('production.predictions') IS NOT NULL").fetchone()[0]:
            return []
        return [r[0] for r in c.execute("SELECT DISTINCT division FROM production.predictions "
                                        "WHERE division IS NOT NULL ORDER BY 1")]
    if conn is not None:
        return read(conn)
    with db.connect() as c:
        return read(c)


def check_division(division: str | None, allow_new: bool = False) -> str | None:
    """*division* spelled as in the scored data (case-insensitive match); a name no scored officer has
    is refused (a typo would otherwise give a supervisor an empty list, silently) unless *allow_new* or
    nothing has been scored yet."""
    division = (division or "").strip() or None
    if division is None or allow_new:
        return division
    known = known_divisions()
    if not known:
        return division
    match = {k.lower(): k for k in known}.get(division.lower())
    if match is None:
        shown = ", ".join(known[:30]) + (" …" if len(known) > 30 else "")
        raise UserError(f"division: {division[:40]!r} is not a division of the scored officers (known: {shown})")
    return match


def add_user(username: str, role: str, division: str | None = None, password: str | None = None,
             created_by: str = "eis users", replace: bool = False, client: str | None = None,
             allow_new_division: bool = False) -> str:
    """Create *username* (or, with *replace*, reset its role, division and password and enable it).
    Returns the password (generated when not given)."""
    ensure_webapp_schema()
    username = (username or "").strip().lower()
    division = (division or "").strip() or None
    if role != "supervisor":
        division = None  # only a supervisor is tied to a division
    _check_fields(username, role, division, password)
    division = check_division(division, allow_new_division)
    password = password or generate_password()
    pw_hash = hash_password(password)
    with db.connect() as conn:
        exists = conn.execute("SELECT 1 FROM webapp.users WHERE username = %s", (username,)).fetchone()
        if exists and not replace:
            raise UserError(f"username: {username!r} exists already (disable it, or use --reset)")
        if exists:
            conn.execute("UPDATE webapp.users SET role = %s, division = %s, password_hash = %s, disabled = false, "
                         "password_set_at = now() WHERE username = %s", (role, division, pw_hash, username))
            conn.execute("DELETE FROM webapp.sessions WHERE username = %s", (username,))
        else:
            conn.execute("INSERT INTO webapp.users (username, role, division, password_hash, created_by) "
                         "VALUES (%s, %s, %s, %s, %s)", (username, role, division, pw_hash, created_by))
        _audit(conn, created_by, "user_reset" if exists else "user_add", username, {"role": role, "division": division},
               client)
    return password


def update_user(username: str, *, by: str, client: str | None = None, role: str | None = None,
                division: str | None = None, enabled: bool | None = None, reset_password: bool = False,
                allow_new_division: bool = False) -> str | None:
    """Change an existing user: role (and the supervisor's division), enable/disable, or a new generated
    password (returned, shown once).  Every change ends the user's sessions and is audited."""
    ensure_webapp_schema()
    username = (username or "").strip().lower()
    with db.connect() as conn:
        row = conn.execute("SELECT role, division, disabled FROM webapp.users WHERE username = %s",
                           (username,)).fetchone()
        if row is None:
            raise UserError(f"username: no user {username!r}")
        detail: dict[str, Any] = {}
        password = None
        if role is not None:
            div = (division or "").strip() or None if role == "supervisor" else None
            _check_fields(username, role, div, None)
            div = check_division(div, allow_new_division)
            conn.execute("UPDATE webapp.users SET role = %s, division = %s WHERE username = %s", (role, div, username))
            detail.update(role=role, division=div, previous={"role": row[0], "division": row[1]})
        if enabled is not None:
            conn.execute("UPDATE webapp.users SET disabled = %s WHERE username = %s", (not enabled, username))
            detail["enabled"] = enabled
        if reset_password:
            password = generate_password()
            conn.execute("UPDATE webapp.users SET password_hash = %s, password_set_at = now() WHERE username = %s",
                         (hash_password(password), username))
            detail["password_reset"] = True
        conn.execute("DELETE FROM webapp.sessions WHERE username = %s", (username,))
        _audit(conn, by, "user_update", username, detail, client)
    return password


EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s]{1,20}$")


def set_contact(username: str, *, by: str, client: str | None = None, email: str | None = None,
                reports_to: str | None = None) -> None:
    """Set a user's e-mail address (alert notifications) and who their overdue alerts escalate to.
    The next level must be an enabled admin, or a supervisor of the same division (someone who may
    see the officers); a user cannot report to themselves."""
    ensure_webapp_schema()
    username = (username or "").strip().lower()
    email = (email or "").strip() or None
    reports_to = (reports_to or "").strip().lower() or None
    if email and not EMAIL_RE.match(email):
        raise UserError(f"email: not an e-mail address: {email[:60]!r}")
    with db.connect() as conn:
        row = conn.execute("SELECT role, division, email, reports_to FROM webapp.users WHERE username = %s",
                           (username,)).fetchone()
        if row is None:
            raise UserError(f"username: no user {username!r}")
        if reports_to:
            if reports_to == username:
                raise UserError("reports_to: a user cannot escalate to themselves")
            up = conn.execute("SELECT role, division, disabled FROM webapp.users WHERE username = %s",
                              (reports_to,)).fetchone()
            if up is None or up[2]:
                raise UserError(f"reports_to: no enabled user {reports_to!r}")
            if not (up[0] == "admin" or (up[0] == "supervisor" and row[0] == "supervisor" and up[1] == row[1])):
                raise UserError("reports_to: the next level must be an admin or a supervisor of the same division "
                                "(someone who may see these officers)")
        conn.execute("UPDATE webapp.users SET email = %s, reports_to = %s WHERE username = %s",
                     (email, reports_to, username))
        _audit(conn, by, "user_contact", username, {"email": email, "reports_to": reports_to,
                                                   "previous": {"email": row[2], "reports_to": row[3]}}, client)


def list_users() -> list[dict]:
    ensure_webapp_schema()
    with db.connect() as conn:
        cur = conn.execute("SELECT username, role, division, disabled, created_at, created_by, last_login_at, "
                           "email, reports_to FROM webapp.users ORDER BY username")
        cols = [d.name for d in cur.description]
        return [dict(zip(cols, r)) for r in cur.fetchall()]


def disable_user(username: str, by: str = "eis users", client: str | None = None) -> None:
    ensure_webapp_schema()
    with db.connect() as conn:
        n = conn.execute("UPDATE webapp.users SET disabled = true WHERE username = %s", (username,)).rowcount
        if not n:
            raise UserError(f"username: no user {username!r}")
        conn.execute("DELETE FROM webapp.sessions WHERE username = %s", (username,))
        _audit(conn, by, "user_disable", username, None, client)


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
    ensure_webapp_schema()
    with db.connect() as conn:
        pairs = conn.execute(
            "SELECT DISTINCT username, client FROM webapp.login_attempts WHERE NOT success AND NOT refused "
            "AND at > now() - %s::interval", (FAILURE_WINDOW,)).fetchall()
        now = datetime.now(UTC)
        out = []
        for username, client in pairs:
            n, until = lock_state(conn, username, client)
            if until is not None and until > now:
                out.append({"username": username, "client": client, "failures": n, "locked_until": until})
    return sorted(out, key=lambda r: (r["username"], r["client"] or ""))


def unlock_user(username: str, by: str = "eis users", client: str | None = None) -> int:
    """Lift every login lock of *username* (all addresses); returns how many pairs were locked."""
    ensure_webapp_schema()
    username = (username or "").strip().lower()
    locked = [r for r in current_locks() if r["username"] == username]
    with db.connect() as conn:
        conn.execute("INSERT INTO webapp.login_unlocks (username, unlocked_by, client) VALUES (%s, %s, %s)",
                     (username, by, client))
        _audit(conn, by, "user_unlock", username, {"locked_pairs": [r["client"] for r in locked]}, client)
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

    ensure_webapp_schema()
    username = (username or "").strip().lower()[:100]
    with db.connect() as conn:
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('eis_login:' || %s || '|' || coalesce(%s, '')))",
                     (username, client))  # concurrent guesses for one pair are counted one after the other
        failures, until = lock_state(conn, username, client)
        now = datetime.now(UTC)
        if until is not None and until > now:
            conn.execute("INSERT INTO webapp.login_attempts (username, client, success, refused) "
                         "VALUES (%s, %s, false, true)", (username, client))
            _audit(conn, username or "-", "login_throttled", username,
                   {"failures": failures, "locked_until": until.isoformat()}, client)
            conn.commit()  # keep the record: the exception below would roll the transaction back
            raise Throttled(username, max(1, int((until - now).total_seconds() + 0.999)))
        row = conn.execute("SELECT username, role, division, disabled, password_hash FROM webapp.users "
                           "WHERE username = %s", (username,)).fetchone()
        ok = False
        if row is not None and not row[3]:
            try:
                ok = _hasher().verify(row[4], password or "")
            except (VerificationError, InvalidHashError):
                ok = False
            if ok and _hasher().check_needs_rehash(row[4]):
                conn.execute("UPDATE webapp.users SET password_hash = %s WHERE username = %s",
                             (hash_password(password), username))
        else:
            # spend the same time as a real check so that unknown names cannot be told apart
            try:
                _hasher().verify(_DUMMY_HASH(), password or "")
            except (VerificationError, InvalidHashError):
                pass
        conn.execute("INSERT INTO webapp.login_attempts (username, client, success) VALUES (%s, %s, %s)",
                     (username, client, ok))
        _audit(conn, username or "-", "login" if ok else "login_failed", username, None, client)
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
                     (sid, username, csrf, datetime.now(UTC) + lifetime, client))
        ended = conn.execute(
            "DELETE FROM webapp.sessions WHERE session_id IN (SELECT session_id FROM webapp.sessions "
            "WHERE username = %s ORDER BY last_seen_at DESC, created_at DESC OFFSET %s) RETURNING client",
            (username, max(1, max_sessions))).fetchall()
        if ended:
            _audit(conn, username, "session_limit", username,
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
            _audit(conn, row[0], "session_idle_timeout", row[0], {"idle_minutes": idle.total_seconds() / 60})
            return None
        if row[5]:
            conn.execute("UPDATE webapp.sessions SET last_seen_at = now() WHERE session_id = %s", (session_id,))
    return User(row[0], row[1], row[2], False), row[3]


def end_session(session_id: str) -> None:
    with db.connect() as conn:
        conn.execute("DELETE FROM webapp.sessions WHERE session_id = %s", (session_id,))


# ----------------------------------------------------------------------------------------- audit

#: bounds of one audit row: request input ends up in target and detail, so neither grows with it
MAX_AUDIT_TEXT = 300
MAX_AUDIT_DETAIL = 4000


def _bounded(value: Any, depth: int = 0) -> Any:
    if isinstance(value, str):
        value = value.replace("\x00", "\ufffd")  # PostgreSQL text cannot hold NUL
        return value if len(value) <= MAX_AUDIT_TEXT else value[:MAX_AUDIT_TEXT] + f"… ({len(value)} characters)"
    if depth > 4:
        return "…"
    if isinstance(value, dict):
        items = list(value.items())
        out = {str(k)[:60]: _bounded(v, depth + 1) for k, v in items[:40]}
        if len(items) > 40:
            out["…"] = f"{len(items) - 40} more keys"
        return out
    if isinstance(value, (list, tuple)):
        out = [_bounded(v, depth + 1) for v in list(value)[:40]]
        if len(value) > 40:
            out.append(f"… {len(value) - 40} more")
        return out
    return value if isinstance(value, (int, float, bool)) or value is None else _bounded(str(value), depth)


def bound_detail(detail: dict | None) -> dict | None:
    """*detail* with every string cut to :data:`MAX_AUDIT_TEXT` characters, at most 40 keys / items per
    level, and at most :data:`MAX_AUDIT_DETAIL` characters of JSON in all."""
    if detail is None:
        return None
    import json

    out = _bounded(detail)
    text = json.dumps(out, default=str)
    if len(text) > MAX_AUDIT_DETAIL:
        out = {"truncated": True, "preview": text[:MAX_AUDIT_DETAIL - 200]}
    return out


def _audit(conn, username: str, action: str, target: str | None, detail: dict | None,
           client: str | None = None) -> None:
    conn.execute("INSERT INTO webapp.access_audit (username, action, target, detail, client) "
                 "VALUES (%s, %s, %s, %s, %s)",
                 (_bounded(username or "-")[:100], action[:60], _bounded(target)[:MAX_AUDIT_TEXT] if target else target,
                  Jsonb(bound_detail(detail)) if detail is not None else None, (client or None) and client[:64]))


def audit(username: str, action: str, target: str | None = None, detail: dict | None = None,
          client: str | None = None, conn: Any = None) -> None:
    """Write one row of ``webapp.access_audit`` (in *conn*'s transaction when given)."""
    if conn is not None:
        _audit(conn, username, action, target, detail, client)
        return
    with db.connect() as c:
        _audit(c, username, action, target, detail, client)


AUDIT_SEARCH_SQL = """
SELECT audit_id, at, username, action, target, detail, client FROM webapp.access_audit
WHERE (%(user)s::text IS NULL OR username = %(user)s)
  AND (%(target)s::text IS NULL OR target = %(target)s)
  AND (%(action)s::text IS NULL OR action = %(action)s)
  AND (%(since)s::date IS NULL OR at >= %(since)s::date)
  AND (%(until)s::date IS NULL OR at < %(until)s::date + 1)
  AND (%(before)s::bigint IS NULL OR audit_id < %(before)s)
ORDER BY audit_id DESC LIMIT %(limit)s
"""


def search_audit(user: str | None = None, target: str | None = None, action: str | None = None,
                 since=None, until=None, before: int | None = None, limit: int = 200) -> list[dict]:
    """Rows of ``webapp.access_audit``, newest first, filtered by user, target (an officer id, a user
    name …), action and date range (inclusive); *before* pages on (rows with a smaller audit_id)."""
    ensure_webapp_schema()
    with db.connect() as conn:
        cur = conn.execute(AUDIT_SEARCH_SQL, {"user": user, "target": target, "action": action, "since": since,
                                              "until": until, "before": before, "limit": limit})
        cols = [d.name for d in cur.description]
        return [dict(zip(cols, r)) for r in cur.fetchall()]


def audit_actions() -> list[str]:
    ensure_webapp_schema()
    with db.connect() as conn:
        return [r[0] for r in conn.execute("SELECT DISTINCT action FROM webapp.access_audit ORDER BY 1")]


# ----------------------------------------------------------------------------------------- model comments

def model_comments(conn, model_id: str) -> list[dict]:
    cur = conn.execute("SELECT comment_id, username, body, created_at FROM webapp.model_comments "
                       "WHERE model_id = %s ORDER BY created_at, comment_id", (model_id,))
    names = [d.name for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def add_model_comment(conn, model_id: str, username: str, body: str) -> int:
    """Store one comment (1 to MAX_COMMENT characters after trimming); returns its id."""
    body = (body or "").strip()
    if not body or len(body) > MAX_COMMENT:
        raise UserError(f"comment: 1 to {MAX_COMMENT} characters")
    return conn.execute("INSERT INTO webapp.model_comments (model_id, username, body) VALUES (%s, %s, %s) "
                        "RETURNING comment_id", (model_id, username, body)).fetchone()[0]
