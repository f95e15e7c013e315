"""The production reads: scored dates, the risk list with its factors and peers, the officer's score,
history, factors, rank changes and reviews (and the review form's validation), unit risk."""

from __future__ import annotations

from datetime import date

from eis_core.webapp.queries.base import one, rows, table_exists

# ----------------------------------------------------------------------------------------- production


def scored_dates(conn, limit: int = 400) -> list[date]:
    if not table_exists(conn, "production.scoring_runs"):
        return []
    out = [
        r[0]
        for r in conn.execute(
            "SELECT as_of_date FROM production.scoring_runs ORDER BY as_of_date DESC LIMIT %s", (limit,)
        )
    ]
    if not out:
        r = conn.execute("SELECT max(as_of_date) FROM production.predictions").fetchone()
        out = [r[0]] if r and r[0] else []
    return out


def scoring_run(conn, as_of: date) -> dict | None:
    return one(conn, "SELECT * FROM production.scoring_runs WHERE as_of_date = %s", (as_of,))


def divisions_units(conn, as_of: date, division: str | None = None) -> list[dict]:
    return rows(
        conn,
        "SELECT division, unit, count(*) AS officers FROM production.predictions "
        "WHERE as_of_date = %s AND (%s::text IS NULL OR division = %s) "
        "GROUP BY division, unit ORDER BY division NULLS LAST, unit NULLS LAST",
        (as_of, division, division),
    )


def _risk_list_sql(scoped: bool) -> str:
    """The list query; *scoped* (a supervisor's division, ``%(scope)s``) adds the scope rule's conditions.
    Two constant texts rather than ``%(scope)s IS NULL OR ...``: each gets its own good plan."""
    in_scope = (
        (
            "AND r.officer_id IN (SELECT officer_id FROM production.predictions "
            "WHERE as_of_date = %(as_of)s AND division = %(scope)s) "
            "AND EXISTS (SELECT 1 FROM production.predictions pr WHERE pr.as_of_date = r.as_of_date "
            "AND pr.officer_id = r.officer_id AND pr.division = %(scope)s)"
        )
        if scoped
        else ""
    )
    now = (
        (
            "AND p.division = %(scope)s AND (   -- and in it now: the division of their latest scored date\n"
            "       SELECT pc.division FROM production.predictions pc WHERE pc.officer_id = p.officer_id\n"
            "       ORDER BY pc.as_of_date DESC LIMIT 1) = %(scope)s"
        )
        if scoped
        else ""
    )
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

    out = rows(
        conn,
        RISK_LIST_SCOPED_SQL if scope is not None else RISK_LIST_SQL,
        {"as_of": as_of, "division": division, "unit": unit, "scope": scope, "flag_share": flag_share()},
    )
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
    "due": lambda r: (
        r["alert_due"] is None or r["alert_status"] == "closed",
        r["alert_due"] or date.max,
        r["rank_abs"],
    ),
}
RISK_SHOWS = {
    "all": lambda r: True,
    "flagged": lambda r: r["flagged"],
    "not_reviewed": lambda r: r["flagged"] and not r["reviewed"],
    "overdue": lambda r: r["overdue"],
}


def division_peers(conn, as_of: date, features: set[str], divisions: set[str]) -> dict[tuple[str, str], list[float]]:
    """{(division, feature): sorted values of the division's officers scored on *as_of*}, from the
    feature mart on its latest date <= *as_of* (empty when the mart lacks the date or the columns).
    Feature names come from ``production.risk_factors`` and are checked against the mart's columns,
    then quoted as identifiers."""
    from psycopg import sql

    if not features or not divisions or not table_exists(conn, "features.officer_features"):
        return {}
    cols = {
        r[0]
        for r in conn.execute(  # pg_attribute: information_schema.columns costs ~10 ms a call
            "SELECT attname FROM pg_attribute WHERE attrelid = 'features.officer_features'::regclass "
            "AND attnum > 0 AND NOT attisdropped"
        )
    }
    feats = sorted(f for f in features if f in cols and f not in ("officer_id", "as_of_date"))
    if not feats:
        return {}
    fdate = conn.execute(
        "SELECT max(as_of_date) FROM features.officer_features WHERE as_of_date <= %s", (as_of,)
    ).fetchone()[0]
    if fdate is None:
        return {}
    query = sql.SQL(
        "SELECT p.division, {} FROM production.predictions p JOIN features.officer_features f "
        "ON f.officer_id = p.officer_id AND f.as_of_date = %s WHERE p.as_of_date = %s "
        "AND p.division = ANY(%s)"
    ).format(sql.SQL(", ").join(sql.Identifier("f", c) for c in feats))
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
    return one(
        conn, "SELECT * FROM production.predictions WHERE officer_id = %s AND as_of_date = %s", (officer_id, as_of)
    )


def latest_officer_date(conn, officer_id: str) -> date | None:
    r = conn.execute(
        "SELECT max(as_of_date) FROM production.predictions WHERE officer_id = %s", (officer_id,)
    ).fetchone()
    return r[0] if r else None


def current_division(conn, officer_id: str) -> str | None:
    """The officer's division on their most recent scored date - the division whose supervisor may see
    them now.  The scope rule (docs/security.md): a supervisor sees an officer only while the officer is
    currently in the supervisor's division, and of that officer only the rows (scores, factors, reviews)
    of dates on which the officer was in that division."""
    r = conn.execute(
        "SELECT division FROM production.predictions WHERE officer_id = %s ORDER BY as_of_date DESC LIMIT 1",
        (officer_id,),
    ).fetchone()
    return r[0] if r else None


def officer_history(conn, officer_id: str, limit: int = 800, scope: str | None = None) -> list[dict]:
    return list(
        reversed(
            rows(
                conn,
                "SELECT as_of_date, score, rank_abs, rank_pct, division, unit "
                "FROM production.predictions WHERE officer_id = %s "
                "AND (%s::text IS NULL OR division = %s) "
                "ORDER BY as_of_date DESC LIMIT %s",
                (officer_id, scope, scope, limit),
            )
        )
    )


def risk_factors(conn, officer_id: str, as_of: date) -> list[dict]:
    return rows(
        conn,
        "SELECT position, feature, block, value, contribution, direction, label, method "
        "FROM production.risk_factors WHERE officer_id = %s AND as_of_date = %s ORDER BY position",
        (officer_id, as_of),
    )


def rank_changes(conn, officer_id: str, as_of: date) -> list[dict]:
    return rows(
        conn,
        "SELECT days_back, previous_rank, rank_change FROM production.rank_changes "
        "WHERE officer_id = %s AND as_of_date = %s ORDER BY days_back",
        (officer_id, as_of),
    )


def reviews(conn, officer_id: str, scope: str | None = None) -> list[dict]:
    """The officer's reviews; with *scope* (a supervisor's division) only those filed for a date on which
    the officer was in that division."""
    return rows(
        conn,
        "SELECT r.review_id, r.alert_id, r.as_of_date, r.reviewer, r.reviewed_at, r.agrees_with_score, "
        "r.factor_agreement, r.dismissal_reason, r.intervention, r.intervention_date, r.notes "
        "FROM production.reviews r WHERE r.officer_id = %s AND (%s::text IS NULL OR EXISTS ("
        "  SELECT 1 FROM production.predictions p WHERE p.officer_id = r.officer_id "
        "  AND p.as_of_date = r.as_of_date AND p.division = %s)) "
        "ORDER BY r.reviewed_at DESC, r.review_id DESC",
        (officer_id, scope, scope),
    )


def validate_review(
    form: dict, factors: list[str], as_of: date, codes: list[str] | None = None, groups: list[list[str]] | None = None
) -> tuple[dict, list[str]]:
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
    for group in groups or [[f] for f in factors]:
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
    values = {
        "agrees": agrees,
        "factor_agreement": fa,
        "dismissal_reason": reason,
        "intervention": intervention,
        "intervention_date": idate,
        "notes": notes,
    }
    return values, errors


def unit_risk(conn, as_of: date, division: str | None) -> list[dict]:
    return rows(
        conn,
        "SELECT division, unit, officers, mean_score, max_score, top5_count FROM production.unit_risk "
        "WHERE as_of_date = %s AND (%s::text IS NULL OR division = %s) ORDER BY division, unit",
        (as_of, division, division),
    )


def production_bias(conn, as_of: date) -> list[dict]:
    return rows(
        conn,
        "SELECT threshold, attribute, group_value, reference_group, group_size, flagged, flag_rate, "
        "flag_rate_ratio, out_of_range FROM results.bias_audit WHERE scope = 'scored_day' AND as_of_date = %s "
        "ORDER BY threshold, attribute, group_value",
        (as_of,),
    )
