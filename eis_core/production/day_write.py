"""Write one scored as-of date D to schema ``production`` (and its bias audit to ``results.bias_audit``):
delete D's rows of every date table (reviews are never touched) and write them again, unit aggregates,
then the rank changes of D and of the later dates that compare against D.  Called inside the one
transaction of :func:`eis_core.production.scoring.score_day`, which re-exports these names.
"""

from __future__ import annotations

from datetime import date, timedelta

from psycopg import sql

from eis_core.production.schema import RANK_CHANGE_DAYS

#: production tables holding one as-of date's rows (reviews are never touched by scoring)
DATE_TABLES = ("predictions", "risk_factors", "rank_changes", "unit_risk", "scoring_runs")


def write_day(conn, d: date, pred_rows: list[tuple], factor_rows: list[tuple], audit_rows: list[tuple]) -> None:
    """Replace D's rows (all but ``scoring_runs``, which the caller writes last, with its timings)."""
    conn.execute("SELECT pg_advisory_xact_lock(hashtext('eis_production_score'), %s)", (d.toordinal(),))
    for t in DATE_TABLES:
        conn.execute(sql.SQL("DELETE FROM {} WHERE as_of_date = %s").format(sql.Identifier("production", t)), (d,))
    copy_into(
        conn,
        "predictions",
        ("as_of_date", "officer_id", "model_id", "score", "rank_abs", "rank_pct", "division", "unit"),
        pred_rows,
    )
    copy_into(
        conn,
        "risk_factors",
        (
            "as_of_date",
            "officer_id",
            "position",
            "feature",
            "block",
            "value",
            "contribution",
            "direction",
            "label",
            "method",
        ),
        factor_rows,
    )
    # the day's bias audit: results.bias_audit, scope 'scored_day' (one table for both audits)
    conn.execute("DELETE FROM results.bias_audit WHERE scope = 'scored_day' AND as_of_date = %s", (d,))
    copy_into(
        conn,
        "bias_audit",
        (
            "as_of_date",
            "model_id",
            "threshold",
            "attribute",
            "group_value",
            "reference_group",
            "group_size",
            "flagged",
            "flag_rate",
            "flag_rate_ratio",
            "out_of_range",
            "scope",
            "split_id",
        ),
        [(*r, "scored_day", "production") for r in audit_rows],
        schema="results",
    )
    conn.execute(
        "INSERT INTO production.unit_risk (as_of_date, division, unit, officers, mean_score, max_score, top5_count) "
        "SELECT as_of_date, coalesce(division, 'unknown'), coalesce(unit, 'unknown'), count(*), "
        # a float sum depends on its order: a fixed one, so a re-scored day gives the same bits
        "avg(score ORDER BY officer_id), "
        "max(score), count(*) FILTER (WHERE rank_pct <= 0.05) FROM production.predictions WHERE as_of_date = %s "
        "GROUP BY 1, 2, 3",
        (d,),
    )
    refresh_rank_changes(conn, d)


def copy_into(conn, table: str, columns: tuple[str, ...], rows: list[tuple], schema: str = "production") -> int:
    q = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(schema, table), sql.SQL(", ").join(sql.Identifier(c) for c in columns)
    )
    with conn.cursor().copy(q) as cp:
        for r in rows:
            cp.write_row(r)
    return len(rows)


def refresh_rank_changes(conn, d: date) -> None:
    """Rank changes of *d* and of every scored date that compares against *d* (d + 1, 7, 30, 90, 365 days).

    ``rank_change = previous_rank − rank_abs``: positive means the officer rose towards the top of the
    list (higher risk).  The previous rank is the officer's rank exactly ``days_back`` calendar days
    earlier, NULL when that day was not scored or the officer was not in it."""
    targets = [d] + [d + timedelta(days=k) for k in RANK_CHANGE_DAYS]
    scored = {
        r[0]
        for r in conn.execute("SELECT as_of_date FROM production.scoring_runs WHERE as_of_date = ANY(%s)", (targets,))
    }
    scored.add(d)
    dates = sorted(t for t in targets if t in scored)
    conn.execute("DELETE FROM production.rank_changes WHERE as_of_date = ANY(%s)", (dates,))
    conn.execute(
        "INSERT INTO production.rank_changes (as_of_date, officer_id, days_back, previous_rank, rank_change) "
        "SELECT p.as_of_date, p.officer_id, k.days, q.rank_abs, q.rank_abs - p.rank_abs "
        "FROM production.predictions p CROSS JOIN unnest(%s::int[]) AS k (days) "
        "LEFT JOIN production.predictions q ON q.officer_id = p.officer_id AND q.as_of_date = p.as_of_date - k.days "
        "WHERE p.as_of_date = ANY(%s)",
        (list(RANK_CHANGE_DAYS), dates),
    )
