"""0006: the alert e-mails' outbox (production.alert_notifications.body, the pending index).

A notification row is written 'pending' (with its body) in the transaction that raises or escalates the
alert, and delivered afterwards; a killed process leaves it pending for the next sender
(eis_core.production.alerts).  Idempotent, like the baseline: a warehouse whose pre-migration code
already added them is upgraded without error.
"""

from __future__ import annotations

from eis_core.migrations import execute_sql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_sql("""
ALTER TABLE production.alert_notifications ADD COLUMN IF NOT EXISTS body text;
CREATE INDEX IF NOT EXISTS alert_notifications_pending_idx ON production.alert_notifications (notification_id)
    WHERE status = 'pending';
""")


def downgrade() -> None:
    execute_sql("""
DROP INDEX IF EXISTS production.alert_notifications_pending_idx;
ALTER TABLE production.alert_notifications DROP COLUMN IF EXISTS body;
""")
