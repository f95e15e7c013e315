"""`make bench-quality`: decision quality on every department available, against simple strong references.

For each department (synthetic presets with several seeds, and the real Chicago sample when
``../shared/data/cpdp`` exists) in its own fresh warehouse: load the drop, build the marts, run the
department's model grid (temporal splits, evaluation, selection), then report per split

* the base rate (share of the cohort with an adverse event in the label window),
* ROC-AUC and precision at 1 / 5 / 10 % of the chosen model group,
* the same for the plain count-feature gradient-boosting reference (``CountGBReference``, a grid entry
  of the same run, so it is trained and tested on exactly the same splits),
* Table 3: true positives of the chosen model at the legacy system's flag count against the legacy
  system's own (the department's ``eis_flags`` when the drop has them, else its configured rules), and
  the flags the model needs to match the legacy true positives.

    python bench/bench_quality.py [--departments small:1,small:2,small:3,chicago] [--keep]

Figures go to docs/benchmarks/quality.json and docs/benchmarks/quality.md (the README quotes the summary).
Each department runs in a child process with its own EIS_HOME (its own embedded PostgreSQL).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs" / "benchmarks"
CPDP = REPO.parent / "shared" / "data" / "cpdp"
DEFAULT = "small:1,small:2,small:3,chicago"
REFERENCE = "eis_core.modeling.baselines.CountGBReference"
LEGACY = "eis_core.modeling.baselines.LegacyEISBaseline"
#: the models of one experiment (parameter: experiment_id), for the queries below
EXPERIMENT_MODELS = ("WITH ms AS (SELECT DISTINCT rm.model_id FROM results.run_models rm JOIN results.runs r "
                     "ON r.run_id = rm.run_id WHERE r.experiment_id = %s) ")
METRICS = (("roc_auc", "", "none"), ("precision@", "1_pct", "stochastic"), ("precision@", "5_pct", "stochastic"),
           ("precision@", "10_pct", "stochastic"))


def _configs(dept: str) -> tuple[Path, Path]:
    if dept == "chicago":
        return REPO / "configs" / "chicago" / "officer_config.yaml", REPO / "configs" / "chicago" / "labels_config.yaml"
    return REPO / "configs" / "officer_config.yaml", REPO / "configs" / "labels_config.yaml"


def _prepare_drop(dept: str, home: Path) -> Path:
    drop = home / "drop"
    if dept == "chicago":
        from eis_core.importers.cpdp import run_import

        run_import(CPDP, drop, progress=lambda m: None)
    else:
        from eis_core.synth.generator import generate

        scale, _, seed = dept.partition(":")
        generate(scale, int(seed or 42), drop, progress=None)
    return drop


def _group_of(conn, experiment_id: str, class_path: str) -> str | None:
    row = conn.execute(
        "SELECT DISTINCT g.model_group_id FROM results.model_groups g JOIN results.models m USING (model_group_id) "
        "JOIN results.run_models rm USING (model_id) JOIN results.runs r ON r.run_id = rm.run_id "
        "WHERE r.experiment_id = %s AND g.class_path = %s ORDER BY 1 LIMIT 1", (experiment_id, class_path)).fetchone()
    return row[0] if row else None


def _per_split(conn, experiment_id: str, group_id: str) -> dict[str, dict]:
    """{split_id: {metric: value, base_rate, n, tp, legacy_tp, flag_count, flags_to_match}} of one model group."""
    out: dict[str, dict] = {}
    rows = conn.execute(
        EXPERIMENT_MODELS + "SELECT m.split_id, e.metric, e.parameter, e.tie_method, e.value, e.n_examples "
        "FROM ms JOIN results.models m USING (model_id) JOIN results.evaluations e USING (model_id) "
        "WHERE m.model_group_id = %s", (experiment_id, group_id)).fetchall()
    wanted = {(m, p, t) for m, p, t in METRICS}
    for split, metric, par, tie, value, n in rows:
        if (metric, par, tie) in wanted:
            out.setdefault(split, {})[f"{metric}{par}"] = value
            out[split]["n"] = n
    for split, k, tp, ltp, match in conn.execute(
            EXPERIMENT_MODELS + "SELECT t.split_id, t.flag_count, t.tp, t.legacy_tp, t.flags_to_match FROM ms JOIN results.table3 t "
            "USING (model_id) WHERE t.model_group_id = %s", (experiment_id, group_id)).fetchall():
        out.setdefault(split, {}).update(flag_count=k, tp=tp, legacy_tp=ltp, flags_to_match=match)
    for split, pos, n in conn.execute(
            EXPERIMENT_MODELS + "SELECT m.split_id, mx.n_positive, mx.n_rows FROM ms JOIN results.models m USING (model_id) "
            "JOIN results.matrices mx ON mx.matrix_id = m.test_matrix_id WHERE m.model_group_id = %s",
            (experiment_id, group_id)).fetchall():
        out.setdefault(split, {})["base_rate"] = (pos / n) if n else None
    return out


def rule_study(conn, experiment_id: str, metric: str = "precision@10%", min_history: int = 2) -> dict:
    """Out-of-sample check of each selection rule: on every split i (from the (min_history+1)-th on), pick a
    group with the rule from the splits before i only, and score that pick on split i: the metric and
    Table 3's TP against the legacy system.  {rule: {picks, metric_next, tp_next, legacy_tp_next}}."""
    import pandas as pd

    from eis_core.modeling.selection import RULES, apply_rules, leaderboard_frame, metric_values

    values, order, m, _, _ = metric_values(conn, experiment_id, metric)
    tp = pd.DataFrame(conn.execute(
        EXPERIMENT_MODELS + "SELECT t.model_group_id, t.split_id, t.tp, t.legacy_tp FROM ms JOIN results.table3 t USING (model_id)",
        (experiment_id,)).fetchall(), columns=["model_group_id", "split_id", "tp", "legacy_tp"])
    out = {r: {"picks": 0, "metric_next": 0.0, "tp_next": 0, "legacy_tp_next": 0} for r in RULES}
    for i in range(min_history, len(order)):
        past = values[values["split_id"].isin(order[:i])]
        board, _ = leaderboard_frame(past, order[:i], m != "brier")
        for rule, gid in apply_rules(board, m != "brier", RULES).items():
            now = values[(values["split_id"] == order[i]) & (values["model_group_id"] == gid)]["value"]
            t3 = tp[(tp["split_id"] == order[i]) & (tp["model_group_id"] == gid)]
            o = out[rule]
            o["picks"] += 1
            o["metric_next"] += float(now.mean()) if len(now) else 0.0
            o["tp_next"] += int(t3["tp"].sum())
            o["legacy_tp_next"] += int(t3["legacy_tp"].sum())
    for o in out.values():
        o["metric_next"] = o["metric_next"] / o["picks"] if o["picks"] else None
    return out


def run_one(dept: str) -> dict:
    """Everything for one department in this process (EIS_HOME already private)."""
    from eis_core import db
    from eis_core.features import build_features
    from eis_core.load.loader import load_drop
    from eis_core.modeling.pipeline import run_all

    config, labels = _configs(dept)
    t0 = time.perf_counter()
    db.start()
    drop = _prepare_drop(dept, Path(os.environ["EIS_HOME"]))
    rep = load_drop(drop, progress=lambda m: None)
    if not rep.ok:
        raise SystemExit(f"{dept}: the drop did not load:\n{rep.summary()}")
    build_features(config, labels, progress=None)
    res = run_all(config, labels, progress=None)
    return collect(dept, res["experiment_id"], res["model_group_id"], res.get("rule"), time.perf_counter() - t0)


def collect(dept: str, exp: str, chosen: str, rule: str | None, seconds: float) -> dict:
    """The per-split figures of the chosen group and the reference of experiment *exp*."""
    from eis_core import db
    from eis_core.modeling.selection import group_info, group_name

    with db.connect() as conn:
        ref = _group_of(conn, exp, REFERENCE)
        groups = group_info(conn, [g for g in (chosen, ref) if g])
        chosen_rows = _per_split(conn, exp, chosen)
        ref_rows = _per_split(conn, exp, ref) if ref else {}
        legacy_src = conn.execute("SELECT DISTINCT legacy_source FROM results.table3 WHERE model_group_id = %s",
                                  (chosen,)).fetchall()
        rules = rule_study(conn, exp)
    splits = sorted(chosen_rows)
    return {"department": dept, "experiment_id": exp, "chosen": group_name(groups.get(chosen), chosen),
            "chosen_rule": rule, "reference": group_name(groups.get(ref), ref) if ref else None,
            "legacy_source": "+".join(sorted(r[0] for r in legacy_src if r[0])),
            "seconds": round(seconds, 1), "rule_study": rules,
            "splits": [{"split_id": s, "model": chosen_rows[s], "reference": ref_rows.get(s, {})} for s in splits]}


def summarise(d: dict) -> dict:
    def mean(key, who):
        vals = [s[who].get(key) for s in d["splits"] if s[who].get(key) is not None]
        return sum(vals) / len(vals) if vals else None

    def tot(key, who):
        return sum(s[who].get(key) or 0 for s in d["splits"])

    m = d["splits"]
    tp, ltp, rtp = tot("tp", "model"), tot("legacy_tp", "model"), tot("tp", "reference")
    return {"department": d["department"], "splits": len(m), "chosen": d["chosen"],
            "base_rate": mean("base_rate", "model"),
            "auc": mean("roc_auc", "model"), "ref_auc": mean("roc_auc", "reference"),
            "p10": mean("precision@10_pct", "model"), "ref_p10": mean("precision@10_pct", "reference"),
            "flags": tot("flag_count", "model"), "tp": tp, "ref_tp": rtp, "legacy_tp": ltp,
            "tp_change": (tp - ltp) / ltp if ltp else None,
            "won": sum(1 for s in m if (s["model"].get("tp") or 0) > (s["model"].get("legacy_tp") or 0)),
            "tied": sum(1 for s in m if (s["model"].get("tp") or 0) == (s["model"].get("legacy_tp") or 0)),
            "flags_to_match": (sum(s["model"]["flags_to_match"] for s in m)
                               if all(s["model"].get("flags_to_match") is not None for s in m) else None),
            "legacy_source": d["legacy_source"], "seconds": d["seconds"]}


def _f(v, pct=False):
    if v is None:
        return "–"
    return f"{v:+.0%}" if pct else f"{v:.3f}"


def merged(results: list[dict]) -> list[dict]:
    """*results* over the departments already in quality.json (a run of some departments keeps the others)."""
    path = DOCS / "quality.json"
    old = json.loads(path.read_text()) if path.is_file() else []
    new = {d["department"]: d for d in results}
    return [new.pop(d["department"], d) for d in old] + list(new.values())


def write_docs(results: list[dict]) -> None:
    DOCS.mkdir(parents=True, exist_ok=True)
    results = merged(results)
    (DOCS / "quality.json").write_text(json.dumps(results, indent=1, default=str) + "\n")
    S = [summarise(d) for d in results]
    L = ["# Decision quality (`make bench-quality`)", "",
         "Each department in its own warehouse; the chosen model group of its own config against the plain "
         "count-feature gradient-boosting reference (`CountGBReference`, same run, same splits) and the "
         "department's legacy system at the legacy system's flag count. Means over the test splits.", "",
         "| department | splits | base rate | chosen group | ROC-AUC | reference ROC-AUC | precision@10% | reference "
         "p@10% | flagged | TP | reference TP | legacy TP | TP vs legacy | splits won/tied/lost | flags to match | legacy is |",
         "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for s in S:
        L.append(f"| {s['department']} | {s['splits']} | {_f(s['base_rate'])} | {s['chosen']} | {_f(s['auc'])} | "
                 f"{_f(s['ref_auc'])} | {_f(s['p10'])} | {_f(s['ref_p10'])} | {s['flags']} | {s['tp']} | {s['ref_tp']} | "
                 f"{s['legacy_tp']} | {_f(s['tp_change'], True)} | {s['won']}/{s['tied']}/{s['splits'] - s['won'] - s['tied']} | "
                 f"{s['flags_to_match'] if s['flags_to_match'] is not None else '–'} | {s['legacy_source']} |")
    L += ["", "## Selection rules out of sample", "",
          "On every split from the third on, each rule picks a group from the earlier splits only; the pick is "
          "then scored on that split (precision@10 %, and true positives at the legacy system's flag count).", "",
          "| department | rule | picks | precision@10% next | TP next | legacy TP |", "|---|---|---|---|---|---|"]
    for d in results:
        for rule, o in (d.get("rule_study") or {}).items():
            L.append(f"| {d['department']} | {rule} | {o['picks']} | {_f(o['metric_next'])} | {o['tp_next']} | "
                     f"{o['legacy_tp_next']} |")
    for d in results:
        L += ["", f"## {d['department']} — chosen: {d['chosen']} ({d['chosen_rule']}), {d['seconds']} s", "",
              "| split | base rate | ROC-AUC | p@1% | p@5% | p@10% | ref ROC-AUC | ref p@10% | flagged | TP | ref TP | legacy TP | flags to match |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for s in d["splits"]:
            m, r = s["model"], s["reference"]
            L.append(f"| {s['split_id']} | {_f(m.get('base_rate'))} | {_f(m.get('roc_auc'))} | {_f(m.get('precision@1_pct'))} | "
                     f"{_f(m.get('precision@5_pct'))} | {_f(m.get('precision@10_pct'))} | {_f(r.get('roc_auc'))} | "
                     f"{_f(r.get('precision@10_pct'))} | {m.get('flag_count', '–')} | {m.get('tp', '–')} | {r.get('tp', '–')} | "
                     f"{m.get('legacy_tp', '–')} | {m.get('flags_to_match') if m.get('flags_to_match') is not None else '–'} |")
    (DOCS / "quality.md").write_text("\n".join(L) + "\n")
    print("\n".join(L[:6 + len(S)]))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--departments", default=DEFAULT,
                    help=f"comma-separated: <scale>:<seed> for synthetic departments, chicago (default {DEFAULT})")
    ap.add_argument("--one", help=argparse.SUPPRESS)  # child process: one department, JSON on stdout's last line
    ap.add_argument("--keep", action="store_true", help="keep each department's warehouse folder")
    args = ap.parse_args(argv)
    if args.one:
        print(json.dumps(run_one(args.one), default=str))
        return 0
    results = []
    for dept in [d.strip() for d in args.departments.split(",") if d.strip()]:
        if dept == "chicago" and not CPDP.is_dir():
            print(f"bench_quality: {CPDP} is missing; skipping chicago", file=sys.stderr)
            continue
        home = Path(tempfile.mkdtemp(prefix=f"eis_quality_{dept.replace(':', '_')}_"))
        home.chmod(0o755)
        env = {**os.environ, "EIS_HOME": str(home)}
        env.pop("EIS_DATABASE_URL", None)
        print(f"=== {dept} (EIS_HOME={home}) ===", flush=True)
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, __file__, "--one", dept], env=env, cwd=REPO, capture_output=True, text=True)
        subprocess.run([str(Path(sys.executable).parent / "eis"), "db", "stop"], env=env, cwd=REPO, capture_output=True)
        if out.returncode != 0:
            print(out.stderr[-3000:], file=sys.stderr)
            print(f"bench_quality: {dept} failed (exit {out.returncode})", file=sys.stderr)
            return 1
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(f"    done in {time.perf_counter() - t0:.0f} s", flush=True)
        if not args.keep:
            shutil.rmtree(home, ignore_errors=True)
    write_docs(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
