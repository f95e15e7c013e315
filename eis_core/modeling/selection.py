"""Model selection: rank the model groups of an experiment over its temporal splits, record the winners
of every selection rule in ``results.selections``, and write a report with plots.

The metric is ``selection.metric`` of the officer config (e.g. ``precision@10%``), read from
``results.evaluations`` with tie method ``stochastic`` (``none`` for roc_auc / average_precision /
brier; a lower Brier score is better).  Rules, over the splits in time order (by the first as-of date
of the test matrix, then split id):

* ``best_average``    — highest mean over the splits;
* ``best_recent``     — highest value on the latest split;
* ``lowest_variance`` — lowest standard deviation over the splits among the groups whose mean is
  within 0.05 of the best mean (stable performers that give up little);
* ``min_regret``      — smallest maximum regret, regret = best value on a split minus the group's value;
* ``recency_weighted`` — highest weighted mean, the weight halving every ``RECENCY_HALF_LIFE`` splits back
  from the latest (recent splits count most, one lucky split cannot decide alone).

Ties are broken by the higher mean, then the model group id.  Only groups evaluated on every split
compete (when at least one is).
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import click
import numpy as np
import pandas as pd

from eis_core.modeling.evaluate import default_tie_method, metric_label, parse_metric, relative_change

RULES = ("best_average", "best_recent", "lowest_variance", "min_regret", "recency_weighted")
VARIANCE_TOLERANCE = 0.05
RECENCY_HALF_LIFE = 2.0  # splits


# ----------------------------------------------------------------------------------------- pure part

def leaderboard_frame(values: pd.DataFrame, split_order: list | None = None,
                      greater_is_better: bool = True) -> tuple[pd.DataFrame, list]:
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
    board = pd.DataFrame({
        "mean": wide.mean(axis=1),
        "sd": wide.std(axis=1, ddof=0),
        "recent": wide[splits[-1]],
        "max_regret": (best_per_split - g).max(axis=1),
        "n_splits": wide.notna().sum(axis=1),
        "weighted": recency_weighted_mean(wide),
    })
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


def apply_rules(board: pd.DataFrame, greater_is_better: bool = True,
                rules: tuple | list = RULES, tolerance: float = VARIANCE_TOLERANCE) -> dict[str, str]:
    """{rule: winning model_group_id} for a leaderboard of :func:`leaderboard_frame`."""
    if board.empty:
        return {}
    sign = 1.0 if greater_is_better else -1.0
    b = board.assign(_mean=board["mean"] * sign, _recent=board["recent"] * sign)
    if "weighted" in b.columns:
        b = b.assign(_weighted=b["weighted"] * sign)

    def pick(df: pd.DataFrame, key: str, ascending: bool) -> str:
        return str(df.sort_values([key, "_mean", "model_group_id"], ascending=[ascending, False, True])
                   .iloc[0]["model_group_id"])

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

def _experiment_config(conn, experiment_id: str) -> dict:
    row = conn.execute("SELECT config FROM results.experiments WHERE experiment_id = %s", (experiment_id,)).fetchone()
    if row is None:
        raise click.ClickException(f"results.experiments has no experiment {experiment_id}")
    return (row[0] or {}).get("officer") or {}


def _metric_values(conn, experiment_id: str, metric_name: str) -> tuple[pd.DataFrame, list, str, str, str]:
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
        (experiment_id, metric, parameter, tie)).fetchall()
    df = pd.DataFrame(rows, columns=["model_group_id", "split_id", "value", "test_start"])
    order = (df.groupby("split_id")["test_start"].min().reset_index()
             .assign(_t=lambda d: d["test_start"].astype(str).where(d["test_start"].notna(), ""))
             .sort_values(["_t", "split_id"])["split_id"].tolist()) if not df.empty else []
    return df[["model_group_id", "split_id", "value"]], order, metric, parameter, tie


def _groups(conn, ids: list[str]) -> dict[str, dict]:
    rows = conn.execute("SELECT model_group_id, class_path, hyperparameters, is_baseline FROM results.model_groups "
                        "WHERE model_group_id = ANY(%s)", (list(ids),)).fetchall()
    return {r[0]: {"class_path": r[1], "hyperparameters": r[2] or {}, "is_baseline": r[3]} for r in rows}


def group_name(info: dict | None, group_id: str = "") -> str:
    if not info:
        return group_id[:10]
    short = info["class_path"].rpartition(".")[2]
    if short.endswith("Classifier") and len(short) > len("Classifier"):
        short = short[: -len("Classifier")]
    hp = ", ".join(f"{k}={v}" for k, v in sorted(info["hyperparameters"].items())
                   if k != "n_jobs" and v is not None)
    return f"{short}({hp})" if hp else short


def leaderboard(experiment_id: str, metric_name: str | None = None) -> dict:
    """{metric, tie_method, splits, rows: [{model_group_id, name, is_baseline, mean, sd, recent,
    max_regret, n_splits, per_split: {split: value}}], winners: {rule: group}}."""
    from eis_core import db
    from eis_core.modeling.results import ensure_results_schema

    ensure_results_schema()
    with db.connect() as conn:
        cfg = _experiment_config(conn, experiment_id)
        metric_name = metric_name or (cfg.get("selection") or {}).get("metric", "precision@10%")
        values, order, metric, parameter, tie = _metric_values(conn, experiment_id, metric_name)
        gib = metric != "brier"
        board, splits = leaderboard_frame(values, order, gib)
        info = _groups(conn, board["model_group_id"].tolist()) if not board.empty else {}
    rules = (cfg.get("selection") or {}).get("rules", list(RULES))
    winners = apply_rules(board, gib, rules)
    rows = []
    for _, r in board.iterrows():
        gid = r["model_group_id"]
        rows.append({"model_group_id": gid, "name": group_name(info.get(gid), gid),
                     "class_path": (info.get(gid) or {}).get("class_path"),
                     "is_baseline": bool((info.get(gid) or {}).get("is_baseline")),
                     "mean": _num(r["mean"]), "sd": _num(r["sd"]), "recent": _num(r["recent"]),
                     "max_regret": _num(r["max_regret"]), "weighted": _num(r.get("weighted")),
                     "n_splits": int(r["n_splits"]),
                     "per_split": {str(s): _num(r[f"split:{s}"]) for s in splits}})
    return {"metric": metric_label(metric, parameter), "tie_method": tie, "splits": [str(s) for s in splits],
            "rows": rows, "winners": winners, "greater_is_better": gib}


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
            "WHERE t.model_group_id = %s ORDER BY 13 NULLS LAST, 1", (experiment_id, model_group_id)).fetchall()
    keys = ("split_id", "flag_count", "tp", "fp", "tn", "fn", "legacy_tp", "legacy_fp", "legacy_tn", "legacy_fn",
            "flags_to_match", "legacy_source")
    return [dict(zip(keys, r[:12])) for r in rows]


def table3_total(rows: list[dict]) -> dict:
    tot = {k: sum(r[k] for r in rows) for k in ("flag_count", "tp", "fp", "tn", "fn",
                                                "legacy_tp", "legacy_fp", "legacy_tn", "legacy_fn")}
    match = [r.get("flags_to_match") for r in rows]
    tot["flags_to_match"] = sum(match) if match and all(m is not None for m in match) else None
    tot["splits_won"] = sum(1 for r in rows if r["tp"] > r["legacy_tp"])
    tot["splits_tied"] = sum(1 for r in rows if r["tp"] == r["legacy_tp"])
    tot["splits_lost"] = sum(1 for r in rows if r["tp"] < r["legacy_tp"])
    sources = sorted({r.get("legacy_source") for r in rows if r.get("legacy_source")})
    tot["legacy_source"] = "+".join(sources) if sources else None
    return {"split_id": "all splits", **tot}


LEGACY_SOURCE_WORDS = {"flags": "the department's own EIS flags (raised in the year before each as-of date)",
                       "rules": "the legacy threshold rules of the officer config"}


def legacy_source_words(source: str | None) -> str:
    if not source:
        return "the legacy threshold EIS"
    return " and ".join(LEGACY_SOURCE_WORDS.get(s, s) for s in source.split("+"))


def _chosen_group(experiment_id: str) -> str | None:
    from eis_core import db

    with db.connect() as conn:
        row = conn.execute("SELECT model_group_id FROM results.selections WHERE experiment_id = %s AND chosen "
                           "ORDER BY selection_id DESC LIMIT 1", (experiment_id,)).fetchone()
    return row[0] if row else None


# ----------------------------------------------------------------------------------------- text

def _fmt(v: float | None, pct: bool = False) -> str:
    if v is None:
        return "-"
    return f"{v:+.0%}" if pct else f"{v:.3f}"


def leaderboard_text(experiment_id: str, top: int | None = None) -> str:
    lb = leaderboard(experiment_id)
    rows = lb["rows"][:top] if top else lb["rows"]
    if not rows:
        return f"experiment {experiment_id}: no evaluations of {lb['metric']} yet"
    w = min(max(len(r["name"]) for r in rows), 90)
    head = (f"leaderboard of experiment {experiment_id[:12]} — {lb['metric']} ({lb['tie_method']} ties) "
            f"over {len(lb['splits'])} split(s)")
    lines = [head, f"{'#':>2}  {'model group':<{w}}  {'mean':>6} {'sd':>6} {'recent':>6} {'regret':>6}  rules"]
    inv: dict[str, list[str]] = {}
    for rule, g in lb["winners"].items():
        inv.setdefault(g, []).append(rule)
    for i, r in enumerate(rows, 1):
        name = (r["name"] if len(r["name"]) <= w else r["name"][: w - 1] + "…")
        tag = " [baseline]" if r["is_baseline"] else ""
        lines.append(f"{i:>2}  {name:<{w}}  {_fmt(r['mean']):>6} {_fmt(r['sd']):>6} {_fmt(r['recent']):>6} "
                     f"{_fmt(r['max_regret']):>6}  {', '.join(inv.get(r['model_group_id'], []))}{tag}")
    return "\n".join(lines)


def _table3_lines(rows: list[dict]) -> list[str]:
    lines = [f"{'split':<12} {'flagged':>7} | {'TP':>5} {'FP':>6} {'TN':>6} {'FN':>5} | legacy "
             f"{'TP':>5} {'FP':>6} {'TN':>6} {'FN':>5} | {'flags to match':>14}"]
    for r in rows + ([table3_total(rows)] if len(rows) > 1 else []):
        m = r.get("flags_to_match")
        lines.append(f"{str(r['split_id']):<12} {r['flag_count']:>7} | {r['tp']:>5} {r['fp']:>6} {r['tn']:>6} {r['fn']:>5} |"
                     f"        {r['legacy_tp']:>5} {r['legacy_fp']:>6} {r['legacy_tn']:>6} {r['legacy_fn']:>5} |"
                     f" {('-' if m is None else m):>14}")
    t = table3_total(rows)
    ch = "  ".join(f"{k.upper()} {_fmt(relative_change(t[k], t['legacy_' + k]), pct=True)}" for k in ("tp", "fp", "tn", "fn"))
    lines.append(f"change vs legacy EIS (same number flagged): {ch}; splits won/tied/lost on TP: "
                 f"{t['splits_won']}/{t['splits_tied']}/{t['splits_lost']}")
    if t.get("flags_to_match") is not None:
        lines.append(f"to find the legacy EIS's {t['legacy_tp']} adverse officers the model flags {t['flags_to_match']} "
                     f"(legacy: {t['flag_count']}, {_fmt(relative_change(t['flags_to_match'], t['flag_count']), pct=True)})")
    return lines


def table3_text(experiment_id: str, model_group_id: str | None = None) -> str:
    """Table 3 (model vs legacy EIS) for *model_group_id* (default: the chosen group, else best average)."""
    gid = model_group_id or _chosen_group(experiment_id)
    if gid is None:
        lb = leaderboard(experiment_id)
        gid = lb["winners"].get("best_average")
    if gid is None:
        return f"experiment {experiment_id}: no model to compare with the legacy EIS yet"
    rows = table3(experiment_id, gid)
    from eis_core import db

    with db.connect() as conn:
        name = group_name(_groups(conn, [gid]).get(gid), gid)
    if not rows:
        return f"Table 3 for {name}: no legacy EIS comparison stored (no LegacyEISBaseline or legacy rule columns)"
    source = table3_total(rows).get("legacy_source")
    return "\n".join([f"Table 3 — {name} vs {legacy_source_words(source)}"] + _table3_lines(rows))


# ----------------------------------------------------------------------------------------- report

def _plots(report_dir: Path, experiment_id: str, lb: dict, chosen: str, t3: list[dict]) -> dict[str, str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import precision_recall_curve

    from eis_core import db

    out: dict[str, str] = {}
    tag = experiment_id[:12]
    # 1. metric over time per model group
    fig, ax = plt.subplots(figsize=(9, 5))
    splits = lb["splits"]
    for r in lb["rows"]:
        ys = [r["per_split"].get(s) for s in splits]
        style = "--" if r["is_baseline"] else "-"
        lw = 2.8 if r["model_group_id"] == chosen else 1.0
        ax.plot(range(len(splits)), [np.nan if y is None else y for y in ys], style, marker="o", lw=lw,
                label=r["name"][:45])
    ax.set_xticks(range(len(splits)), splits, rotation=30, ha="right")
    ax.set_xlabel("temporal split")
    ax.set_ylabel(lb["metric"])
    ax.set_title(f"{lb['metric']} over time per model group (bold: chosen)")
    ax.legend(fontsize=6, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    p = report_dir / f"selection_{tag}_metric_over_time.png"
    fig.savefig(p, dpi=110, bbox_inches="tight")
    plt.close(fig)
    out["metric_over_time"] = p.name
    # 2. precision-recall curves of the chosen group, one per split
    with db.connect() as conn:
        models = conn.execute(
            "WITH ms AS (SELECT DISTINCT rm.model_id FROM results.run_models rm JOIN results.runs r USING (run_id) "
            "            WHERE r.experiment_id = %s) "
            "SELECT m.model_id, m.split_id FROM ms JOIN results.models m USING (model_id) "
            "WHERE m.model_group_id = %s AND m.status = 'done' ORDER BY m.split_id", (experiment_id, chosen)).fetchall()
        preds = {sid: conn.execute("SELECT score, label FROM results.predictions WHERE model_id = %s AND label IS NOT NULL",
                                   (mid,)).fetchall() for mid, sid in models}
    fig, ax = plt.subplots(figsize=(6, 5))
    for sid, rows in preds.items():
        if not rows:
            continue
        s = np.array([r[0] for r in rows], dtype=float)
        y = np.array([r[1] for r in rows], dtype=int)
        if y.sum() == 0:
            continue
        prec, rec, _ = precision_recall_curve(y, s)
        ax.plot(rec, prec, lw=1.2, label=f"split {sid} (base rate {y.mean():.1%})")
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_title("precision–recall of the chosen model group")
    ax.legend(fontsize=7)
    fig.tight_layout()
    p = report_dir / f"selection_{tag}_precision_recall.png"
    fig.savefig(p, dpi=110, bbox_inches="tight")
    plt.close(fig)
    out["precision_recall"] = p.name
    # 3. Table 3 bar chart
    if t3:
        tot = table3_total(t3)
        keys = ["tp", "fp", "tn", "fn"]
        x = np.arange(len(keys))
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.bar(x - 0.2, [tot["legacy_" + k] for k in keys], 0.4, label="legacy threshold EIS", color="#999999")
        ax.bar(x + 0.2, [tot[k] for k in keys], 0.4, label="chosen model (same number flagged)", color="#1f77b4")
        ax.set_xticks(x, [k.upper() for k in keys])
        ax.set_ylabel("officers (all test splits)")
        ax.set_title("Table 3: model vs legacy EIS")
        ax.legend(fontsize=8)
        fig.tight_layout()
        p = report_dir / f"selection_{tag}_table3.png"
        fig.savefig(p, dpi=110, bbox_inches="tight")
        plt.close(fig)
        out["table3"] = p.name
    return out


def _top_features(experiment_id: str, group_id: str, n: int = 15) -> list[tuple[str, float, str]]:
    from eis_core import db

    with db.connect() as conn:
        rows = conn.execute(
            "WITH ms AS (SELECT DISTINCT rm.model_id FROM results.run_models rm JOIN results.runs r USING (run_id) "
            "            WHERE r.experiment_id = %s), "
            "last AS (SELECT m.model_id FROM ms JOIN results.models m USING (model_id) "
            "         LEFT JOIN results.matrices mx ON mx.matrix_id = m.test_matrix_id "
            "         WHERE m.model_group_id = %s AND m.status = 'done' "
            "         ORDER BY (SELECT min(d) FROM unnest(mx.as_of_dates) d) DESC NULLS LAST, m.split_id DESC LIMIT 1) "
            "SELECT f.feature, f.importance, f.method FROM results.feature_importances f JOIN last USING (model_id) "
            "WHERE f.importance IS NOT NULL ORDER BY f.rank LIMIT %s", (experiment_id, group_id, n)).fetchall()
    return [(r[0], r[1], r[2]) for r in rows]


def _report(path: Path, experiment_id: str, lb: dict, rule: str, chosen: str, plots: dict, t3: list[dict],
            selected_by: str) -> None:
    names = {r["model_group_id"]: r["name"] for r in lb["rows"]}
    L = [f"# Model selection — experiment `{experiment_id}`", "",
         f"Selected {datetime.now().astimezone():%Y-%m-%d %H:%M %Z} by `{selected_by}`.  Metric: **{lb['metric']}** "
         f"(tie method `{lb['tie_method']}`) over {len(lb['splits'])} temporal split(s): {', '.join(lb['splits'])}.", "",
         f"**Chosen ({rule}):** {names.get(chosen, chosen)} — model group `{chosen}`", "",
         "## Rule winners", "", "| rule | model group | id |", "|---|---|---|"]
    for r, g in lb["winners"].items():
        L.append(f"| {r}{' (chosen)' if r == rule else ''} | {names.get(g, g)} | `{g[:12]}` |")
    L += ["", "## Leaderboard", "",
          "| # | model group | baseline | mean | sd | recent | max regret | " + " | ".join(lb["splits"]) + " |",
          "|---|---|---|---|---|---|---|" + "---|" * len(lb["splits"])]
    for i, r in enumerate(lb["rows"], 1):
        per = " | ".join(_fmt(r["per_split"].get(s)) for s in lb["splits"])
        L.append(f"| {i} | {r['name']} | {'yes' if r['is_baseline'] else ''} | {_fmt(r['mean'])} | {_fmt(r['sd'])} | "
                 f"{_fmt(r['recent'])} | {_fmt(r['max_regret'])} | {per} |")
    L += ["", f"![metric over time]({plots['metric_over_time']})", "",
          "## Table 3: chosen model vs the legacy EIS", "",
          f"The legacy EIS is {legacy_source_words(table3_total(t3).get('legacy_source') if t3 else None)}. "
          "On each test split the model flags as many officers as the legacy EIS flagged (its top ranks); both are "
          "scored against the same labels. *Flags to match*: how many officers the model must flag to find as many "
          "adverse officers as the legacy EIS did.", ""]
    if t3:
        L += ["| split | flagged | TP | FP | TN | FN | legacy TP | legacy FP | legacy TN | legacy FN | flags to match |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in t3 + ([table3_total(t3)] if len(t3) > 1 else []):
            m = r.get("flags_to_match")
            L.append(f"| {r['split_id']} | {r['flag_count']} | {r['tp']} | {r['fp']} | {r['tn']} | {r['fn']} | "
                     f"{r['legacy_tp']} | {r['legacy_fp']} | {r['legacy_tn']} | {r['legacy_fn']} | {'-' if m is None else m} |")
        t = table3_total(t3)
        L += ["", "Relative change vs the legacy EIS (all splits): " + ", ".join(
            f"{k.upper()} {_fmt(relative_change(t[k], t['legacy_' + k]), pct=True)}" for k in ("tp", "fp", "tn", "fn"))
              + f"; splits won/tied/lost on TP: {t['splits_won']}/{t['splits_tied']}/{t['splits_lost']}.", ""]
        if "table3" in plots:
            L += [f"![Table 3]({plots['table3']})", ""]
    else:
        L += ["No legacy comparison stored: the run had no LegacyEISBaseline and the matrices no legacy rule columns.", ""]
    L += ["## Precision–recall of the chosen group", "", f"![precision-recall]({plots['precision_recall']})", ""]
    feats = _top_features(experiment_id, chosen)
    if feats:
        L += ["## Top features of the chosen group (latest split)", "", "| feature | importance | method |", "|---|---|---|"]
        L += [f"| `{f}` | {v:.4f} | {m} |" for f, v, m in feats]
        L.append("")
    path.write_text("\n".join(L), encoding="utf-8")


def select_model_group(experiment_id: str, officer_cfg: Any = None, selected_by: str = "eis select") -> dict:
    """Apply every selection rule, store the winners (``chosen`` for ``selection.chosen_rule``), write
    the report; returns {model_group_id, rule, report_path, leaderboard, winners, metric}."""
    from eis_core import db
    from eis_core.modeling.results import ensure_results_schema
    from eis_core.artifacts.storage import local_dir
    from eis_core.modeling.train import resolve_project_path

    ensure_results_schema()
    if officer_cfg is None:
        with db.connect() as conn:
            stored = _experiment_config(conn, experiment_id)
        sel, project_path = stored.get("selection") or {}, stored.get("project_path", "project")
    else:
        sel = officer_cfg.selection.model_dump() if hasattr(officer_cfg, "selection") else officer_cfg["selection"]
        project_path = getattr(officer_cfg, "project_path", None) or "project"
    metric_name = sel.get("metric", "precision@10%")
    rules = list(sel.get("rules") or RULES)
    rule = sel.get("chosen_rule", "best_average")
    lb = leaderboard(experiment_id, metric_name)
    winners = apply_rules(_board_from(lb), lb["greater_is_better"], rules)
    lb["winners"] = winners
    if not winners:
        raise click.ClickException(f"experiment {experiment_id}: no evaluations of {metric_name} to select from "
                                   "(run the modeling pipeline and evaluate_run first)")
    chosen = winners[rule]
    report_dir = local_dir(resolve_project_path(project_path)) / "reports"  # reports stay on the local disk
    report_dir.mkdir(parents=True, exist_ok=True)
    report = report_dir / f"selection_{experiment_id}.md"
    t3 = table3(experiment_id, chosen)
    plots = _plots(report_dir, experiment_id, lb, chosen, t3)
    _report(report, experiment_id, lb, rule, chosen, plots, t3, selected_by)
    with db.connect() as conn:
        for r, g in winners.items():
            conn.execute("INSERT INTO results.selections (experiment_id, rule, metric, model_group_id, chosen, "
                         "report_path, selected_by) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                         (experiment_id, r, lb["metric"], g, r == rule, str(report), selected_by))
    return {"model_group_id": chosen, "rule": rule, "report_path": str(report), "metric": lb["metric"],
            "winners": winners, "leaderboard": lb["rows"]}


def _board_from(lb: dict) -> pd.DataFrame:
    return pd.DataFrame([{"model_group_id": r["model_group_id"], "mean": r["mean"], "sd": r["sd"],
                          "recent": r["recent"], "max_regret": r["max_regret"], "weighted": r.get("weighted")}
                         for r in lb["rows"]],
                        columns=["model_group_id", "mean", "sd", "recent", "max_regret", "weighted"])


def latest_experiment() -> str | None:
    from eis_core import db
    from eis_core.modeling.results import ensure_results_schema

    ensure_results_schema()
    with db.connect() as conn:
        # officer-level experiments only: the dispatch-level experiment (eis dispatch) has its own models
        row = conn.execute("SELECT r.experiment_id FROM results.runs r JOIN results.experiments x USING (experiment_id) "
                           "WHERE EXISTS (SELECT 1 FROM results.run_models rm "
                           "JOIN results.evaluations e USING (model_id) WHERE rm.run_id = r.run_id) "
                           "AND coalesce(x.config -> 'officer' ->> 'kind', '') <> 'dispatch_level' "
                           "ORDER BY r.run_id DESC LIMIT 1").fetchone()
    return row[0] if row else None


@click.command("select")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False), default=None,
              help="officer config (default configs/officer_config.yaml): selection metric, rules, chosen rule")
@click.option("--experiment", "experiment_id", default=None, help="experiment id (default: the latest evaluated one)")
@click.option("--json", "as_json", is_flag=True, help="print the result as JSON")
def select_cli(config_path: str | None, experiment_id: str | None, as_json: bool) -> None:
    """Choose the model group of an experiment (selection rules over the temporal splits); print the
    leaderboard and Table 3 (model vs the legacy EIS) and write the selection report."""
    from eis_core.config import ConfigError, load_officer_config

    try:
        cfg = load_officer_config(config_path) if config_path else load_officer_config()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    experiment_id = experiment_id or latest_experiment()
    if experiment_id is None:
        raise click.ClickException("no evaluated experiment in schema results: run the modeling pipeline first")
    res = select_model_group(experiment_id, cfg)
    if as_json:
        click.echo(json.dumps(res, indent=2, default=str))
        return
    click.echo(leaderboard_text(experiment_id))
    click.echo("")
    click.echo(table3_text(experiment_id, res["model_group_id"]))
    click.echo("")
    click.echo(f"chosen ({res['rule']}): {res['model_group_id']}")
    click.echo(f"report: {res['report_path']}")
