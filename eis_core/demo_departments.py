"""``eis demo --departments``: three departments side by side on one installation, in one process.

Three small synthetic departments (``eis synth --scale small`` with three seeds) are registered
(``eis department add``: a database each on the one server, their own folder and configs), loaded,
given their marts, a small model grid, a selection and Table 3, each inside
``eis_core.departments.use(NAME)``; then one screen sums up every department.  The grid is the demo's
own small one (two splits, a few models and the baselines) so the whole run stays within minutes on two
cores; each department's config is its own copy (``$EIS_HOME/departments/NAME/officer_config.yaml``).

Then pooled models: for each department, the default pooled recipe trained on all three departments'
rows known before its test dates, against its department-only model and its legacy EIS at the legacy
flag count, and the recommendation (``eis pool evaluate``, docs/departments.md).
``make demo`` (one department, through Airflow) is unchanged.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Literal

import click
import yaml

from eis_core.demo import step_done, step_start

#: (department, seed of the synthetic generator)
DEPARTMENTS = (("riverside", 11), ("lakeside", 12), ("hillside", 13))

#: the demo's small grid: 2 temporal splits, 3 as-of dates a year of training, models that train in seconds
DEMO_GRID = {
    "sklearn.tree.DecisionTreeClassifier": {"max_depth": [5], "min_samples_leaf": [10]},
    "eis_core.modeling.estimators.ScaledLogisticRegression": {"penalty": ["l2"], "C": [1.0]},
    "sklearn.ensemble.RandomForestClassifier": {"n_estimators": [50], "min_samples_leaf": [5], "n_jobs": [2]},
}
DEMO_BASELINES: dict[str, dict] = {
    "eis_core.modeling.baselines.PriorBaseline": {},
    "eis_core.modeling.baselines.LegacyEISBaseline": {},
}


def demo_config(folder: Path, project: Path) -> Path:
    """The shipped officer config with the demo's small as-of grid and model grid."""
    from eis_core.config import DEFAULT_OFFICER_CONFIG, load_officer_config

    cfg = yaml.safe_load(Path(DEFAULT_OFFICER_CONFIG).read_text())
    cfg["project_path"] = str(project)
    cfg["as_of_dates"] = {"start": "2013-07-01", "end": "2015-01-01", "frequency": "6 months"}
    cfg["feature_windows"] = ["6 months", "1 year", "all"]
    cfg["temporal_config"].update(
        {
            "label_start_time": "2013-07-01",
            "label_end_time": "2015-01-01",
            "model_update_frequency": "6 months",
            "max_training_history": "1 year",
            "training_as_of_frequency": "6 months",
        }
    )
    cfg["model_grid"] = DEMO_GRID
    cfg["baselines"] = DEMO_BASELINES
    cfg["evaluation"] = {"top_k_absolute": [10, 25], "top_k_percent": [5, 10], "tie_orderings": 5}
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "officer_config.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    load_officer_config(path)  # fails here, not in the middle of the demo
    return path


def ensure_drop(name: str, seed: int, folder: Path) -> Path:
    import json

    from eis_core.synth import generate
    from eis_core.synth.generator import GENERATOR_VERSION

    out = folder / f"small-seed{seed}"
    manifest = out / "_drop.json"
    if manifest.exists():
        m = json.loads(manifest.read_text())
        if m.get("scale") == "small" and m.get("seed") == seed and m.get("generator_version") == GENERATOR_VERSION:
            click.echo(f"      {name}: reusing {out}")
            return out
    t0 = time.perf_counter()
    generate("small", seed, out, progress=None)
    click.echo(f"      {name}: generated {out} (seed {seed}, {time.perf_counter() - t0:.1f} s)")
    return out


def run_department(name: str, drop: Path) -> dict:
    """Load, marts, grid, selection and Table 3 of department *name* (the caller is inside ``use(name)``)."""
    from eis_core import db
    from eis_core.features import build_features
    from eis_core.load.loader import load_drop
    from eis_core.modeling.pipeline import run_all
    from eis_core.modeling.selection_report import table3_text
    from eis_core.modeling.selection_rules import table3, table3_total

    out: dict = {"department": name}
    t0 = time.perf_counter()
    report = load_drop(drop, progress=None)
    report.raise_for_status()
    out["load_s"] = time.perf_counter() - t0
    click.echo(f"      loaded {drop.name} into {name}'s database in {out['load_s']:.0f} s")
    t0 = time.perf_counter()
    built = build_features(progress=None)
    out["marts_s"] = time.perf_counter() - t0
    out["as_of_dates"] = len(built["as_of_dates"])
    click.echo(f"      marts: {out['as_of_dates']} as-of dates in {out['marts_s']:.0f} s")
    t0 = time.perf_counter()
    res = run_all(progress=None)
    out["grid_s"] = time.perf_counter() - t0
    out.update(experiment_id=res["experiment_id"], model_group_id=res["model_group_id"])
    click.echo(f"      grid: {res['timings']['models']} models, evaluation and selection in {out['grid_s']:.0f} s")
    click.echo("\n".join("      " + ln for ln in table3_text(res["experiment_id"]).splitlines()))
    rows = table3(res["experiment_id"], res["model_group_id"]) if res["model_group_id"] else []
    out["table3"] = table3_total(rows) if rows else None
    with db.connect() as conn:
        (out["officers"],) = conn.execute("SELECT count(*) FROM raw.officers").fetchone() or (0,)
        (out["cohort_rows"],) = conn.execute("SELECT count(*) FROM features.officer_cohort").fetchone() or (0,)
        out["database"] = db.warehouse_db()
        row = conn.execute(
            "SELECT class_path FROM results.model_groups WHERE model_group_id = %s", (res["model_group_id"],)
        ).fetchone()
    out["models"] = res["timings"]["models"]
    out["group_name"] = row[0].rsplit(".", 1)[-1] if row else ""
    return out


def pooled_step(names: list[str]) -> None:
    """Should each department pool? The default pooled recipe on each department's own splits, trained on
    the rows of all of them (`eis pool evaluate --department NAME` for one), and its recommendation."""
    from eis_core.modeling.pooled import DEFAULT_RECIPE
    from eis_core.modeling.pooled_eval import comparison, evaluate, recommend

    for name in names:
        ev = evaluate(name, [DEFAULT_RECIPE], store=True, progress=None)
        cmp = comparison(ev)
        tot = {k: sum(r[k] for r in cmp) for k in ("department_only_tp", "pooled_tp", "legacy_tp")}
        verdict, why = recommend(cmp)
        click.echo(
            f"      {name}: true positives at the legacy EIS's flag count, {len(cmp)} split(s): department-only "
            f"{tot['department_only_tp']}, pooled {tot['pooled_tp']}, legacy {tot['legacy_tp']} -> {verdict.upper()}"
        )
        click.echo(f"        ({why})")


def summary_lines(results: list[dict]) -> list[str]:
    from eis_core.cli_tables import render, table

    rows = []
    for r in results:
        t = r.get("table3") or {}
        rows.append(
            (
                r["department"],
                r["database"],
                f"{r['officers']:,}",
                f"{r['as_of_dates']} / {r['cohort_rows']:,}",
                str(r["models"]),
                r.get("group_name") or "-",
                f"{t.get('flag_count', 0):,}",
                f"{t.get('tp', 0)} vs {t.get('legacy_tp', 0)}" if t else "-",
                f"{r['load_s']:.0f} / {r['marts_s']:.0f} / {r['grid_s']:.0f}",
            )
        )
    head: list[str | tuple[str, Literal["left", "right"]]] = [
        "department",
        "database",
        ("officers", "right"),
        ("as-of dates / cohort rows", "right"),
        ("models", "right"),
        "chosen model",
        ("flagged (all splits)", "right"),
        ("true positives: model vs legacy", "right"),
        ("load / marts / grid s", "right"),
    ]
    return render(table(head, rows), indent=2).splitlines()


def run_departments_demo(departments: tuple[tuple[str, int], ...] = DEPARTMENTS) -> list[dict]:
    from eis_core import db, migrations
    from eis_core import departments as dept
    from eis_core.departments import registry
    from eis_core.paths import platform_home

    total = 4 + len(departments)
    t0 = step_start(1, total, "Starting the warehouse: one server, a database per department")
    st = db.start()
    migrations.ensure_schema()
    click.echo(f"      {st.mode}: {st.url}")
    step_done(t0)

    t0 = step_start(2, total, f"Generating {len(departments)} small synthetic departments")
    drops = {name: ensure_drop(name, seed, platform_home() / "drops") for name, seed in departments}
    step_done(t0)

    t0 = step_start(3, total, "eis department add: a database, a folder and configs each (the demo's small grid)")
    for name, _seed in departments:
        cfg = demo_config(
            platform_home() / "demo-departments" / name, platform_home() / "departments" / name / "project"
        )
        d = registry.add(name, officer_config=cfg, exist_ok=True)
        click.echo(f"      {d.name}: database {d.database}, folder {d.home}")
    step_done(t0)

    results = []
    for n, (name, _seed) in enumerate(departments, start=4):
        t0 = step_start(n, total, f"Department {name}: load, marts, model grid, selection, Table 3")
        with dept.use(name):
            results.append(run_department(name, drops[name]))
        step_done(t0)

    t0 = step_start(total, total, "Pooled models across the departments")
    pooled_step([name for name, _ in departments])
    step_done(t0)

    click.secho("\nSummary, one line per department (each in its own database)", bold=True)
    click.echo("\n".join(summary_lines(results)))
    click.echo(
        "\nEvery command takes the department: `eis --department riverside select`, "
        "`eis --department lakeside score --date 2016-01-01`; `eis department list`."
    )
    return results


__all__ = ["DEMO_GRID", "DEPARTMENTS", "demo_config", "run_departments_demo", "summary_lines"]
