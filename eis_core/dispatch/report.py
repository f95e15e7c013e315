"""The dispatch-level report: the paper's figures 6-8 as PNG plots and a Markdown summary, under
``$EIS_HOME/reports/dispatch/`` (one sub-folder per run, plus ``latest.md``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from eis_core import db
from eis_core.paths import eis_home

CAVEAT = (
    "The F1 figures are measured on a *sampled* test set (all positives, negatives to the sample ratio), "
    "as in the CMPD paper. In real use about one dispatch in thousands turns adverse, so they do not "
    "hold there: the unsampled figures below (every dispatch of the test period) are what a dispatcher "
    "would see."
)


def latest_run_id() -> int:
    with db.connect() as conn:
        if not db.scalar(conn, "SELECT to_regclass('dispatch.subset_comparison')"):
            raise LookupError("no dispatch-level run yet: run `eis dispatch train`")
        run_id = db.scalar(conn, "SELECT max(run_id) FROM dispatch.subset_comparison")
    if run_id is None:
        raise LookupError("no dispatch-level run yet: run `eis dispatch train`")
    return int(run_id)


def load_run(run_id: int) -> tuple[list[dict], list[dict]]:
    with db.connect() as conn:
        cur = conn.execute(
            "SELECT * FROM dispatch.subset_comparison WHERE run_id = %s ORDER BY model_kind, subset", (run_id,)
        )
        names = [c.name for c in cur.description or []]
        rows = [dict(zip(names, r)) for r in cur.fetchall()]
        cur = conn.execute(
            "SELECT model_kind, subset, feature, block, importance, signed_effect "
            "FROM dispatch.feature_effects WHERE run_id = %s",
            (run_id,),
        )
        names = [c.name for c in cur.description or []]
        effects = [dict(zip(names, r)) for r in cur.fetchall()]
    if not rows:
        raise LookupError(f"dispatch.subset_comparison has no run {run_id}")
    return rows, effects


def _fmt(v, nd=3) -> str:
    return "–" if v is None else f"{v:.{nd}f}"


def write_report(
    run_id: int | None = None, out_dir: Path | None = None, progress: Callable[[str], object] | None = print
) -> Path:
    """Write fig6_subsets.png, fig7_importance.png, fig8_signed.png and report.md; returns report.md."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    run_id = run_id if run_id is not None else latest_run_id()
    rows, effects = load_run(run_id)
    base = out_dir or eis_home() / "reports" / "dispatch"
    folder = base / f"run_{run_id}"
    folder.mkdir(parents=True, exist_ok=True)
    order = ["dispatch", "stress", "officer", "neighborhood", "all_but_dispatch", "all"]
    expl = sorted(
        [r for r in rows if r["model_kind"] == "exploratory"],
        key=lambda r: order.index(r["subset"]) if r["subset"] in order else 99,
    )
    sugg = [r for r in rows if r["model_kind"] == "suggestion"]
    rnd = rows[0]["random_f1"]

    fig, ax = plt.subplots(figsize=(7, 4))
    labels = [r["subset"] for r in expl] + [f"{r['subset']}\n(suggestion)" for r in sugg]
    vals = [r["f1"] for r in expl + sugg]
    ax.bar(range(len(vals)), vals, color=["#4c72b0"] * len(expl) + ["#dd8452"] * len(sugg))
    ax.axhline(rnd, color="k", ls="--", lw=1, label=f"random guessing ({rnd:.2f})")
    ax.set_xticks(range(len(vals)), labels, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("F1 (positive class), sampled test set")
    ax.set_title("Dispatch-level model: feature subsets (cf. paper fig. 6)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(folder / "fig6_subsets.png", dpi=110)
    plt.close(fig)

    allx = [e for e in effects if e["model_kind"] == "exploratory" and e["subset"] == "all"]
    top = sorted(allx, key=lambda e: -(e["importance"] or 0))[:20]
    fig, ax = plt.subplots(figsize=(7, 5))
    ax.barh([e["feature"] for e in top][::-1], [e["importance"] for e in top][::-1], color="#4c72b0")
    ax.set_xlabel("impurity importance")
    ax.set_title("Top features, exploratory 'all' model (cf. paper fig. 7)")
    ax.tick_params(axis="y", labelsize=7)
    fig.tight_layout()
    fig.savefig(folder / "fig7_importance.png", dpi=110)
    plt.close(fig)

    signed = sorted([e for e in allx if e["signed_effect"] is not None], key=lambda e: -abs(e["signed_effect"]))[:20]
    fig, ax = plt.subplots(figsize=(7, 5))
    ax.barh(
        [e["feature"] for e in signed][::-1],
        [e["signed_effect"] for e in signed][::-1],
        color=["#c44e52" if e["signed_effect"] > 0 else "#55a868" for e in signed][::-1],
    )
    ax.axvline(0, color="k", lw=0.8)
    ax.set_xlabel("mean score change, 10th -> 90th percentile of the feature")
    ax.set_title("Signed feature effects, exploratory 'all' model (cf. paper fig. 8)")
    ax.tick_params(axis="y", labelsize=7)
    fig.tight_layout()
    fig.savefig(folder / "fig8_signed.png", dpi=110)
    plt.close(fig)

    r0 = rows[0]
    md = [
        f"# Dispatch-level risk — run {run_id}",
        "",
        f"Split at {r0['split_date']}: train {r0['n_train']:,} sampled dispatches ({r0['n_train_pos']} adverse), "
        f"test {r0['n_test']:,} ({r0['n_test_pos']} adverse).  Random guessing: F1 {rnd:.3f}.",
        "",
        "## Feature subsets (sampled test set)",
        "",
        "| model | subset | features | F1 | precision | recall | ROC-AUC | threshold |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in expl + sugg:
        md.append(
            f"| {r['model_kind']} | {r['subset']} | {r['n_features']} | {_fmt(r['f1'])} | {_fmt(r['precision'])} "
            f"| {_fmt(r['recall'])} | {_fmt(r['roc_auc'])} | {_fmt(r['threshold'])} |"
        )
    md += [
        "",
        "![subsets](fig6_subsets.png)",
        "",
        "## Unsampled test period",
        "",
        CAVEAT,
        "",
        "| model | dispatches | adverse | precision@10 | precision@100 | precision@1000 | precision@1% | "
        "recall@1% | ROC-AUC | avg. precision |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in expl + sugg:
        u = r["unsampled"]
        if not u:
            continue
        md.append(
            f"| {r['model_kind']} | {u['n']:,} | {u['positives']} | {_fmt(u.get('precision@10_abs'))} | "
            f"{_fmt(u.get('precision@100_abs'))} | {_fmt(u.get('precision@1000_abs'))} | "
            f"{_fmt(u.get('precision@1_pct'))} | {_fmt(u.get('recall@1_pct'))} | {_fmt(u.get('roc_auc'))} | "
            f"{_fmt(u.get('average_precision'), 4)} |"
        )
    md += [
        "",
        "(top-k with ties broken worst-case.)",
        "",
        "## What drives the exploratory model",
        "",
        "![importance](fig7_importance.png)",
        "",
        "![signed](fig8_signed.png)",
        "",
        "| feature | block | importance | signed effect |",
        "| --- | --- | ---: | ---: |",
    ]
    for e in top[:15]:
        md.append(f"| {e['feature']} | {e['block']} | {_fmt(e['importance'], 4)} | {_fmt(e['signed_effect'], 4)} |")
    text = "\n".join(md) + "\n"
    path = folder / "report.md"
    path.write_text(text, encoding="utf-8")
    (base / "latest.md").write_text(text.replace("](fig", f"](run_{run_id}/fig"), encoding="utf-8")
    if progress:
        progress(f"report: {path}")
    return path
