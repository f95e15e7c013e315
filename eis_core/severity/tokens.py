"""API tokens for the severity service, stored hashed in ``severity.api_tokens``.

A token is 32 random bytes (``secrets.token_urlsafe``) behind the prefix ``sev_``; it is shown once when
created and only its sha256 is stored.  (A fast hash is right here: the token is random and long, so
there is nothing to guess; slow password hashes would cost milliseconds on every request.)
"""

from __future__ import annotations

import hashlib
import secrets

PREFIX = "sev_"


def hash_token(token: str) -> str:
    return "sha256:" + hashlib.sha256(token.encode("utf-8")).hexdigest()


def add_token(name: str, conn=None) -> tuple[int, str]:
    """Create a token named *name*; returns (token_id, the token - shown only now)."""
    from eis_core import db
    from eis_core.severity.store import ensure_severity_schema

    name = (name or "").strip()
    if not name or len(name) > 100:
        raise ValueError("token name must be 1-100 characters")
    token = PREFIX + secrets.token_urlsafe(32)
    with db.connection(conn) as c:
        ensure_severity_schema(c)
        tid = db.scalar(
            c,
            "INSERT INTO severity.api_tokens (name, token_hash) VALUES (%s, %s) RETURNING token_id",
            (name, hash_token(token)),
        )
    return tid, token


def list_tokens(conn) -> list[dict]:
    cur = conn.execute("SELECT token_id, name, created_at, disabled FROM severity.api_tokens ORDER BY token_id")
    cols = [d.name for d in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]


def disable_token(conn, token_id: int) -> None:
    row = conn.execute(
        "UPDATE severity.api_tokens SET disabled = true WHERE token_id = %s RETURNING token_id", (token_id,)
    ).fetchone()
    if row is None:
        raise LookupError(f"no API token with id {token_id} (`eis tokens list`)")


def active_hashes(conn) -> dict[str, int]:
    return dict(conn.execute("SELECT token_hash, token_id FROM severity.api_tokens WHERE NOT disabled").fetchall())


def lookup(conn, token_hash: str) -> int | None:
    row = conn.execute(
        "SELECT token_id FROM severity.api_tokens WHERE token_hash = %s AND NOT disabled", (token_hash,)
    ).fetchone()
    return row[0] if row else None
