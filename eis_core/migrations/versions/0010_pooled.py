"""0010: pooled models and their evaluation (eis_core.modeling.pooled, pooled_eval).

In the *target* department's database (the department a pooled model is evaluated for):

* ``results.pooled_models``: one row per model trained for a target split: a pooled model (trained on
  the rows of several departments) or the department-only model of the same recipe; which departments
  trained it and how many rows each gave (never an officer id of another department);
* ``results.pooled_table3``: its Table 3 on the target's own test matrix: TP/FP/TN/FN at the legacy
  EIS's flag count next to the legacy EIS's own.

An evaluation (``eis pool evaluate``) writes one ``evaluation_id`` for all its rows.
"""

from __future__ import annotations

from eis_core.migrations import execute_sql

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_sql("""
CREATE TABLE IF NOT EXISTS results.pooled_models (
    pooled_model_id text PRIMARY KEY,
    evaluation_id text NOT NULL,
    target_department text NOT NULL,
    split_id text NOT NULL,
    recipe text NOT NULL,
    recipe_config jsonb NOT NULL,
    kind text NOT NULL CHECK (kind IN ('pooled', 'department_only')),
    trained_on text[] NOT NULL,
    train_rows jsonb NOT NULL,
    train_label_end date NOT NULL,
    test_as_of_dates date[] NOT NULL,
    features text[] NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS pooled_models_evaluation_idx ON results.pooled_models (evaluation_id);
CREATE TABLE IF NOT EXISTS results.pooled_table3 (
    pooled_model_id text PRIMARY KEY REFERENCES results.pooled_models (pooled_model_id) ON DELETE CASCADE,
    flag_count integer NOT NULL,
    tp integer NOT NULL,
    fp integer NOT NULL,
    tn integer NOT NULL,
    fn integer NOT NULL,
    legacy_tp integer NOT NULL,
    legacy_fp integer NOT NULL,
    legacy_tn integer NOT NULL,
    legacy_fn integer NOT NULL,
    flags_to_match integer,
    legacy_source text
);
""")


def downgrade() -> None:
    execute_sql("DROP TABLE IF EXISTS results.pooled_table3; DROP TABLE IF EXISTS results.pooled_models;")
