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

Re-running D, or backfilling a range, therefore gives identical rows and never duplicates any.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from psycopg import sql
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
from eis_core.production.request import (
    ProductionError,
    Progress,
    check_date,
    group_info,
    importances,
    parse_date,
    quiet,
    resolve_model_group,
    retrain,
    stored_model,
)
from eis_core.production.risk_list import bias_summary_text, latest_scored_date, risk_list, risk_list_text
from eis_core.production.schema import RANK_CHANGE_DAYS, ensure_production_schema

#: names kept importable from here (modules split out of this one)
__all__ = ["DATE_TABLES", "ProductionError", "ScoreResult", "audit_groups", "bias_summary_text", "check_date",
           "flag_sets", "latest_scored_date", "parse_date", "plain_label", "refresh_rank_changes",
           "resolve_model_group", "risk_list", "risk_list_text", "score_day", "stored_model"]

#: production tables holding one as-of date's rows (reviews are never touched by scoring)
DATE_TABLES = ("predictions", "risk_factors", "rank_changes", "unit_risk", "scoring_runs")


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
        return {"as_of_date": self.as_of_date.isoformat(), "model_id": self.model_id,
                "model_group_id": self.model_group_id, "mode": self.mode, "n_scored": self.n_scored,
                "flag_count": self.flag_count, "explain_method": self.explain_method, "timings": self.timings}


# ----------------------------------------------------------------------------------------- data of D

def _cohort_matrix(d: date, features: list[str], officer_cfg: OfficerConfig, labels_cfg: LabelsConfig,
                   project: Path, progress: Progress):
    """(X, index) of the cohort on *d* with the model's feature columns (marts brought up to *d* first)."""
    from eis_core.modeling.matrices import build_matrix, ensure_features, load_matrix, make_spec

    ensure_features([d], officer_cfg, labels_cfg, progress=quiet(progress))
    spec = make_spec([d], officer_cfg, labels_cfg, feature_columns=features)
    meta = build_matrix(spec, project, progress=None)
    X, _, _, index = load_matrix(meta["matrix_id"], project)
    return X, index


def _side_data(conn, d: date) -> pd.DataFrame:
    """Division, unit and the legacy EIS's flag of every cohort officer on *d*."""
    cohort = pd.DataFrame(conn.execute(
        "SELECT officer_id, division, unit FROM features.officer_cohort WHERE as_of_date = %s", (d,)).fetchall(),
        columns=["officer_id", "division", "unit"])
    flag_cols = [r[0] for r in conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'features' "
        "AND table_name = 'officer_features' AND column_name LIKE 'leg\\_%%\\_flag' ORDER BY 1")]
    if flag_cols:
        q = sql.SQL("SELECT officer_id, ({}) AS legacy FROM features.officer_features WHERE as_of_date = %s").format(
            sql.SQL(" OR ").join(sql.SQL("coalesce({} > 0, false)").format(sql.Identifier(c)) for c in flag_cols))
        leg = pd.DataFrame(conn.execute(q, (d,)).fetchall(), columns=["officer_id", "legacy"])
        cohort = cohort.merge(leg, on="officer_id", how="left")
    else:
        cohort["legacy"] = False
    cohort["legacy"] = cohort["legacy"].fillna(False).astype(bool)
    return cohort


def _dictionary(conn) -> dict[str, tuple[str | None, str | None]]:
    if conn.execute("SELECT to_regclass('features.feature_dictionary')").fetchone()[0] is None:
        return {}
    return {f: (b, desc) for f, b, desc in conn.execute(
        "SELECT feature, block, description FROM features.feature_dictionary WHERE feature IS NOT NULL")}


def plain_label(feature: str, description: str | None, value: float | None, direction: str) -> str:
    """'Use-of-force cases in the last year: 3 (raises the risk)'."""
    what = (description or feature.replace("_", " ")).strip().rstrip(".")
    if value is None or (isinstance(value, float) and np.isnan(value)):
        shown = "missing"
    elif float(value).is_integer():
        shown = f"{int(value):,}"
    else:
        shown = f"{value:,.3g}"
    return f"{what}: {shown} ({direction} the risk)"


# ----------------------------------------------------------------------------------------- scoring

def score_day(as_of: str | date, model_group_id: str | None = None, mode: str | None = None,
              config: Path | str = DEFAULT_OFFICER_CONFIG, labels: Path | str = DEFAULT_LABELS_CONFIG,
              progress: Progress = print, scored_by: str = "eis score", today: date | None = None,
              max_stale_days: int | str | None = None) -> ScoreResult:
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
        model = stored_model(conn, group_id, d, span) if mode == "stored" else None
    if mode == "retrain":
        model = retrain(group_id, info, d, officer_cfg, labels_cfg, project, progress)
    if progress:
        progress(f"{d}: model group {group_id}, model {model['model_id']} ({mode}; trained on as-of dates up to "
                 f"{model['last_train_as_of']})")
    timings["model"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    X, index = _cohort_matrix(d, info["feature_names"], officer_cfg, labels_cfg, project, progress)
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
        dictionary = _dictionary(conn)
        side = _side_data(conn, d)
    expl = explain(estimator, X, index, imp, priority=scores)
    idx, contrib = top_factors(expl, pc.top_factors)
    timings["explain"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    officers = index["officer_id"].astype(str).to_numpy()
    frame = pd.DataFrame({"officer_id": officers, "score": scores, "rank_abs": rank_abs, "rank_pct": rank_pct})
    frame = frame.merge(side, on="officer_id", how="left")
    flag_count = int(frame["legacy"].sum())

    pred_rows = [(d, r.officer_id, model["model_id"], float(r.score), int(r.rank_abs), float(r.rank_pct),
                  r.division, r.unit) for r in frame.itertuples(index=False)]
    Xv = X.to_numpy(dtype=np.float64)
    factor_rows = []
    for i, off in enumerate(officers):
        for pos in range(idx.shape[1]):
            j = int(idx[i, pos])
            feat = expl.features[j]
            c = float(contrib[i, pos])
            value = float(Xv[i, j])
            direction = "raises" if c > 0 else "lowers"
            block, desc = dictionary.get(feat, (None, None))
            factor_rows.append((d, off, pos + 1, feat, block, None if np.isnan(value) else value, c, direction,
                                plain_label(feat, desc, value, direction), expl.method_of(i)))

    audit_rows = []
    ranks = frame["rank_abs"].to_numpy()
    prot = index.set_index(index["officer_id"].astype(str))
    for threshold, flagged in flag_sets(ranks, flag_count, pc.audit_top_percent).items():
        for attr in ("race", "sex"):
            col = f"_protected_{attr}"
            if col not in prot.columns:
                continue
            groups = prot.loc[frame["officer_id"], col].reset_index(drop=True)
            for r in audit_groups(flagged, None, groups, pc.audit_ratio_range, pc.audit_min_group_size):
                audit_rows.append((d, model["model_id"], threshold, attr, r["group_value"], r["reference_group"],
                                   r["group_size"], r["flagged"], r["flag_rate"], r["flag_rate_ratio"],
                                   r["out_of_range"]))
    timings["prepare_rows"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    with db.connect() as conn:
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('eis_production_score'), %s)", (d.toordinal(),))
        for t in DATE_TABLES:
            conn.execute(sql.SQL("DELETE FROM {} WHERE as_of_date = %s").format(sql.Identifier("production", t)), (d,))
        _copy_into(conn, "predictions", ("as_of_date", "officer_id", "model_id", "score", "rank_abs", "rank_pct",
                                         "division", "unit"), pred_rows)
        _copy_into(conn, "risk_factors", ("as_of_date", "officer_id", "position", "feature", "block", "value",
                                          "contribution", "direction", "label", "method"), factor_rows)
        # the day's bias audit: results.bias_audit, scope 'scored_day' (one table for both audits)
        conn.execute("DELETE FROM results.bias_audit WHERE scope = 'scored_day' AND as_of_date = %s", (d,))
        _copy_into(conn, "bias_audit", ("as_of_date", "model_id", "threshold", "attribute", "group_value",
                                        "reference_group", "group_size", "flagged", "flag_rate", "flag_rate_ratio",
                                        "out_of_range", "scope", "split_id"),
                   [(*r, "scored_day", "production") for r in audit_rows], schema="results")
        conn.execute(
            "INSERT INTO production.unit_risk (as_of_date, division, unit, officers, mean_score, max_score, top5_count) "
            "SELECT as_of_date, coalesce(division, 'unknown'), coalesce(unit, 'unknown'), count(*), avg(score), "
            "max(score), count(*) FILTER (WHERE rank_pct <= 0.05) FROM production.predictions WHERE as_of_date = %s "
            "GROUP BY 1, 2, 3", (d,))
        refresh_rank_changes(conn, d)
        timings["write"] = time.perf_counter() - t0
        timings["total"] = time.perf_counter() - t_all
        conn.execute(
            "INSERT INTO production.scoring_runs (as_of_date, model_id, model_group_id, experiment_id, mode, n_scored, "
            "flag_count, explain_method, timings, scored_by) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (d, model["model_id"], group_id, experiment_id, mode, len(frame), flag_count, expl.method,
             Jsonb({k: round(v, 3) for k, v in timings.items()}), scored_by))
    if progress:
        progress(f"{d}: scored {len(frame):,} officers in {timings['total']:.1f} s "
                 f"(legacy EIS would flag {flag_count}); risk factors by {expl.method}")
    # -- alerts (eis_core/production/alerts.py, issue 16): the flagged officers of the newest scored date
    #    become alerts for their supervisors now, not at the next page view; never fails the scored day.
    from eis_core.production.alerts import after_scoring

    after_scoring(d, progress)
    return ScoreResult(d, model["model_id"], group_id, mode, len(frame), flag_count, expl.method, timings)


def _copy_into(conn, table: str, columns: tuple[str, ...], rows: list[tuple], schema: str = "production") -> int:
    q = sql.SQL("COPY {} ({}) FROM STDIN").format(sql.Identifier(schema, table),
                                                   sql.SQL(", ").join(sql.Identifier(c) for c in columns))
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
    scored = {r[0] for r in conn.execute("SELECT as_of_date FROM production.scoring_runs WHERE as_of_date = ANY(%s)",
                                         (targets,))}
    scored.add(d)
    dates = sorted(t for t in targets if t in scored)
    conn.execute("DELETE FROM production.rank_changes WHERE as_of_date = ANY(%s)", (dates,))
    conn.execute(
        "INSERT INTO production.rank_changes (as_of_date, officer_id, days_back, previous_rank, rank_change) "
        "SELECT p.as_of_date, p.officer_id, k.days, q.rank_abs, q.rank_abs - p.rank_abs "
        "FROM production.predictions p CROSS JOIN unnest(%s::int[]) AS k (days) "
        "LEFT JOIN production.predictions q ON q.officer_id = p.officer_id AND q.as_of_date = p.as_of_date - k.days "
        "WHERE p.as_of_date = ANY(%s)", (list(RANK_CHANGE_DAYS), dates))
