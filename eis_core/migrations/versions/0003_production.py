"""Baseline 0003: schema production.

Contents: schema production: scoring runs, predictions, risk factors, rank changes, unit
risk, bias audit, reviews, the intervention catalogue (with its default rows), alerts, their events and
notifications.

Verbatim DDL of the pre-migration code (why: :mod:`eis_core.migrations`, "adopted").
"""

from __future__ import annotations

from eis_core.migrations import execute_sql

revision = "0003"
down_revision = '0002'
branch_labels = None
depends_on = None

SQL = r"""
-- from eis_core/production/schema.py DDL (commit 1d475ae)
CREATE SCHEMA IF NOT EXISTS production;

CREATE TABLE IF NOT EXISTS production.scoring_runs (
    as_of_date     date PRIMARY KEY,
    model_id       text NOT NULL,
    model_group_id text NOT NULL,
    experiment_id  text,
    mode           text NOT NULL CHECK (mode IN ('retrain', 'stored')),
    n_scored       integer NOT NULL,
    flag_count     integer NOT NULL,
    explain_method text NOT NULL,
    timings        jsonb,
    scored_at      timestamptz NOT NULL DEFAULT now(),
    scored_by      text
);

CREATE TABLE IF NOT EXISTS production.predictions (
    as_of_date     date NOT NULL,
    officer_id     text NOT NULL,
    model_id       text NOT NULL,
    score          double precision NOT NULL,
    rank_abs       integer NOT NULL CHECK (rank_abs >= 1),
    rank_pct       double precision NOT NULL CHECK (rank_pct >= 0 AND rank_pct <= 1),
    division       text,
    unit           text,
    PRIMARY KEY (as_of_date, officer_id)
);
CREATE INDEX IF NOT EXISTS predictions_officer_idx ON production.predictions (officer_id, as_of_date);

CREATE TABLE IF NOT EXISTS production.risk_factors (
    as_of_date   date NOT NULL,
    officer_id   text NOT NULL,
    position     smallint NOT NULL CHECK (position BETWEEN 1 AND 5),
    feature      text NOT NULL,
    block        text,
    value        double precision,
    contribution double precision NOT NULL,
    direction    text NOT NULL CHECK (direction IN ('raises', 'lowers')),
    label        text NOT NULL,
    method       text NOT NULL,
    PRIMARY KEY (as_of_date, officer_id, position)
);

CREATE TABLE IF NOT EXISTS production.rank_changes (
    as_of_date    date NOT NULL,
    officer_id    text NOT NULL,
    days_back     integer NOT NULL CHECK (days_back IN (1, 7, 30, 90, 365)),
    previous_rank integer,
    rank_change   integer,
    PRIMARY KEY (as_of_date, officer_id, days_back)
);

CREATE TABLE IF NOT EXISTS production.unit_risk (
    as_of_date  date NOT NULL,
    division    text NOT NULL,
    unit        text NOT NULL,
    officers    integer NOT NULL,
    mean_score  double precision NOT NULL,
    max_score   double precision NOT NULL,
    top5_count  integer NOT NULL,
    PRIMARY KEY (as_of_date, division, unit)
);

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

CREATE TABLE IF NOT EXISTS production.reviews (
    review_id          bigserial PRIMARY KEY,
    as_of_date         date NOT NULL,
    officer_id         text NOT NULL,
    reviewer           text NOT NULL CHECK (length(btrim(reviewer)) > 0),
    reviewed_at        timestamptz NOT NULL DEFAULT now(),
    agrees_with_score  boolean NOT NULL,
    factor_agreement   jsonb NOT NULL CHECK (jsonb_typeof(factor_agreement) = 'object'
                                             AND factor_agreement <> '{}'::jsonb),
    dismissal_reason   text,
    intervention       text NOT NULL CHECK (intervention IN ('training', 'counselling', 'reassignment', 'none')),
    intervention_date  date,
    notes              text,
    CONSTRAINT reviews_dismissal_needs_reason CHECK (
        agrees_with_score OR (dismissal_reason IS NOT NULL AND length(btrim(dismissal_reason)) > 0)),
    CONSTRAINT reviews_intervention_needs_date CHECK (
        (intervention = 'none') = (intervention_date IS NULL)),
    CONSTRAINT reviews_intervention_not_before_date CHECK (
        intervention_date IS NULL OR intervention_date >= as_of_date)
);
CREATE INDEX IF NOT EXISTS reviews_officer_idx ON production.reviews (officer_id, as_of_date);

-- the intervention workflow (issue 16): alerts, their steps, the department's catalogue of interventions
CREATE TABLE IF NOT EXISTS production.intervention_catalogue (
    code            text PRIMARY KEY CHECK (code ~ '^[a-z][a-z0-9_]{1,40}$'),
    label           text NOT NULL CHECK (length(btrim(label)) > 0),
    description     text,
    active          boolean NOT NULL DEFAULT true,
    position        integer NOT NULL DEFAULT 100,
    needs_follow_up boolean NOT NULL DEFAULT true,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    updated_by      text
);
INSERT INTO production.intervention_catalogue (code, label, description, position, needs_follow_up, updated_by)
VALUES ('training', 'Training', 'A course or refresher training', 1, true, 'default'),
       ('counselling', 'Counselling', 'A counselling conversation with the supervisor', 2, true, 'default'),
       ('mentoring', 'Mentoring', 'Paired with an experienced officer', 3, true, 'default'),
       ('peer_support', 'Peer support', 'Referred to the peer-support team', 4, true, 'default'),
       ('wellness_referral', 'Wellness referral', 'Referred to the employee wellness programme', 5, true, 'default'),
       ('reassignment', 'Reassignment', 'A change of assignment, shift or partner', 6, true, 'default'),
       ('none', 'No intervention', 'The supervisor looked into it and no action is needed', 99, false, 'default')
ON CONFLICT (code) DO NOTHING;
-- reviews name an intervention of the catalogue (which the department edits) instead of a fixed list
ALTER TABLE production.reviews DROP CONSTRAINT IF EXISTS reviews_intervention_check;
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'reviews_intervention_catalogue_fk') THEN
        ALTER TABLE production.reviews ADD CONSTRAINT reviews_intervention_catalogue_fk
            FOREIGN KEY (intervention) REFERENCES production.intervention_catalogue (code);
    END IF;
END $$;

CREATE TABLE IF NOT EXISTS production.alerts (
    alert_id          bigserial PRIMARY KEY,
    officer_id        text NOT NULL,
    as_of_date        date NOT NULL,
    division          text,
    score             double precision,
    rank_abs          integer,
    rank_pct          double precision,
    status            text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'acknowledged', 'met', 'intervention',
                                                                     'followed_up', 'closed')),
    assigned_to       text,
    escalation_level  smallint NOT NULL DEFAULT 0,
    due_date          date NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    created_by        text NOT NULL,
    acknowledged_at   timestamptz,
    acknowledged_by   text,
    meeting_date      date,
    meeting_notes     text,
    intervention      text REFERENCES production.intervention_catalogue (code),
    intervention_date date,
    follow_up_date    date,
    followed_up_at    timestamptz,
    follow_up_notes   text,
    closed_at         timestamptz,
    closed_by         text,
    close_notes       text,
    UNIQUE (officer_id, as_of_date),
    CONSTRAINT alerts_closed_has_when CHECK ((status = 'closed') = (closed_at IS NOT NULL))
);
CREATE UNIQUE INDEX IF NOT EXISTS alerts_one_open_per_officer ON production.alerts (officer_id)
    WHERE status <> 'closed';
CREATE INDEX IF NOT EXISTS alerts_assignee_idx ON production.alerts (assigned_to, status);
CREATE INDEX IF NOT EXISTS alerts_division_idx ON production.alerts (division, status);

CREATE TABLE IF NOT EXISTS production.alert_events (
    event_id  bigserial PRIMARY KEY,
    alert_id  bigint NOT NULL REFERENCES production.alerts (alert_id) ON DELETE CASCADE,
    at        timestamptz NOT NULL DEFAULT now(),
    actor     text NOT NULL,
    step      text NOT NULL,
    detail    jsonb
);
CREATE INDEX IF NOT EXISTS alert_events_alert_idx ON production.alert_events (alert_id, event_id);

CREATE TABLE IF NOT EXISTS production.alert_notifications (
    notification_id bigserial PRIMARY KEY,
    alert_id        bigint NOT NULL REFERENCES production.alerts (alert_id) ON DELETE CASCADE,
    at              timestamptz NOT NULL DEFAULT now(),
    recipient       text,
    address         text,
    subject         text NOT NULL,
    status          text NOT NULL
);

-- one review per officer per alert, editable until the alert is closed
ALTER TABLE production.reviews ADD COLUMN IF NOT EXISTS alert_id bigint REFERENCES production.alerts (alert_id);
ALTER TABLE production.reviews ADD COLUMN IF NOT EXISTS updated_at timestamptz;
ALTER TABLE production.reviews ADD COLUMN IF NOT EXISTS updated_by text;
CREATE UNIQUE INDEX IF NOT EXISTS reviews_one_per_alert ON production.reviews (alert_id) WHERE alert_id IS NOT NULL;
"""


def upgrade() -> None:
    execute_sql(SQL)


def downgrade() -> None:
    raise NotImplementedError("the baseline is not reversible: restore a backup instead (docs/architecture.md)")
