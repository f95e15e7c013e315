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

The jobs of steps 1, 2-3 and 4 are in :mod:`~eis_core.dispatch.sampling`, :mod:`~eis_core.dispatch.evaluation`
and :mod:`~eis_core.dispatch.record`; this module drives them (their public names are re-exported here).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from eis_core import db
from eis_core.artifacts.models import save_model
from eis_core.artifacts.storage import artifact_root
from eis_core.config import DEFAULT_LABELS_CONFIG
from eis_core.dispatch.evaluation import best_threshold, f1_parts, random_f1, score_unsampled, signed_effects
from eis_core.dispatch.features import KIND_BLOCKS, SUBSETS, Spec, subset_blocks
from eis_core.dispatch.record import record_run
from eis_core.dispatch.sampling import DispatchError, dataset_counts, default_split_date, sample

#: names kept importable from here (the modules split out of this one: sampling, evaluation)
__all__ = [
    "ARTIFACT_KIND",
    "CLASS_PATH",
    "LABEL_NAME",
    "DispatchError",
    "best_threshold",
    "dataset_counts",
    "default_split_date",
    "ensure_tables",
    "f1_parts",
    "hyperparameters",
    "make_forest",
    "random_f1",
    "sample",
    "score_unsampled",
    "signed_effects",
    "train",
]

LABEL_NAME = "dispatch_adverse"
CLASS_PATH = "sklearn.ensemble.RandomForestClassifier"


ARTIFACT_KIND = "dispatch-model"  # the kind recorded in a dispatch model file's sidecar


def ensure_tables() -> None:
    """The warehouse schema at the migrations' head (schema ``dispatch`` is revision 0005)."""
    from eis_core.migrations import ensure_schema

    ensure_schema()


def make_forest(n_estimators: int, seed: int):
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(
        n_estimators=n_estimators, min_samples_leaf=2, max_features="sqrt", oob_score=True, n_jobs=2, random_state=seed
    )


def hyperparameters(n_estimators: int) -> dict:
    return {"n_estimators": n_estimators, "min_samples_leaf": 2, "max_features": "sqrt"}


def train(
    labels: Path | str = DEFAULT_LABELS_CONFIG,
    negative_ratio: float = 9.0,
    split_date: date | None = None,
    seed: int = 42,
    n_estimators: int = 300,
    subsets: list[str] | None = None,
    top_k_absolute=(10, 100, 1000),
    top_k_percent=(0.1, 1, 5),
    report: bool = True,
    progress: Callable[[str], object] | None = print,
) -> dict:
    """See the module doc.  Returns {experiment_id, run_id, split_date, rows: [subset comparison rows],
    report (path or None)}."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    from eis_core.config import load_labels_config
    from eis_core.modeling.evaluate import evaluate_scores
    from eis_core.modeling.results import (
        finish_run,
        stable_hash,
        start_run,
    )
    from eis_core.modeling.train import model_group_id, model_id_for

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
            raise DispatchError(
                f"dispatch.dispatch_dataset has only {counts['positives']} positive dispatch(es); "
                "at least 10 are needed"
            )
        split = split_date or default_split_date(conn)
        say(f"dataset: {counts['rows']:,} dispatches, {counts['positives']:,} positives; split at {split}")
        df = sample(conn, negative_ratio, seed)
    df["dispatch_date"] = pd.to_datetime(df["dispatch_date"]).dt.date
    train_df = df[df["dispatch_date"] < split].reset_index(drop=True)
    test_df = df[df["dispatch_date"] >= split].reset_index(drop=True)
    y_tr, y_te = train_df["label"].to_numpy(int), test_df["label"].to_numpy(int)
    if y_tr.sum() < 5 or y_te.sum() < 3:
        raise DispatchError(
            f"split {split}: {int(y_tr.sum())} training and {int(y_te.sum())} test positives; "
            "need at least 5 and 3 (choose another --split-date)"
        )
    say(
        f"sample (1:{negative_ratio:g}): train {len(train_df):,} rows ({int(y_tr.sum())} positives), "
        f"test {len(test_df):,} rows ({int(y_te.sum())} positives)"
    )
    spec = Spec.fit(train_df)
    X_tr, X_te = spec.matrix(train_df), spec.matrix(test_df)

    cfg = {
        "kind": "dispatch_level",
        "negative_ratio": negative_ratio,
        "split_date": split.isoformat(),
        "random_seed": seed,
        "n_estimators": n_estimators,
        "subsets": subsets,
        "dataset": {"rows": counts["rows"], "positives": counts["positives"]},
    }
    experiment_id, run_id = start_run(cfg, labels_cfg)
    split_id = f"dispatch_{split.isoformat()}"
    train_id = stable_hash("dispatch_sample", split, negative_ratio, seed, counts, len(train_df), int(y_tr.sum()))
    test_id = stable_hash("dispatch_sample_test", split, negative_ratio, seed, counts, len(test_df), int(y_te.sum()))
    art_dir = artifact_root() / "dispatch" / "models"  # EIS_ARTIFACT_ROOT, default $EIS_HOME
    prevalence = float(y_te.mean())
    rows: list[dict[str, Any]] = []
    effects: list[tuple] = []
    fitted: dict[tuple[str, str], tuple] = {}
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
                mc = {
                    "class_path": CLASS_PATH,
                    "hyperparameters": {**hyperparameters(n_estimators), "dispatch_model_kind": kind, "subset": subset},
                }
                group = model_group_id(mc, feats, LABEL_NAME)
                model_id = model_id_for(group, train_id, seed)
                artifact = art_dir / f"{model_id}.joblib"
                save_model(
                    {
                        "estimator": est,
                        "spec": spec.to_dict(),
                        "features": feats,
                        "threshold": thr,
                        "kind": kind,
                        "subset": subset,
                        "split_date": split.isoformat(),
                    },
                    artifact,
                    kind=ARTIFACT_KIND,
                    extra={"model_id": model_id},
                )
                imp = est.feature_importances_
                eff = signed_effects(est, X_te[feats]) if subset == "all" else np.full(len(feats), np.nan)
                rank = np.empty(len(feats), int)
                rank[np.argsort(-imp, kind="stable")] = np.arange(1, len(feats) + 1)
                fitted[(kind, subset)] = (est, spec, feats)
                rows.append(
                    {
                        "run_id": run_id,
                        "experiment_id": experiment_id,
                        "model_id": model_id,
                        "model_kind": kind,
                        "subset": subset,
                        "split_date": split,
                        "n_features": len(feats),
                        "n_train": len(train_df),
                        "n_train_pos": int(y_tr.sum()),
                        "n_test": len(test_df),
                        "n_test_pos": int(y_te.sum()),
                        "threshold": thr,
                        "f1": f,
                        "precision": p,
                        "recall": r,
                        "random_f1": random_f1(prevalence),
                        "roc_auc": auc,
                        "average_precision": ap,
                        "unsampled": None,
                        "artifact_path": str(artifact),
                        "_group": group,
                        "_mc": mc,
                        "_feats": feats,
                        "_secs": secs,
                    }
                )
                effects += [
                    (
                        run_id,
                        model_id,
                        kind,
                        subset,
                        ft,
                        spec.block_of[ft],
                        float(imp[i]),
                        None if np.isnan(eff[i]) else float(eff[i]),
                    )
                    for i, ft in enumerate(feats)
                ]
                say(
                    f"  {kind:<11} {subset:<16} {len(feats):>3} features  F1 {f:.3f} (random {random_f1(prevalence):.3f})"
                    f"  precision {p:.3f} recall {r:.3f}  AUC {auc if auc is None else round(auc, 3)}"
                )
                rows[-1]["_rank"], rows[-1]["_imp"] = rank, imp

        # the unsampled later period: what real use would see
        say(f"scoring every dispatch on or after {split} (unsampled) with the 'all' models ...")
        with db.connect() as conn:
            unsampled, y_all = score_unsampled(
                conn, {k: v for k, v in fitted.items() if k[1] == "all"}, split, progress=progress
            )
        eval_rows: dict[str, list] = {}
        for key, s in unsampled.items():
            ev = evaluate_scores(
                s, y_all, top_k_absolute=top_k_absolute, top_k_percent=top_k_percent, tie_orderings=3, seed=seed
            )
            row = next(r for r in rows if (r["model_kind"], r["subset"]) == key)
            eval_rows[row["model_id"]] = ev
            summ = {
                "n": int(y_all.size),
                "positives": int(y_all.sum()),
                "prevalence": float(y_all.mean()) if y_all.size else None,
            }
            for e in ev:
                if e["tie_method"] in ("worst", "none"):
                    summ[f"{e['metric']}{e['parameter']}" if e["parameter"] else e["metric"]] = e["value"]
            row["unsampled"] = summ
            say(
                f"  {key[0]:<11} unsampled: {summ['n']:,} dispatches, {summ['positives']} positives; "
                f"precision@100 {summ.get('precision@100_abs')}, ROC-AUC {summ.get('roc_auc')}"
            )

        with db.connect() as conn:
            record_run(
                conn,
                rows,
                effects,
                eval_rows,
                run_id=run_id,
                split_id=split_id,
                train_id=train_id,
                test_id=test_id,
                seed=seed,
                class_path=CLASS_PATH,
                label_name=LABEL_NAME,
            )
        status = "done"
    finally:
        finish_run(run_id, status, {"seconds": round(time.perf_counter() - t_start, 2)})
    out = {
        "experiment_id": experiment_id,
        "run_id": run_id,
        "split_date": split.isoformat(),
        "rows": [{k: v for k, v in r.items() if not k.startswith("_")} for r in rows],
        "report": None,
    }
    if report:
        from eis_core.dispatch.report import write_report

        out["report"] = str(write_report(run_id, progress=progress))
    return out
