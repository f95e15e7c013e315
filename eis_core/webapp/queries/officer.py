"""The officer's events: counts by feature block and the timeline in plain words."""

from __future__ import annotations

import math
from datetime import date

from eis_core.webapp.queries.base import WINDOW_PREFERENCE, rows, table_exists
from eis_core.webapp.queries.risk import reviews


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
