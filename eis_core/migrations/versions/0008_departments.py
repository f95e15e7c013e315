"""0008: the registry of departments, ``platform.departments`` (eis_core.departments.registry).

Read and written in the ``default`` department's database only (the installation's registry); the
table exists, empty, in every department's database because all of them share one migration history.
One row per department other than ``default`` (which always exists): its database, whether its features
may train pooled models, who added it and when.
"""

from __future__ import annotations

from eis_core.migrations import execute_sql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_sql("""
CREATE SCHEMA IF NOT EXISTS platform;
CREATE TABLE IF NOT EXISTS platform.departments (
    name text PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_]{1,30}$' AND name <> 'default'),
    database text NOT NULL UNIQUE,
    contributes_to_pooled boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by text NOT NULL DEFAULT current_user
);
""")


def downgrade() -> None:
    execute_sql("DROP TABLE IF EXISTS platform.departments; DROP SCHEMA IF EXISTS platform;")
