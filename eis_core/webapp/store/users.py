"""Users and roles: the :class:`User` of a session, password hashing (argon2id), adding, changing,
listing and disabling users (each change audited).

Users live in the registry database (:func:`registry`, the ``default`` department's), each with a
department.  ``admin``, ``analyst`` and ``supervisor`` work in their department only (a supervisor in
one division of it); a ``platform_admin`` (home: ``default``) manages the departments' users and views
any department (the one chosen in their session).  The web app's user changes pass ``scope``: the
department an admin may change users of (a user elsewhere is "no user", as if absent)."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any

from eis_core import db, departments
from eis_core.webapp.store.audit import audit_in, registry

ROLES = ("platform_admin", "admin", "analyst", "supervisor")
#: the roles a department's admin may give (platform admins: only by a platform admin or the command line)
DEPARTMENT_ROLES = ("admin", "analyst", "supervisor")
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
    department: str = departments.DEFAULT
    #: the department a platform admin's session views (None: their own)
    viewing: str | None = None

    @property
    def scope(self) -> str:
        """The department whose data this user's requests read and write."""
        return (self.viewing or self.department) if self.is_platform_admin else self.department

    @property
    def is_platform_admin(self) -> bool:
        return self.role == "platform_admin"

    @property
    def is_admin(self) -> bool:
        """An admin of the department in view (a platform admin is one in every department)."""
        return self.role in ("admin", "platform_admin")

    def may(self, roles) -> bool:
        """Whether a page open to *roles* is open to this user (a platform admin may what an admin may)."""
        return self.role in roles or (self.is_platform_admin and "admin" in roles)

    @property
    def is_supervisor(self) -> bool:
        return self.role == "supervisor"

    def can_review(self) -> bool:
        return self.role in ("admin", "platform_admin", "supervisor")

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


def check_department(department: str | None) -> str:
    """*department* when it is ``default`` or registered (platform.departments), else :class:`UserError`."""
    department = (department or departments.DEFAULT).strip()
    try:
        departments.check_name(department)
    except departments.DepartmentError as e:
        raise UserError(f"department: {e.message}") from None
    if department != departments.DEFAULT:
        with registry() as conn:
            if conn.execute("SELECT 1 FROM platform.departments WHERE name = %s", (department,)).fetchone() is None:
                raise UserError(f"department: no department {department!r} (`eis department list`)")
    return department


def _check_fields(
    username: str, role: str, division: str | None, password: str | None, department: str = departments.DEFAULT
) -> None:
    if not USERNAME_RE.match(username or ""):
        raise UserError("username: 2-63 characters, lower-case letters, digits, '_', '.', '-', starting with a letter")
    if role not in ROLES:
        raise UserError(f"role: must be one of {', '.join(ROLES)} (got {role!r})")
    if role == "platform_admin" and department != departments.DEFAULT:
        raise UserError(f"department: a platform admin belongs to the installation ('{departments.DEFAULT}')")
    if role == "supervisor" and not (division or "").strip():
        raise UserError("division: a supervisor needs the division whose officers they supervise")
    if password is not None and len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"password: at least {MIN_PASSWORD_LENGTH} characters")


def known_divisions(conn=None) -> list[str]:
    """The divisions of the scored officers (``production.predictions``); empty before the first scoring."""

    def read(c) -> list[str]:
        if not c.execute("SELECT to_regclass('production.predictions') IS NOT NULL").fetchone()[0]:
            return []
        return [
            r[0]
            for r in c.execute(
                "SELECT DISTINCT division FROM production.predictions WHERE division IS NOT NULL ORDER BY 1"
            )
        ]

    if conn is not None:
        return read(conn)
    with db.connect() as c:
        return read(c)


def check_division(division: str | None, allow_new: bool = False, department: str | None = None) -> str | None:
    """*division* spelled as in the scored data of *department* (default: the current one;
    case-insensitive match); a name no scored officer has is refused (a typo would otherwise give a
    supervisor an empty list, silently) unless *allow_new* or nothing has been scored yet."""
    division = (division or "").strip() or None
    if division is None or allow_new:
        return division
    with departments.use(department or departments.current()):
        known = known_divisions()
    if not known:
        return division
    match = {k.lower(): k for k in known}.get(division.lower())
    if match is None:
        shown = ", ".join(known[:30]) + (" …" if len(known) > 30 else "")
        raise UserError(f"division: {division[:40]!r} is not a division of the scored officers (known: {shown})")
    return match


def add_user(
    username: str,
    role: str,
    division: str | None = None,
    password: str | None = None,
    created_by: str = "eis users",
    replace: bool = False,
    client: str | None = None,
    allow_new_division: bool = False,
    department: str | None = None,
    scope: str | None = None,
) -> str:
    """Create *username* in *department* (default ``default``; or, with *replace*, reset its role,
    division, department and password and enable it).  *scope*: the department the caller administers
    (None: every department).  Returns the password (generated when not given)."""
    username = (username or "").strip().lower()
    division = (division or "").strip() or None
    department = check_department(department or scope)
    if scope is not None and (department != scope or role not in DEPARTMENT_ROLES):
        raise UserError(f"role: a department's admin adds {', '.join(DEPARTMENT_ROLES)} of their own department")
    if role != "supervisor":
        division = None  # only a supervisor is tied to a division
    _check_fields(username, role, division, password, department)
    division = check_division(division, allow_new_division, department)
    password = password or generate_password()
    pw_hash = hash_password(password)
    with registry() as conn:
        exists = conn.execute("SELECT role, department FROM webapp.users WHERE username = %s", (username,)).fetchone()
        if exists and not replace:
            raise UserError(f"username: {username!r} exists already (disable it, or use --reset)")
        if exists and scope is not None and (exists[1] != scope or exists[0] not in DEPARTMENT_ROLES):
            raise UserError(f"username: {username!r} exists already")
        if exists:
            conn.execute(
                "UPDATE webapp.users SET role = %s, division = %s, department = %s, password_hash = %s, "
                "disabled = false, password_set_at = now() WHERE username = %s",
                (role, division, department, pw_hash, username),
            )
            conn.execute("DELETE FROM webapp.sessions WHERE username = %s", (username,))
        else:
            conn.execute(
                "INSERT INTO webapp.users (username, role, division, department, password_hash, created_by) "
                "VALUES (%s, %s, %s, %s, %s, %s)",
                (username, role, division, department, pw_hash, created_by),
            )
        audit_in(
            conn,
            created_by,
            "user_reset" if exists else "user_add",
            username,
            {"role": role, "division": division, "department": department},
            client,
            department,
        )
    return password


def _target(conn, username: str, scope: str | None, columns: str = "role, division, disabled, department"):
    """The row of *username* (``columns``), or "no user" when absent or outside *scope* (a department's
    admin changes only the admins, analysts and supervisors of their own department)."""
    row = conn.execute(
        f"SELECT {columns}, role AS _r, department AS _d FROM webapp.users WHERE username = %s", (username,)
    ).fetchone()
    if row is None or (scope is not None and (row[-1] != scope or row[-2] not in DEPARTMENT_ROLES)):
        raise UserError(f"username: no user {username!r}")
    return row[:-2], row[-1]


def update_user(
    username: str,
    *,
    by: str,
    client: str | None = None,
    role: str | None = None,
    division: str | None = None,
    enabled: bool | None = None,
    reset_password: bool = False,
    allow_new_division: bool = False,
    scope: str | None = None,
) -> str | None:
    """Change an existing user: role (and the supervisor's division), enable/disable, or a new generated
    password (returned, shown once).  Every change ends the user's sessions and is audited.  *scope*: the
    department the caller administers (None: every department)."""
    username = (username or "").strip().lower()
    with registry() as conn:
        row, department = _target(conn, username, scope)
        detail: dict[str, Any] = {}
        password = None
        if role is not None:
            if scope is not None and role not in DEPARTMENT_ROLES:
                raise UserError(f"role: a department's admin gives one of {', '.join(DEPARTMENT_ROLES)}")
            div = (division or "").strip() or None if role == "supervisor" else None
            _check_fields(username, role, div, None, department)
            div = check_division(div, allow_new_division, department)
            conn.execute("UPDATE webapp.users SET role = %s, division = %s WHERE username = %s", (role, div, username))
            detail.update(role=role, division=div, previous={"role": row[0], "division": row[1]})
        if enabled is not None:
            conn.execute("UPDATE webapp.users SET disabled = %s WHERE username = %s", (not enabled, username))
            detail["enabled"] = enabled
        if reset_password:
            password = generate_password()
            conn.execute(
                "UPDATE webapp.users SET password_hash = %s, password_set_at = now() WHERE username = %s",
                (hash_password(password), username),
            )
            detail["password_reset"] = True
        conn.execute("DELETE FROM webapp.sessions WHERE username = %s", (username,))
        audit_in(conn, by, "user_update", username, detail, client, department)
    return password


EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s]{1,20}$")


def set_contact(
    username: str,
    *,
    by: str,
    client: str | None = None,
    email: str | None = None,
    reports_to: str | None = None,
    scope: str | None = None,
) -> None:
    """Set a user's e-mail address (alert notifications) and who their overdue alerts escalate to.
    The next level must be an enabled admin of the same department, or a supervisor of the same division
    (someone who may see the officers); a user cannot report to themselves."""
    username = (username or "").strip().lower()
    email = (email or "").strip() or None
    reports_to = (reports_to or "").strip().lower() or None
    if email and not EMAIL_RE.match(email):
        raise UserError(f"email: not an e-mail address: {email[:60]!r}")
    with registry() as conn:
        row, department = _target(conn, username, scope, "role, division, email, reports_to")
        if reports_to:
            if reports_to == username:
                raise UserError("reports_to: a user cannot escalate to themselves")
            up = conn.execute(
                "SELECT role, division, disabled FROM webapp.users WHERE username = %s AND department = %s",
                (reports_to, department),
            ).fetchone()
            if up is None or up[2]:
                raise UserError(f"reports_to: no enabled user {reports_to!r} in department {department!r}")
            if not (up[0] == "admin" or (up[0] == "supervisor" and row[0] == "supervisor" and up[1] == row[1])):
                raise UserError(
                    "reports_to: the next level must be an admin or a supervisor of the same division "
                    "(someone who may see these officers)"
                )
        conn.execute(
            "UPDATE webapp.users SET email = %s, reports_to = %s WHERE username = %s", (email, reports_to, username)
        )
        audit_in(
            conn,
            by,
            "user_contact",
            username,
            {"email": email, "reports_to": reports_to, "previous": {"email": row[2], "reports_to": row[3]}},
            client,
            department,
        )


def list_users(department: str | None = None) -> list[dict]:
    """The users (of *department* only, when given), by name; never their password hashes."""
    with registry() as conn:
        cur = conn.execute(
            "SELECT username, role, division, disabled, created_at, created_by, last_login_at, "
            "email, reports_to, department FROM webapp.users WHERE %(d)s::text IS NULL OR department = %(d)s "
            "ORDER BY username",
            {"d": department},
        )
        cols = [d.name for d in cur.description]
        return [dict(zip(cols, r)) for r in cur.fetchall()]


def disable_user(username: str, by: str = "eis users", client: str | None = None, scope: str | None = None) -> None:
    with registry() as conn:
        _, department = _target(conn, username, scope)
        conn.execute("UPDATE webapp.users SET disabled = true WHERE username = %s", (username,))
        conn.execute("DELETE FROM webapp.sessions WHERE username = %s", (username,))
        audit_in(conn, by, "user_disable", username, None, client, department)


def retire_department_users(department: str, by: str = "eis department remove") -> list[str]:
    """Disable every user of *department* and end their sessions (the department is being removed; a
    department added again under the name starts without users).  Returns their names."""
    with registry() as conn:
        names = [
            r[0]
            for r in conn.execute(
                "UPDATE webapp.users SET disabled = true WHERE department = %s AND NOT disabled RETURNING username",
                (department,),
            )
        ]
        conn.execute("DELETE FROM webapp.sessions WHERE username = ANY(%s)", (names,))
        if names:
            audit_in(conn, by, "department_users_retired", department, {"users": names}, None, department)
    return sorted(names)
