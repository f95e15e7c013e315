"""Daily retraining with the outcome feedback: champion against challenger.

One run at ``as_of`` (default: the latest moment the data knows of):

1. counts the reports whose severity became known since the previous run's ``as_of``
   (``severity.retrain_runs``); with none and a champion in place nothing is retrained;
2. trains a challenger on the rolling window: outcomes known in ``(H - window_days, H]`` with
   ``H = as_of - holdout_days``;
3. scores champion and challenger on the newest held-out outcomes - known in ``(H, as_of]`` and after
   both models' training cut-offs, so neither has seen them;
4. promotes the challenger when ``challenger_f1 >= champion_f1 - margin`` (with no champion, or a
   champion that no longer loads, the challenger is promoted); a challenger that loses is retired;
5. records the decision (``severity.decisions``) and the run (``severity.retrain_runs``).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pandas as pd

from eis_core.severity.features import DEFAULT_ASSESSMENT_LAG_DAYS, FEATURES, data_end, labelled

Progress = Callable[[str], object]


def decide(champion_f1: float | None, challenger_f1: float, margin: float) -> tuple[bool, str]:
    """Promote when the challenger's macro-F1 is not worse than the champion's by more than *margin*."""
    if champion_f1 is None:
        return True, "no usable champion"
    if challenger_f1 >= champion_f1 - margin:
        return True, (f"challenger macro-F1 {challenger_f1:.4f} >= champion {champion_f1:.4f} - margin {margin:g}")
    return False, f"challenger macro-F1 {challenger_f1:.4f} < champion {champion_f1:.4f} - margin {margin:g}"


def run_retrain(
    as_of=None,
    *,
    window_days: int = 365,
    holdout_days: int = 30,
    margin: float = 0.0,
    min_holdout: int = 30,
    assessment_lag_days: int = DEFAULT_ASSESSMENT_LAG_DAYS,
    C: float = 1.0,
    source=None,
    frame: pd.DataFrame | None = None,
    decided_by: str = "severity_retrain",
    force: bool = False,
    progress: Progress | None = None,
) -> dict:
    from eis_core import db
    from eis_core.severity.model import scores, single_thread
    from eis_core.severity.registry import IncompatibleModelError, champion_version, load_model, registry_row
    from eis_core.severity.store import ensure_severity_schema, record_decision
    from eis_core.severity.train import load_frame, train_model

    say = progress or (lambda m: None)
    t0 = time.perf_counter()
    if margin < -1 or margin > 1:
        raise ValueError(f"margin must be within [-1, 1], got {margin}")
    if frame is None:
        say("reading crime reports from the warehouse ...")
        frame = load_frame(source)
    as_of = pd.Timestamp(as_of) if as_of is not None else data_end(frame)
    with db.connect() as conn:
        ensure_severity_schema(conn)
        since = db.scalar(
            conn, "SELECT max(as_of) FROM severity.retrain_runs WHERE as_of <= %s", (as_of.to_pydatetime(),)
        )
        champ = champion_version(conn)
    new = labelled(frame, since, as_of, assessment_lag_days)
    say(f"{len(new):,} outcomes arrived since {since or 'the beginning'} (as of {as_of:%Y-%m-%d %H:%M})")
    out = {
        "as_of": as_of,
        "since": since,
        "n_new_outcomes": int(len(new)),
        "champion": champ,
        "challenger": None,
        "promoted": False,
    }

    def finish(conn, decision_id, challenger) -> dict:
        conn.execute(
            "INSERT INTO severity.retrain_runs (as_of, outcomes_since, n_new_outcomes, challenger_version, "
            "decision_id, seconds) VALUES (%s, %s, %s, %s, %s, %s)",
            (as_of.to_pydatetime(), since, len(new), challenger, decision_id, time.perf_counter() - t0),
        )
        out["decision_id"] = decision_id
        return out

    if champ is not None and len(new) == 0 and not force:
        reason = f"no new outcomes since {since}: nothing to retrain"
        with db.connect() as conn:
            did = record_decision(
                conn,
                champion_version=champ,
                challenger_version=None,
                champion_f1=None,
                challenger_f1=None,
                margin=margin,
                promoted=False,
                decided_by=decided_by,
                reason=reason,
            )
            out["reason"] = reason
            say(reason)
            return finish(conn, did, None)

    res = train_model(
        frame,
        as_of=as_of,
        test_days=holdout_days,
        window_days=window_days,
        assessment_lag_days=assessment_lag_days,
        C=C,
        status="challenger",
        progress=say,
    )
    chal = res["version"]
    out["challenger"] = chal
    cutoffs = [pd.Timestamp(res["metrics"]["train_cutoff"])]
    champion_model, champ_error = None, None
    if champ is not None and champ != chal:
        try:
            champion_model = load_model(champ)
            cutoffs.append(pd.Timestamp(champion_model.metadata["metrics"]["train_cutoff"]))
        except (IncompatibleModelError, LookupError) as e:
            champ_error = str(e)
    holdout = labelled(frame, max(cutoffs), as_of, assessment_lag_days)
    y = holdout["severity"].to_numpy(str)
    with single_thread():
        chal_f1 = scores(y, res["pipeline"].predict(holdout[FEATURES]))["macro_f1"] if len(holdout) else None
        champ_f1 = None
        if champion_model is not None and len(holdout):
            champ_f1 = scores(y, champion_model.pipeline.predict(holdout[FEATURES]))["macro_f1"]
    out.update(
        {"n_holdout": int(len(holdout)), "champion_f1": champ_f1, "challenger_f1": chal_f1, "metrics": res["metrics"]}
    )

    if champ == chal:
        promoted, reason = False, "the challenger is identical to the champion (same data and parameters)"
    elif champ is None:
        promoted, reason = True, "first model: no champion yet"
    elif champ_error:
        promoted, reason = True, f"champion {champ} cannot be used ({champ_error})"
    elif len(holdout) < min_holdout:
        promoted, reason = (
            False,
            (f"only {len(holdout)} held-out outcomes after both training cut-offs (need {min_holdout}): champion kept"),
        )
    else:
        assert chal_f1 is not None  # the holdout has at least min_holdout >= 1 reports here
        promoted, reason = decide(champ_f1, chal_f1, margin)
        reason = f"{reason} on {len(holdout)} held-out reports"
    with db.connect() as conn:
        if promoted:
            conn.execute("UPDATE severity.models SET status = 'retired' WHERE status = 'champion'")
            conn.execute("UPDATE severity.models SET status = 'champion' WHERE version = %s", (chal,))
        elif chal != champ and (registry_row(chal, conn) or {}).get("status") == "challenger":
            conn.execute("UPDATE severity.models SET status = 'retired' WHERE version = %s", (chal,))
        did = record_decision(
            conn,
            champion_version=champ,
            challenger_version=chal,
            champion_f1=champ_f1,
            challenger_f1=chal_f1,
            margin=margin,
            promoted=promoted,
            decided_by=decided_by,
            reason=reason,
            n_holdout=len(holdout),
        )
        out.update({"promoted": promoted, "reason": reason})
        say(("PROMOTED " if promoted else "kept champion: ") + reason)
        return finish(conn, did, chal)
