"""Data quality (load log, quarantine) and the side jobs (severity monitoring, forecasts)."""

from __future__ import annotations

from typing import Any

from eis_core.webapp.queries.base import populated, rows, schema_exists, table_exists


# ----------------------------------------------------------------------------------------- data quality

def load_log(conn, limit: int = 200) -> list[dict]:
    if not table_exists(conn, "raw.load_log"):
        return []
    return rows(conn, "SELECT load_id, table_name, status, rows_in, rows_loaded, rows_quarantined, message, warnings, "
                      "file_name, drop_path, started_at, finished_at FROM raw.load_log "
                      "ORDER BY load_id DESC, table_name LIMIT %s", (limit,))


def quarantine_summary(conn) -> list[dict]:
    if not table_exists(conn, "raw.quarantine"):
        return []
    return rows(conn, "SELECT q.load_id, q.table_name, rule, count(*) AS rows FROM raw.quarantine q, unnest(q.rules) rule "
                      "GROUP BY 1, 2, 3 ORDER BY 1 DESC, 2, 4 DESC")


def quarantine_rows(conn, table_name: str | None, limit: int = 200) -> list[dict]:
    if not table_exists(conn, "raw.quarantine"):
        return []
    return rows(conn, "SELECT load_id, table_name, row_number, rules, reasons, row_data FROM raw.quarantine "
                      "WHERE (%s::text IS NULL OR table_name = %s) ORDER BY load_id DESC, table_name, row_number LIMIT %s",
                (table_name, table_name, limit))


# ----------------------------------------------------------------------------------------- side jobs

SEVERITY_TABLES = {
    "monitoring_daily": "SELECT day, model_version, n_resolved, macro_f1, accuracy FROM severity.monitoring_daily "
                        "ORDER BY day DESC, model_version LIMIT 120",
    "drift": "SELECT day, model_version, feature, psi, threshold, alert FROM severity.drift "
             "ORDER BY day DESC, alert DESC, psi DESC LIMIT 120",
    "division_f1": "SELECT day, model_version, division, n, macro_f1 FROM severity.division_f1 "
                   "ORDER BY day DESC, division LIMIT 120",
    "alerts": "SELECT alert_id, raised_at, day, kind, message FROM severity.alerts ORDER BY raised_at DESC LIMIT 100",
    # readable columns only: no raw JSON, no file paths (the artifact is named by its checksum)
    "models": "SELECT version, status, created_at, train_start, train_end, n_train, "
              "(metrics -> 'model' ->> 'macro_f1')::double precision AS macro_f1, "
              "(metrics -> 'offense_rule' ->> 'macro_f1')::double precision AS baseline_f1, "
              "(metrics ->> 'n_test')::integer AS n_test, library_versions ->> 'scikit-learn' AS sklearn, "
              "left(artifact_sha256, 12) AS checksum FROM severity.models "
              "ORDER BY (status = 'champion') DESC, created_at DESC LIMIT 50",
    "decisions": "SELECT decided_at, champion_version, challenger_version, champion_f1, challenger_f1, promoted, "
                 "decided_by, reason FROM severity.decisions ORDER BY decided_at DESC LIMIT 30",
    "predictions_log": "SELECT scored_at::date AS day, model_version, count(*) AS n FROM severity.predictions_log "
                       "GROUP BY 1, 2 ORDER BY 1 DESC, 2 LIMIT 60",
}

#: what each severity table is, in words, and what fills it (the page's empty states)
SEVERITY_WORDS = {
    "alerts": ("Alerts", "No monitoring alert has been raised."),
    "monitoring_daily": ("Daily macro F1 and accuracy",
                         "No daily scores yet. They appear once reports the service has scored get their final "
                         "severity and the daily monitoring (eis severity monitor) has run."),
    "drift": ("Drift of the inputs (PSI)", "No drift measured yet: the daily monitoring compares recent reports "
                                           "with the training window when it runs."),
    "division_f1": ("Macro F1 by division", "No division scores yet (they come with the daily scores)."),
    "models": ("Model versions", "No model has been trained yet (eis severity train)."),
    "decisions": ("Champion / challenger decisions", "No promotion decision yet."),
    "predictions_log": ("Predictions served per day", "The service has not scored any report yet."),
}


def severity(conn) -> dict[str, list[dict] | None] | None:
    if not schema_exists(conn, "severity") or not any(populated(conn, "severity." + n) for n in SEVERITY_TABLES):
        return None  # the service has not written anything here yet
    out: dict[str, list[dict] | None] = {}
    for name, query in SEVERITY_TABLES.items():
        out[name] = rows(conn, query) if table_exists(conn, "severity." + name) else None
    return out


def forecasts(conn) -> dict | None:
    if not populated(conn, "forecast.runs"):
        return None
    out: dict[str, Any] = {
        "runs": rows(conn, "SELECT run_id, kind, started_at, data_start, data_end, seconds FROM forecast.runs "
                           "ORDER BY run_id DESC LIMIT 20"),
        "backtests": rows(conn, "SELECT b.run_id, b.target, b.series, b.model, b.horizon_bucket, avg(b.rmse) AS rmse, "
                                "avg(b.mae) AS mae, avg(b.mase) AS mase, avg(b.coverage_80) AS coverage_80, sum(b.n) AS n "
                                "FROM forecast.backtests b WHERE b.chosen AND b.run_id IN "
                                "(SELECT max(run_id) FROM forecast.backtests GROUP BY target) "
                                "GROUP BY 1, 2, 3, 4, 5 ORDER BY 2, 3, 5 LIMIT 200"),
        "priority": rows(conn, "SELECT run_id, model, accuracy, macro_f1, n_train, n_test, chosen "
                               "FROM forecast.priority_scores ORDER BY run_id DESC, macro_f1 DESC NULLS LAST LIMIT 20"),
    }
    series = rows(conn, "SELECT s.day, s.series, s.yhat, s.lo_80, s.hi_80 FROM forecast.stops_daily s "
                        "WHERE s.chosen AND s.run_id = (SELECT max(run_id) FROM forecast.stops_daily) "
                        "AND s.series = (SELECT min(series) FROM forecast.stops_daily "
                        "                WHERE run_id = (SELECT max(run_id) FROM forecast.stops_daily)) "
                        "ORDER BY s.day LIMIT 400")
    out["stops"] = series
    return out
