"""Baseline 0002: schema results.

Contents: schema results: experiments, runs, matrices, model groups, models, predictions,
evaluations, importances, selections, Table 3, and the production explanations' tables (permutation
importances, risk curves and their direction, partial dependence, bias audit).

Verbatim DDL of the pre-migration code (why: :mod:`eis_core.migrations`, "adopted").
"""

from __future__ import annotations

from eis_core.migrations import execute_sql

revision = "0002"
down_revision = '0001'
branch_labels = None
depends_on = None

SQL = r"""
-- from eis_core/modeling/results.py DDL (commit 1d475ae)
CREATE SCHEMA IF NOT EXISTS results;

CREATE TABLE IF NOT EXISTS results.experiments (
    experiment_id text PRIMARY KEY,
    config        jsonb NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS results.runs (
    run_id           bigserial PRIMARY KEY,
    experiment_id    text NOT NULL REFERENCES results.experiments (experiment_id),
    config_hash      text NOT NULL,
    git_commit       text,
    package_versions jsonb,
    random_seed      integer,
    started_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz,
    status           text NOT NULL DEFAULT 'running',
    timings          jsonb
);

CREATE TABLE IF NOT EXISTS results.matrices (
    matrix_id   text PRIMARY KEY,
    kind        text,
    split_id    text,
    as_of_dates date[],
    label_name  text,
    n_rows      integer,
    n_positive  integer,
    n_features  integer,
    path        text,
    metadata    jsonb,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS results.model_groups (
    model_group_id    text PRIMARY KEY,
    class_path        text NOT NULL,
    hyperparameters   jsonb NOT NULL,
    feature_list_hash text NOT NULL,
    label_name        text,
    is_baseline       boolean NOT NULL DEFAULT false,
    feature_names     jsonb,
    created_at        timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS results.models (
    model_id        text PRIMARY KEY,
    model_group_id  text NOT NULL REFERENCES results.model_groups (model_group_id),
    run_id          bigint REFERENCES results.runs (run_id),
    split_id        text,
    train_matrix_id text,
    test_matrix_id  text,
    artifact_path   text,
    train_seconds   double precision,
    status          text NOT NULL,
    random_seed     integer,
    message         text,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS models_run_idx ON results.models (run_id);
CREATE INDEX IF NOT EXISTS models_group_idx ON results.models (model_group_id);

-- which runs used which models (a model trained by one run is reused, not retrained, by later runs
-- and by other experiments with the same model group, train matrix and seed)
CREATE TABLE IF NOT EXISTS results.run_models (
    run_id   bigint NOT NULL REFERENCES results.runs (run_id),
    model_id text NOT NULL REFERENCES results.models (model_id) ON DELETE CASCADE,
    PRIMARY KEY (run_id, model_id)
);

CREATE TABLE IF NOT EXISTS results.predictions (
    model_id           text NOT NULL,
    officer_id         text NOT NULL,
    as_of_date         date NOT NULL,
    score              double precision NOT NULL,
    label              smallint,
    rank_abs_no_ties   integer NOT NULL,
    rank_pct_no_ties   double precision NOT NULL,
    rank_abs_with_ties integer NOT NULL,
    rank_pct_with_ties double precision NOT NULL,
    PRIMARY KEY (model_id, officer_id, as_of_date)
);

CREATE TABLE IF NOT EXISTS results.evaluations (
    model_id   text NOT NULL,
    split_id   text,
    metric     text NOT NULL,
    parameter  text NOT NULL DEFAULT '',
    tie_method text NOT NULL CHECK (tie_method IN ('worst', 'best', 'stochastic', 'none')),
    value      double precision,
    value_sd   double precision,
    n_examples integer,
    PRIMARY KEY (model_id, metric, parameter, tie_method)
);

CREATE TABLE IF NOT EXISTS results.feature_importances (
    model_id   text NOT NULL,
    feature    text NOT NULL,
    importance double precision,
    method     text NOT NULL CHECK (method IN ('impurity', 'coefficient', 'none')),
    rank       integer,
    PRIMARY KEY (model_id, feature)
);

CREATE TABLE IF NOT EXISTS results.selections (
    selection_id   bigserial PRIMARY KEY,
    experiment_id  text NOT NULL,
    rule           text NOT NULL,
    metric         text NOT NULL,
    model_group_id text,
    chosen         boolean NOT NULL DEFAULT false,
    report_path    text,
    selected_at    timestamptz NOT NULL DEFAULT now(),
    selected_by    text
);

CREATE TABLE IF NOT EXISTS results.table3 (
    model_id       text PRIMARY KEY,
    split_id       text,
    model_group_id text,
    flag_count     integer NOT NULL,
    tp integer NOT NULL, fp integer NOT NULL, tn integer NOT NULL, fn integer NOT NULL,
    legacy_tp integer NOT NULL, legacy_fp integer NOT NULL, legacy_tn integer NOT NULL, legacy_fn integer NOT NULL,
    flags_to_match integer,   -- officers the model must flag to reach legacy_tp (NULL: never reaches it)
    legacy_source  text       -- 'flags' (the department's eis_flags) or 'rules' (the configured legacy_rules)
);
ALTER TABLE results.table3 ADD COLUMN IF NOT EXISTS flags_to_match integer;
ALTER TABLE results.table3 ADD COLUMN IF NOT EXISTS legacy_source text;
ALTER TABLE results.runs ADD COLUMN IF NOT EXISTS heartbeat_at timestamptz;
ALTER TABLE results.runs ADD COLUMN IF NOT EXISTS owner text;

-- from eis_core/production/insights.py DDL (commit 1d475ae)
CREATE TABLE IF NOT EXISTS results.permutation_importances (
    model_id        text NOT NULL,
    feature         text NOT NULL,
    importance_mean double precision NOT NULL,
    importance_sd   double precision NOT NULL,
    scoring         text NOT NULL,
    n_repeats       integer NOT NULL,
    rank            integer NOT NULL,
    PRIMARY KEY (model_id, feature)
);
CREATE TABLE IF NOT EXISTS results.risk_curves (
    model_id   text NOT NULL,
    feature    text NOT NULL,
    bin        integer NOT NULL,
    bin_low    double precision NOT NULL,
    bin_high   double precision NOT NULL,
    mean_score double precision,
    sd_score   double precision,
    n          integer NOT NULL,
    PRIMARY KEY (model_id, feature, bin)
);
CREATE TABLE IF NOT EXISTS results.risk_curve_direction (
    model_id       text NOT NULL,
    feature        text NOT NULL,
    directionality double precision,
    PRIMARY KEY (model_id, feature)
);
CREATE TABLE IF NOT EXISTS results.partial_dependence (
    model_id    text NOT NULL,
    feature     text NOT NULL,
    grid_value  double precision NOT NULL,
    average     double precision NOT NULL,
    PRIMARY KEY (model_id, feature, grid_value)
);
CREATE TABLE IF NOT EXISTS results.bias_audit (
    model_id        text NOT NULL,
    split_id        text,
    as_of_date      date NOT NULL,
    threshold       text NOT NULL,
    attribute       text NOT NULL,
    group_value     text NOT NULL,
    reference_group text NOT NULL,
    group_size      integer NOT NULL,
    flagged         integer NOT NULL,
    flag_rate       double precision,
    precision       double precision,
    tpr             double precision,
    fpr             double precision,
    fnr             double precision,
    flag_rate_ratio double precision,
    tpr_ratio       double precision,
    fpr_ratio       double precision,
    out_of_range    boolean NOT NULL,
    PRIMARY KEY (model_id, as_of_date, threshold, attribute, group_value)
);
"""


def upgrade() -> None:
    execute_sql(SQL)


def downgrade() -> None:
    raise NotImplementedError("the baseline is not reversible: restore a backup instead (docs/architecture.md)")
