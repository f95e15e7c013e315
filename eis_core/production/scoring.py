"""Score one as-of date D: the ranked list of active officers, their risk factors, rank changes, unit
aggregates and a flag-rate bias audit, written atomically to schema ``production``.

Steps of :func:`score_day`:

1. resolve the model group (given, or the newest *chosen* row of ``results.selections``) and check the
   request (unknown group, no selection, date in the future, date before any usable training data);
2. bring the marts up to D (dbt, incremental: only the as-of date D is built when it is missing);
3. pick the model: ``stored`` = the group's newest stored model whose training label windows had ended
   by D (a model that learnt from outcomes after D is never used for D); ``retrain`` = fit the group on
   the training window ending at D (as-of dates up to D − label timespan), as the original EIS did;
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
from typing import Callable

import numpy as np
import pandas as pd
from psycopg import sql
from psycopg.types.json import Jsonb

from eis_core import db
from eis_core.config import (DEFAULT_LABELS_CONFIG, DEFAULT_OFFICER_CONFIG, LabelsConfig, OfficerConfig,
                             load_labels_config, load_officer_config)
from eis_core.production.schema import RANK_CHANGE_DAYS, ensure_production_schema

Progress = Callable[[str], object] | None

#: production tables holding one as-of date's rows (reviews are never touched by scoring)
DATE_TABLES = ("predictions", "risk_factors", "rank_changes", "unit_risk", "bias_audit", "scoring_runs")


class ProductionError(ValueError):
    """A scoring request that cannot be served (unknown group, bad date, nothing selected...)."""


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


# ----------------------------------------------------------------------------------------- requests

def parse_date(value: str | date) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ProductionError(f"date {value!r} is not a date: use YYYY-MM-DD") from None


def resolve_model_group(conn, model_group_id: str | None = None) -> tuple[str, str | None]:
    """(model_group_id, experiment_id or None) of the request; raises ProductionError with what to do."""
    if conn.execute("SELECT to_regclass('results.model_groups')").fetchone()[0] is None:
        raise ProductionError("no model has been trained in this warehouse (schema results is empty): "
                              "run the modeling run first (`python -m eis_core.run` or the eis_modeling DAG)")
    if model_group_id:
        row = conn.execute("SELECT model_group_id FROM results.model_groups WHERE model_group_id = %s",
                           (model_group_id,)).fetchone()
        if row is None:
            known = [r[0] for r in conn.execute(
                "SELECT model_group_id FROM results.model_groups ORDER BY created_at DESC LIMIT 5")]
            raise ProductionError(f"unknown model group {model_group_id!r}; newest known: {', '.join(known) or 'none'}")
        exp = conn.execute("SELECT experiment_id FROM results.selections WHERE model_group_id = %s "
                           "ORDER BY selected_at DESC LIMIT 1", (model_group_id,)).fetchone()
        return model_group_id, (exp[0] if exp else None)
    row = conn.execute("SELECT model_group_id, experiment_id FROM results.selections WHERE chosen "
                       "AND model_group_id IS NOT NULL ORDER BY selected_at DESC, selection_id DESC LIMIT 1").fetchone()
    if row is None:
        raise ProductionError("no model group has been selected: run `eis select` (or choose one in the web app), "
                              "or name one with --model-group")
    return row[0], row[1]


def check_date(d: date, today: date | None = None) -> None:
    today = today or date.today()
    if d > today:
        raise ProductionError(f"date {d} is in the future (today is {today}): officers can only be scored on "
                              "dates whose past is known")


def _group_info(conn, group_id: str) -> dict:
    row = conn.execute("SELECT class_path, hyperparameters, feature_names, label_name, is_baseline "
                       "FROM results.model_groups WHERE model_group_id = %s", (group_id,)).fetchone()
    return {"class_path": row[0], "hyperparameters": row[1] or {}, "feature_names": list(row[2] or []),
            "label_name": row[3], "is_baseline": bool(row[4])}


def stored_model(conn, group_id: str, d: date, label_span) -> dict:
    """The group's newest done model whose training label windows ended on or before *d*."""
    rows = conn.execute(
        "SELECT m.model_id, m.artifact_path, m.train_matrix_id, mx.as_of_dates, m.created_at "
        "FROM results.models m JOIN results.matrices mx ON mx.matrix_id = m.train_matrix_id "
        "WHERE m.model_group_id = %s AND m.status = 'done' AND m.artifact_path IS NOT NULL",
        (group_id,)).fetchall()
    if not rows:
        raise ProductionError(f"model group {group_id} has no stored model: train it first, or use mode 'retrain'")
    usable = []
    for model_id, path, train_id, dates, created in rows:
        last = max(dates)
        if last + label_span.delta() <= d:
            usable.append((last, created, model_id, path, train_id))
    if not usable:
        earliest = min(max(r[3]) for r in rows) + label_span.delta()
        raise ProductionError(f"date {d} is before any training data usable by model group {group_id}: its "
                              f"models learnt from outcomes up to {earliest} at the earliest; score {earliest} "
                              "or later, or use mode 'retrain'")
    last, _, model_id, path, train_id = max(usable, key=lambda r: (r[0], r[1], r[2]))
    return {"model_id": model_id, "artifact_path": path, "train_matrix_id": train_id, "last_train_as_of": last}


# ----------------------------------------------------------------------------------------- models

def _quiet(progress: Progress) -> Progress:
    """*progress* without dbt's one line per model/test (kept: our own lines and failures)."""
    if progress is None:
        return None
    import re

    node = re.compile(r"^\s*(success|pass|warn|skip(ped)?)\s+(model|test|seed|snapshot)\s")

    def inner(line: str):
        if not node.match(str(line)):
            progress(line)
    return inner


def _retrain(group_id: str, info: dict, d: date, officer_cfg: OfficerConfig, labels_cfg: LabelsConfig,
             project: Path, progress: Progress) -> dict:
    """Fit the group on the training window ending at *d*; reuse the model when it exists already."""
    from eis_core.artifacts.models import model_exists
    from eis_core.modeling.estimators import fit_model
    from eis_core.modeling.grid import make_estimator
    from eis_core.modeling.matrices import _record, build_matrix, ensure_features, load_matrix, make_spec
    from eis_core.modeling.results import copy_rows, ensure_results_schema
    from eis_core.modeling.splits import train_dates
    from eis_core.modeling.train import _importance_rows, model_id_for, save_officer_model

    tc = officer_cfg.temporal_config
    if tc is None:
        raise ProductionError("mode 'retrain' needs temporal_config in the officer config")
    dates = [t for t in train_dates(tc, d) if t >= tc.feature_start_time]
    if not dates:
        raise ProductionError(f"date {d} is before any training data: the training window ending at {d} "
                              f"(as-of dates up to {d - tc.label_timespan.delta()}) starts before label_start_time "
                              f"{tc.label_start_time}")
    ensure_features(dates, officer_cfg, labels_cfg, progress=_quiet(progress))
    spec = make_spec(dates, officer_cfg, labels_cfg, feature_columns=info["feature_names"])
    meta = build_matrix(spec, project, progress=_quiet(progress))
    _record(meta, "train", "production")
    seed = officer_cfg.random_seed
    model_id = model_id_for(group_id, meta["matrix_id"], seed)
    ensure_results_schema()
    with db.connect() as conn:
        row = conn.execute("SELECT artifact_path FROM results.models WHERE model_id = %s AND status = 'done'",
                           (model_id,)).fetchone()
    if row and row[0] and model_exists(row[0]):
        return {"model_id": model_id, "artifact_path": row[0], "train_matrix_id": meta["matrix_id"],
                "last_train_as_of": max(dates), "reused": True}
    X, y, _, index = load_matrix(meta["matrix_id"], project)
    estimator = make_estimator({"class_path": info["class_path"], "hyperparameters": info["hyperparameters"]}, seed)
    t0 = time.perf_counter()
    fit_model(estimator, X, y, index)
    seconds = time.perf_counter() - t0
    artifact = save_officer_model(estimator, project, model_id)
    with db.connect() as conn:
        conn.execute("DELETE FROM results.feature_importances WHERE model_id = %s", (model_id,))
        conn.execute(
            "INSERT INTO results.models (model_id, model_group_id, split_id, train_matrix_id, artifact_path, "
            "train_seconds, status, random_seed, message) VALUES (%s, %s, 'production', %s, %s, %s, 'done', %s, %s) "
            "ON CONFLICT (model_id) DO UPDATE SET artifact_path = EXCLUDED.artifact_path, status = 'done'",
            (model_id, group_id, meta["matrix_id"], str(artifact), seconds, seed,
             f"retrained for production scoring of {d}"))
        copy_rows(conn, "feature_importances", ("model_id", "feature", "importance", "method", "rank"),
                  _importance_rows(model_id, estimator, info["feature_names"]))
    return {"model_id": model_id, "artifact_path": str(artifact), "train_matrix_id": meta["matrix_id"],
            "last_train_as_of": max(dates), "reused": False}


def _importances(conn, model_id: str) -> dict[str, float]:
    return {f: (v or 0.0) for f, v in conn.execute(
        "SELECT feature, importance FROM results.feature_importances WHERE model_id = %s", (model_id,))}


# ----------------------------------------------------------------------------------------- data of D

def _cohort_matrix(d: date, features: list[str], officer_cfg: OfficerConfig, labels_cfg: LabelsConfig,
                   project: Path, progress: Progress):
    """(X, index) of the cohort on *d* with the model's feature columns (marts brought up to *d* first)."""
    from eis_core.modeling.matrices import build_matrix, ensure_features, load_matrix, make_spec

    ensure_features([d], officer_cfg, labels_cfg, progress=_quiet(progress))
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


# ----------------------------------------------------------------------------------------- bias audit

def flag_sets(rank_abs: np.ndarray, flag_count: int, top_percent: list[float]) -> dict[str, np.ndarray]:
    """The flag sets audited: the legacy EIS's flag count and the top x % (by rank, ties broken by rank)."""
    n = len(rank_abs)
    out = {f"flag_count={flag_count}": rank_abs <= flag_count}
    for p in top_percent:
        k = int(np.ceil(n * p / 100.0))
        out[f"top{p:g}%"] = rank_abs <= k
    return out


def flag_rate_audit(flagged: np.ndarray, groups: pd.Series, ratio_range: tuple[float, float],
                    min_size: int = 1) -> list[dict]:
    """Per group: size, flagged, flag rate and its ratio to the reference (largest) group (fairlearn);
    ``out_of_range`` when the ratio leaves *ratio_range* and the group has at least *min_size* officers."""
    from fairlearn.metrics import MetricFrame, count, selection_rate

    g = groups.fillna("unknown").astype(str).to_numpy()
    y = np.asarray(flagged, dtype=int)
    mf = MetricFrame(metrics={"size": count, "flag_rate": selection_rate}, y_true=y, y_pred=y, sensitive_features=g)
    by = mf.by_group
    ref = by["size"].astype(int).idxmax()
    ref_rate = float(by.loc[ref, "flag_rate"])
    rows = []
    lo, hi = ratio_range
    for grp, r in by.iterrows():
        rate = float(r["flag_rate"])
        ratio = rate / ref_rate if ref_rate > 0 else None
        rows.append({"group_value": str(grp), "reference_group": str(ref), "group_size": int(r["size"]),
                     "flagged": int(round(rate * int(r["size"]))), "flag_rate": rate, "flag_rate_ratio": ratio,
                     "out_of_range": bool(ratio is not None and not (lo <= ratio <= hi) and int(r["size"]) >= min_size)})
    return rows


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
    span = officer_cfg.temporal_config.label_timespan if officer_cfg.temporal_config else labels_cfg.label_windows[0]
    project = project_dir(officer_cfg)
    ensure_production_schema()
    with db.connect() as conn:
        group_id, experiment_id = resolve_model_group(conn, model_group_id)
        info = _group_info(conn, group_id)
        model = stored_model(conn, group_id, d, span) if mode == "stored" else None
    if mode == "retrain":
        model = _retrain(group_id, info, d, officer_cfg, labels_cfg, project, progress)
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
        importances = _importances(conn, model["model_id"])
        dictionary = _dictionary(conn)
        side = _side_data(conn, d)
    expl = explain(estimator, X, index, importances, priority=scores)
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
            for r in flag_rate_audit(flagged, groups, pc.audit_ratio_range, pc.audit_min_group_size):
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
        _copy_into(conn, "bias_audit", ("as_of_date", "model_id", "threshold", "attribute", "group_value",
                                        "reference_group", "group_size", "flagged", "flag_rate", "flag_rate_ratio",
                                        "out_of_range"), audit_rows)
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


def _copy_into(conn, table: str, columns: tuple[str, ...], rows: list[tuple]) -> int:
    q = sql.SQL("COPY {} ({}) FROM STDIN").format(sql.Identifier("production", table),
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


# ----------------------------------------------------------------------------------------- reading

def latest_scored_date(conn=None) -> date | None:
    with db.connection(conn) as c:
        if c.execute("SELECT to_regclass('production.scoring_runs')").fetchone()[0] is None:
            return None
        return c.execute("SELECT max(as_of_date) FROM production.scoring_runs").fetchone()[0]


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
            "WHERE p.as_of_date = %s ORDER BY p.rank_abs LIMIT %s", (d, top)).fetchall()
        ids = [r[0] for r in rows]
        factors: dict[str, list[dict]] = {}
        for off, pos, feat, value, contrib, direction, label in conn.execute(
                "SELECT officer_id, position, feature, value, contribution, direction, label FROM production.risk_factors "
                "WHERE as_of_date = %s AND officer_id = ANY(%s) ORDER BY officer_id, position", (d, ids)):
            factors.setdefault(off, []).append({"position": pos, "feature": feat, "value": value,
                                                "contribution": contrib, "direction": direction, "label": label})
    return [{"as_of_date": d, "officer_id": r[0], "score": r[1], "rank_abs": r[2], "rank_pct": r[3], "division": r[4],
             "unit": r[5], "rank_change_30d": r[6], "factors": factors.get(r[0], [])} for r in rows]


def risk_list_text(d: date | None = None, top: int = 10, factors: int = 3) -> str:
    rows = risk_list(d, top)
    if not rows:
        return "(nothing scored yet: run `eis score --date YYYY-MM-DD`)"
    lines = [f"Risk list for {rows[0]['as_of_date']} (top {len(rows)}; rank change against 30 days earlier):"]
    for r in rows:
        ch = r["rank_change_30d"]
        chs = "   new" if ch is None else f"{ch:+6d}"
        lines.append(f"  {r['rank_abs']:>3}. {r['officer_id']:<10} score {r['score']:.3f}  {chs}  "
                     f"{r['division'] or '?'} / {r['unit'] or '?'}")
        for f in r["factors"][:factors]:
            lines.append(f"         - {f['label']}")
    return "\n".join(lines)


def bias_summary_text(d: date | None = None) -> str:
    ensure_production_schema()
    with db.connect() as conn:
        d = d or latest_scored_date(conn)
        if d is None:
            return "(no bias audit yet)"
        rows = conn.execute(
            "SELECT threshold, attribute, group_value, reference_group, group_size, flagged, flag_rate, "
            "flag_rate_ratio, out_of_range FROM production.bias_audit WHERE as_of_date = %s "
            "ORDER BY threshold LIKE 'top%%', length(threshold), threshold, attribute, group_size DESC", (d,)).fetchall()
    if not rows:
        return "(no bias audit yet)"
    lines = [f"Bias audit for {d} (flag rate per group; ratio to the largest group; * = outside the configured "
             "range, groups of 10+ officers):"]
    cur = None
    for thr, attr, grp, ref, size, flagged, rate, ratio, out in rows:
        if (thr, attr) != cur:
            cur = (thr, attr)
            lines.append(f"  {thr}, by {attr} (reference {ref}):")
        rs = "   n/a" if ratio is None else f"{ratio:6.2f}"
        lines.append(f"    {grp:<12} {size:>5} officers {flagged:>4} flagged  rate {rate:6.1%}  ratio {rs}"
                     f"{' *' if out else ''}")
    n_out = sum(1 for r in rows if r[8])
    lines.append(f"  {n_out} group(s) outside the range" if n_out else "  every group within the range")
    return "\n".join(lines)
