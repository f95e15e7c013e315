"""Risk-aware dispatch suggestions: for one call, rank the officers on duty and available in its
division by the predicted risk that *this* dispatch turns adverse.

The time of decision ``t`` is the call's ``received_at`` (or a given moment).  Candidates:

* assigned to the call's division on ``date(t)`` (``assignments``);
* on duty: a duty session in progress, i.e. a dispatch within ``session_gap_hours`` before ``t`` (the
  records hold no roster; this is the same session rule the dataset uses);
* available: no dispatch started before ``t`` that is still open at ``t`` (``cleared_at`` after ``t``,
  or missing and dispatched less than an hour before ``t``).

Each candidate's features are computed exactly as ``dispatch.dispatch_dataset`` would compute them for a
dispatch of that officer at ``t`` (only what is known before ``t``; the same session, stress and
history definitions; a test checks the two agree), then scored with the latest *suggestion* model
(trained without anything known only on arrival).  Reasons: the officer-level features (stress,
history) whose replacement by the training median lowers the score most, i.e. what raises this
officer's risk.  Rank 1 is the lowest risk: the suggested officer.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from eis_core import db
from eis_core.dispatch.dataset import DEFAULT_SESSION_GAP_HOURS, DEFAULT_STRESS_CALL_TYPES
from eis_core.dispatch.features import NUMERIC_BLOCKS, Spec

HISTORY_SQL = """
SELECT officer_id,
       sum(calls), sum(calls) FILTER (WHERE day >= %(d)s::date - 365),
       sum(arrests), sum(arrests) FILTER (WHERE day >= %(d)s::date - 365),
       sum(disc_arrests), sum(disc_arrests) FILTER (WHERE day >= %(d)s::date - 365),
       max(disc_day), sum(ia_cases), sum(ia_cases) FILTER (WHERE day >= %(d)s::date - 365),
       sum(ia_complaints) FILTER (WHERE day >= %(d)s::date - 365), sum(ia_adverse), max(adverse_incident)
FROM dispatch.dispatch_officer_days
WHERE officer_id = ANY(%(ids)s) AND day < %(d)s
GROUP BY officer_id
"""


class SuggestError(LookupError):
    """Unknown call, or no suggestion model trained yet."""


def _call(conn, call_id: str) -> dict:
    cur = conn.execute(
        "SELECT call_id, received_at, call_type, priority, source, division, beat "
        "FROM staging.stg_calls_for_service WHERE call_id = %s",
        (call_id,),
    )
    row = cur.fetchone()
    if row is None:
        raise SuggestError(f"call_id {call_id!r} is not in calls_for_service")
    return dict(zip([c.name for c in cur.description], row))


def _stress(times: list[datetime], stress: list[int], t: datetime, gap: timedelta) -> dict:
    """Session and stress features at t from the officer's dispatches strictly before t (sorted)."""
    start = t
    i = len(times) - 1
    while i >= 0 and start - times[i] <= gap:
        start = times[i]
        i -= 1
    in_session = [k for k in range(len(times)) if start <= times[k] < t]
    week = [k for k in range(len(times)) if t - timedelta(days=7) <= times[k] < t]
    days = {x.date() for x in times} | {t.date()}
    run, d = 0, t.date()
    while d in days:
        run += 1
        d -= timedelta(days=1)
    return {
        "st_hours_on_duty": (t - start).total_seconds() / 3600.0,
        "st_calls_in_shift": float(len(in_session)),
        "st_stress_calls_shift": float(sum(stress[k] for k in in_session)),
        "st_stress_calls_7d": float(sum(stress[k] for k in week)),
        "st_consecutive_days": float(run),
    }


def officer_features(
    conn,
    officer_ids: list[str],
    t: datetime,
    beat: str | None,
    session_gap_hours: float = DEFAULT_SESSION_GAP_HOURS,
    stress_call_types=DEFAULT_STRESS_CALL_TYPES,
    lookback_days: int = 400,
) -> pd.DataFrame:
    """Stress (st_*), history (hist_*) and neighbourhood (nbh_*) features of a dispatch of each officer at
    *t* to a call in *beat*, computed like dispatch.dispatch_dataset.  One row per officer, indexed by id."""
    gap = timedelta(hours=float(session_gap_hours))
    ids = list(dict.fromkeys(officer_ids))
    rows: dict[str, dict[str, Any]] = {o: {} for o in ids}
    disp: dict[str, tuple[list, list]] = {o: ([], []) for o in ids}
    for o, at, ctype in conn.execute(
        "SELECT d.officer_id, d.dispatched_at, c.call_type FROM staging.stg_dispatches d "
        "LEFT JOIN staging.stg_calls_for_service c ON c.call_id = d.call_id "
        "WHERE d.officer_id = ANY(%s) AND d.dispatched_at < %s AND d.dispatched_at >= %s "
        "ORDER BY d.officer_id, d.dispatched_at",
        (ids, t, t - timedelta(days=lookback_days)),
    ):
        disp[o][0].append(at)
        disp[o][1].append(1 if ctype in stress_call_types else 0)
    for o in ids:
        rows[o].update(_stress(disp[o][0], disp[o][1], t, gap))
    d = t.date()
    hist = {r[0]: r[1:] for r in conn.execute(HISTORY_SQL, {"d": d, "ids": ids})}
    hires = dict(
        conn.execute(
            "SELECT officer_id, hire_date FROM staging.stg_officers WHERE officer_id = ANY(%s)", (ids,)
        ).fetchall()
    )
    for o in ids:
        h = hist.get(o) or (None,) * 12
        calls, calls1, arr, arr1, disc, disc1, ia, ia1, comp1, adv = (
            float(h[k] or 0.0) for k in (0, 1, 2, 3, 4, 5, 7, 8, 9, 10)
        )
        last_disc, last_adv = h[6], h[11]
        hire = hires.get(o)
        rows[o].update(
            {
                "hist_tenure_years": (d - hire).days / 365.25 if hire else None,
                "hist_dispatches_all": calls,
                "hist_dispatches_1y": calls1,
                "hist_arrests_all": arr,
                "hist_arrests_1y": arr1,
                "hist_disc_arrests_all": disc,
                "hist_disc_arrests_1y": disc1,
                "hist_arrest_rate_all": arr / calls if calls > 0 else 0.0,
                "hist_disc_arrest_rate_all": disc / calls if calls > 0 else 0.0,
                "hist_arrest_rate_1y": arr1 / calls1 if calls1 > 0 else 0.0,
                "hist_disc_arrest_rate_1y": disc1 / calls1 if calls1 > 0 else 0.0,
                "hist_disc_share_all": disc / arr if arr > 0 else 0.0,
                "hist_days_since_disc_arrest": float((d - last_disc).days) if last_disc else None,
                "hist_ia_cases_all": ia,
                "hist_ia_cases_1y": ia1,
                "hist_ia_complaints_1y": comp1,
                "hist_ia_adverse_all": adv,
                "hist_days_since_adverse": float((d - last_adv).days) if last_adv else None,
            }
        )
    nbh = conn.execute(
        "SELECT population, calls_311_per_1k, vacant_land_pct, median_income, violent_crime_per_1k, "
        "nuisance_violations_per_1k FROM staging.stg_neighborhoods WHERE beat = %s AND year < %s "
        "ORDER BY year DESC LIMIT 1",
        (beat, d.year),
    ).fetchone()
    for o in ids:
        for k, c in enumerate(NUMERIC_BLOCKS["neighborhood"]):
            rows[o][c] = None if nbh is None or nbh[k] is None else float(nbh[k])
    return pd.DataFrame.from_dict(rows, orient="index")


def candidates(conn, call: dict, t: datetime, session_gap_hours: float) -> list[str]:
    """Officers assigned to the call's division on date(t), in a duty session at t and not on an open call."""
    rows = conn.execute(
        "SELECT DISTINCT a.officer_id FROM staging.stg_assignments a "
        "WHERE a.division = %(div)s AND a.start_date <= %(d)s AND (a.end_date IS NULL OR a.end_date >= %(d)s) "
        "AND EXISTS (SELECT 1 FROM staging.stg_dispatches d WHERE d.officer_id = a.officer_id "
        "            AND d.dispatched_at < %(t)s AND d.dispatched_at >= %(t)s - make_interval(secs => %(gap)s)) "
        "AND NOT EXISTS (SELECT 1 FROM staging.stg_dispatches d WHERE d.officer_id = a.officer_id "
        "            AND d.dispatched_at < %(t)s AND d.dispatched_at >= %(t)s - interval '2 days' "
        "            AND coalesce(d.cleared_at, d.dispatched_at + interval '1 hour') > %(t)s) "
        "ORDER BY a.officer_id",
        {"div": call["division"], "d": t.date(), "t": t, "gap": float(session_gap_hours) * 3600},
    ).fetchall()
    return [r[0] for r in rows]


def latest_model() -> dict:
    from eis_core.artifacts.models import ArtifactError, load_model
    from eis_core.dispatch.model import ARTIFACT_KIND

    with db.connect() as conn:
        if not db.scalar(conn, "SELECT to_regclass('dispatch.subset_comparison')"):
            raise SuggestError("no dispatch suggestion model: run `eis dispatch train` first")
        row = conn.execute(
            "SELECT artifact_path, model_id, run_id FROM dispatch.subset_comparison "
            "WHERE model_kind = 'suggestion' AND subset = 'all' ORDER BY run_id DESC LIMIT 1"
        ).fetchone()
    if row is None:
        raise SuggestError("no dispatch suggestion model: run `eis dispatch train` first")
    try:
        art = load_model(row[0], kind=ARTIFACT_KIND)  # verified before unpickling
    except ArtifactError as exc:
        raise SuggestError(str(exc)) from None
    art["spec"] = Spec(**art["spec"])
    art.update(model_id=row[1], run_id=row[2])
    return art


def call_features(call: dict, t: datetime) -> dict:
    """The call block for a dispatch at t (nobody dispatched yet: not a backup, no queue beyond t)."""
    src = call.get("source")
    queue = max((t - call["received_at"]).total_seconds() / 60.0, 0.0) if call.get("received_at") else 0.0
    return {
        "call_type": call.get("call_type"),
        "division": call.get("division"),
        "call_priority": call.get("priority"),
        "call_officer_initiated": float(src == "OFFICER_INITIATED"),
        "call_source_911": float(src == "CITIZEN_911"),
        "call_source_alarm": float(src == "ALARM"),
        "call_hour": float(t.hour),
        "call_weekday": float(t.isoweekday()),
        "call_night": float(t.hour >= 22 or t.hour < 6),
        "call_queue_min": queue,
        "call_backup": 0.0,
        "call_stress_type": float(call.get("call_type") in DEFAULT_STRESS_CALL_TYPES),
    }


def suggest(
    call_id: str,
    at: datetime | None = None,
    session_gap_hours: float = DEFAULT_SESSION_GAP_HOURS,
    n_reasons: int = 3,
    model: dict | None = None,
) -> list[dict]:
    """[{officer_id, score, rank, reasons}] for the on-duty available officers of the call's division,
    rank 1 = lowest predicted risk.  Empty when nobody qualifies.  See the module doc."""
    model = model or latest_model()
    spec: Spec = model["spec"]
    feats: list[str] = model["features"]
    est = model["estimator"]
    with db.connect() as conn:
        call = _call(conn, call_id)
        t = at or call["received_at"]
        ids = candidates(conn, call, t, session_gap_hours)
        if not ids:
            return []
        X = officer_features(conn, ids, t, call.get("beat"), session_gap_hours)
    for k, v in call_features(call, t).items():
        X[k] = v
    M = spec.matrix(X)[feats]
    scores = est.predict_proba(M.to_numpy())[:, 1]
    # reasons: officer-level features whose typical (training-median) value would lower the score most
    officer_cols = [j for j, f in enumerate(feats) if spec.block_of[f] in ("stress", "officer")]
    base = M.to_numpy(dtype="float32")
    typical = {j: spec.medians.get(feats[j], None) for j in officer_cols}
    deltas = np.zeros((len(ids), len(officer_cols)))
    if officer_cols:
        stacked = np.repeat(base, len(officer_cols), axis=0)
        for c, j in enumerate(officer_cols):
            med = typical[j]
            if med is None:
                med = float(np.median(base[:, j]))
                typical[j] = med
            stacked[c :: len(officer_cols), j] = med
        alt = est.predict_proba(stacked)[:, 1].reshape(len(ids), len(officer_cols))
        deltas = scores[:, None] - alt
    order = np.argsort(scores, kind="stable")
    out = []
    for rank, i in enumerate(order, start=1):
        top = [c for c in np.argsort(-deltas[i], kind="stable")[:n_reasons] if deltas[i, c] > 0]
        reasons = [
            f"{feats[officer_cols[c]]} = {base[i, officer_cols[c]]:.3g} (typical {typical[officer_cols[c]]:.3g}) "
            f"raises the risk by {deltas[i, c]:.3f}"
            for c in top
        ]
        out.append({"officer_id": ids[i], "score": float(scores[i]), "rank": rank, "reasons": reasons})
    return out
