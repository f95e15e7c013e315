"""Train and evaluate the dispatch-level models (the CMPD paper's exploratory dispatch analysis).

1. Sample like the paper: every positive dispatch (linked to an adverse IA case) and a deterministic
   hash sample of negatives so that positives are ``1 / (1 + negative_ratio)`` of the sample (10/90 by
   default).  Split in time at ``split_date`` (default: the first of the month by which about two
   thirds of the positives have happened): train before, test on and after.
2. For each model kind (``exploratory``: may use what is known on arrival; ``suggestion``: only what is
   known at dispatch) and feature subset (dispatch, stress, officer, neighborhood, all but dispatch,
   all) fit a random forest; its decision threshold maximises F1 on the out-of-bag predictions of the
   training sample.  F1 on the positive class of the sampled test set is compared with random guessing,
   whose best F1 is ``2p / (1 + p)`` for a positive share ``p`` (0.18 at 10 %).
3. Score the whole *unsampled* test period with the ``all`` models (in chunks; real use sees one
   adverse dispatch in thousands, so sampled-set figures do not hold there): precision and recall at
   top-k dispatches, ROC-AUC, average precision.
4. Record: ``results`` (own experiment, run, model groups, models, evaluations, feature importances)
   and ``dispatch.subset_comparison`` / ``dispatch.feature_effects``; artifacts under
   ``<artifact root>/dispatch/models`` (:mod:`eis_core.artifacts`: written atomically, verified on load).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from psycopg import sql
from psycopg.types.json import Jsonb

from eis_core import db
from eis_core.artifacts.models import save_model
from eis_core.artifacts.storage import artifact_root
from eis_core.config import DEFAULT_LABELS_CONFIG
from eis_core.dispatch.features import KIND_BLOCKS, SUBSETS, Spec, dataset_columns, subset_blocks

LABEL_NAME = "dispatch_adverse"
CLASS_PATH = "sklearn.ensemble.RandomForestClassifier"


ARTIFACT_KIND = "dispatch-model"  # the kind recorded in a dispatch model file's sidecar


class DispatchError(RuntimeError):
    """The dispatch dataset is missing or too small for the requested training."""


def ensure_tables() -> None:
    """The warehouse schema at the migrations' head (schema ``dispatch`` is revision 0005)."""
    from eis_core.migrations import ensure_schema

    ensure_schema()


def _select_columns() -> sql.Composable:
    return sql.SQL(", ").join(sql.Identifier(c) for c in dataset_columns())


def dataset_counts(conn) -> dict:
    if not conn.execute("SELECT to_regclass('dispatch.dispatch_dataset')").fetchone()[0]:
        raise DispatchError("table dispatch.dispatch_dataset does not exist: run `eis dispatch build` first")
    n, pos, lo, hi = conn.execute("SELECT count(*), coalesce(sum(label), 0), min(dispatch_date), max(dispatch_date) "
                                  "FROM dispatch.dispatch_dataset").fetchone()
    return {"rows": int(n), "positives": int(pos), "first_date": lo, "last_date": hi}


def default_split_date(conn, share: float = 2 / 3) -> date:
    """The first of the month after which about (1 - share) of the positives happen."""
    d = conn.execute("SELECT percentile_disc(%s) WITHIN GROUP (ORDER BY dispatch_date) FROM dispatch.dispatch_dataset "
                     "WHERE label = 1", (share,)).fetchone()[0]
    if d is None:
        raise DispatchError("dispatch.dispatch_dataset has no positive dispatch (no adverse IA case names a call)")
    return date(d.year + (d.month == 12), d.month % 12 + 1, 1)


def sample(conn, negative_ratio: float, seed: int) -> pd.DataFrame:
    """All positives plus a deterministic hash sample of negatives (about negative_ratio per positive)."""
    counts = dataset_counts(conn)
    n_neg = counts["rows"] - counts["positives"]
    p = min(1.0, negative_ratio * counts["positives"] / max(n_neg, 1))
    cutoff = int(p * 2147483647)
    q = sql.SQL("SELECT {} FROM dispatch.dispatch_dataset WHERE label = 1 OR "
                "(hashtext(call_id || '|' || officer_id || '|' || %s) & 2147483647) < %s").format(_select_columns())
    cur = conn.execute(q, (str(seed), cutoff))
    return pd.DataFrame(cur.fetchall(), columns=[c.name for c in cur.description])


def best_threshold(scores: np.ndarray, labels: np.ndarray) -> float:
    """The score threshold (predict positive when score >= t) maximising F1 on (scores, labels)."""
    order = np.argsort(-scores, kind="stable")
    s, y = scores[order], labels[order]
    tp = np.cumsum(y)
    k = np.arange(1, len(y) + 1)
    f1 = 2 * tp / (k + y.sum())
    last = np.r_[s[1:] != s[:-1], True]  # cut only between distinct scores
    f1 = np.where(last, f1, -1)
    i = int(np.argmax(f1))
    return float(s[i])


def f1_parts(pred: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    tp = float((pred & (y == 1)).sum())
    p = tp / pred.sum() if pred.sum() else 0.0
    r = tp / (y == 1).sum() if (y == 1).sum() else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return f, p, r


def random_f1(prevalence: float) -> float:
    """The best expected F1 of random guessing (flag everything): 2p / (1 + p)."""
    return 2 * prevalence / (1 + prevalence) if prevalence > 0 else 0.0


def signed_effects(est, X: pd.DataFrame) -> np.ndarray:
    """Per feature: mean change of the score when the feature moves from its 10th to its 90th percentile
    (every other feature as observed) - a perturbation estimate of direction and size (paper fig. 8).
    All perturbed copies are scored in one call."""
    base = X.to_numpy(dtype="float32")
    n, m = base.shape
    lo, hi = np.percentile(base, 10, axis=0), np.percentile(base, 90, axis=0)
    same = lo == hi
    lo[same], hi[same] = base.min(axis=0)[same], base.max(axis=0)[same]
    cols = [j for j in range(m) if lo[j] != hi[j]]
    out = np.zeros(m)
    if not cols or n == 0:
        return out
    stacked = np.tile(base, (2 * len(cols), 1))
    for c, j in enumerate(cols):
        stacked[(2 * c) * n:(2 * c + 1) * n, j] = lo[j]
        stacked[(2 * c + 1) * n:(2 * c + 2) * n, j] = hi[j]
    p = est.predict_proba(stacked)[:, 1].reshape(2 * len(cols), n)
    for c, j in enumerate(cols):
        out[j] = float(np.mean(p[2 * c + 1] - p[2 * c]))
    return out


def make_forest(n_estimators: int, seed: int):
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(n_estimators=n_estimators, min_samples_leaf=2, max_features="sqrt",
                                  oob_score=True, n_jobs=2, random_state=seed)


def hyperparameters(n_estimators: int) -> dict:
    return {"n_estimators": n_estimators, "min_samples_leaf": 2, "max_features": "sqrt"}


def _month_starts(first: date, last: date) -> list[date]:
    out, d = [], date(first.year, first.month, 1)
    while d <= last:
        out.append(d)
        d = date(d.year + (d.month == 12), d.month % 12 + 1, 1)
    return out


def score_unsampled(conn, models: dict[str, tuple], split_date: date,
                    progress: Callable[[str], object] | None = None) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Scores of every dispatch on/after split_date for each (estimator, spec, features) in *models*, read
    one calendar month at a time with COPY (CSV) so memory stays flat on the 14M-row department."""
    import io

    scores: dict[str, list] = {k: [] for k in models}
    labels: list = []
    last = conn.execute("SELECT max(dispatch_date) FROM dispatch.dispatch_dataset").fetchone()[0]
    done = 0
    if last is None or last < split_date:
        return {k: np.zeros(0) for k in models}, np.zeros(0, int)
    months = _month_starts(split_date, last)
    for i, m in enumerate(months):
        lo = max(m, split_date)
        hi = months[i + 1] if i + 1 < len(months) else date(last.year + 1, 1, 1)
        q = sql.SQL("COPY (SELECT {} FROM dispatch.dispatch_dataset WHERE dispatch_date >= {} AND dispatch_date < {}) "
                    "TO STDOUT WITH (FORMAT csv, HEADER true)").format(_select_columns(), sql.Literal(lo), sql.Literal(hi))
        buf = io.BytesIO()
        with conn.cursor().copy(q) as cp:
            for chunk in cp:
                buf.write(chunk)
        buf.seek(0)
        df = pd.read_csv(buf, dtype={"call_type": str, "division": str, "beat": str, "call_id": str,
                                     "officer_id": str}, keep_default_na=True, na_values=[""])
        if df.empty:
            continue
        labels.append(df["label"].to_numpy(dtype=int))
        for key, (est, spec, feats) in models.items():
            scores[key].append(est.predict_proba(spec.matrix(df)[feats].to_numpy())[:, 1])
        done += len(df)
        if progress and (i % 6 == 5 or i == len(months) - 1):
            progress(f"  scored {done:,} dispatches of the unsampled test period (through {hi})")
    y = np.concatenate(labels) if labels else np.zeros(0, int)
    return {k: (np.concatenate(v) if v else np.zeros(0)) for k, v in scores.items()}, y


def train(labels: Path | str = DEFAULT_LABELS_CONFIG, negative_ratio: float = 9.0, split_date: date | None = None,
          seed: int = 42, n_estimators: int = 300, subsets: list[str] | None = None,
          top_k_absolute=(10, 100, 1000), top_k_percent=(0.1, 1, 5), report: bool = True,
          progress: Callable[[str], object] | None = print) -> dict:
    """See the module doc.  Returns {experiment_id, run_id, split_date, rows: [subset comparison rows],
    report (path or None)}."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    from eis_core.config import load_labels_config
    from eis_core.modeling.evaluate import evaluate_scores
    from eis_core.modeling.results import (
        copy_rows,
        delete_model_rows,
        finish_run,
        link_run_model,
        stable_hash,
        start_run,
    )
    from eis_core.modeling.train import feature_list_hash, model_group_id, model_id_for

    say = progress or (lambda _m: None)
    if negative_ratio <= 0:
        raise ValueError(f"negative_ratio must be > 0, got {negative_ratio!r}")
    subsets = list(subsets or SUBSETS)
    bad = [s for s in subsets if s not in SUBSETS]
    if bad:
        raise ValueError(f"unknown feature subset(s) {bad}; known: {sorted(SUBSETS)}")
    if "all" not in subsets:
        subsets.append("all")  # the suggestion model and the unsampled evaluation need it
    labels_cfg = load_labels_config(labels)
    ensure_tables()
    t_start = time.perf_counter()
    with db.connect() as conn:
        counts = dataset_counts(conn)
        if counts["positives"] < 10:
            raise DispatchError(f"dispatch.dispatch_dataset has only {counts['positives']} positive dispatch(es); "
                                "at least 10 are needed")
        split = split_date or default_split_date(conn)
        say(f"dataset: {counts['rows']:,} dispatches, {counts['positives']:,} positives; split at {split}")
        df = sample(conn, negative_ratio, seed)
    df["dispatch_date"] = pd.to_datetime(df["dispatch_date"]).dt.date
    train_df = df[df["dispatch_date"] < split].reset_index(drop=True)
    test_df = df[df["dispatch_date"] >= split].reset_index(drop=True)
    y_tr, y_te = train_df["label"].to_numpy(int), test_df["label"].to_numpy(int)
    if y_tr.sum() < 5 or y_te.sum() < 3:
        raise DispatchError(f"split {split}: {int(y_tr.sum())} training and {int(y_te.sum())} test positives; "
                            "need at least 5 and 3 (choose another --split-date)")
    say(f"sample (1:{negative_ratio:g}): train {len(train_df):,} rows ({int(y_tr.sum())} positives), "
        f"test {len(test_df):,} rows ({int(y_te.sum())} positives)")
    spec = Spec.fit(train_df)
    X_tr, X_te = spec.matrix(train_df), spec.matrix(test_df)

    cfg = {"kind": "dispatch_level", "negative_ratio": negative_ratio, "split_date": split.isoformat(),
           "random_seed": seed, "n_estimators": n_estimators, "subsets": subsets,
           "dataset": {"rows": counts["rows"], "positives": counts["positives"]}}
    experiment_id, run_id = start_run(cfg, labels_cfg)
    split_id = f"dispatch_{split.isoformat()}"
    train_id = stable_hash("dispatch_sample", split, negative_ratio, seed, counts, len(train_df), int(y_tr.sum()))
    test_id = stable_hash("dispatch_sample_test", split, negative_ratio, seed, counts, len(test_df), int(y_te.sum()))
    art_dir = artifact_root() / "dispatch" / "models"  # EIS_ARTIFACT_ROOT, default $EIS_HOME
    prevalence = float(y_te.mean())
    rows, effects, fitted = [], [], {}
    status = "failed"
    try:
        for kind in KIND_BLOCKS:
            for subset in subsets:
                blocks = subset_blocks(kind, subset)
                if not blocks or (kind == "suggestion" and subset != "all"):
                    continue  # the suggestion model is compared only as 'all' (no arrival features)
                feats = spec.features(blocks)
                t0 = time.perf_counter()
                est = make_forest(n_estimators, seed).fit(X_tr[feats].to_numpy(), y_tr)
                secs = time.perf_counter() - t0
                oob = np.nan_to_num(est.oob_decision_function_[:, 1], nan=0.0)
                thr = best_threshold(oob, y_tr)
                s_te = est.predict_proba(X_te[feats].to_numpy())[:, 1]
                f, p, r = f1_parts(s_te >= thr, y_te)
                auc = float(roc_auc_score(y_te, s_te)) if 0 < y_te.sum() < len(y_te) else None
                ap = float(average_precision_score(y_te, s_te)) if y_te.sum() else None
                mc = {"class_path": CLASS_PATH, "hyperparameters": {**hyperparameters(n_estimators),
                                                                   "dispatch_model_kind": kind, "subset": subset}}
                group = model_group_id(mc, feats, LABEL_NAME)
                model_id = model_id_for(group, train_id, seed)
                artifact = art_dir / f"{model_id}.joblib"
                save_model({"estimator": est, "spec": spec.to_dict(), "features": feats, "threshold": thr,
                            "kind": kind, "subset": subset, "split_date": split.isoformat()}, artifact,
                           kind=ARTIFACT_KIND, extra={"model_id": model_id})
                imp = est.feature_importances_
                eff = signed_effects(est, X_te[feats]) if subset == "all" else np.full(len(feats), np.nan)
                rank = np.empty(len(feats), int)
                rank[np.argsort(-imp, kind="stable")] = np.arange(1, len(feats) + 1)
                fitted[(kind, subset)] = (est, spec, feats)
                rows.append({"run_id": run_id, "experiment_id": experiment_id, "model_id": model_id,
                             "model_kind": kind, "subset": subset, "split_date": split, "n_features": len(feats),
                             "n_train": len(train_df), "n_train_pos": int(y_tr.sum()), "n_test": len(test_df),
                             "n_test_pos": int(y_te.sum()), "threshold": thr, "f1": f, "precision": p, "recall": r,
                             "random_f1": random_f1(prevalence), "roc_auc": auc, "average_precision": ap,
                             "unsampled": None, "artifact_path": str(artifact),
                             "_group": group, "_mc": mc, "_feats": feats, "_secs": secs})
                effects += [(run_id, model_id, kind, subset, ft, spec.block_of[ft], float(imp[i]),
                             None if np.isnan(eff[i]) else float(eff[i])) for i, ft in enumerate(feats)]
                say(f"  {kind:<11} {subset:<16} {len(feats):>3} features  F1 {f:.3f} (random {random_f1(prevalence):.3f})"
                    f"  precision {p:.3f} recall {r:.3f}  AUC {auc if auc is None else round(auc, 3)}")
                rows[-1]["_rank"], rows[-1]["_imp"] = rank, imp

        # the unsampled later period: what real use would see
        say(f"scoring every dispatch on or after {split} (unsampled) with the 'all' models ...")
        with db.connect() as conn:
            unsampled, y_all = score_unsampled(conn, {k: v for k, v in fitted.items() if k[1] == "all"}, split,
                                               progress=progress)
        eval_rows: dict[str, list] = {}
        for key, s in unsampled.items():
            ev = evaluate_scores(s, y_all, top_k_absolute=top_k_absolute, top_k_percent=top_k_percent,
                                 tie_orderings=3, seed=seed)
            row = next(r for r in rows if (r["model_kind"], r["subset"]) == key)
            eval_rows[row["model_id"]] = ev
            summ = {"n": int(y_all.size), "positives": int(y_all.sum()),
                    "prevalence": float(y_all.mean()) if y_all.size else None}
            for e in ev:
                if e["tie_method"] in ("worst", "none"):
                    summ[f"{e['metric']}{e['parameter']}" if e["parameter"] else e["metric"]] = e["value"]
            row["unsampled"] = summ
            say(f"  {key[0]:<11} unsampled: {summ['n']:,} dispatches, {summ['positives']} positives; "
                f"precision@100 {summ.get('precision@100_abs')}, ROC-AUC {summ.get('roc_auc')}")

        with db.connect() as conn:
            for r in rows:
                conn.execute(
                    "INSERT INTO results.model_groups (model_group_id, class_path, hyperparameters, feature_list_hash, "
                    "label_name, is_baseline, feature_names) VALUES (%s, %s, %s, %s, %s, false, %s) "
                    "ON CONFLICT (model_group_id) DO NOTHING",
                    (r["_group"], CLASS_PATH, Jsonb(r["_mc"]["hyperparameters"]), feature_list_hash(r["_feats"]),
                     LABEL_NAME, Jsonb(r["_feats"])))
                delete_model_rows(conn, [r["model_id"]], ("evaluations", "feature_importances", "run_models", "models"))
                conn.execute(
                    "INSERT INTO results.models (model_id, model_group_id, run_id, split_id, train_matrix_id, "
                    "test_matrix_id, artifact_path, train_seconds, status, random_seed, message) "
                    "VALUES (%s,%s,%s,%s,%s,%s,%s,%s,'done',%s,%s)",
                    (r["model_id"], r["_group"], run_id, split_id, train_id, test_id, r["artifact_path"], r["_secs"],
                     seed, f"dispatch-level {r['model_kind']} model, subset {r['subset']}"))
                link_run_model(conn, run_id, r["model_id"])
                ev = [(r["model_id"], split_id, m, "sampled_threshold", "none", v, None, r["n_test"])
                      for m, v in (("f1", r["f1"]), ("precision", r["precision"]), ("recall", r["recall"]),
                                   ("random_f1", r["random_f1"]))]
                ev += [(r["model_id"], split_id, m, "sampled", "none", v, None, r["n_test"])
                       for m, v in (("roc_auc", r["roc_auc"]), ("average_precision", r["average_precision"]))]
                ev += [(r["model_id"], split_id, e["metric"], e["parameter"], e["tie_method"], e["value"],
                        e["value_sd"], e["n_examples"]) for e in eval_rows.get(r["model_id"], [])]
                copy_rows(conn, "evaluations", ("model_id", "split_id", "metric", "parameter", "tie_method", "value",
                                                "value_sd", "n_examples"), ev)
                copy_rows(conn, "feature_importances", ("model_id", "feature", "importance", "method", "rank"),
                          [(r["model_id"], ft, float(r["_imp"][i]), "impurity", int(r["_rank"][i]))
                           for i, ft in enumerate(r["_feats"])])
            conn.execute("DELETE FROM dispatch.subset_comparison WHERE run_id = %s", (run_id,))
            conn.execute("DELETE FROM dispatch.feature_effects WHERE run_id = %s", (run_id,))
            cols = ["run_id", "experiment_id", "model_id", "model_kind", "subset", "split_date", "n_features", "n_train",
                    "n_train_pos", "n_test", "n_test_pos", "threshold", "f1", "precision", "recall", "random_f1",
                    "roc_auc", "average_precision", "unsampled", "artifact_path"]
            for r in rows:
                conn.execute(sql.SQL("INSERT INTO dispatch.subset_comparison ({}) VALUES ({})").format(
                    sql.SQL(", ").join(sql.Identifier(c) for c in cols), sql.SQL(", ").join(sql.Placeholder() * len(cols))),
                    [Jsonb(r[c]) if c == "unsampled" else r[c] for c in cols])
            with conn.cursor().copy("COPY dispatch.feature_effects (run_id, model_id, model_kind, subset, feature, block, "
                                    "importance, signed_effect) FROM STDIN") as cp:
                for e in effects:
                    cp.write_row(e)
        status = "done"
    finally:
        finish_run(run_id, status, {"seconds": round(time.perf_counter() - t_start, 2)})
    out = {"experiment_id": experiment_id, "run_id": run_id, "split_date": split.isoformat(),
           "rows": [{k: v for k, v in r.items() if not k.startswith("_")} for r in rows], "report": None}
    if report:
        from eis_core.dispatch.report import write_report

        out["report"] = str(write_report(run_id, progress=progress))
    return out
