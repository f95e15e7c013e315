"""Model selection, the pictures: metric over time, precision-recall of the chosen group, Table 3 bars."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from eis_core.modeling.selection_rules import table3_total

#: the legacy bar's legend: which legacy EIS Table 3 compared with (results.table3.legacy_source)
LEGACY_LABEL = {"flags": "legacy EIS (department's eis_flags)", "rules": "legacy EIS (config legacy_rules)"}


def write_plots(report_dir: Path, experiment_id: str, lb: dict, chosen: str, t3: list[dict]) -> dict[str, str]:
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
        ax.plot(
            range(len(splits)), [np.nan if y is None else y for y in ys], style, marker="o", lw=lw, label=r["name"][:45]
        )
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
            "WHERE m.model_group_id = %s AND m.status = 'done' ORDER BY m.split_id",
            (experiment_id, chosen),
        ).fetchall()
        preds = {
            sid: conn.execute(
                "SELECT score, label FROM results.predictions WHERE model_id = %s AND label IS NOT NULL", (mid,)
            ).fetchall()
            for mid, sid in models
        }
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
        ax.bar(
            x - 0.2,
            [tot["legacy_" + k] for k in keys],
            0.4,
            label=LEGACY_LABEL.get(tot.get("legacy_source"), "legacy EIS"),
            color="#999999",
        )
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
