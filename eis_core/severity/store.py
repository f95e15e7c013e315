"""Schema ``severity`` in the warehouse (created idempotently by :func:`ensure_severity_schema`).

Tables (names and columns are an interface: the web app reads them):

* ``models`` - the registry: one row per trained model, ``status`` champion / challenger / retired
  (at most one champion, enforced by a partial unique index); ``artifact_sha256`` guards the joblib file;
* ``decisions`` - every champion/challenger decision, automatic or by a person;
* ``predictions_log`` - every prediction the API made (joined to outcomes later by ``report_id``);
* ``monitoring_daily``, ``drift``, ``division_f1`` - the daily monitoring; ``alerts`` - raised alerts;
* ``api_tokens`` - API tokens, only their sha256 hashes;
* ``retrain_runs`` - one row per retraining run (how far outcomes were read, how many were new).
"""

from __future__ import annotations

import json

DDL = """
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
"""


def ensure_severity_schema(conn=None) -> None:
    """Create schema ``severity`` and its tables if missing (safe to call any number of times)."""
    from eis_core import db

    db.ensure_ddl("eis_severity_schema", DDL, conn)


def record_decision(
    conn,
    *,
    champion_version,
    challenger_version,
    champion_f1,
    challenger_f1,
    margin,
    promoted,
    decided_by,
    reason,
    n_holdout=None,
) -> int:
    return conn.execute(
        "INSERT INTO severity.decisions (champion_version, challenger_version, champion_f1, challenger_f1, margin, "
        "promoted, decided_by, reason, n_holdout) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING decision_id",
        (
            champion_version,
            challenger_version,
            champion_f1,
            challenger_f1,
            margin,
            promoted,
            decided_by,
            reason,
            n_holdout,
        ),
    ).fetchone()[0]


def raise_alert(conn, day, kind: str, message: str, model_version: str | None = None) -> int:
    import logging

    logging.getLogger("eis_core.severity.alerts").warning("severity alert [%s] %s: %s", kind, day, message)
    return conn.execute(
        "INSERT INTO severity.alerts (day, kind, message, model_version) VALUES (%s, %s, %s, %s) RETURNING alert_id",
        (day, kind, message, model_version),
    ).fetchone()[0]


def log_predictions(conn, rows) -> int:
    """COPY (report_id, model_version, predicted, probabilities dict, scored_at, token_id) rows."""
    n = 0
    with conn.cursor().copy(
        "COPY severity.predictions_log (report_id, model_version, predicted, probabilities, "
        "scored_at, token_id) FROM STDIN"
    ) as cp:
        for r in rows:
            cp.write_row([r[0], r[1], r[2], json.dumps(r[3]), r[4], r[5]])
            n += 1
    return n
