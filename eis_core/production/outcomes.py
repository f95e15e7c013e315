"""Did it help?  Adverse events after an intervention, next to comparable flagged officers without one.

**Comparison** (:func:`compare`).  A *treated* officer is one whose review (``production.reviews``, the
alert workflow writes them too) records an intervention other than ``none``; the episode starts on the
intervention date (else the review's list date) and is matched to the flag it answered (the prediction
of the review's ``as_of_date``).  Per intervention type each treated episode gets one *comparison*
officer: flagged (top ``EIS_FLAG_TOP_PERCENT`` %) on a scored date within ``caliper_days`` of the treated
officer's flag, with no intervention within a year either side, not used twice for the same type, the
closest in score (then in date).  The comparison's window starts after the same delay from its flag as
the treated officer's.  An *adverse event* is what the model's label counts (``adverse_events`` of the
labels config: event type x disposition of ``staging.stg_ia_cases``), by incident date in
[start, start + 6 / 12 months).  A window is counted only for pairs whose both windows end before the
data does (the newest drop's extraction date): a pair flagged last month says nothing about a year yet.

This is not a randomised comparison: supervisors chose whom to help and how, and what made them choose
may itself change the risk.  Matching on score and date removes only what the score captures.

**Interventions-adjusted evaluation** (:func:`evaluation`).  The model's precision on a scored date is
the share of its flagged officers who had an adverse event within the label window.  An officer who was
flagged, helped, and then had no incident counts as a false positive in the standard figure, although
the help may be why nothing happened.  The adjusted figure leaves those officers out of the denominator
(their outcome is unknown, not wrong); both are shown, with the count left out.
"""

from __future__ import annotations

import calendar
import math
import os
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

WINDOWS = (6, 12)  # months
CAUTION = (
    "This is not a randomised comparison. Supervisors chose whom to help and how, and the reasons "
    "for that choice may themselves change an officer's risk. The comparison officers were flagged "
    "with a similar score at a similar time, which removes only what the score captures. Read a "
    "difference as a question to look into, not as proof that an intervention works or does not."
)


def add_months(d: date, months: int) -> date:
    m = d.month - 1 + months
    y, m = d.year + m // 12, m % 12 + 1
    return date(y, m, min(d.day, calendar.monthrange(y, m)[1]))


def adverse_pairs(labels_config: Path | str | None = None) -> list[tuple[str, str]]:
    """(event type, disposition) pairs the label counts as adverse (the labels config, as dbt reads it)."""
    from eis_core.config import DEFAULT_LABELS_CONFIG, load_labels_config

    cfg = load_labels_config(labels_config or os.environ.get("EIS_LABELS_CONFIG") or DEFAULT_LABELS_CONFIG)
    return sorted((ev, d) for ev, disps in cfg.adverse_events.items() for d in disps)


def _exists(conn, name: str) -> bool:
    return bool(conn.execute("SELECT to_regclass(%s) IS NOT NULL", (name,)).fetchone()[0])


def adverse_events(conn, pairs: list[tuple[str, str]]) -> dict[str, list[date]]:
    """{officer_id: sorted incident dates of their adverse cases}."""
    if not pairs or not _exists(conn, "staging.stg_ia_cases"):
        return {}
    out: dict[str, list[date]] = {}
    for oid, d in conn.execute(
        "SELECT officer_id, incident_date FROM staging.stg_ia_cases WHERE incident_date IS NOT NULL "
        "AND (event_type, disposition) IN (SELECT * FROM unnest(%s::text[], %s::text[])) ORDER BY 1, 2",
        ([p[0] for p in pairs], [p[1] for p in pairs]),
    ):
        out.setdefault(oid, []).append(d)
    return out


def data_end(conn) -> tuple[date | None, str]:
    """The last day the data covers: the newest drop's extraction date, else the newest IA report."""
    from eis_core.production.staleness import data_extraction

    d, source = data_extraction(conn)
    if d is not None:
        return d, source
    if _exists(conn, "staging.stg_ia_cases"):
        r = conn.execute("SELECT max(coalesce(reported_date, incident_date)) FROM staging.stg_ia_cases").fetchone()[0]
        if r is not None:
            return r, "the newest internal-affairs report (no drop's extraction date is known)"
    return None, source


def _count(events: list[date], start: date, end: date) -> int:
    return bisect_left(events, end) - bisect_left(events, start)


@dataclass
class Episode:
    officer_id: str
    as_of_date: date
    score: float
    division: str | None
    start: date
    intervention: str | None = None


def _treated(conn, division: str | None) -> list[Episode]:
    if not _exists(conn, "production.reviews"):
        return []
    rows = conn.execute(
        "SELECT DISTINCT ON (r.intervention, r.officer_id) r.officer_id, r.as_of_date, p.score, p.division, "
        "       coalesce(r.intervention_date, r.as_of_date), r.intervention "
        "FROM production.reviews r JOIN production.predictions p "
        "  ON p.officer_id = r.officer_id AND p.as_of_date = r.as_of_date "
        "WHERE r.intervention IS NOT NULL AND r.intervention <> 'none' "
        "  AND (%s::text IS NULL OR p.division = %s) "
        "ORDER BY r.intervention, r.officer_id, coalesce(r.intervention_date, r.as_of_date)",
        (division, division),
    ).fetchall()
    return [Episode(r[0], r[1], float(r[2]), r[3], r[4], r[5]) for r in rows]


def _helped(conn) -> dict[str, list[date]]:
    """{officer_id: sorted start dates of their interventions (any type but none)}."""
    if not _exists(conn, "production.reviews"):
        return {}
    out: dict[str, list[date]] = {}
    for oid, d in conn.execute(
        "SELECT officer_id, coalesce(intervention_date, as_of_date) FROM production.reviews "
        "WHERE intervention IS NOT NULL AND intervention <> 'none' ORDER BY 1, 2"
    ):
        out.setdefault(oid, []).append(d)
    return out


def _flagged(conn, share: float, division: str | None) -> list[Episode]:
    rows = conn.execute(
        "SELECT officer_id, as_of_date, score, division FROM production.predictions "
        "WHERE rank_pct <= %s AND (%s::text IS NULL OR division = %s) ORDER BY as_of_date, officer_id",
        (share, division, division),
    ).fetchall()
    return [Episode(r[0], r[1], float(r[2]), r[3], r[1]) for r in rows]


def _rate(k: int, n: int) -> float | None:
    return k / n if n else None


def compare(
    conn,
    *,
    share: float | None = None,
    caliper_days: int = 31,
    division: str | None = None,
    labels_config: Path | str | None = None,
) -> dict:
    """Per intervention type: treated episodes, their matched comparisons and adverse events in the 6 and
    12 months after (see the module doc).  Returns {"end", "end_source", "types": [...], "caution"}."""
    from eis_core.production.alerts import flag_share

    share = flag_share() if share is None else share
    end, source = data_end(conn)
    labels = {}
    if _exists(conn, "production.intervention_catalogue"):
        labels = dict(conn.execute("SELECT code, label FROM production.intervention_catalogue").fetchall())
    if not _exists(conn, "production.predictions"):
        return {"end": end, "end_source": source, "types": [], "caution": CAUTION, "share": share}
    events = adverse_events(conn, adverse_pairs(labels_config))
    helped = _helped(conn)
    treated = _treated(conn, division)
    pool = [
        e
        for e in _flagged(conn, share, division)
        if not any(abs((h - e.as_of_date).days) <= 366 for h in helped.get(e.officer_id, []))
    ]
    by_type: dict[str, list[Episode]] = {}
    for t in treated:
        if t.intervention is not None:  # always, by the query
            by_type.setdefault(t.intervention, []).append(t)
    types = []
    for code in sorted(by_type, key=lambda c: (-len(by_type[c]), c)):
        used: set[str] = set()
        pairs: list[tuple[Episode, Episode | None]] = []
        for t in sorted(by_type[code], key=lambda e: (e.as_of_date, e.officer_id)):
            cands = [
                c
                for c in pool
                if c.officer_id not in used
                and c.officer_id != t.officer_id
                and abs((c.as_of_date - t.as_of_date).days) <= caliper_days
            ]
            if not cands:
                pairs.append((t, None))
                continue
            c = min(
                cands, key=lambda c: (abs(c.score - t.score), abs((c.as_of_date - t.as_of_date).days), c.officer_id)
            )
            used.add(c.officer_id)
            delay = t.start - t.as_of_date
            pairs.append((t, Episode(c.officer_id, c.as_of_date, c.score, c.division, c.as_of_date + delay)))
        matched = [(t, c) for t, c in pairs if c is not None]
        windows = {}
        for months in WINDOWS:
            full = [
                (t, c)
                for t, c in matched
                if end is not None and add_months(t.start, months) <= end and add_months(c.start, months) <= end
            ]
            tk = [_count(events.get(t.officer_id, []), t.start, add_months(t.start, months)) for t, _ in full]
            ck = [_count(events.get(c.officer_id, []), c.start, add_months(c.start, months)) for _, c in full]
            n = len(full)
            t_any, c_any = sum(1 for k in tk if k), sum(1 for k in ck if k)
            diff = ci = None
            if n:
                d = [(a > 0) - (b > 0) for a, b in zip(tk, ck)]
                diff = sum(d) / n
                if n >= 10:  # a paired difference of proportions; fewer pairs: too few to say
                    sd = math.sqrt(sum((x - diff) ** 2 for x in d) / (n - 1)) if n > 1 else 0.0
                    half = 1.96 * sd / math.sqrt(n)
                    ci = (diff - half, diff + half)
            windows[months] = {
                "pairs": n,
                "treated_with": t_any,
                "control_with": c_any,
                "treated_events": sum(tk),
                "control_events": sum(ck),
                "treated_rate": _rate(t_any, n),
                "control_rate": _rate(c_any, n),
                "difference": diff,
                "ci": ci,
            }
        gaps = [abs((c.as_of_date - t.as_of_date).days) for t, c in matched]
        types.append(
            {
                "code": code,
                "label": labels.get(code, code),
                "treated": len(pairs),
                "matched": len(matched),
                "unmatched": len(pairs) - len(matched),
                "treated_mean_score": _mean([t.score for t, _ in matched]),
                "control_mean_score": _mean([c.score for _, c in matched]),
                "mean_date_gap_days": _mean(gaps),
                "windows": windows,
            }
        )
    return {
        "end": end,
        "end_source": source,
        "types": types,
        "caution": CAUTION,
        "share": share,
        "caliper_days": caliper_days,
    }


def _mean(xs: Sequence[float]) -> float | None:
    return sum(xs) / len(xs) if xs else None


def evaluation(
    conn,
    *,
    months: int = 12,
    share: float | None = None,
    division: str | None = None,
    labels_config: Path | str | None = None,
) -> dict:
    """Per scored date whose label window has passed: flagged officers, those with an adverse event in
    [D, D + *months*), those helped (an intervention starting in [D, D + months)) with no event, and the
    precision standard (helped-without-event = false positive) and adjusted (left out)."""
    from eis_core.production.alerts import flag_share

    share = flag_share() if share is None else share
    end, source = data_end(conn)
    out: dict[str, Any] = {
        "end": end,
        "end_source": source,
        "months": months,
        "share": share,
        "dates": [],
        "pending": 0,
    }
    if not _exists(conn, "production.predictions"):
        return out
    events = adverse_events(conn, adverse_pairs(labels_config))
    helped = _helped(conn)
    by_date: dict[date, list[str]] = {}
    for e in _flagged(conn, share, division):
        by_date.setdefault(e.as_of_date, []).append(e.officer_id)
    totals = {"flagged": 0, "with_event": 0, "helped_no_event": 0}
    for d in sorted(by_date):
        stop = add_months(d, months)
        if end is None or stop > end:
            out["pending"] += 1
            continue
        offs = by_date[d]
        hit = {o for o in offs if _count(events.get(o, []), d, stop)}
        saved = {o for o in offs if o not in hit and any(d <= h < stop for h in helped.get(o, []))}
        n = len(offs)
        row: dict[str, Any] = {
            "as_of_date": d,
            "flagged": n,
            "with_event": len(hit),
            "helped_no_event": len(saved),
            "false_positives": n - len(hit),
            "precision": _rate(len(hit), n),
            "precision_adjusted": _rate(len(hit), n - len(saved)),
        }
        out["dates"].append(row)
        for k in totals:
            totals[k] += row[k]
    out["total"] = {
        **totals,
        "precision": _rate(totals["with_event"], totals["flagged"]),
        "precision_adjusted": _rate(totals["with_event"], totals["flagged"] - totals["helped_no_event"]),
    }
    return out


__all__ = ["CAUTION", "WINDOWS", "add_months", "adverse_events", "adverse_pairs", "compare", "data_end", "evaluation"]
