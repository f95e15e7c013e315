"""Users and roles: the :class:`User` of a session, password hashing (argon2id), adding, changing,
listing and disabling users (each change audited)."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any

from eis_core import db
from eis_core.webapp.store.audit import audit_in

ROLES = ("admin", "analyst", "supervisor")
USERNAME_RE = re.compile(r"^[a-z][a-z0-9_.-]{1,62}$")
MIN_PASSWORD_LENGTH = 12


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


def hasher():
    from argon2 import PasswordHasher

    return PasswordHasher()  # argon2id, RFC 9106 low-memory profile defaults (64 MiB, t=3)


def hash_password(password: str) -> str:
    return hasher().hash(password)


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
        audit_in(conn, created_by, "user_reset" if exists else "user_add", username, {"role": role, "division": division},
               client)
    return password


def update_user(username: str, *, by: str, client: str | None = None, role: str | None = None,
                division: str | None = None, enabled: bool | None = None, reset_password: bool = False,
                allow_new_division: bool = False) -> str | None:
    """Change an existing user: role (and the supervisor's division), enable/disable, or a new generated
    password (returned, shown once).  Every change ends the user's sessions and is audited."""
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
        audit_in(conn, by, "user_update", username, detail, client)
    return password


EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s]{1,20}$")


def set_contact(username: str, *, by: str, client: str | None = None, email: str | None = None,
                reports_to: str | None = None) -> None:
    """Set a user's e-mail address (alert notifications) and who their overdue alerts escalate to.
    The next level must be an enabled admin, or a supervisor of the same division (someone who may
    see the officers); a user cannot report to themselves."""
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
        audit_in(conn, by, "user_contact", username, {"email": email, "reports_to": reports_to,
                                                   "previous": {"email": row[2], "reports_to": row[3]}}, client)


def list_users() -> list[dict]:
    with db.connect() as conn:
        cur = conn.execute("SELECT username, role, division, disabled, created_at, created_by, last_login_at, "
                           "email, reports_to FROM webapp.users ORDER BY username")
        cols = [d.name for d in cur.description]
        return [dict(zip(cols, r)) for r in cur.fetchall()]


def disable_user(username: str, by: str = "eis users", client: str | None = None) -> None:
    with db.connect() as conn:
        n = conn.execute("UPDATE webapp.users SET disabled = true WHERE username = %s", (username,)).rowcount
        if not n:
            raise UserError(f"username: no user {username!r}")
        conn.execute("DELETE FROM webapp.sessions WHERE username = %s", (username,))
        audit_in(conn, by, "user_disable", username, None, client)
