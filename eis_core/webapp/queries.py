"""The web app's reads (and its one write to the warehouse, a review).  Every statement is a constant
with ``%s`` parameters; identifiers are never built from request input.  Tables written by other
parts of the platform that may not exist yet are checked with ``to_regclass`` first (empty states)."""

from __future__ import annotations

import math
from datetime import date
from typing import Any

import numpy as np

WINDOW_PREFERENCE = ("1y", "6m", "5y", "3m", "1m", "all")


def rows(conn, query: str, params: tuple | list = ()) -> list[dict]:
    cur = conn.execute(query, params)
    cols = [d.name for d in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]


def one(conn, query: str, params: tuple | list = ()) -> dict | None:
    out = rows(conn, query, params)
    return out[0] if out else None


def table_exists(conn, qualified: str) -> bool:
    """*qualified* is a constant of this module ('schema.table'), never request input."""
    return conn.execute("SELECT to_regclass(%s) IS NOT NULL", (qualified,)).fetchone()[0]


def schema_exists(conn, schema: str) -> bool:
    return conn.execute("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = %s)", (schema,)).fetchone()[0]


# ----------------------------------------------------------------------------------------- production

def scored_dates(conn, limit: int = 400) -> list[date]:
    if not table_exists(conn, "production.scoring_runs"):
        return []
    out = [r[0] for r in conn.execute(
        "SELECT as_of_date FROM production.scoring_runs ORDER BY as_of_date DESC LIMIT %s", (limit,))]
    if not out:
        r = conn.execute("SELECT max(as_of_date) FROM production.predictions").fetchone()
        out = [r[0]] if r and r[0] else []
    return out


def scoring_run(conn, as_of: date) -> dict | None:
    return one(conn, "SELECT * FROM production.scoring_runs WHERE as_of_date = %s", (as_of,))


def divisions_units(conn, as_of: date, division: str | None = None) -> list[dict]:
    return rows(conn, "SELECT division, unit, count(*) AS officers FROM production.predictions "
                      "WHERE as_of_date = %s AND (%s::text IS NULL OR division = %s) "
                      "GROUP BY division, unit ORDER BY division NULLS LAST, unit NULLS LAST",
                (as_of, division, division))


def _risk_list_sql(scoped: bool) -> str:
    """The list query; *scoped* (a supervisor's division, ``%(scope)s``) adds the scope rule's conditions.
    Two constant texts rather than ``%(scope)s IS NULL OR ...``: each gets its own good plan."""
    in_scope = ("AND r.officer_id IN (SELECT officer_id FROM production.predictions "
                "WHERE as_of_date = %(as_of)s AND division = %(scope)s) "
                "AND EXISTS (SELECT 1 FROM production.predictions pr WHERE pr.as_of_date = r.as_of_date "
                "AND pr.officer_id = r.officer_id AND pr.division = %(scope)s)") if scoped else ""
    now = ("AND p.division = %(scope)s AND (   -- and in it now: the division of their latest scored date\n"
           "       SELECT pc.division FROM production.predictions pc WHERE pc.officer_id = p.officer_id\n"
           "       ORDER BY pc.as_of_date DESC LIMIT 1) = %(scope)s") if scoped else ""
    return f"""
WITH al AS MATERIALIZED (   -- each officer's current alert: an open one first, else the newest, raised by *as_of*
       SELECT DISTINCT ON (a.officer_id) a.officer_id, a.alert_id, a.status AS alert_status,
              a.due_date AS alert_due, a.assigned_to AS alert_assignee,
              (a.status <> 'closed' AND a.due_date < current_date) AS overdue,
              EXISTS (SELECT 1 FROM production.reviews ar WHERE ar.alert_id = a.alert_id) AS alert_reviewed
       FROM production.alerts a
       WHERE a.as_of_date <= %(as_of)s {"AND a.division = %(scope)s" if scoped else ""}
       ORDER BY a.officer_id, a.status = 'closed', a.as_of_date DESC),
rv AS MATERIALIZED (        -- each officer's latest review by *as_of* (a supervisor: of dates in their division)
       SELECT DISTINCT ON (r.officer_id) r.officer_id, r.reviewed_at, r.reviewer, r.as_of_date AS review_date,
              r.agrees_with_score, r.intervention
       FROM production.reviews r
       WHERE r.as_of_date <= %(as_of)s {in_scope}
       ORDER BY r.officer_id, r.as_of_date DESC, r.reviewed_at DESC)
SELECT p.officer_id, p.score, p.rank_abs, p.rank_pct, p.division, p.unit,
       p.rank_abs - rc7.previous_rank  AS move_7,
       p.rank_abs - rc30.previous_rank AS move_30,
       rv.reviewed_at, rv.reviewer, rv.review_date, rv.agrees_with_score, rv.intervention,
       (p.rank_pct <= %(flag_share)s) AS flagged,
       al.alert_id, al.alert_status, al.alert_due, al.alert_assignee, coalesce(al.overdue, false) AS overdue,
       coalesce(al.alert_reviewed, false) AS alert_reviewed
FROM production.predictions p
LEFT JOIN production.rank_changes rc7
       ON rc7.as_of_date = p.as_of_date AND rc7.officer_id = p.officer_id AND rc7.days_back = 7
LEFT JOIN production.rank_changes rc30
       ON rc30.as_of_date = p.as_of_date AND rc30.officer_id = p.officer_id AND rc30.days_back = 30
LEFT JOIN al ON al.officer_id = p.officer_id
LEFT JOIN rv ON rv.officer_id = p.officer_id
WHERE p.as_of_date = %(as_of)s
  AND (%(division)s::text IS NULL OR p.division = %(division)s)
  AND (%(unit)s::text IS NULL OR p.unit = %(unit)s)
  {now}
ORDER BY p.rank_abs, p.officer_id
"""


RISK_LIST_SQL = _risk_list_sql(False)
RISK_LIST_SCOPED_SQL = _risk_list_sql(True)

FACTORS_SQL = """
SELECT rf.officer_id,
       json_agg(json_build_object('label', rf.label, 'direction', rf.direction, 'feature', rf.feature,
                                  'value', rf.value, 'contribution', rf.contribution) ORDER BY rf.position) AS factors
FROM production.risk_factors rf
WHERE rf.as_of_date = %s AND rf.officer_id = ANY(%s)
GROUP BY rf.officer_id
"""


def risk_list(conn, as_of: date, division: str | None, unit: str | None, scope: str | None = None) -> list[dict]:
    """Ranked officers of *as_of* (move_N > 0: the officer moved *up* the list, towards rank 1, since N days).
    *scope*: a supervisor's division - only officers in it on *as_of* **and** now (their latest scored
    date), and only reviews and alerts filed while they were in it (see :func:`current_division`).
    ``flagged``: in the top ``EIS_FLAG_TOP_PERCENT`` % (:func:`eis_core.production.alerts.flag_share`);
    ``reviewed``: a review for this date, or for the officer's current alert.  The risk factors are
    not read here (one row per officer, for counting, filtering and sorting the whole list): call
    :func:`attach_factors` on the rows a page shows."""
    from eis_core.production.alerts import flag_share

    out = rows(conn, RISK_LIST_SCOPED_SQL if scope is not None else RISK_LIST_SQL, {"as_of": as_of, "division": division, "unit": unit, "scope": scope,
                                     "flag_share": flag_share()})
    for r in out:
        r["move_7"] = -r["move_7"] if r["move_7"] is not None else None
        r["move_30"] = -r["move_30"] if r["move_30"] is not None else None
        r["reviewed"] = bool(r["review_date"] == as_of or r["alert_reviewed"])
    return out


def attach_factors(conn, as_of: date, rows_: list[dict]) -> None:
    """``r["factors"]`` (the scoring's risk factors of *as_of*, in order) for each of *rows_*, in one query."""
    if not rows_:
        return
    got = dict(conn.execute(FACTORS_SQL, (as_of, [r["officer_id"] for r in rows_])).fetchall())
    for r in rows_:
        r["factors"] = got.get(r["officer_id"]) or []


RISK_SORTS = {
    "rank": lambda r: (r["rank_abs"],),
    "score": lambda r: (-r["score"], r["rank_abs"]),
    "move_7": lambda r: (r["move_7"] is None, -(r["move_7"] or 0), r["rank_abs"]),
    "move_30": lambda r: (r["move_30"] is None, -(r["move_30"] or 0), r["rank_abs"]),
    "officer": lambda r: (r["officer_id"],),
    "unit": lambda r: (r["division"] or "", r["unit"] or "", r["rank_abs"]),
    "due": lambda r: (r["alert_due"] is None or r["alert_status"] == "closed", r["alert_due"] or date.max,
                      r["rank_abs"]),
}
RISK_SHOWS = {"all": lambda r: True, "flagged": lambda r: r["flagged"],
              "not_reviewed": lambda r: r["flagged"] and not r["reviewed"],
              "overdue": lambda r: r["overdue"]}


def division_peers(conn, as_of: date, features: set[str], divisions: set[str]) -> dict[tuple[str, str], list[float]]:
    """{(division, feature): sorted values of the division's officers scored on *as_of*}, from the
    feature mart on its latest date <= *as_of* (empty when the mart lacks the date or the columns).
    Feature names come from ``production.risk_factors`` and are checked against the mart's columns,
    then quoted as identifiers."""
    from psycopg import sql

    if not features or not divisions or not table_exists(conn, "features.officer_features"):
        return {}
    cols = {r[0] for r in conn.execute(  # pg_attribute: information_schema.columns costs ~10 ms a call
        "SELECT attname FROM pg_attribute WHERE attrelid = 'features.officer_features'::regclass "
        "AND attnum > 0 AND NOT attisdropped")}
    feats = sorted(f for f in features if f in cols and f not in ("officer_id", "as_of_date"))
    if not feats:
        return {}
    fdate = conn.execute("SELECT max(as_of_date) FROM features.officer_features WHERE as_of_date <= %s",
                         (as_of,)).fetchone()[0]
    if fdate is None:
        return {}
    query = sql.SQL("SELECT p.division, {} FROM production.predictions p JOIN features.officer_features f "
                    "ON f.officer_id = p.officer_id AND f.as_of_date = %s WHERE p.as_of_date = %s "
                    "AND p.division = ANY(%s)").format(sql.SQL(", ").join(sql.Identifier("f", c) for c in feats))
    out: dict[tuple[str, str], list[float]] = {}
    for row in conn.execute(query, (fdate, as_of, sorted(divisions))):
        for c, v in zip(feats, row[1:]):
            if v is not None:
                out.setdefault((row[0], c), []).append(float(v))
    for v in out.values():
        v.sort()
    return out


def worded_factors(factors: list[dict], division: str | None, peers: dict, limit: int | None = None) -> list[dict]:
    """The officer's factors as grouped sentences (eis_core.production.wording), compared with *division*."""
    from eis_core.production.wording import sentences

    mine = {f: v for (d, f), v in peers.items() if d == division}
    return [s.as_dict() for s in sentences(factors, mine, limit)]


def prediction(conn, officer_id: str, as_of: date) -> dict | None:
    return one(conn, "SELECT * FROM production.predictions WHERE officer_id = %s AND as_of_date = %s",
               (officer_id, as_of))


def latest_officer_date(conn, officer_id: str) -> date | None:
    r = conn.execute("SELECT max(as_of_date) FROM production.predictions WHERE officer_id = %s", (officer_id,)).fetchone()
    return r[0] if r else None


def current_division(conn, officer_id: str) -> str | None:
    """The officer's division on their most recent scored date - the division whose supervisor may see
    them now.  The scope rule (docs/security.md): a supervisor sees an officer only while the officer is
    currently in the supervisor's division, and of that officer only the rows (scores, factors, reviews)
    of dates on which the officer was in that division."""
    r = conn.execute("SELECT division FROM production.predictions WHERE officer_id = %s "
                     "ORDER BY as_of_date DESC LIMIT 1", (officer_id,)).fetchone()
    return r[0] if r else None


def officer_history(conn, officer_id: str, limit: int = 800, scope: str | None = None) -> list[dict]:
    return list(reversed(rows(conn, "SELECT as_of_date, score, rank_abs, rank_pct, division, unit "
                                    "FROM production.predictions WHERE officer_id = %s "
                                    "AND (%s::text IS NULL OR division = %s) "
                                    "ORDER BY as_of_date DESC LIMIT %s", (officer_id, scope, scope, limit))))


def risk_factors(conn, officer_id: str, as_of: date) -> list[dict]:
    return rows(conn, "SELECT position, feature, block, value, contribution, direction, label, method "
                      "FROM production.risk_factors WHERE officer_id = %s AND as_of_date = %s ORDER BY position",
                (officer_id, as_of))


def rank_changes(conn, officer_id: str, as_of: date) -> list[dict]:
    return rows(conn, "SELECT days_back, previous_rank, rank_change FROM production.rank_changes "
                      "WHERE officer_id = %s AND as_of_date = %s ORDER BY days_back", (officer_id, as_of))


def reviews(conn, officer_id: str, scope: str | None = None) -> list[dict]:
    """The officer's reviews; with *scope* (a supervisor's division) only those filed for a date on which
    the officer was in that division."""
    return rows(conn, "SELECT r.review_id, r.alert_id, r.as_of_date, r.reviewer, r.reviewed_at, r.agrees_with_score, "
                      "r.factor_agreement, r.dismissal_reason, r.intervention, r.intervention_date, r.notes "
                      "FROM production.reviews r WHERE r.officer_id = %s AND (%s::text IS NULL OR EXISTS ("
                      "  SELECT 1 FROM production.predictions p WHERE p.officer_id = r.officer_id "
                      "  AND p.as_of_date = r.as_of_date AND p.division = %s)) "
                      "ORDER BY r.reviewed_at DESC, r.review_id DESC", (officer_id, scope, scope))


def validate_review(form: dict, factors: list[str], as_of: date, codes: list[str] | None = None,
                    groups: list[list[str]] | None = None) -> tuple[dict, list[str]]:
    """Check a submitted review form; returns (values, errors). Each error names its field.
    *codes*: the interventions of the catalogue; *groups*: factors shown as one sentence - one answer
    (``factor:<first feature of the group>``) covers the whole group."""
    from eis_core.production.schema import INTERVENTIONS

    codes = list(codes or INTERVENTIONS)
    errors: list[str] = []
    agrees_raw = (form.get("agrees_with_score") or "").strip()
    if agrees_raw not in ("yes", "no"):
        errors.append("agrees_with_score: choose whether you agree with the score (yes or no)")
    agrees = agrees_raw == "yes"
    fa: dict[str, bool] = {}
    for group in (groups or [[f] for f in factors]):
        for feat in group:
            v = (form.get(f"factor:{feat}") or form.get(f"factor:{group[0]}") or "").strip()
            if v not in ("agree", "disagree"):
                errors.append(f"factor_agreement: say whether you agree with the risk factor {feat!r}")
                break
            fa[feat] = v == "agree"
    if not factors:
        errors.append("factor_agreement: this officer has no risk factors on this date to review")
    reason = (form.get("dismissal_reason") or "").strip() or None
    if agrees_raw == "no" and not reason:
        errors.append("dismissal_reason: required when you do not agree with the score")
    intervention = (form.get("intervention") or "").strip()
    if intervention not in codes:
        errors.append(f"intervention: one of {', '.join(codes)}")
    idate_raw = (form.get("intervention_date") or "").strip()
    idate = None
    if idate_raw:
        try:
            idate = date.fromisoformat(idate_raw)
        except ValueError:
            errors.append("intervention_date: not a date (YYYY-MM-DD)")
    if intervention in codes and intervention != "none" and idate is None and not idate_raw:
        errors.append("intervention_date: required for an intervention")
    if intervention == "none" and idate_raw:
        errors.append("intervention_date: leave empty when the intervention is 'none'")
    if idate is not None and idate < as_of:
        errors.append(f"intervention_date: cannot be before the scored date {as_of.isoformat()}")
    notes = (form.get("notes") or "").strip() or None
    if notes and len(notes) > 4000:
        errors.append("notes: at most 4000 characters")
    if reason and len(reason) > 2000:
        errors.append("dismissal_reason: at most 2000 characters")
    values = {"agrees": agrees, "factor_agreement": fa, "dismissal_reason": reason, "intervention": intervention,
              "intervention_date": idate, "notes": notes}
    return values, errors


def unit_risk(conn, as_of: date, division: str | None) -> list[dict]:
    return rows(conn, "SELECT division, unit, officers, mean_score, max_score, top5_count FROM production.unit_risk "
                      "WHERE as_of_date = %s AND (%s::text IS NULL OR division = %s) ORDER BY division, unit",
                (as_of, division, division))


def production_bias(conn, as_of: date) -> list[dict]:
    return rows(conn, "SELECT threshold, attribute, group_value, reference_group, group_size, flagged, flag_rate, "
                      "flag_rate_ratio, out_of_range FROM production.bias_audit WHERE as_of_date = %s "
                      "ORDER BY threshold, attribute, group_value", (as_of,))


# ----------------------------------------------------------------------------------------- features

def events_summary(conn, officer_id: str, as_of: date, per_block: int = 6) -> dict:
    """The officer's recent events by feature block, from the feature mart on the latest built as-of date
    <= *as_of*: the non-zero count features of the preferred window (1 year when built)."""
    if not (table_exists(conn, "features.officer_features") and table_exists(conn, "features.feature_dictionary")):
        return {"available": False, "reason": "the feature marts are not built in this warehouse"}
    r = conn.execute("SELECT max(as_of_date) FROM features.officer_features WHERE officer_id = %s AND as_of_date <= %s",
                     (officer_id, as_of)).fetchone()
    fdate = r[0] if r else None
    if fdate is None:
        return {"available": False, "reason": "no feature row for this officer on or before the date"}
    windows = [w for (w,) in conn.execute(
        'SELECT DISTINCT "window" FROM features.feature_dictionary WHERE "window" IS NOT NULL')]
    window = next((w for w in WINDOW_PREFERENCE if w in windows), windows[0] if windows else None)
    dic = rows(conn, 'SELECT feature, block, description FROM features.feature_dictionary '
                     'WHERE feature IS NOT NULL AND "window" = %s ORDER BY position', (window,))
    cur = conn.execute("SELECT * FROM features.officer_features WHERE officer_id = %s AND as_of_date = %s",
                       (officer_id, fdate))
    values = dict(zip([d.name for d in cur.description], cur.fetchone()))
    blocks: dict[str, list[dict]] = {}
    for d in dic:
        v = values.get(d["feature"])
        if v is None or not isinstance(v, (int, float)) or (isinstance(v, float) and math.isnan(v)) or v == 0:
            continue
        if "share" in d["feature"] or "ratio" in d["feature"] or d["feature"].endswith("_z"):
            continue  # counts only: ratios and outlier scores are shown as risk factors
        blocks.setdefault(d["block"], []).append({"feature": d["feature"], "value": v, "description": d["description"]})
    status = {}
    if table_exists(conn, "features.feature_blocks"):
        status = {r["block"]: r for r in rows(conn, "SELECT block, status, reason FROM features.feature_blocks")}
    out = []
    for blk in sorted(set(blocks) | {b for b, s in status.items() if s["status"] == "built"}):
        items = sorted(blocks.get(blk, []), key=lambda x: -abs(x["value"]))[:per_block]
        out.append({"block": blk, "items": items, "status": (status.get(blk) or {}).get("status", "built")})
    return {"available": True, "feature_date": fdate, "window": window, "blocks": out}


# ----------------------------------------------------------------------------------------- results

def experiments(conn) -> list[dict]:
    if not table_exists(conn, "results.experiments"):
        return []
    return rows(conn, "SELECT e.experiment_id, e.created_at, count(r.run_id) AS runs, max(r.started_at) AS last_run "
                      "FROM results.experiments e LEFT JOIN results.runs r USING (experiment_id) "
                      "GROUP BY e.experiment_id, e.created_at ORDER BY max(r.run_id) DESC NULLS LAST, e.created_at DESC")


def metric_choices(conn, experiment_id: str) -> list[str]:
    from eis_core.modeling.evaluate import metric_label

    out = conn.execute(
        "SELECT DISTINCT e.metric, e.parameter FROM results.evaluations e JOIN results.run_models rm USING (model_id) "
        "JOIN results.runs r USING (run_id) WHERE r.experiment_id = %s ORDER BY 1, 2", (experiment_id,)).fetchall()
    return [metric_label(m, p) for m, p in out]


def selections(conn, experiment_id: str) -> list[dict]:
    return rows(conn, "SELECT selection_id, rule, metric, model_group_id, chosen, selected_at, selected_by "
                      "FROM results.selections WHERE experiment_id = %s ORDER BY selection_id DESC LIMIT 30",
                (experiment_id,))


def chosen_selection(conn, experiment_id: str) -> dict | None:
    return one(conn, "SELECT selection_id, rule, metric, model_group_id, selected_at, selected_by "
                     "FROM results.selections WHERE experiment_id = %s AND chosen ORDER BY selection_id DESC LIMIT 1",
               (experiment_id,))


def group_models(conn, experiment_id: str, group_id: str) -> list[dict]:
    return rows(conn, "SELECT DISTINCT m.model_id, m.split_id, m.status, m.train_seconds, "
                      "(SELECT min(d) FROM unnest(mx.as_of_dates) d) AS test_start "
                      "FROM results.models m JOIN results.run_models rm ON rm.model_id = m.model_id "
                      "JOIN results.runs r ON r.run_id = rm.run_id "
                      "LEFT JOIN results.matrices mx ON mx.matrix_id = m.test_matrix_id "
                      "WHERE r.experiment_id = %s AND m.model_group_id = %s ORDER BY test_start NULLS LAST, m.split_id",
                (experiment_id, group_id))


def curves(conn, model_id: str, max_points: int = 150) -> dict | None:
    """Precision-recall, ROC and precision/recall against the share flagged, from the model's test
    predictions (labelled rows only); None when the model has no labelled predictions."""
    data = conn.execute("SELECT score, label FROM results.predictions WHERE model_id = %s AND label IS NOT NULL",
                        (model_id,)).fetchall()
    if not data:
        return None
    arr = np.array(data, dtype=float)
    order = np.argsort(-arr[:, 0], kind="stable")
    y = arr[order, 1]
    n, pos = len(y), float(y.sum())
    tp = np.cumsum(y)
    fp = np.cumsum(1 - y)
    k = np.arange(1, n + 1)
    precision = tp / k
    recall = tp / pos if pos else np.zeros(n)
    fpr = fp / (n - pos) if n > pos else np.zeros(n)
    idx = np.unique(np.linspace(0, n - 1, min(n, max_points)).round().astype(int))
    r3 = lambda a: [round(float(v), 4) for v in a]  # noqa: E731
    auc = float(np.trapezoid(np.r_[0, recall], np.r_[0, fpr])) if n > pos and pos else None
    return {"n": n, "positives": int(pos), "share": r3(k[idx] / n), "precision": r3(precision[idx]),
            "recall": r3(recall[idx]), "fpr": r3(np.r_[0, fpr[idx]]), "tpr": r3(np.r_[0, recall[idx]]),
            "roc_auc": auc}


def feature_importances(conn, model_id: str, top: int = 20) -> list[dict]:
    return rows(conn, "SELECT feature, importance, method, rank FROM results.feature_importances "
                      "WHERE model_id = %s AND importance IS NOT NULL "
                      "ORDER BY abs(importance) DESC, feature LIMIT %s", (model_id, top))


def risk_curves(conn, model_id: str) -> list[dict] | None:
    if not table_exists(conn, "results.risk_curves"):
        return None
    return rows(conn, "SELECT feature, bin, bin_low, bin_high, mean_score, sd_score, n FROM results.risk_curves "
                      "WHERE model_id = %s ORDER BY feature, bin", (model_id,))


def results_bias(conn, model_id: str) -> list[dict] | None:
    if not table_exists(conn, "results.bias_audit"):
        return None
    return rows(conn, "SELECT as_of_date, threshold, attribute, group_value, reference_group, group_size, flagged, "
                      "flag_rate, precision, tpr, fpr, fnr, flag_rate_ratio, tpr_ratio, fpr_ratio, out_of_range "
                      "FROM results.bias_audit WHERE model_id = %s ORDER BY as_of_date, threshold, attribute, group_value",
                (model_id,))


def group_exists(conn, experiment_id: str, group_id: str) -> bool:
    return conn.execute("SELECT EXISTS (SELECT 1 FROM results.models m JOIN results.run_models rm ON rm.model_id = m.model_id "
                        "JOIN results.runs r ON r.run_id = rm.run_id WHERE r.experiment_id = %s AND m.model_group_id = %s)",
                        (experiment_id, group_id)).fetchone()[0]


def insert_manual_selection(conn, experiment_id: str, metric: str, group_id: str, username: str) -> int:
    return conn.execute("INSERT INTO results.selections (experiment_id, rule, metric, model_group_id, chosen, selected_by) "
                        "VALUES (%s, 'manual', %s, %s, true, %s) RETURNING selection_id",
                        (experiment_id, metric, group_id, username)).fetchone()[0]


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
    if not schema_exists(conn, "severity"):
        return None
    out: dict[str, list[dict] | None] = {}
    for name, query in SEVERITY_TABLES.items():
        out[name] = rows(conn, query) if table_exists(conn, "severity." + name) else None
    return out


def forecasts(conn) -> dict | None:
    if not table_exists(conn, "forecast.runs"):
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


# ----------------------------------------------------------------------------------------- model explanations

EXPLAIN_PLOTS = ("risk_curves.png", "directionality.png", "permutation_importance.png")


def permutation_importances(conn, model_id: str, top: int = 20) -> list[dict] | None:
    if not table_exists(conn, "results.permutation_importances"):
        return None
    return rows(conn, "SELECT feature, importance_mean, importance_sd, scoring, n_repeats, rank "
                      "FROM results.permutation_importances WHERE model_id = %s ORDER BY rank LIMIT %s", (model_id, top))


def risk_curve_direction(conn, model_id: str) -> dict[str, float]:
    if not table_exists(conn, "results.risk_curve_direction"):
        return {}
    return {r[0]: r[1] for r in conn.execute("SELECT feature, directionality FROM results.risk_curve_direction "
                                             "WHERE model_id = %s", (model_id,))}


def explain_dir(conn, model_id: str):
    """``<project>/reports/explain/<model_id>``, where the production explanations write their PNGs:
    the project is the folder of the model's artifact (``<project>/models/<id>.joblib``, as
    ``eis_core.production.insights`` derives it), else the experiment's ``project_path`` - a relative
    one resolved against the artifact root like the modeling code does (not against the app's working
    directory); None when neither is known."""
    from eis_core.artifacts.storage import local_dir, location

    art = conn.execute("SELECT artifact_path FROM results.models WHERE model_id = %s", (model_id,)).fetchone()
    if art and art[0]:  # reports stay on the local disk (a local mirror for a project on object storage)
        return local_dir(location(art[0]).parent.parent) / "reports" / "explain" / model_id
    project = experiment_project(conn, model_id)
    return local_dir(project) / "reports" / "explain" / model_id if project else None


def experiment_project(conn, model_id: str):
    """The ``project_path`` of the latest experiment that ran *model_id* (relative: under EIS_HOME, as the
    modeling code resolves it: the artifact root), or None."""
    from eis_core.artifacts.storage import resolve

    row = conn.execute("SELECT e.config -> 'officer' ->> 'project_path' FROM results.run_models rm "
                       "JOIN results.runs r ON r.run_id = rm.run_id "
                       "JOIN results.experiments e ON e.experiment_id = r.experiment_id "
                       "WHERE rm.model_id = %s ORDER BY r.run_id DESC LIMIT 1", (model_id,)).fetchone()
    if not row or not row[0]:
        return None
    return resolve(row[0])


# ----------------------------------------------------------------------------------------- officer timeline

EVENT_WORDS = {"CITIZEN_COMPLAINT": "Citizen complaint", "OFFICER_COMPLAINT": "Complaint by another officer",
               "VEHICLE_ACCIDENT": "Vehicle accident", "INJURY": "Injury", "USE_OF_FORCE": "Use-of-force investigation",
               "RAID_AND_SEARCH": "Raid or search", "PURSUIT": "Pursuit", "FIREARM_DISCHARGE": "Firearm discharge",
               "TIRE_DEFLATION": "Tire deflation", "RULE_VIOLATION": "Rule violation", "SICK_LEAVE": "Sick leave"}
#: (outcome text, is it a finding against the officer?)
DISPOSITION_WORDS = {
    "SUSTAINED": ("sustained", True), "NOT_SUSTAINED": ("not sustained — history, not a finding", False),
    "EXONERATED": ("exonerated — history, not a finding", False),
    "UNFOUNDED": ("unfounded — history, not a finding", False),
    "NO_FINDING": ("closed with no finding — history, not a finding", False),
    "PREVENTABLE": ("found preventable", True), "NOT_PREVENTABLE": ("found not preventable", False),
    "JUSTIFIED": ("found justified", False), "UNJUSTIFIED": ("found unjustified", True),
    "PENDING": ("open — no finding yet", False)}
REVIEW_OUTCOME_WORDS = {"APPROVED": "approved by the reviewing supervisor", "NOT_APPROVED": "not approved on review",
                        "REFERRED_TO_IA": "referred to Internal Affairs on review"}


def officer_timeline(conn, officer_id: str, until: date, scope: str | None = None, limit: int = 300) -> list[dict]:
    """What happened to the officer, newest first: Internal Affairs cases (complaints, accidents …),
    use-of-force reports, the legacy EIS's flags (known before *until*), and this system's flags, alerts,
    reviews and interventions (with *scope*, only those of dates on which the officer was in that
    division).  Each item: date, kind, what, outcome, finding (True / False / None)."""
    out: list[dict] = []
    if table_exists(conn, "staging.stg_ia_cases"):
        for r in rows(conn, "SELECT case_id, event_type, incident_date, reported_date, closed_date, disposition "
                            "FROM staging.stg_ia_cases WHERE officer_id = %s AND reported_date < %s "
                            "ORDER BY incident_date DESC LIMIT %s", (officer_id, until, limit)):
            disp = r["disposition"] if (r["closed_date"] is not None and r["closed_date"] < until) else "PENDING"
            words, finding = DISPOSITION_WORDS.get(disp, ((disp or "").lower().replace("_", " "), None))
            out.append({"date": r["incident_date"], "kind": "case",
                        "what": f"{EVENT_WORDS.get(r['event_type'], r['event_type'])} (case {r['case_id']}, "
                                f"reported {r['reported_date']})",
                        "outcome": words + (f" ({r['closed_date']})" if disp != "PENDING" and r["closed_date"] else ""),
                        "finding": finding if disp != "PENDING" else None})
    if table_exists(conn, "staging.stg_use_of_force"):
        for r in rows(conn, "SELECT report_id, occurred_at, force_type, subject_injured, officer_injured, reviewed_on, "
                            "review_outcome FROM staging.stg_use_of_force WHERE officer_id = %s AND occurred_at < %s "
                            "ORDER BY occurred_at DESC LIMIT %s", (officer_id, until, limit)):
            injured = [w for w, v in (("person injured", r["subject_injured"]), ("officer injured", r["officer_injured"]))
                       if v]
            known = r["reviewed_on"] is not None and r["reviewed_on"] < until
            out.append({"date": r["occurred_at"].date(), "kind": "force",
                        "what": f"Use-of-force report {r['report_id']}: "
                                f"{(r['force_type'] or 'force').lower().replace('_', ' ')}"
                                + (f" ({', '.join(injured)})" if injured else ""),
                        "outcome": REVIEW_OUTCOME_WORDS.get(r["review_outcome"], "reviewed") + f" ({r['reviewed_on']})"
                        if known and r["review_outcome"] else "not reviewed yet",
                        "finding": None})
    if table_exists(conn, "staging.stg_eis_flags"):
        for r in rows(conn, "SELECT flagged_on, rule, intervention FROM staging.stg_eis_flags WHERE officer_id = %s "
                            "AND flagged_on < %s ORDER BY flagged_on DESC LIMIT %s", (officer_id, until, limit)):
            out.append({"date": r["flagged_on"], "kind": "legacy_flag",
                        "what": f"Flagged by the previous warning system ({(r['rule'] or 'rule').lower()})",
                        "outcome": f"intervention: {r['intervention'].lower()}" if r["intervention"] else "",
                        "finding": None})
    if table_exists(conn, "production.alerts"):
        for r in rows(conn, "SELECT a.alert_id, a.as_of_date, a.rank_abs, a.status, a.acknowledged_at, a.meeting_date, "
                            "c.label AS intervention_label, a.intervention_date, a.follow_up_date, a.followed_up_at, "
                            "a.closed_at, a.close_notes FROM production.alerts a LEFT JOIN "
                            "production.intervention_catalogue c ON c.code = a.intervention WHERE a.officer_id = %s "
                            "AND (%s::text IS NULL OR a.division = %s) ORDER BY a.as_of_date DESC",
                            (officer_id, scope, scope)):
            out.append({"date": r["as_of_date"], "kind": "flag", "alert_id": r["alert_id"],
                        "what": f"Flagged by this system (rank {r['rank_abs']}); alert {r['alert_id']}",
                        "outcome": r["status"].replace("_", " "), "finding": None})
            if r["meeting_date"]:
                out.append({"date": r["meeting_date"], "kind": "meeting", "alert_id": r["alert_id"],
                            "what": "Meeting with the supervisor", "outcome": "", "finding": None})
            if r["intervention_label"]:
                out.append({"date": r["intervention_date"] or r["as_of_date"], "kind": "intervention",
                            "alert_id": r["alert_id"], "what": f"Intervention: {r['intervention_label']}",
                            "outcome": f"follow-up {'done ' + r['followed_up_at'].date().isoformat() if r['followed_up_at'] else 'due ' + str(r['follow_up_date'] or '–')}",
                            "finding": None})
            if r["closed_at"]:
                out.append({"date": r["closed_at"].date(), "kind": "closed", "alert_id": r["alert_id"],
                            "what": "Alert closed", "outcome": r["close_notes"] or "", "finding": None})
    for r in reviews(conn, officer_id, scope):
        if r.get("alert_id"):
            continue  # shown with its alert
        out.append({"date": r["reviewed_at"].date(), "kind": "review",
                    "what": f"Review by {r['reviewer']} of the {r['as_of_date']} score",
                    "outcome": ("agrees with the score" if r["agrees_with_score"] else "disagrees with the score")
                    + (f"; intervention: {r['intervention']}" if r["intervention"] != "none" else ""),
                    "finding": None})
    out.sort(key=lambda e: e["date"], reverse=True)
    return out[:limit]


# ----------------------------------------------------------------------------------------- the analyst's model pages

def score_distribution(conn, model_id: str, bins: int = 20) -> dict | None:
    """Histogram of the model's test scores by label: the share of each label's rows per score bin
    (so that 12 % positives and 88 % negatives are comparable); None without labelled predictions."""
    data = conn.execute("SELECT score, label FROM results.predictions WHERE model_id = %s AND label IS NOT NULL "
                        "AND score IS NOT NULL", (model_id,)).fetchall()
    if not data:
        return None
    arr = np.array(data, dtype=float)
    lo, hi = float(arr[:, 0].min()), float(arr[:, 0].max())
    if hi <= lo:
        hi = lo + 1e-9
    edges = np.linspace(lo, hi, bins + 1)
    out = {"edges": [round(float(e), 4) for e in edges], "labels": [], "n": {}, "share": {}}
    for lab in (0, 1):
        s = arr[arr[:, 1] == lab, 0]
        counts, _ = np.histogram(s, bins=edges)
        out["n"][lab] = int(len(s))
        out["share"][lab] = [round(float(c) / len(s), 4) if len(s) else 0.0 for c in counts]
    out["labels"] = [f"{edges[i]:.3g}–{edges[i + 1]:.3g}" for i in range(bins)]
    return out


def model_predictions(conn, model_id: str, label: int | None, offset: int, limit: int) -> tuple[int, list[dict]]:
    """One page of the model's test predictions, best rank first (officer, date, score, rank, label)."""
    total = conn.execute("SELECT count(*) FROM results.predictions WHERE model_id = %s "
                         "AND (%s::int IS NULL OR label = %s::int)", (model_id, label, label)).fetchone()[0]
    page = rows(conn, "SELECT officer_id, as_of_date, score, label, rank_abs_no_ties, rank_pct_no_ties "
                      "FROM results.predictions WHERE model_id = %s AND (%s::int IS NULL OR label = %s::int) "
                      "ORDER BY as_of_date, rank_abs_no_ties, officer_id OFFSET %s LIMIT %s",
                (model_id, label, label, offset, limit))
    return int(total), page


def _top_sets(conn, model_ids: list[str], k: int) -> dict[str, set]:
    out: dict[str, set] = {m: set() for m in model_ids}
    for mid, oid, d in conn.execute("SELECT model_id, officer_id, as_of_date FROM results.predictions "
                                    "WHERE model_id = ANY(%s) AND rank_abs_no_ties <= %s", (model_ids, k)):
        out[mid].add((oid, d))
    return out


def _overlap(a: set, b: set) -> dict:
    inter = len(a & b)
    union = len(a | b)
    return {"common": inter, "jaccard": inter / union if union else None,
            "share": inter / min(len(a), len(b)) if a and b else None}


def top_k_across_models(conn, experiment_id: str, split_id: str | None, k: int) -> dict:
    """The top *k* (by rank, per as-of date) of every model of the experiment on one split, and the
    overlap of each pair: officers in both lists, Jaccard (both / either)."""
    models = rows(conn, "SELECT DISTINCT m.model_id, m.model_group_id FROM results.models m "
                        "JOIN results.run_models rm ON rm.model_id = m.model_id JOIN results.runs r ON r.run_id = rm.run_id "
                        "WHERE r.experiment_id = %s AND m.split_id IS NOT DISTINCT FROM %s AND m.status = 'done' "
                        "ORDER BY m.model_group_id LIMIT 12", (experiment_id, split_id))
    ids = [m["model_id"] for m in models]
    sets = _top_sets(conn, ids, k) if ids else {}
    matrix = [[_overlap(sets[a], sets[b]) for b in ids] for a in ids]
    return {"models": models, "matrix": matrix}


def top_k_over_time(conn, models: list[dict], k: int) -> list[dict]:
    """For a model group's models in split order: how many of one split's top *k* officers are in the
    next split's top *k* (officers, whatever the date)."""
    ids = [m["model_id"] for m in models]
    sets = {m: {o for o, _ in s} for m, s in _top_sets(conn, ids, k).items()} if ids else {}
    out = []
    for a, b in zip(models, models[1:]):
        out.append({"from": a, "to": b, **_overlap(sets[a["model_id"]], sets[b["model_id"]])})
    return out


def model_matrices(conn, model_id: str) -> dict | None:
    """The model's train and test matrix ids and the project folder they live in (``<project>/matrices``):
    from the matrices' recorded path, else the experiment's ``project_path`` (relative: under the artifact root)."""
    from eis_core.artifacts.storage import location

    m = one(conn, "SELECT m.train_matrix_id, m.test_matrix_id, tr.path AS train_path, te.path AS test_path "
                  "FROM results.models m LEFT JOIN results.matrices tr ON tr.matrix_id = m.train_matrix_id "
                  "LEFT JOIN results.matrices te ON te.matrix_id = m.test_matrix_id WHERE m.model_id = %s", (model_id,))
    if not m or not m["train_matrix_id"] or not m["test_matrix_id"]:
        return None
    path = m["train_path"] or m["test_path"]
    project = location(path).parent.parent if path else experiment_project(conn, model_id)
    if project is None:
        return None
    return {"train": m["train_matrix_id"], "test": m["test_matrix_id"], "project": project}


def feature_distributions(mats: dict, features: list[str], bins: int = 12) -> dict:
    """Train vs test distributions of *features* from the model's Parquet matrices (read-only, only these
    columns): per feature shared bins, the share of each matrix's rows per bin, mean and missing share.
    ``{"error": text}`` when the files cannot be read."""
    from eis_core.modeling.matrices import MatrixError, load_matrix, read_meta

    try:
        have = set(read_meta(mats["train"], mats["project"])["feature_columns"]) & \
            set(read_meta(mats["test"], mats["project"])["feature_columns"])
        feats = [f for f in features if f in have][:6]
        if not feats:
            return {"error": "none of the model's most important features is in both matrices", "features": []}
        Xtr = load_matrix(mats["train"], mats["project"], columns=feats)[0]
        Xte = load_matrix(mats["test"], mats["project"], columns=feats)[0]
    except (MatrixError, OSError, KeyError, ValueError) as e:
        return {"error": f"the model's matrices cannot be read ({type(e).__name__})", "features": []}
    out = []
    for f in feats:
        a = Xtr[f].to_numpy(dtype=float)
        b = Xte[f].to_numpy(dtype=float)
        both = np.concatenate([a[~np.isnan(a)], b[~np.isnan(b)]])
        if not len(both):
            continue
        lo, hi = float(both.min()), float(both.max())
        edges = np.linspace(lo, hi if hi > lo else lo + 1, bins + 1)
        row = {"feature": f, "labels": [f"{edges[i]:.3g}–{edges[i + 1]:.3g}" for i in range(bins)]}
        for name, v in (("train", a), ("test", b)):
            ok = v[~np.isnan(v)]
            counts, _ = np.histogram(ok, bins=edges)
            row[name] = {"share": [round(float(c) / len(v), 4) if len(v) else 0.0 for c in counts],
                         "mean": float(ok.mean()) if len(ok) else None, "n": int(len(v)),
                         "missing": float(np.isnan(v).mean()) if len(v) else None}
        out.append(row)
    return {"error": None, "features": out}


def model_exists(conn, model_id: str) -> bool:
    return conn.execute("SELECT EXISTS (SELECT 1 FROM results.models WHERE model_id = %s)", (model_id,)).fetchone()[0]


def model_context(conn, model_id: str) -> dict | None:
    """The experiment and group a model is shown under (for links back to its page)."""
    return one(conn, "SELECT r.experiment_id, m.model_group_id FROM results.models m "
                     "JOIN results.run_models rm ON rm.model_id = m.model_id JOIN results.runs r ON r.run_id = rm.run_id "
                     "WHERE m.model_id = %s ORDER BY r.run_id DESC LIMIT 1", (model_id,))


# ----------------------------------------------------------------------------------------- the bias flag rule

def bias_rule() -> dict:
    """The production rule (``configs/officer_config.yaml`` ``production.audit_*``, used by
    ``eis_core.production.scoring.flag_rate_audit`` and ``insights.group_metrics``)."""
    from eis_core.config import load_officer_config

    pc = load_officer_config().production
    lo, hi = pc.audit_ratio_range
    return {"lo": float(lo), "hi": float(hi), "min_size": int(pc.audit_min_group_size)}


BIAS_RATIOS = (("flag_rate_ratio", "flag rate"), ("tpr_ratio", "true-positive rate"), ("fpr_ratio", "false-positive rate"))


def explain_bias(rows_: list[dict], rule: dict, ratios: tuple[str, ...]) -> None:
    """Add to each audit row ``why`` (plain words for its flag) and ``out_cells`` (the ratios outside the
    range), by the same rule production applied: a ratio to the reference (largest) group outside
    [lo, hi], for groups of at least min_size officers (*ratios*: which ratios the audit checks)."""
    words = dict(BIAS_RATIOS)
    for r in rows_:
        out = [c for c in ratios if r.get(c) is not None and not (rule["lo"] <= r[c] <= rule["hi"])]
        small = (r.get("group_size") or 0) < rule["min_size"]
        r["out_cells"] = set() if small else set(out)
        if r["group_value"] == r["reference_group"]:
            why = "the reference group (the largest): the others are compared with it"
        elif small:
            why = (f"not flagged: only {r['group_size']} officers (fewer than {rule['min_size']}), too few to judge"
                   + (f" — the {', '.join(words[c] for c in out)} ratio would be outside the range" if out else ""))
        elif out:
            why = "flagged: " + "; ".join(f"{words[c]} {r[c]:.3f} × the reference group's, outside "
                                         f"{rule['lo']:g}–{rule['hi']:g}" for c in out)
        elif all(r.get(c) is None for c in ratios):
            why = "not flagged: no ratio (the reference group's rate is zero or unknown)"
        else:
            why = f"not flagged: within {rule['lo']:g}–{rule['hi']:g} of the reference group"
        r["rule_flag"] = bool(out) and not small
        if bool(r.get("out_of_range")) != r["rule_flag"]:
            why += " (stored flag differs: the audit ran under another rule; re-run it)"
        r["why"] = why
