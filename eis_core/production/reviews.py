"""Supervisor feedback: reviews of flagged officers (``production.reviews``), and how they turned out.

A review says whether the supervisor agrees with the score and with each of the officer's risk factors,
why they dismiss it when they disagree, and which intervention they chose (from the department's
``production.intervention_catalogue``: training, counselling, mentoring, peer support, wellness referral,
reassignment or none by default) and when.  A review of an alert (``alert_id``) is written by
:mod:`eis_core.production.alerts`, one per alert, editable until the alert is closed.  The table's CHECK constraints make an incomplete review impossible;
:func:`add_review` also checks what a constraint cannot see (the officer was scored that day, the factors
reviewed are that officer's factors) so that the error names the problem.

:func:`review_outcomes` puts reviews next to outcomes later: for each review whose label window has been
observed (``labels.officer_labels`` on the review's as-of date), was there an adverse incident?
"""

from __future__ import annotations

from datetime import date

from psycopg.types.json import Jsonb

from eis_core import db
from eis_core.production.schema import ensure_production_schema


class ReviewError(ValueError):
    """A review that cannot be recorded; the message names the field."""


def add_review(
    officer_id: str,
    as_of_date: date,
    reviewer: str,
    agrees_with_score: bool,
    factor_agreement: dict[str, bool],
    intervention: str,
    intervention_date: date | None = None,
    dismissal_reason: str | None = None,
    notes: str | None = None,
) -> int:
    """Record one review; returns its review_id.  Raises ReviewError naming the bad field."""
    ensure_production_schema()
    if not reviewer or not reviewer.strip():
        raise ReviewError("reviewer: required")
    with db.connect() as conn:
        codes = [
            r[0]
            for r in conn.execute(
                "SELECT code FROM production.intervention_catalogue WHERE active ORDER BY position, code"
            )
        ]
    if intervention not in codes:
        raise ReviewError(f"intervention: must be one of the catalogue ({', '.join(codes)}), not {intervention!r}")
    if not agrees_with_score and not (dismissal_reason or "").strip():
        raise ReviewError("dismissal_reason: required when the reviewer disagrees with the score")
    if intervention != "none" and intervention_date is None:
        raise ReviewError(f"intervention_date: required for intervention {intervention!r}")
    if intervention == "none" and intervention_date is not None:
        raise ReviewError("intervention_date: must be empty when the intervention is 'none'")
    if intervention_date is not None and intervention_date < as_of_date:
        raise ReviewError(f"intervention_date: {intervention_date} is before the scored date {as_of_date}")
    with db.connect() as conn:
        scored = conn.execute(
            "SELECT 1 FROM production.predictions WHERE officer_id = %s AND as_of_date = %s", (officer_id, as_of_date)
        ).fetchone()
        if scored is None:
            raise ReviewError(f"officer_id/as_of_date: officer {officer_id!r} was not scored on {as_of_date}")
        factors = [
            r[0]
            for r in conn.execute(
                "SELECT feature FROM production.risk_factors WHERE officer_id = %s AND as_of_date = %s ORDER BY position",
                (officer_id, as_of_date),
            )
        ]
        unknown = sorted(set(factor_agreement) - set(factors))
        if unknown:
            raise ReviewError(
                f"factor_agreement: {unknown} are not risk factors of {officer_id} on {as_of_date} "
                f"(its factors: {factors})"
            )
        missing = [f for f in factors if f not in factor_agreement]
        if missing:
            raise ReviewError(f"factor_agreement: say whether you agree with every risk factor; missing {missing}")
        review_id = db.scalar(
            conn,
            "INSERT INTO production.reviews (as_of_date, officer_id, reviewer, agrees_with_score, factor_agreement, "
            "dismissal_reason, intervention, intervention_date, notes) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s) "
            "RETURNING review_id",
            (
                as_of_date,
                officer_id,
                reviewer.strip(),
                bool(agrees_with_score),
                Jsonb({k: bool(v) for k, v in factor_agreement.items()}),
                (dismissal_reason or None) and dismissal_reason.strip(),
                intervention,
                intervention_date,
                notes,
            ),
        )
    return int(review_id)


def list_reviews(officer_id: str | None = None, limit: int = 50) -> list[dict]:
    ensure_production_schema()
    with db.connect() as conn:
        cur = conn.execute(
            "SELECT review_id, as_of_date, officer_id, reviewer, reviewed_at, agrees_with_score, factor_agreement, "
            "dismissal_reason, intervention, intervention_date, notes FROM production.reviews "
            "WHERE (%(o)s::text IS NULL OR officer_id = %(o)s) ORDER BY reviewed_at DESC, review_id DESC LIMIT %(n)s",
            {"o": officer_id, "n": limit},
        )
        cols = [c.name for c in cur.description or []]
        return [dict(zip(cols, r)) for r in cur.fetchall()]


def review_outcomes(label_name: str = "1y", label_interval: str = "1 year") -> list[dict]:
    """Per intervention (and 'not reviewed' for flagged officers nobody reviewed): reviews, how many
    have an observed outcome, and the share with an adverse incident in the label window.

    Flagged = in the top 5 % of the day's list.  Outcomes come from ``labels.officer_labels`` on the
    scored date, and count only when the label window has ended by the newest IA case reported in the
    warehouse (an outcome not yet observable is not a "no incident")."""
    ensure_production_schema()
    with db.connect() as conn:
        if db.scalar(conn, "SELECT to_regclass('labels.officer_labels')") is None:
            return []
        rows = conn.execute(
            "WITH flagged AS (SELECT as_of_date, officer_id FROM production.predictions WHERE rank_pct <= 0.05), "
            "rv AS (SELECT DISTINCT ON (as_of_date, officer_id) as_of_date, officer_id, intervention "
            "       FROM production.reviews ORDER BY as_of_date, officer_id, reviewed_at DESC), "
            "u AS (SELECT coalesce(rv.intervention, 'not reviewed') AS intervention, f.as_of_date, f.officer_id "
            "      FROM flagged f LEFT JOIN rv USING (as_of_date, officer_id) "
            "      UNION ALL SELECT rv.intervention, rv.as_of_date, rv.officer_id FROM rv "
            "      WHERE NOT EXISTS (SELECT 1 FROM flagged f WHERE f.as_of_date = rv.as_of_date "
            "                        AND f.officer_id = rv.officer_id)), "
            "obs AS (SELECT max(reported_date) AS until FROM staging.stg_ia_cases) "
            "SELECT u.intervention, count(*), count(l.label), avg(l.label::float) "
            "FROM u CROSS JOIN obs LEFT JOIN labels.officer_labels l ON l.officer_id = u.officer_id "
            "AND l.as_of_date = u.as_of_date AND l.label_name = %s "
            "AND u.as_of_date + %s::interval <= obs.until GROUP BY 1 ORDER BY 1",
            (label_name, label_interval),
        ).fetchall()
    return [
        {"intervention": r[0], "officers": int(r[1]), "with_outcome": int(r[2]), "adverse_rate": r[3]} for r in rows
    ]
