"""0009: users scoped by department (issue 15): ``webapp.users.department``, the ``platform_admin``
role, the department a platform admin's session views, and the department of a registry audit row.

Users, sessions and logins are read and written in the registry's database (the ``default``
department's); the columns exist, unused, in every department's database because all of them share one
migration history.  Idempotent (a re-run finds everything in place).  Existing users get ``department = 'default'``: a single-department installation is
unchanged.
"""

from __future__ import annotations

from eis_core.migrations import execute_sql

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_sql(r"""
ALTER TABLE webapp.users ADD COLUMN IF NOT EXISTS department text NOT NULL DEFAULT 'default'
    CONSTRAINT users_department_name CHECK (department ~ '^[a-z][a-z0-9_]{1,30}$');
ALTER TABLE webapp.users DROP CONSTRAINT IF EXISTS users_role_check;
ALTER TABLE webapp.users ADD CONSTRAINT users_role_check
    CHECK (role IN ('platform_admin', 'admin', 'analyst', 'supervisor'));
-- a platform admin belongs to the installation: their home is the registry's department
ALTER TABLE webapp.users DROP CONSTRAINT IF EXISTS users_platform_admin_home;
ALTER TABLE webapp.users ADD CONSTRAINT users_platform_admin_home
    CHECK (role <> 'platform_admin' OR department = 'default');
CREATE INDEX IF NOT EXISTS users_department_idx ON webapp.users (department, role);
-- the department a platform admin's session views (NULL: their own); checked against the registry
-- on every request
ALTER TABLE webapp.sessions ADD COLUMN IF NOT EXISTS viewing text;
-- the department a registry row is about (logins, user changes of that department's users; NULL: the
-- database's own department)
ALTER TABLE webapp.access_audit ADD COLUMN IF NOT EXISTS department text;
""")


def downgrade() -> None:
    execute_sql(r"""
ALTER TABLE webapp.access_audit DROP COLUMN IF EXISTS department;
ALTER TABLE webapp.sessions DROP COLUMN IF EXISTS viewing;
DROP INDEX IF EXISTS webapp.users_department_idx;
ALTER TABLE webapp.users DROP CONSTRAINT IF EXISTS users_platform_admin_home;
ALTER TABLE webapp.users DROP CONSTRAINT IF EXISTS users_role_check;
ALTER TABLE webapp.users ADD CONSTRAINT users_role_check CHECK (role IN ('admin', 'analyst', 'supervisor'));
ALTER TABLE webapp.users DROP COLUMN IF EXISTS department;
""")
