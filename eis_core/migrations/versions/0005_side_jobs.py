"""Baseline 0005: schemas severity, dispatch, forecast.

Contents: the side jobs' schemas: severity (models, decisions, predictions log,
monitoring, drift, division F1, alerts, API tokens, retrain runs), dispatch (subset comparison, feature
effects), forecast (runs, backtests, forecasts, priority scores).

Verbatim DDL of the pre-migration code (why: :mod:`eis_core.migrations`, "adopted").
"""

from __future__ import annotations

from eis_core.migrations import execute_sql

revision = "0005"
down_revision = '0004'
branch_labels = None
depends_on = None

SQL = r"""
-- from eis_core/severity/store.py DDL (commit 1d475ae)
CREATE SCHEMA IF NOT EXISTS severity;
CREATE TABLE IF NOT EXISTS severity.models (
    version text PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now(),
    train_start date,
    train_end date,
    data_hash text NOT NULL,
    library_versions jsonb NOT NULL,
    metrics jsonb NOT NULL,
    artifact_path text NOT NULL,
    status text NOT NULL CHECK (status IN ('champion', 'challenger', 'retired')),
    artifact_sha256 text,
    feature_version integer,
    n_train integer,
    params jsonb);
CREATE UNIQUE INDEX IF NOT EXISTS models_one_champion ON severity.models ((true)) WHERE status = 'champion';
CREATE TABLE IF NOT EXISTS severity.decisions (
    decision_id bigserial PRIMARY KEY,
    decided_at timestamptz NOT NULL DEFAULT now(),
    champion_version text,
    challenger_version text,
    champion_f1 double precision,
    challenger_f1 double precision,
    margin double precision,
    promoted boolean NOT NULL,
    decided_by text NOT NULL,
    reason text NOT NULL,
    n_holdout integer);
CREATE TABLE IF NOT EXISTS severity.predictions_log (
    id bigserial PRIMARY KEY,
    report_id text,
    model_version text NOT NULL,
    predicted text NOT NULL,
    probabilities jsonb NOT NULL,
    scored_at timestamptz NOT NULL DEFAULT now(),
    token_id bigint);
CREATE INDEX IF NOT EXISTS predictions_log_report ON severity.predictions_log (report_id);
CREATE TABLE IF NOT EXISTS severity.monitoring_daily (
    day date NOT NULL,
    model_version text NOT NULL,
    n_resolved integer NOT NULL,
    macro_f1 double precision,
    accuracy double precision,
    PRIMARY KEY (day, model_version));
CREATE TABLE IF NOT EXISTS severity.drift (
    day date NOT NULL,
    model_version text NOT NULL,
    feature text NOT NULL,
    psi double precision,
    threshold double precision,
    alert boolean NOT NULL,
    PRIMARY KEY (day, model_version, feature));
CREATE TABLE IF NOT EXISTS severity.division_f1 (
    day date NOT NULL,
    model_version text NOT NULL,
    division text NOT NULL,
    n integer NOT NULL,
    macro_f1 double precision,
    PRIMARY KEY (day, model_version, division));
CREATE TABLE IF NOT EXISTS severity.alerts (
    alert_id bigserial PRIMARY KEY,
    raised_at timestamptz NOT NULL DEFAULT now(),
    day date,
    kind text NOT NULL,
    message text NOT NULL,
    model_version text);
CREATE TABLE IF NOT EXISTS severity.api_tokens (
    token_id bigserial PRIMARY KEY,
    name text NOT NULL,
    token_hash text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    disabled boolean NOT NULL DEFAULT false);
CREATE TABLE IF NOT EXISTS severity.retrain_runs (
    run_id bigserial PRIMARY KEY,
    ran_at timestamptz NOT NULL DEFAULT now(),
    as_of timestamp NOT NULL,
    outcomes_since timestamp,
    n_new_outcomes integer NOT NULL,
    challenger_version text,
    decision_id bigint,
    seconds double precision);

-- from eis_core/dispatch/model.py DDL (commit 1d475ae)
CREATE SCHEMA IF NOT EXISTS dispatch;
CREATE TABLE IF NOT EXISTS dispatch.subset_comparison (
    run_id            bigint NOT NULL,
    experiment_id     text NOT NULL,
    model_id          text NOT NULL,
    model_kind        text NOT NULL,
    subset            text NOT NULL,
    split_date        date NOT NULL,
    n_features        integer NOT NULL,
    n_train           integer NOT NULL,
    n_train_pos       integer NOT NULL,
    n_test            integer NOT NULL,
    n_test_pos        integer NOT NULL,
    threshold         double precision,
    f1                double precision,
    precision         double precision,
    recall            double precision,
    random_f1         double precision,
    roc_auc           double precision,
    average_precision double precision,
    unsampled         jsonb,
    artifact_path     text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, model_kind, subset)
);
CREATE TABLE IF NOT EXISTS dispatch.feature_effects (
    run_id        bigint NOT NULL,
    model_id      text NOT NULL,
    model_kind    text NOT NULL,
    subset        text NOT NULL,
    feature       text NOT NULL,
    block         text NOT NULL,
    importance    double precision,
    signed_effect double precision,
    PRIMARY KEY (run_id, model_kind, subset, feature)
);

-- from eis_core/forecast/store.py DDL (commit 1d475ae)
CREATE SCHEMA IF NOT EXISTS forecast;
CREATE TABLE IF NOT EXISTS forecast.runs (
    run_id bigserial PRIMARY KEY, kind text NOT NULL, started_at timestamptz NOT NULL DEFAULT now(),
    data_start timestamp, data_end timestamp, params jsonb, seconds double precision);
CREATE TABLE IF NOT EXISTS forecast.backtests (
    run_id bigint NOT NULL REFERENCES forecast.runs, target text NOT NULL, series text NOT NULL,
    model text NOT NULL, cutoff timestamp, horizon_bucket text NOT NULL, rmse double precision,
    mae double precision, mase double precision, coverage_80 double precision, coverage_95 double precision,
    n integer, chosen boolean NOT NULL);
CREATE TABLE IF NOT EXISTS forecast.calls_hourly (
    run_id bigint NOT NULL REFERENCES forecast.runs, series text NOT NULL, ts timestamp NOT NULL,
    model text NOT NULL, yhat double precision, lo_80 double precision, hi_80 double precision,
    lo_95 double precision, hi_95 double precision, chosen boolean NOT NULL DEFAULT false,
    PRIMARY KEY (run_id, series, model, ts));
CREATE TABLE IF NOT EXISTS forecast.stops_daily (
    run_id bigint NOT NULL REFERENCES forecast.runs, series text NOT NULL, day date NOT NULL,
    model text NOT NULL, yhat double precision, lo_80 double precision, hi_80 double precision,
    lo_95 double precision, hi_95 double precision, chosen boolean NOT NULL DEFAULT false,
    PRIMARY KEY (run_id, series, model, day));
CREATE TABLE IF NOT EXISTS forecast.priority_scores (
    run_id bigint NOT NULL REFERENCES forecast.runs, model text NOT NULL, accuracy double precision,
    macro_f1 double precision, n_train integer, n_test integer, split_at timestamp, chosen boolean NOT NULL);
ALTER TABLE forecast.priority_scores ADD COLUMN IF NOT EXISTS val_macro_f1 double precision;
"""


def upgrade() -> None:
    execute_sql(SQL)


def downgrade() -> None:
    raise NotImplementedError("the baseline is not reversible: restore a backup instead (docs/architecture.md)")
