"""Should a small department pool?  Pooled vs department-only vs the legacy EIS, on the department's splits.

:func:`evaluate` trains, for a target department T and each of T's temporal splits, every recipe of the
grid twice: pooled (:mod:`eis_core.modeling.pooled`: the contributing departments' rows known before
T's test as-of date) and department-only (the same estimator and normalisation, T's rows only).  Both
are scored on T's own test matrix and compared with the legacy EIS at the legacy EIS's flag count
(Table 3, :func:`eis_core.modeling.evaluate.table3_counts`).  The rows go to T's ``results.pooled_models``
and ``results.pooled_table3`` (migration 0010): which departments trained each model, how many rows
each gave, never another department's officer id.  :func:`recommend` turns the chosen recipe's
numbers into "pool" / "do not pool" with the reason; :func:`report_text` is what ``eis pool evaluate``
prints.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import numpy as np

from eis_core import departments
from eis_core.modeling.pooled import (
    DEFAULT_RECIPE,
    POOLED_GRID,
    Pool,
    Recipe,
    common_columns,
    contributors,
    department_configs,
    design,
    fit,
    known_before,
    read_rows,
)


def _legacy(X):
    from eis_core.modeling.baselines import LegacyEISBaseline

    base = LegacyEISBaseline().fit(X, np.zeros(len(X), dtype=int))
    return base.predict_proba(X)[:, 1] > 0.5, base.source_


def evaluate(target: str, recipes: list[Recipe] | None = None, store: bool = True, progress=print) -> dict:
    """Pooled and department-only models of every recipe on every split of *target*; see the module doc.

    Returns ``{evaluation_id, target, trained_on, dropped_columns, rows: [...]}``, one row per (split,
    recipe, kind) with the Table 3 counts, the departments that trained it and their row counts."""
    from eis_core.modeling.estimators import predict_scores
    from eis_core.modeling.evaluate import rank_scores, table3_counts
    from eis_core.modeling.splits import make_splits

    target = departments.check_name(target)
    recipes = list(recipes or POOLED_GRID)
    officer_cfg, _ = department_configs(target)
    tc = officer_cfg.temporal_config
    if tc is None:
        from eis_core.config import ConfigError

        raise ConfigError(f"department {target}: its officer config has no temporal_config")
    splits = make_splits(tc)
    seed = officer_cfg.random_seed
    members = contributors(target)
    say = progress or (lambda *_: None)
    train_dates = sorted({d for s in splits for d in s.train_as_of_dates})
    test_dates = sorted({d for s in splits for d in s.test_as_of_dates})
    data = {}
    for name in members:
        say(f"pool: reading {name}'s rows on {len(train_dates)} training as-of date(s)")
        data[name] = read_rows(name, train_dates, tc.label_window, progress=None)
    test = read_rows(target, test_dates, tc.label_window, keep_ids=True, progress=None)
    evaluation_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]
    rows, dropped_all = [], set()
    for split in splits:
        cutoff = split.train_label_end
        assert cutoff <= min(split.test_as_of_dates), f"{split.split_id}: training labels overlap the test date"
        parts = [known_before(data[n], split.train_as_of_dates, tc.label_window, cutoff) for n in members]
        tmask = np.isin(test.as_of, np.array(split.test_as_of_dates, dtype=object))
        t_rows = test.subset(tmask)
        columns, dropped = common_columns(parts + [t_rows])
        dropped_all.update(dropped)
        pool = Pool(target, split.split_id, cutoff, parts, columns, dropped)
        legacy, source = _legacy(t_rows.X)
        done_local: dict[tuple, dict] = {}
        for recipe in recipes:
            for kind in ("pooled", "department_only"):
                key = (
                    recipe.class_path,
                    json.dumps(recipe.hyperparameters, sort_keys=True),
                    recipe.normalise,
                    recipe.features,
                )
                if kind == "department_only" and key in done_local:
                    rows.append({**done_local[key], "recipe": recipe.name, "recipe_config": recipe.to_dict()})
                    continue
                only = target if kind == "department_only" else None
                X, y = pool.matrix(recipe, only=only)
                names = [target] if only else pool.departments
                if y.sum() == 0:  # nothing to learn from: every officer ties
                    scores = np.zeros(len(t_rows.y))
                else:
                    est = fit(recipe, X, y, seed)
                    scores = predict_scores(est, design(t_rows, columns, recipe, names)[list(X.columns)])
                rank = rank_scores(scores, seed)[0]
                t3 = table3_counts(rank, t_rows.y, legacy)
                row = {
                    "split_id": split.split_id,
                    "recipe": recipe.name,
                    "recipe_config": recipe.to_dict(),
                    "kind": kind,
                    "trained_on": names,
                    "train_rows": {n: c for n, c in pool.train_rows().items() if n in names},
                    "train_label_end": cutoff,
                    "test_as_of_dates": list(split.test_as_of_dates),
                    "features": list(X.columns),
                    "legacy_source": source,
                    **t3,
                }
                if kind == "department_only":
                    done_local[key] = row
                rows.append(row)
        say(f"pool: {split.split_id}: {len(recipes)} recipe(s), {len(t_rows.y)} test rows of {target}")
    out = {
        "evaluation_id": evaluation_id,
        "target": target,
        "trained_on": [n for n in members if len(data[n].y)],
        "dropped_columns": sorted(dropped_all),
        "rows": rows,
    }
    if store:
        store_evaluation(out)
    return out


def store_evaluation(ev: dict) -> None:
    """Write *ev*'s rows into the target department's results schema (its own database)."""
    from eis_core import db
    from eis_core.migrations import ensure_schema
    from eis_core.modeling.results import stable_hash

    with departments.use(ev["target"]):
        ensure_schema()
        with db.connect() as conn:
            for r in ev["rows"]:
                pid = stable_hash(ev["evaluation_id"], r["split_id"], r["recipe"], r["kind"], length=24)
                conn.execute(
                    "INSERT INTO results.pooled_models (pooled_model_id, evaluation_id, target_department, split_id, "
                    "recipe, recipe_config, kind, trained_on, train_rows, train_label_end, test_as_of_dates, features) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    (
                        pid,
                        ev["evaluation_id"],
                        ev["target"],
                        r["split_id"],
                        r["recipe"],
                        json.dumps(r["recipe_config"]),
                        r["kind"],
                        r["trained_on"],
                        json.dumps(r["train_rows"]),
                        r["train_label_end"],
                        r["test_as_of_dates"],
                        r["features"],
                    ),
                )
                conn.execute(
                    "INSERT INTO results.pooled_table3 (pooled_model_id, flag_count, tp, fp, tn, fn, legacy_tp, "
                    "legacy_fp, legacy_tn, legacy_fn, flags_to_match, legacy_source) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    (
                        pid,
                        r["flag_count"],
                        r["tp"],
                        r["fp"],
                        r["tn"],
                        r["fn"],
                        r["legacy_tp"],
                        r["legacy_fp"],
                        r["legacy_tn"],
                        r["legacy_fn"],
                        r["flags_to_match"],
                        r["legacy_source"],
                    ),
                )


def comparison(ev: dict, recipe: Recipe | str = DEFAULT_RECIPE) -> list[dict]:
    """Per split: flag count and the TP of the department-only model, the pooled model and the legacy EIS
    for *recipe* (a :class:`Recipe` or its name)."""
    name = recipe if isinstance(recipe, str) else recipe.name
    by: dict = {}
    for r in ev["rows"]:
        if r["recipe"] == name:
            by.setdefault(r["split_id"], {})[r["kind"]] = r
    out = []
    for split_id in sorted(by):
        p, d = by[split_id].get("pooled"), by[split_id].get("department_only")
        if p is None or d is None:
            continue
        out.append(
            {
                "split_id": split_id,
                "flag_count": p["flag_count"],
                "department_only_tp": d["tp"],
                "pooled_tp": p["tp"],
                "legacy_tp": p["legacy_tp"],
                "n_positive": p["tp"] + p["fn"],
                "trained_on": p["trained_on"],
            }
        )
    return out


def recommend(cmp: list[dict]) -> tuple[str, str]:
    """("pool" | "do not pool", the reason) from :func:`comparison`'s rows."""
    if not cmp:
        return "do not pool", "no split could be evaluated"
    tot = {k: sum(r[k] for r in cmp) for k in ("pooled_tp", "department_only_tp", "legacy_tp")}
    lost = [r["split_id"] for r in cmp if r["pooled_tp"] < r["department_only_tp"]]
    below_legacy = [r["split_id"] for r in cmp if r["pooled_tp"] < r["legacy_tp"]]
    if lost:
        return "do not pool", (
            f"the department-only model finds more adverse officers on split(s) {', '.join(lost)} "
            f"(total {tot['department_only_tp']} vs pooled {tot['pooled_tp']})"
        )
    if tot["pooled_tp"] <= tot["department_only_tp"]:
        return "do not pool", (
            f"pooling finds no more adverse officers in total ({tot['pooled_tp']} vs "
            f"{tot['department_only_tp']} department-only): the department's own model is simpler"
        )
    why = (
        f"on every split the pooled model finds at least as many adverse officers as the department-only model, "
        f"{tot['pooled_tp'] - tot['department_only_tp']} more in total ({tot['pooled_tp']} vs "
        f"{tot['department_only_tp']}; legacy EIS {tot['legacy_tp']}) at the legacy EIS's flag count"
    )
    if below_legacy:
        why += f"; but the legacy EIS finds more on split(s) {', '.join(below_legacy)}"
    return "pool", why


def report_text(ev: dict, recipe: Recipe | str = DEFAULT_RECIPE, grid: bool = True) -> str:
    """The report ``eis pool evaluate`` prints: per split TP of department-only, pooled and legacy at the
    legacy flag count, totals, the recommendation; with *grid*, every recipe's totals."""
    name = recipe if isinstance(recipe, str) else recipe.name
    cmp = comparison(ev, name)
    lines = [
        f"Pooled vs department-only vs legacy EIS for department {ev['target']} — recipe {name}",
        f"pooled models trained on: {', '.join(ev['trained_on'])}",
    ]
    if ev["dropped_columns"]:
        lines.append(
            f"columns not shared by every department (left out): {len(ev['dropped_columns'])}: "
            + ", ".join(ev["dropped_columns"][:8])
            + (" …" if len(ev["dropped_columns"]) > 8 else "")
        )
    lines.append(
        f"{'split':<18} {'flagged':>7} {'adverse':>7} | {'dept-only TP':>12} {'pooled TP':>9} {'legacy TP':>9}"
    )
    for r in cmp:
        lines.append(
            f"{r['split_id']:<18} {r['flag_count']:>7} {r['n_positive']:>7} | {r['department_only_tp']:>12} "
            f"{r['pooled_tp']:>9} {r['legacy_tp']:>9}"
        )
    if cmp:
        tot = {
            k: sum(r[k] for r in cmp)
            for k in ("flag_count", "n_positive", "department_only_tp", "pooled_tp", "legacy_tp")
        }
        lines.append(
            f"{'total':<18} {tot['flag_count']:>7} {tot['n_positive']:>7} | {tot['department_only_tp']:>12} "
            f"{tot['pooled_tp']:>9} {tot['legacy_tp']:>9}"
        )
    verdict, why = recommend(cmp)
    lines.append(f"recommendation: {verdict.upper()} — {why}")
    if grid:
        recipes = list(dict.fromkeys(r["recipe"] for r in ev["rows"]))
        if len(recipes) > 1:
            lines.append("every recipe (TP over all splits: pooled / department-only; splits pooled >= both):")
            w = max(len(rn) for rn in recipes)
            for rn in recipes:
                c = comparison(ev, rn)
                ok = sum(r["pooled_tp"] >= max(r["department_only_tp"], r["legacy_tp"]) for r in c)
                lines.append(
                    f"  {rn:<{w}} {sum(r['pooled_tp'] for r in c):>4} / "
                    f"{sum(r['department_only_tp'] for r in c):<4} {ok}/{len(c)}"
                )
    return "\n".join(lines)


def load_evaluation(target: str, evaluation_id: str | None = None) -> dict | None:
    """A stored evaluation of *target* (default: the newest) in the shape :func:`evaluate` returns."""
    from eis_core import db
    from eis_core.migrations import ensure_schema

    with departments.use(target):
        ensure_schema()
        with db.connect() as conn:
            if evaluation_id is None:
                row = conn.execute(
                    "SELECT evaluation_id FROM results.pooled_models ORDER BY created_at DESC, evaluation_id DESC LIMIT 1"
                ).fetchone()
                if row is None:
                    return None
                evaluation_id = row[0]
            cur = conn.execute(
                "SELECT m.split_id, m.recipe, m.recipe_config, m.kind, m.trained_on, m.train_rows, m.train_label_end, "
                "m.test_as_of_dates, m.features, t.flag_count, t.tp, t.fp, t.tn, t.fn, t.legacy_tp, t.legacy_fp, "
                "t.legacy_tn, t.legacy_fn, t.flags_to_match, t.legacy_source FROM results.pooled_models m "
                "JOIN results.pooled_table3 t USING (pooled_model_id) WHERE m.evaluation_id = %s ORDER BY m.split_id",
                (evaluation_id,),
            )
            names = [c.name for c in cur.description or []]
            rows = [dict(zip(names, r)) for r in cur.fetchall()]
    if not rows:
        return None
    trained = list(dict.fromkeys(n for r in rows if r["kind"] == "pooled" for n in r["trained_on"]))
    return {
        "evaluation_id": evaluation_id,
        "target": target,
        "trained_on": trained,
        "dropped_columns": [],
        "rows": rows,
    }
