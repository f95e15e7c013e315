"""Reading what scoring wrote: the latest scored date, the risk list of a day and its bias audit, as text."""

from __future__ import annotations

from datetime import date

from eis_core import db
from eis_core.production.schema import ensure_production_schema


def latest_scored_date(conn=None) -> date | None:
    with db.connection(conn) as c:
        if db.scalar(c, "SELECT to_regclass('production.scoring_runs')") is None:
            return None
        return db.scalar(c, "SELECT max(as_of_date) FROM production.scoring_runs")


def risk_list(d: date | None = None, top: int = 10) -> list[dict]:
    """The *top* officers of *d* (default: the latest scored date) with their risk factors."""
    ensure_production_schema()
    with db.connect() as conn:
        d = d or latest_scored_date(conn)
        if d is None:
            return []
        rows = conn.execute(
            "SELECT p.officer_id, p.score, p.rank_abs, p.rank_pct, p.division, p.unit, c.rank_change "
            "FROM production.predictions p LEFT JOIN production.rank_changes c ON c.as_of_date = p.as_of_date "
            "AND c.officer_id = p.officer_id AND c.days_back = 30 "
            "WHERE p.as_of_date = %s ORDER BY p.rank_abs LIMIT %s",
            (d, top),
        ).fetchall()
        ids = [r[0] for r in rows]
        factors: dict[str, list[dict]] = {}
        for off, pos, feat, value, contrib, direction, label in conn.execute(
            "SELECT officer_id, position, feature, value, contribution, direction, label FROM production.risk_factors "
            "WHERE as_of_date = %s AND officer_id = ANY(%s) ORDER BY officer_id, position",
            (d, ids),
        ):
            factors.setdefault(off, []).append(
                {
                    "position": pos,
                    "feature": feat,
                    "value": value,
                    "contribution": contrib,
                    "direction": direction,
                    "label": label,
                }
            )
    return [
        {
            "as_of_date": d,
            "officer_id": r[0],
            "score": r[1],
            "rank_abs": r[2],
            "rank_pct": r[3],
            "division": r[4],
            "unit": r[5],
            "rank_change_30d": r[6],
            "factors": factors.get(r[0], []),
        }
        for r in rows
    ]


def risk_list_text(d: date | None = None, top: int = 10, factors: int = 3) -> str:
    """The CLI's risk list: each officer's strongest *factors* in the same plain sentences as the web app
    (:mod:`eis_core.production.wording`), without the division comparison."""
    from eis_core.production.wording import sentences

    rows = risk_list(d, top)
    if not rows:
        return "(nothing scored yet: run `eis score --date YYYY-MM-DD`)"
    lines = [f"Risk list for {rows[0]['as_of_date']} (top {len(rows)}; rank change against 30 days earlier):"]
    for r in rows:
        ch = r["rank_change_30d"]
        chs = "   new" if ch is None else f"{ch:+6d}"
        lines.append(
            f"  {r['rank_abs']:>3}. {r['officer_id']:<10} score {r['score']:.3f}  {chs}  "
            f"{r['division'] or '?'} / {r['unit'] or '?'}"
        )
        for sentence in sentences(r["factors"], None, factors):  # the web app's plain-language sentences
            lines.append(f"         - {sentence.text}")
    return "\n".join(lines)


def bias_summary_text(d: date | None = None) -> str:
    ensure_production_schema()
    with db.connect() as conn:
        d = d or latest_scored_date(conn)
        if d is None:
            return "(no bias audit yet)"
        rows = conn.execute(
            "SELECT threshold, attribute, group_value, reference_group, group_size, flagged, flag_rate, "
            "flag_rate_ratio, out_of_range FROM results.bias_audit WHERE scope = 'scored_day' AND as_of_date = %s "
            "ORDER BY threshold LIKE 'top%%', length(threshold), threshold, attribute, group_size DESC",
            (d,),
        ).fetchall()
    if not rows:
        return "(no bias audit yet)"
    lines = [
        f"Bias audit for {d} (flag rate per group; ratio to the largest group; * = outside the configured "
        "range, groups of 10+ officers):"
    ]
    cur = None
    for thr, attr, grp, ref, size, flagged, rate, ratio, out in rows:
        if (thr, attr) != cur:
            cur = (thr, attr)
            lines.append(f"  {thr}, by {attr} (reference {ref}):")
        rs = "   n/a" if ratio is None else f"{ratio:6.2f}"
        lines.append(
            f"    {grp:<12} {size:>5} officers {flagged:>4} flagged  rate {rate:6.1%}  ratio {rs}{' *' if out else ''}"
        )
    n_out = sum(1 for r in rows if r[8])
    lines.append(f"  {n_out} group(s) outside the range" if n_out else "  every group within the range")
    return "\n".join(lines)
