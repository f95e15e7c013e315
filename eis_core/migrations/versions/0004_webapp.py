"""Baseline 0004: schema webapp.

Contents: schema webapp: users, sessions, login attempts and unlocks, the access audit,
model comments.

Verbatim DDL of the pre-migration code (why: :mod:`eis_core.migrations`, "adopted").
"""

from __future__ import annotations

from eis_core.migrations import execute_sql

revision = "0004"
down_revision = '0003'
branch_labels = None
depends_on = None

SQL = r"""
-- from eis_core/webapp/store.py DDL (commit 1d475ae)
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


def upgrade() -> None:
    execute_sql(SQL)


def downgrade() -> None:
    raise NotImplementedError("the baseline is not reversible: restore a backup instead (docs/architecture.md)")
