"""``eis demo --real chicago``: the whole officer EIS on real data, in one process.

Import the Invisible Institute's Chicago Police sample (``../shared/data/cpdp`` beside the repository,
or ``--src``), load it, build the marts, train and evaluate the grid of ``configs/chicago/``, select a
model group, print Table 3 against the legacy rule, and score one day. The data go to the installation's
department ``chicago`` (registered on first use with the shipped configs: its own database ``eis_chicago``
on the installation's server and its folder ``$EIS_HOME/departments/chicago``; docs/departments.md), so
the synthetic demo's data are never mixed with it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import click

from eis_core.demo import step_done, step_start
from eis_core.paths import REPO_ROOT


@dataclass(frozen=True)
class RealDepartment:
    name: str
    config: Path
    labels: Path
    default_src: Path
    scoring_day: date
    what: str


REAL = {
    "chicago": RealDepartment(
        "chicago",
        REPO_ROOT / "configs" / "chicago" / "officer_config.yaml",
        REPO_ROOT / "configs" / "chicago" / "labels_config.yaml",
        REPO_ROOT.parent / "shared" / "data" / "cpdp",
        date(2016, 1, 1),
        "Chicago Police (CPDP sample: officers who ever worked in districts 13, 20, 25)",
    )
}


class DemoFailed(click.ClickException):
    exit_code = 2


def run_real_demo(name: str, src: Path | None = None) -> None:
    dept = REAL[name]
    src = Path(src or dept.default_src)
    if not src.is_dir():
        raise DemoFailed(f"the {name} data folder {src} does not exist (pass --src DIR)")
    from eis_core import db, departments
    from eis_core.departments import registry

    total = 7
    click.secho(f"Real department: {dept.what}", bold=True)
    t0 = step_start(1, total, f"Department {name}: its own database on the installation's server")
    db.start()
    registered = registry.add(name, dept.config, dept.labels, exist_ok=True)  # the shipped configs, refreshed
    click.echo(f"      database {registered.database}, folder {registered.home}")
    step_done(t0)
    os.environ[departments.ENV] = name  # for this process and anything it starts
    with departments.use(name):
        _run_steps(dept, src, registered.home, total)


def _run_steps(dept: RealDepartment, src: Path, home: Path, total: int) -> None:
    from eis_core.importers.cpdp import run_import
    from eis_core.importers.cpdp_sources import CpdpImportError
    from eis_core.load.loader import load_drop

    name = dept.name

    t0 = step_start(2, total, f"eis import cpdp {src}")
    drop = home / "drops" / name
    try:
        rep = run_import(src, drop, progress=lambda m: click.echo(f"      {m}"))
    except CpdpImportError as e:
        raise DemoFailed(str(e)) from None
    click.echo("\n".join("      " + ln for ln in rep.summary_lines()))
    if rep.too_many_dropped:
        raise DemoFailed(f"the import dropped too many rows of {', '.join(rep.too_many_dropped)}")
    step_done(t0)

    t0 = step_start(3, total, "eis load: Great Expectations, then schema raw")
    report = load_drop(drop, progress=lambda m: None)
    click.echo("\n".join("      " + ln for ln in report.summary().splitlines()))
    if not report.ok:
        raise DemoFailed("the import's drop did not load; see the report above")
    step_done(t0)

    from eis_core.features import build_features
    from eis_core.transform import TransformError

    t0 = step_start(4, total, "Feature and label marts (dbt)")
    try:
        summary = build_features(dept.config, dept.labels, progress=None)
    except TransformError as e:
        raise DemoFailed(str(e).splitlines()[0]) from None
    click.echo(f"      {len(summary['as_of_dates'])} as-of dates, {summary.get('wall_seconds')} s")
    step_done(t0)

    from eis_core.modeling.pipeline import run_all

    t0 = step_start(5, total, "Temporal splits, the model grid, evaluation and selection")
    res = run_all(dept.config, dept.labels, progress=lambda m: click.echo(f"      {m}"))
    step_done(t0)

    from eis_core.modeling.selection import leaderboard_text, table3_text

    t0 = step_start(6, total, "Leaderboard and Table 3 (the chosen model vs the legacy rule, same number flagged)")
    click.echo(leaderboard_text(res["experiment_id"], top=8))
    click.echo("")
    click.echo(table3_text(res["experiment_id"]))
    step_done(t0)

    from eis_core.production.scoring import ProductionError, bias_summary_text, risk_list_text, score_day

    t0 = step_start(7, total, f"Scoring day {dept.scoring_day}: the risk list with its reasons")
    try:
        score_day(
            dept.scoring_day,
            res["model_group_id"],
            config=dept.config,
            labels=dept.labels,
            progress=None,
            scored_by="eis demo --real",
        )
    except ProductionError as e:
        raise DemoFailed(str(e)) from None
    click.echo(risk_list_text(dept.scoring_day, top=10))
    click.echo("")
    click.echo(bias_summary_text(dept.scoring_day))
    step_done(t0)
    click.echo(f"\nThis department's data: `eis --department {name} db url`; its files: {home}.")
