"""Alembic's environment: online mode only, on the connection :func:`eis_core.migrations.upgrade` passes
in ``config.attributes["connection"]`` (inside its transaction).  The advisory lock is taken before the
version table is read, so concurrent upgrades run one after the other and the second finds the head."""

from alembic import context

from eis_core.migrations import LOCK_NAME, LOCK_TIMEOUT, VERSION_TABLE

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run the migrations through eis_core.migrations.upgrade() (`eis db upgrade`)")

connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock(hashtext('{LOCK_NAME}'))")
# a table another session holds (a job mid-transaction) fails the upgrade after this long instead of
# waiting for ever; the upgrade rolls back whole (eis_core.migrations.upgrade names the fix)
connection.exec_driver_sql(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
context.configure(connection=connection, target_metadata=None, version_table=VERSION_TABLE,
                  version_table_schema="public", transactional_ddl=True)
with context.begin_transaction():
    context.run_migrations()
