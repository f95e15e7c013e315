"""The access audit (who did what, when, from where: write, search), the analysts' model comments, and
the connection to the installation's registry database (:func:`registry`).

Audit rows of a department's pages go to that department's database (``db.connect()`` inside the
request's ``departments.use``): its audit trail is part of its export.  Logins, sessions and user
changes are the registry's and audit there, each row marked with the department of the user it is about."""

from __future__ import annotations

from typing import Any

from psycopg.types.json import Jsonb

from eis_core import db

MAX_COMMENT = 2000


def registry():
    """A connection to the registry database (the ``default`` department's), whatever the current
    department: users, sessions, login attempts and their audit live there."""
    from eis_core.departments import DEFAULT

    return db.connect(db.warehouse_db(DEFAULT))


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
        out = {"truncated": True, "preview": text[: MAX_AUDIT_DETAIL - 200]}
    return out


def audit_in(
    conn,
    username: str,
    action: str,
    target: str | None,
    detail: dict | None,
    client: str | None = None,
    department: str | None = None,
) -> None:
    """One audit row in *conn*'s database; *department*: the department a registry row is about."""
    conn.execute(
        "INSERT INTO webapp.access_audit (username, action, target, detail, client, department) "
        "VALUES (%s, %s, %s, %s, %s, %s)",
        (
            _bounded(username or "-")[:100],
            action[:60],
            _bounded(target)[:MAX_AUDIT_TEXT] if target else target,
            Jsonb(bound_detail(detail)) if detail is not None else None,
            (client or None) and client[:64],
            department,
        ),
    )


def audit(
    username: str,
    action: str,
    target: str | None = None,
    detail: dict | None = None,
    client: str | None = None,
    conn: Any = None,
) -> None:
    """Write one row of ``webapp.access_audit`` (in *conn*'s transaction when given)."""
    if conn is not None:
        audit_in(conn, username, action, target, detail, client)
        return
    with db.connect() as c:
        audit_in(c, username, action, target, detail, client)


AUDIT_SEARCH_SQL = """
SELECT audit_id, at, username, action, target, detail, client FROM webapp.access_audit
WHERE (%(user)s::text IS NULL OR username = %(user)s)
  AND (%(target)s::text IS NULL OR target = %(target)s)
  AND (%(action)s::text IS NULL OR action = %(action)s)
  AND (%(since)s::date IS NULL OR at >= %(since)s::date)
  AND (%(until)s::date IS NULL OR at < %(until)s::date + 1)
  AND (%(before)s::bigint IS NULL OR audit_id < %(before)s)
  AND (%(department)s::text IS NULL OR department IS NULL OR department = %(department)s)
ORDER BY audit_id DESC LIMIT %(limit)s
"""


def search_audit(
    user: str | None = None,
    target: str | None = None,
    action: str | None = None,
    since=None,
    until=None,
    before: int | None = None,
    limit: int = 200,
    department: str | None = None,
) -> list[dict]:
    """Rows of ``webapp.access_audit`` of the current department's database, newest first, filtered by
    user, target (an officer id, a user name …), action and date range (inclusive); *before* pages on
    (rows with a smaller audit_id); *department*: leave out the registry's rows about other departments'
    users (the ``default`` database is also the registry)."""
    with db.connect() as conn:
        cur = conn.execute(
            AUDIT_SEARCH_SQL,
            {
                "user": user,
                "target": target,
                "action": action,
                "since": since,
                "until": until,
                "before": before,
                "limit": limit,
                "department": department,
            },
        )
        cols = [d.name for d in cur.description]
        return [dict(zip(cols, r)) for r in cur.fetchall()]


def audit_actions() -> list[str]:
    with db.connect() as conn:
        return [r[0] for r in conn.execute("SELECT DISTINCT action FROM webapp.access_audit ORDER BY 1")]


# ----------------------------------------------------------------------------------------- model comments


def model_comments(conn, model_id: str) -> list[dict]:
    cur = conn.execute(
        "SELECT comment_id, username, body, created_at FROM webapp.model_comments "
        "WHERE model_id = %s ORDER BY created_at, comment_id",
        (model_id,),
    )
    names = [d.name for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def add_model_comment(conn, model_id: str, username: str, body: str) -> int:
    """Store one comment (1 to MAX_COMMENT characters after trimming); returns its id."""
    from eis_core.webapp.store.users import UserError  # users imports this module

    body = (body or "").strip()
    if not body or len(body) > MAX_COMMENT:
        raise UserError(f"comment: 1 to {MAX_COMMENT} characters")
    return conn.execute(
        "INSERT INTO webapp.model_comments (model_id, username, body) VALUES (%s, %s, %s) RETURNING comment_id",
        (model_id, username, body),
    ).fetchone()[0]
