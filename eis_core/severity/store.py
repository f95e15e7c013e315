"""Schema ``severity`` in the warehouse (created by the migrations, revision 0005).

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


def ensure_severity_schema(conn=None) -> None:
    """The warehouse schema at the migrations' head (:func:`eis_core.migrations.ensure_schema`; *conn* is
    accepted for the callers' sake: the check runs once per process on its own connection)."""
    from eis_core.migrations import ensure_schema

    ensure_schema()


def record_decision(conn, *, champion_version, challenger_version, champion_f1, challenger_f1, margin, promoted,
                    decided_by, reason, n_holdout=None) -> int:
    return conn.execute(
        "INSERT INTO severity.decisions (champion_version, challenger_version, champion_f1, challenger_f1, margin, "
        "promoted, decided_by, reason, n_holdout) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING decision_id",
        (champion_version, challenger_version, champion_f1, challenger_f1, margin, promoted, decided_by, reason,
         n_holdout)).fetchone()[0]


def raise_alert(conn, day, kind: str, message: str, model_version: str | None = None) -> int:
    import logging

    logging.getLogger("eis_core.severity.alerts").warning("severity alert [%s] %s: %s", kind, day, message)
    return conn.execute("INSERT INTO severity.alerts (day, kind, message, model_version) VALUES (%s, %s, %s, %s) "
                        "RETURNING alert_id", (day, kind, message, model_version)).fetchone()[0]


def log_predictions(conn, rows) -> int:
    """COPY (report_id, model_version, predicted, probabilities dict, scored_at, token_id) rows."""
    n = 0
    with conn.cursor().copy("COPY severity.predictions_log (report_id, model_version, predicted, probabilities, "
                            "scored_at, token_id) FROM STDIN") as cp:
        for r in rows:
            cp.write_row([r[0], r[1], r[2], json.dumps(r[3]), r[4], r[5]])
            n += 1
    return n
