"""Score one as-of date D: the ranked list of active officers, their risk factors, rank changes, unit
aggregates and a flag-rate bias audit (:func:`eis_core.modeling.bias.audit_groups`), written atomically to schema ``production``.

Steps of :func:`score_day`:

1. resolve the model group (given, or the newest *chosen* row of ``results.selections``) and check the
   request (unknown group, no selection, date in the future, date before any usable training data);
   (:mod:`eis_core.production.request`);
2. bring the marts up to D (dbt, incremental: only the as-of date D is built when it is missing);
3. pick the model: ``stored`` = the group's newest stored model whose training label windows had ended
   by D (a model that learnt from outcomes after D is never used for D); ``retrain`` = fit the group on
   the training window ending at D (as-of dates up to D − label window), as the original EIS did;
4. score the cohort of D (officers active on D: separated officers are not in it), rank (1 = highest);
5. explain every score (:mod:`eis_core.production.explain`) and keep each officer's top factors;
6. in ONE transaction: delete D's rows of every production table (reviews excepted) and write them
   again, then recompute the rank changes of D and of the later dates that compare against D.

The data of D and the rows built from it are in :mod:`eis_core.production.day_rows`, the writing of
step 6 in :mod:`eis_core.production.day_write`.

Re-running D, or backfilling a range, therefore gives identical rows and never duplicates any.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from psycopg.types.json import Jsonb

from eis_core import db
from eis_core.config import (
    DEFAULT_LABELS_CONFIG,
    DEFAULT_OFFICER_CONFIG,
    LabelsConfig,
    OfficerConfig,
    load_labels_config,
    load_officer_config,
)
from eis_core.modeling.bias import audit_groups, flag_sets
from eis_core.production.day_rows import (
    audit_rows,
    cohort_matrix,
    factor_rows,
    feature_dictionary,
    plain_label,
    prediction_rows,
    side_data,
)
from eis_core.production.day_write import DATE_TABLES, refresh_rank_changes, write_day
from eis_core.production.request import (
    ProductionError,
    Progress,
    check_date,
    group_info,
    importances,
    parse_date,
    resolve_model_group,
    retrain,
    stored_model,
)
from eis_core.production.risk_list import bias_summary_text, latest_scored_date, risk_list, risk_list_text
from eis_core.production.schema import ensure_production_schema

#: names kept importable from here (modules split out of this one: request, risk_list, day_rows, day_write)
__all__ = [
    "DATE_TABLES",
    "ProductionError",
    "ScoreResult",
    "audit_groups",
    "bias_summary_text",
    "check_date",
    "flag_sets",
    "latest_scored_date",
    "parse_date",
    "plain_label",
    "refresh_rank_changes",
    "resolve_model_group",
    "risk_list",
    "risk_list_text",
    "score_day",
    "stored_model",
]


@dataclass
class ScoreResult:
    as_of_date: date
    model_id: str
    model_group_id: str
    mode: str
    n_scored: int
    flag_count: int
    explain_method: str
    timings: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "as_of_date": self.as_of_date.isoformat(),
            "model_id": self.model_id,
            "model_group_id": self.model_group_id,
            "mode": self.mode,
            "n_scored": self.n_scored,
            "flag_count": self.flag_count,
            "explain_method": self.explain_method,
            "timings": self.timings,
        }


def score_day(
    as_of: str | date,
    model_group_id: str | None = None,
    mode: str | None = None,
    config: Path | str = DEFAULT_OFFICER_CONFIG,
    labels: Path | str = DEFAULT_LABELS_CONFIG,
    progress: Progress = print,
    scored_by: str = "eis score",
    today: date | None = None,
    max_stale_days: int | str | None = None,
) -> ScoreResult:
    """Score every cohort officer on *as_of* and write schema ``production`` (see module doc).

    A date more than *max_stale_days* (default ``$EIS_STALE_AFTER_DAYS`` or 30) after the data's
    extraction date is refused (:mod:`eis_core.production.staleness`), and so is any date while the marts
    are from another load than raw (:func:`eis_core.features.state.out_of_step_message`)."""
    from eis_core.artifacts.models import ArtifactError, load_model
    from eis_core.modeling.estimators import predict_scores
    from eis_core.modeling.evaluate import rank_scores
    from eis_core.modeling.matrices import project_dir
    from eis_core.production.explain import explain, top_factors

    timings: dict[str, float] = {}
    t_all = t0 = time.perf_counter()
    d = parse_date(as_of)
    check_date(d, today)
    from eis_core.production.staleness import check_staleness

    check_staleness(d, max_stale_days, progress=progress)
    from eis_core.features.state import out_of_step_message

    out_of_step = out_of_step_message()  # marts of another load than raw (e.g. after a failed transform)
    if out_of_step:
        raise ProductionError(out_of_step)
    officer_cfg = load_officer_config(config) if not isinstance(config, OfficerConfig) else config
    labels_cfg = load_labels_config(labels) if not isinstance(labels, LabelsConfig) else labels
    pc = officer_cfg.production
    mode = mode or pc.mode
    if mode not in ("stored", "retrain"):
        raise ProductionError(f"mode must be 'stored' or 'retrain', not {mode!r}")
    span = officer_cfg.temporal_config.label_window if officer_cfg.temporal_config else labels_cfg.label_windows[0]
    project = project_dir(officer_cfg)
    ensure_production_schema()
    with db.connect() as conn:
        group_id, experiment_id = resolve_model_group(conn, model_group_id)
        info = group_info(conn, group_id)
        stored = stored_model(conn, group_id, d, span) if mode == "stored" else None
    model = stored if stored is not None else retrain(group_id, info, d, officer_cfg, labels_cfg, project, progress)
    if progress:
        progress(
            f"{d}: model group {group_id}, model {model['model_id']} ({mode}; trained on as-of dates up to "
            f"{model['last_train_as_of']})"
        )
    timings["model"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    X, index = cohort_matrix(d, info["feature_names"], officer_cfg, labels_cfg, project, progress)
    if len(X) == 0:
        raise ProductionError(f"no officer is in the cohort on {d}: is there data for that date?")
    timings["marts_and_matrix"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    try:
        estimator = load_model(model["artifact_path"], kind="officer-model")
    except ArtifactError as exc:  # tampered, truncated or from other library versions: one line, exit 2
        raise ProductionError(str(exc)) from None
    scores = predict_scores(estimator, X, index)
    if np.isnan(scores).any():
        raise ProductionError(f"model {model['model_id']} produced NaN scores on {d}")
    rank_abs, rank_pct, _, _ = rank_scores(scores, officer_cfg.random_seed)
    timings["score"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    with db.connect() as conn:
        imp = importances(conn, model["model_id"])
        dictionary = feature_dictionary(conn)
        side = side_data(conn, d)
    expl = explain(estimator, X, index, imp, priority=scores)
    idx, contrib = top_factors(expl, pc.top_factors)
    timings["explain"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    officers = index["officer_id"].astype(str).to_numpy()
    frame = pd.DataFrame({"officer_id": officers, "score": scores, "rank_abs": rank_abs, "rank_pct": rank_pct})
    frame = frame.merge(side, on="officer_id", how="left")
    flag_count = int(frame["legacy"].sum())

    pred_rows = prediction_rows(d, frame, model["model_id"])
    f_rows = factor_rows(d, officers, X, idx, contrib, expl, dictionary)
    a_rows = audit_rows(d, model["model_id"], frame, index, flag_count, pc)
    timings["prepare_rows"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    with db.connect() as conn:
        write_day(conn, d, pred_rows, f_rows, a_rows)
        timings["write"] = time.perf_counter() - t0
        timings["total"] = time.perf_counter() - t_all
        conn.execute(
            "INSERT INTO production.scoring_runs (as_of_date, model_id, model_group_id, experiment_id, mode, n_scored, "
            "flag_count, explain_method, timings, scored_by) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                d,
                model["model_id"],
                group_id,
                experiment_id,
                mode,
                len(frame),
                flag_count,
                expl.method,
                Jsonb({k: round(v, 3) for k, v in timings.items()}),
                scored_by,
            ),
        )
    if progress:
        progress(
            f"{d}: scored {len(frame):,} officers in {timings['total']:.1f} s "
            f"(legacy EIS would flag {flag_count}); risk factors by {expl.method}"
        )
    # -- alerts (eis_core/production/alerts.py, issue 16): the flagged officers of the newest scored date
    #    become alerts for their supervisors now, not at the next page view; never fails the scored day.
    from eis_core.production.alerts import after_scoring

    after_scoring(d, progress)
    return ScoreResult(d, model["model_id"], group_id, mode, len(frame), flag_count, expl.method, timings)
