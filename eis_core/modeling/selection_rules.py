"""Model selection, the rules and the data they read: the leaderboard of an experiment's model groups
over its temporal splits, the winner of each rule, Table 3 rows.  The rules are described in
:mod:`eis_core.modeling.selection`."""

from __future__ import annotations

import click
import numpy as np
import pandas as pd

from eis_core.modeling.evaluate import default_tie_method, metric_label, parse_metric

RULES = ("best_average", "best_recent", "lowest_variance", "min_regret", "recency_weighted")
VARIANCE_TOLERANCE = 0.05
RECENCY_HALF_LIFE = 2.0  # splits


# ----------------------------------------------------------------------------------------- pure part


def leaderboard_frame(
    values: pd.DataFrame, split_order: list | None = None, greater_is_better: bool = True
) -> tuple[pd.DataFrame, list]:
    """values: columns model_group_id, split_id, value (one row per group and split; duplicates are
    averaged).  Returns (leaderboard sorted best mean first, splits in time order).  The leaderboard has
    mean, sd, recent, max_regret, n_splits and one column per split."""
    if values.empty:
        return pd.DataFrame(columns=["model_group_id", "mean", "sd", "recent", "max_regret", "n_splits"]), []
    wide = values.pivot_table(index="model_group_id", columns="split_id", values="value", aggfunc="mean")
    splits = [s for s in (split_order or sorted(wide.columns)) if s in wide.columns]
    wide = wide[splits]
    complete = wide.dropna()
    if not complete.empty:
        wide = complete
    sign = 1.0 if greater_is_better else -1.0
    g = wide * sign  # "higher is better" from here on
    best_per_split = g.max(axis=0)
    board = pd.DataFrame(
        {
            "mean": wide.mean(axis=1),
            "sd": wide.std(axis=1, ddof=0),
            "recent": wide[splits[-1]],
            "max_regret": (best_per_split - g).max(axis=1),
            "n_splits": wide.notna().sum(axis=1),
            "weighted": recency_weighted_mean(wide),
        }
    )
    for s in splits:
        board[f"split:{s}"] = wide[s]
    board["_score"] = board["mean"] * sign
    board = board.reset_index().sort_values(["_score", "model_group_id"], ascending=[False, True])
    return board.reset_index(drop=True), splits


def recency_weighted_mean(wide: pd.DataFrame, half_life: float = RECENCY_HALF_LIFE) -> pd.Series:
    """Row-wise weighted mean over the columns (splits in time order): the latest has weight 1, each split
    further back half_life-th root of 1/2 less.  Missing values are left out of both sums."""
    n = wide.shape[1]
    w = np.power(0.5, (n - 1 - np.arange(n)) / half_life)
    vals = wide.to_numpy(dtype=float)
    mask = ~np.isnan(vals)
    num = np.where(mask, vals, 0.0) @ w
    den = mask.astype(float) @ w
    return pd.Series(np.where(den > 0, num / np.where(den > 0, den, 1), np.nan), index=wide.index)


def apply_rules(
    board: pd.DataFrame,
    greater_is_better: bool = True,
    rules: tuple | list = RULES,
    tolerance: float = VARIANCE_TOLERANCE,
) -> dict[str, str]:
    """{rule: winning model_group_id} for a leaderboard of :func:`leaderboard_frame`."""
    if board.empty:
        return {}
    sign = 1.0 if greater_is_better else -1.0
    b = board.assign(_mean=board["mean"] * sign, _recent=board["recent"] * sign)
    if "weighted" in b.columns:
        b = b.assign(_weighted=b["weighted"] * sign)

    def pick(df: pd.DataFrame, key: str, ascending: bool) -> str:
        return str(
            df.sort_values([key, "_mean", "model_group_id"], ascending=[ascending, False, True]).iloc[0][
                "model_group_id"
            ]
        )

    out = {}
    for rule in rules:
        if rule == "best_average":
            out[rule] = pick(b, "_mean", False)
        elif rule == "best_recent":
            out[rule] = pick(b, "_recent", False)
        elif rule == "lowest_variance":
            near = b[b["_mean"] >= b["_mean"].max() - tolerance - 1e-12]
            out[rule] = pick(near, "sd", True)
        elif rule == "min_regret":
            out[rule] = pick(b, "max_regret", True)
        elif rule == "recency_weighted":
            out[rule] = pick(b, "_weighted" if "_weighted" in b.columns else "_mean", False)
        else:
            raise ValueError(f"unknown selection rule {rule!r}")
    return out


# ----------------------------------------------------------------------------------------- database


def experiment_config(conn, experiment_id: str) -> dict:
    row = conn.execute("SELECT config FROM results.experiments WHERE experiment_id = %s", (experiment_id,)).fetchone()
    if row is None:
        raise click.ClickException(f"results.experiments has no experiment {experiment_id}")
    return (row[0] or {}).get("officer") or {}


def metric_values(conn, experiment_id: str, metric_name: str) -> tuple[pd.DataFrame, list, str, str, str]:
    metric, parameter = parse_metric(metric_name)
    tie = default_tie_method(metric)
    rows = conn.execute(
        "WITH ms AS (SELECT DISTINCT rm.model_id FROM results.run_models rm JOIN results.runs r USING (run_id) "
        "            WHERE r.experiment_id = %s) "
        "SELECT m.model_group_id, m.split_id, e.value, "
        "       (SELECT min(d) FROM unnest(mx.as_of_dates) d) AS test_start "
        "FROM ms JOIN results.models m USING (model_id) "
        "JOIN results.evaluations e ON e.model_id = m.model_id "
        "LEFT JOIN results.matrices mx ON mx.matrix_id = m.test_matrix_id "
        "WHERE m.status = 'done' AND e.metric = %s AND e.parameter = %s AND e.tie_method = %s AND e.value IS NOT NULL",
        (experiment_id, metric, parameter, tie),
    ).fetchall()
    df = pd.DataFrame(rows, columns=["model_group_id", "split_id", "value", "test_start"])
    order = (
        (
            df.groupby("split_id")["test_start"]
            .min()
            .reset_index()
            .assign(_t=lambda d: d["test_start"].astype(str).where(d["test_start"].notna(), ""))
            .sort_values(["_t", "split_id"])["split_id"]
            .tolist()
        )
        if not df.empty
        else []
    )
    return df[["model_group_id", "split_id", "value"]], order, metric, parameter, tie


def group_info(conn, ids: list[str]) -> dict[str, dict]:
    rows = conn.execute(
        "SELECT model_group_id, class_path, hyperparameters, is_baseline FROM results.model_groups "
        "WHERE model_group_id = ANY(%s)",
        (list(ids),),
    ).fetchall()
    return {r[0]: {"class_path": r[1], "hyperparameters": r[2] or {}, "is_baseline": r[3]} for r in rows}


def group_name(info: dict | None, group_id: str = "") -> str:
    if not info:
        return group_id[:10]
    short = info["class_path"].rpartition(".")[2]
    if short.endswith("Classifier") and len(short) > len("Classifier"):
        short = short[: -len("Classifier")]
    hp = ", ".join(f"{k}={v}" for k, v in sorted(info["hyperparameters"].items()) if k != "n_jobs" and v is not None)
    return f"{short}({hp})" if hp else short


def leaderboard(experiment_id: str, metric_name: str | None = None) -> dict:
    """{metric, tie_method, splits, rows: [{model_group_id, name, is_baseline, mean, sd, recent,
    max_regret, n_splits, per_split: {split: value}}], winners: {rule: group}}."""
    from eis_core import db
    from eis_core.modeling.results import ensure_results_schema

    ensure_results_schema()
    with db.connect() as conn:
        cfg = experiment_config(conn, experiment_id)
        metric_name = metric_name or (cfg.get("selection") or {}).get("metric", "precision@10%")
        values, order, metric, parameter, tie = metric_values(conn, experiment_id, metric_name)
        gib = metric != "brier"
        board, splits = leaderboard_frame(values, order, gib)
        info = group_info(conn, board["model_group_id"].tolist()) if not board.empty else {}
    rules = (cfg.get("selection") or {}).get("rules", list(RULES))
    winners = apply_rules(board, gib, rules)
    rows = []
    for _, r in board.iterrows():
        gid = r["model_group_id"]
        rows.append(
            {
                "model_group_id": gid,
                "name": group_name(info.get(gid), gid),
                "class_path": (info.get(gid) or {}).get("class_path"),
                "is_baseline": bool((info.get(gid) or {}).get("is_baseline")),
                "mean": _num(r["mean"]),
                "sd": _num(r["sd"]),
                "recent": _num(r["recent"]),
                "max_regret": _num(r["max_regret"]),
                "weighted": _num(r.get("weighted")),
                "n_splits": int(r["n_splits"]),
                "per_split": {str(s): _num(r[f"split:{s}"]) for s in splits},
            }
        )
    return {
        "metric": metric_label(metric, parameter),
        "tie_method": tie,
        "splits": [str(s) for s in splits],
        "rows": rows,
        "winners": winners,
        "greater_is_better": gib,
    }


def _num(v) -> float | None:
    return None if v is None or pd.isna(v) else float(v)


def table3(experiment_id: str, model_group_id: str) -> list[dict]:
    """Table 3 rows of *model_group_id* in *experiment_id*, one per split (time order), with relative changes."""
    from eis_core import db

    with db.connect() as conn:
        rows = conn.execute(
            "WITH ms AS (SELECT DISTINCT rm.model_id FROM results.run_models rm JOIN results.runs r USING (run_id) "
            "            WHERE r.experiment_id = %s) "
            "SELECT t.split_id, t.flag_count, t.tp, t.fp, t.tn, t.fn, t.legacy_tp, t.legacy_fp, t.legacy_tn, t.legacy_fn, "
            "       t.flags_to_match, t.legacy_source, (SELECT min(d) FROM unnest(mx.as_of_dates) d) "
            "FROM ms JOIN results.table3 t USING (model_id) JOIN results.models m USING (model_id) "
            "LEFT JOIN results.matrices mx ON mx.matrix_id = m.test_matrix_id "
            "WHERE t.model_group_id = %s ORDER BY 13 NULLS LAST, 1",
            (experiment_id, model_group_id),
        ).fetchall()
    keys = (
        "split_id",
        "flag_count",
        "tp",
        "fp",
        "tn",
        "fn",
        "legacy_tp",
        "legacy_fp",
        "legacy_tn",
        "legacy_fn",
        "flags_to_match",
        "legacy_source",
    )
    return [dict(zip(keys, r[:12])) for r in rows]


def table3_total(rows: list[dict]) -> dict:
    tot = {
        k: sum(r[k] for r in rows)
        for k in ("flag_count", "tp", "fp", "tn", "fn", "legacy_tp", "legacy_fp", "legacy_tn", "legacy_fn")
    }
    match = [r.get("flags_to_match") for r in rows]
    tot["flags_to_match"] = sum(match) if match and all(m is not None for m in match) else None
    tot["splits_won"] = sum(1 for r in rows if r["tp"] > r["legacy_tp"])
    tot["splits_tied"] = sum(1 for r in rows if r["tp"] == r["legacy_tp"])
    tot["splits_lost"] = sum(1 for r in rows if r["tp"] < r["legacy_tp"])
    sources = sorted({r.get("legacy_source") for r in rows if r.get("legacy_source")})
    tot["legacy_source"] = "+".join(sources) if sources else None
    return {"split_id": "all splits", **tot}


LEGACY_SOURCE_WORDS = {
    "flags": "the department's own EIS flags (raised in the year before each as-of date)",
    "rules": "the legacy threshold rules of the officer config",
}


def legacy_source_words(source: str | None) -> str:
    if not source:
        return "the legacy threshold EIS"
    return " and ".join(LEGACY_SOURCE_WORDS.get(s, s) for s in source.split("+"))


def chosen_group(experiment_id: str) -> str | None:
    from eis_core import db

    with db.connect() as conn:
        row = conn.execute(
            "SELECT model_group_id FROM results.selections WHERE experiment_id = %s AND chosen "
            "ORDER BY selection_id DESC LIMIT 1",
            (experiment_id,),
        ).fetchone()
    return row[0] if row else None


def board_from(lb: dict) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "model_group_id": r["model_group_id"],
                "mean": r["mean"],
                "sd": r["sd"],
                "recent": r["recent"],
                "max_regret": r["max_regret"],
                "weighted": r.get("weighted"),
            }
            for r in lb["rows"]
        ],
        columns=["model_group_id", "mean", "sd", "recent", "max_regret", "weighted"],
    )
