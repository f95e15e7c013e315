"""0007: one bias-audit table, ``results.bias_audit``, for both audits of eis_core.modeling.bias.

``scope`` says which audit a row belongs to:

* ``test_split`` -- a model on its labelled test split (flag rates and the outcome rates: precision, TPR,
  FPR, FNR and their ratios), written by the modeling run;
* ``scored_day`` -- a production scoring day (``split_id`` 'production'): no outcomes are known yet, so
  only flag rates and their ratio; replaced together with that day's production rows.

The rows of the former ``production.bias_audit`` move here (scope ``scored_day``); downgrade moves them
back.  Idempotent: a second upgrade finds the work done.
"""

from __future__ import annotations

from eis_core.migrations import execute_sql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_sql("""
ALTER TABLE results.bias_audit ADD COLUMN IF NOT EXISTS scope text NOT NULL DEFAULT 'test_split';
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'bias_audit_scope_check'
                   AND conrelid = 'results.bias_audit'::regclass) THEN
        ALTER TABLE results.bias_audit ADD CONSTRAINT bias_audit_scope_check
            CHECK (scope IN ('test_split', 'scored_day'));
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
                   WHERE i.indrelid = 'results.bias_audit'::regclass AND i.indisprimary AND a.attname = 'scope') THEN
        ALTER TABLE results.bias_audit DROP CONSTRAINT IF EXISTS bias_audit_pkey;
        ALTER TABLE results.bias_audit ADD CONSTRAINT bias_audit_pkey
            PRIMARY KEY (scope, model_id, as_of_date, threshold, attribute, group_value);
    END IF;
    IF to_regclass('production.bias_audit') IS NOT NULL THEN
        INSERT INTO results.bias_audit (scope, model_id, split_id, as_of_date, threshold, attribute, group_value,
                                        reference_group, group_size, flagged, flag_rate, flag_rate_ratio,
                                        out_of_range)
        SELECT 'scored_day', model_id, 'production', as_of_date, threshold, attribute, group_value,
               reference_group, group_size, flagged, flag_rate, flag_rate_ratio, out_of_range
        FROM production.bias_audit
        ON CONFLICT DO NOTHING;
        DROP TABLE production.bias_audit;
    END IF;
END $$;
CREATE INDEX IF NOT EXISTS bias_audit_scored_day_idx ON results.bias_audit (as_of_date) WHERE scope = 'scored_day';
""")


def downgrade() -> None:
    execute_sql("""
CREATE TABLE IF NOT EXISTS production.bias_audit (
    as_of_date      date NOT NULL,
    model_id        text NOT NULL,
    threshold       text NOT NULL,
    attribute       text NOT NULL,
    group_value     text NOT NULL,
    reference_group text NOT NULL,
    group_size      integer NOT NULL,
    flagged         integer NOT NULL,
    flag_rate       double precision,
    flag_rate_ratio double precision,
    out_of_range    boolean NOT NULL,
    PRIMARY KEY (as_of_date, threshold, attribute, group_value)
);
INSERT INTO production.bias_audit (as_of_date, model_id, threshold, attribute, group_value, reference_group,
                                   group_size, flagged, flag_rate, flag_rate_ratio, out_of_range)
SELECT as_of_date, model_id, threshold, attribute, group_value, reference_group, group_size, flagged, flag_rate,
       flag_rate_ratio, out_of_range
FROM results.bias_audit WHERE scope = 'scored_day'
ON CONFLICT DO NOTHING;
DELETE FROM results.bias_audit WHERE scope = 'scored_day';
DROP INDEX IF EXISTS results.bias_audit_scored_day_idx;
ALTER TABLE results.bias_audit DROP CONSTRAINT IF EXISTS bias_audit_pkey;
ALTER TABLE results.bias_audit ADD CONSTRAINT bias_audit_pkey
    PRIMARY KEY (model_id, as_of_date, threshold, attribute, group_value);
ALTER TABLE results.bias_audit DROP CONSTRAINT IF EXISTS bias_audit_scope_check;
ALTER TABLE results.bias_audit DROP COLUMN IF EXISTS scope;
""")
