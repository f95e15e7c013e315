"""Model selection, the words: the leaderboard and Table 3 as text, and the Markdown selection report."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from eis_core.modeling.evaluate import relative_change
from eis_core.modeling.selection_rules import (
    chosen_group,
    group_info,
    group_name,
    leaderboard,
    legacy_source_words,
    table3,
    table3_total,
)

# ----------------------------------------------------------------------------------------- text


def fmt(v: float | None, pct: bool = False) -> str:
    if v is None:
        return "-"
    return f"{v:+.0%}" if pct else f"{v:.3f}"


def leaderboard_text(experiment_id: str, top: int | None = None) -> str:
    lb = leaderboard(experiment_id)
    rows = lb["rows"][:top] if top else lb["rows"]
    if not rows:
        return f"experiment {experiment_id}: no evaluations of {lb['metric']} yet"
    w = min(max(len(r["name"]) for r in rows), 90)
    head = (
        f"leaderboard of experiment {experiment_id[:12]} — {lb['metric']} ({lb['tie_method']} ties) "
        f"over {len(lb['splits'])} split(s)"
    )
    lines = [head, f"{'#':>2}  {'model group':<{w}}  {'mean':>6} {'sd':>6} {'recent':>6} {'regret':>6}  rules"]
    inv: dict[str, list[str]] = {}
    for rule, g in lb["winners"].items():
        inv.setdefault(g, []).append(rule)
    for i, r in enumerate(rows, 1):
        name = r["name"] if len(r["name"]) <= w else r["name"][: w - 1] + "…"
        tag = " [baseline]" if r["is_baseline"] else ""
        lines.append(
            f"{i:>2}  {name:<{w}}  {fmt(r['mean']):>6} {fmt(r['sd']):>6} {fmt(r['recent']):>6} "
            f"{fmt(r['max_regret']):>6}  {', '.join(inv.get(r['model_group_id'], []))}{tag}"
        )
    return "\n".join(lines)


def table3_lines(rows: list[dict]) -> list[str]:
    lines = [
        f"{'split':<12} {'flagged':>7} | {'TP':>5} {'FP':>6} {'TN':>6} {'FN':>5} | legacy "
        f"{'TP':>5} {'FP':>6} {'TN':>6} {'FN':>5} | {'flags to match':>14}"
    ]
    for r in rows + ([table3_total(rows)] if len(rows) > 1 else []):
        m = r.get("flags_to_match")
        lines.append(
            f"{str(r['split_id']):<12} {r['flag_count']:>7} | {r['tp']:>5} {r['fp']:>6} {r['tn']:>6} {r['fn']:>5} |"
            f"        {r['legacy_tp']:>5} {r['legacy_fp']:>6} {r['legacy_tn']:>6} {r['legacy_fn']:>5} |"
            f" {('-' if m is None else m):>14}"
        )
    t = table3_total(rows)
    ch = "  ".join(
        f"{k.upper()} {fmt(relative_change(t[k], t['legacy_' + k]), pct=True)}" for k in ("tp", "fp", "tn", "fn")
    )
    lines.append(
        f"change vs legacy EIS (same number flagged): {ch}; splits won/tied/lost on TP: "
        f"{t['splits_won']}/{t['splits_tied']}/{t['splits_lost']}"
    )
    if t.get("flags_to_match") is not None:
        lines.append(
            f"to find the legacy EIS's {t['legacy_tp']} adverse officers the model flags {t['flags_to_match']} "
            f"(legacy: {t['flag_count']}, {fmt(relative_change(t['flags_to_match'], t['flag_count']), pct=True)})"
        )
    return lines


def table3_text(experiment_id: str, model_group_id: str | None = None) -> str:
    """Table 3 (model vs legacy EIS) for *model_group_id* (default: the chosen group, else best average)."""
    gid = model_group_id or chosen_group(experiment_id)
    if gid is None:
        lb = leaderboard(experiment_id)
        gid = lb["winners"].get("best_average")
    if gid is None:
        return f"experiment {experiment_id}: no model to compare with the legacy EIS yet"
    rows = table3(experiment_id, gid)
    from eis_core import db

    with db.connect() as conn:
        name = group_name(group_info(conn, [gid]).get(gid), gid)
    if not rows:
        return f"Table 3 for {name}: no legacy EIS comparison stored (no LegacyEISBaseline or legacy rule columns)"
    source = table3_total(rows).get("legacy_source")
    return "\n".join([f"Table 3 — {name} vs {legacy_source_words(source)}"] + table3_lines(rows))


def top_features(experiment_id: str, group_id: str, n: int = 15) -> list[tuple[str, float, str]]:
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
            "WHERE f.importance IS NOT NULL ORDER BY f.rank LIMIT %s",
            (experiment_id, group_id, n),
        ).fetchall()
    return [(r[0], r[1], r[2]) for r in rows]


def write_report(
    path: Path, experiment_id: str, lb: dict, rule: str, chosen: str, plots: dict, t3: list[dict], selected_by: str
) -> None:
    names = {r["model_group_id"]: r["name"] for r in lb["rows"]}
    L = [
        f"# Model selection — experiment `{experiment_id}`",
        "",
        f"Selected {datetime.now().astimezone():%Y-%m-%d %H:%M %Z} by `{selected_by}`.  Metric: **{lb['metric']}** "
        f"(tie method `{lb['tie_method']}`) over {len(lb['splits'])} temporal split(s): {', '.join(lb['splits'])}.",
        "",
        f"**Chosen ({rule}):** {names.get(chosen, chosen)} — model group `{chosen}`",
        "",
        "## Rule winners",
        "",
        "| rule | model group | id |",
        "|---|---|---|",
    ]
    for r, g in lb["winners"].items():
        L.append(f"| {r}{' (chosen)' if r == rule else ''} | {names.get(g, g)} | `{g[:12]}` |")
    L += [
        "",
        "## Leaderboard",
        "",
        "| # | model group | baseline | mean | sd | recent | max regret | " + " | ".join(lb["splits"]) + " |",
        "|---|---|---|---|---|---|---|" + "---|" * len(lb["splits"]),
    ]
    for i, r in enumerate(lb["rows"], 1):
        per = " | ".join(fmt(r["per_split"].get(s)) for s in lb["splits"])
        L.append(
            f"| {i} | {r['name']} | {'yes' if r['is_baseline'] else ''} | {fmt(r['mean'])} | {fmt(r['sd'])} | "
            f"{fmt(r['recent'])} | {fmt(r['max_regret'])} | {per} |"
        )
    L += [
        "",
        f"![metric over time]({plots['metric_over_time']})",
        "",
        "## Table 3: chosen model vs the legacy EIS",
        "",
        f"The legacy EIS is {legacy_source_words(table3_total(t3).get('legacy_source') if t3 else None)}. "
        "On each test split the model flags as many officers as the legacy EIS flagged (its top ranks); both are "
        "scored against the same labels. *Flags to match*: how many officers the model must flag to find as many "
        "adverse officers as the legacy EIS did.",
        "",
    ]
    if t3:
        L += [
            "| split | flagged | TP | FP | TN | FN | legacy TP | legacy FP | legacy TN | legacy FN | flags to match |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in t3 + ([table3_total(t3)] if len(t3) > 1 else []):
            m = r.get("flags_to_match")
            L.append(
                f"| {r['split_id']} | {r['flag_count']} | {r['tp']} | {r['fp']} | {r['tn']} | {r['fn']} | "
                f"{r['legacy_tp']} | {r['legacy_fp']} | {r['legacy_tn']} | {r['legacy_fn']} | {'-' if m is None else m} |"
            )
        t = table3_total(t3)
        L += [
            "",
            "Relative change vs the legacy EIS (all splits): "
            + ", ".join(
                f"{k.upper()} {fmt(relative_change(t[k], t['legacy_' + k]), pct=True)}"
                for k in ("tp", "fp", "tn", "fn")
            )
            + f"; splits won/tied/lost on TP: {t['splits_won']}/{t['splits_tied']}/{t['splits_lost']}.",
            "",
        ]
        if "table3" in plots:
            L += [f"![Table 3]({plots['table3']})", ""]
    else:
        L += [
            "No legacy comparison stored: the run had no LegacyEISBaseline and the matrices no legacy rule columns.",
            "",
        ]
    L += ["## Precision–recall of the chosen group", "", f"![precision-recall]({plots['precision_recall']})", ""]
    feats = top_features(experiment_id, chosen)
    if feats:
        L += [
            "## Top features of the chosen group (latest split)",
            "",
            "| feature | importance | method |",
            "|---|---|---|",
        ]
        L += [f"| `{f}` | {v:.4f} | {m} |" for f, v, m in feats]
        L.append("")
    path.write_text("\n".join(L), encoding="utf-8")
