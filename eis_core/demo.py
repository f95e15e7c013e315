"""``eis demo`` (what ``make demo`` runs): the main job end to end on the small synthetic department.

Steps: start the embedded PostgreSQL, generate the ``small`` department (seed 42, reused when already
there), run the DAGs ``eis_ingest``, ``eis_transform``, ``eis_modeling`` and ``eis_production`` through
Airflow (``airflow dags test``, with metadata in the embedded server), explain the chosen model group,
forecast calls and stops, and print what landed where, ending with today's risk list and its bias audit.
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from datetime import date

    from rich.progress import Progress, TaskID

from eis_core import db
from eis_core.paths import eis_home


def step_start(n: int, total: int, text: str) -> float:
    click.secho(f"\n[{n}/{total}] {text}", bold=True)
    return time.perf_counter()


def step_done(t0: float) -> None:
    click.echo(f"      done in {time.perf_counter() - t0:.1f} s")


class _GridProgress:
    """The model grid of ``eis_modeling`` as a progress bar (on a terminal) over all its models, and one
    summary line per mapped ``train_and_score`` task instead of one line per model.

    Reads the lines that eis_core.modeling.pipeline prints: ``4 split(s) x 18 model configuration(s) = 72
    task(s)``, ``batch 0: …`` (one per mapped task) and ``[i/n] split model: done (train x s, task y s)``.
    """

    _GRID = re.compile(r"^(\d+) split\(s\) x (\d+) model configuration\(s\) = (\d+) task\(s\)$")
    _BATCH = re.compile(r"^batch \d+: ")
    _MODEL = re.compile(r"^\[(\d+)/(\d+)\] (\S+) (\S+): (\w+) \(train ([\d.]+) s, task ([\d.]+) s\)$")

    def __init__(self) -> None:
        self.total = 0  # models in the grid
        self.done = 0  # models finished so far
        self.mapped = 0  # mapped tasks announced by prepare
        self.finished = 0  # mapped tasks finished
        self.models: list[tuple[str, str, str, float, float]] = []  # of the running mapped task
        self.bar: Progress | None = None
        self._task: TaskID | None = None

    def feed(self, line: str) -> bool:
        """True when the line was taken (shown as progress or summarised), False to show it as is."""
        if m := self._GRID.match(line):
            self.total = int(m.group(3))
            self.echo(f"      {line}")
            self._start_bar()
            return True
        if self._BATCH.match(line):
            self.mapped += 1
            return True
        if not (m := self._MODEL.match(line)):
            return False
        i, n = int(m.group(1)), int(m.group(2))
        if i == 1:
            self.models = []
        self.models.append((m.group(3), m.group(4), m.group(5), float(m.group(6)), float(m.group(7))))
        self.done += 1
        if self.bar is not None and self._task is not None:
            self.bar.update(self._task, completed=self.done, description=f"{m.group(3)} {m.group(4).split('-')[0]}")
        if i == n:
            self.finished += 1
            self.echo(f"      {self.summary()}")
        return True

    def echo(self, text: str) -> None:
        """A line of output: above the bar while it is shown (rich draws both), else click.echo."""
        if self.bar is not None:
            self.bar.console.print(text, markup=False, highlight=False, emoji=False, soft_wrap=True)
        else:
            click.echo(text)

    def summary(self) -> str:
        """One line for the mapped task that just finished."""
        splits = sorted({s for s, *_ in self.models})
        reused = sum(1 for *_, status, _t, _w in self.models if status == "reused")
        slow = max(self.models, key=lambda r: r[3])
        of = f"/{self.mapped}" if self.mapped else ""
        done = f"{self.done}/{self.total}" if self.total else f"{self.done}"
        return (
            f"mapped task {self.finished}{of}: {len(self.models)} model(s) on {len(splits)} split(s) "
            f"({splits[0]}{' … ' + splits[-1] if len(splits) > 1 else ''}), "
            f"{len(self.models) - reused} trained, {reused} reused; train {sum(r[3] for r in self.models):.1f} s, "
            f"wall {sum(r[4] for r in self.models):.1f} s; slowest {slow[1].split('-')[0]} on {slow[0]} "
            f"({slow[3]:.1f} s) [{done} models]"
        )

    def _start_bar(self) -> None:
        from eis_core.cli_tables import is_terminal

        if self.bar is not None or not is_terminal():
            return  # piped (a log file, CI): the summary lines only
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        bar = self.bar = Progress(
            TextColumn("      model grid"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.description}"),
            transient=True,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._task = bar.add_task("", total=self.total)
        bar.start()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None


class _AirflowOutput:
    """Shows what matters of `airflow dags test` output: our tasks' own lines, failures, the verdict;
    the model grid as a progress bar and one summary line per mapped task (:class:`_GridProgress`)."""

    _TS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}")
    _NODE = re.compile(r"^(pass|success|warn|skip(ped)?)\s+(test|model|seed|snapshot)\s")

    def __init__(self) -> None:
        self.hidden = 0
        self.grid = _GridProgress()

    def __call__(self, line: str) -> None:
        keep = "ERROR" in line or "Traceback" in line or "DagRun Finished" in line or "state=failed" in line
        if self._TS.match(line) and not keep or self._NODE.match(line):
            self.hidden += 1
        elif not self.grid.feed(line):
            self.grid.echo(f"      {line}")

    def close(self) -> None:
        self.grid.close()
        if self.hidden:
            click.echo(
                f"      ({self.hidden:,} lines of Airflow and dbt logging not shown; see $EIS_HOME/airflow/logs "
                f"and $EIS_HOME/dbt/logs)"
            )


def _run_dag(dag_id: str, conf: dict | None, logical_date: str | None = None) -> int:
    from eis_core.orchestration import stack

    out = _AirflowOutput()
    try:
        return stack.run_dag(dag_id, conf, logical_date, progress=lambda m: click.echo(f"      {m}"), output=out)
    finally:
        out.close()


def ensure_small_drop(seed: int) -> Path:
    from eis_core.synth import generate

    out = eis_home() / "drops" / f"small-seed{seed}"
    manifest = out / "_drop.json"
    if manifest.exists():
        m = json.loads(manifest.read_text())
        from eis_core.synth.generator import GENERATOR_VERSION

        if m.get("scale") == "small" and m.get("seed") == seed and m.get("generator_version") == GENERATOR_VERSION:
            click.echo(f"      reusing {out}")
            return out

    def progress(label, done, total, rows, elapsed):  # the generator's progress signature
        click.echo(f"      {label:<28} {done}/{total}  {sum(rows.values()):>10,} rows  {elapsed:5.1f} s")

    generate("small", seed, out, progress=progress)
    return out


def load_summary() -> str:
    from psycopg import sql

    from eis_core.load.loader import LOAD_ROW

    with db.connect() as conn:
        load_id = db.scalar(conn, "SELECT max(load_id) FROM raw.load_log")
        rows = conn.execute(
            "SELECT table_name, status, rows_in, rows_loaded, rows_quarantined, report_path FROM raw.load_log "
            "WHERE load_id = %s AND table_name <> %s ORDER BY started_at",
            (load_id, LOAD_ROW),
        ).fetchall()
        staged = db.scalar(conn, "SELECT count(*) FROM information_schema.views WHERE table_schema = 'staging'")
        totals = {}
        for r in rows:
            exists = db.scalar(conn, "SELECT to_regclass(%s)", (f"raw.{r[0]}",))
            totals[r[0]] = (
                db.scalar(
                    conn, sql.SQL("SELECT count(*) FROM {}.{}").format(sql.Identifier("raw"), sql.Identifier(r[0]))
                )
                if exists
                else 0
            )
    from eis_core.cli_tables import render, table

    lines = [
        f"Load {load_id}:",
        render(
            table(
                ["table", "status", ("rows in raw", "right"), ("quarantined", "right")],
                [(name, status, f"{totals[name]:,}", f"{quar:,}") for name, status, _rin, _loaded, quar, _ in rows],
            ),
            indent=2,
        ),
    ]
    docs = next((r[5] for r in rows if r[5] and r[5].endswith("index.html")), None)
    if docs is None:  # nothing re-validated this time (unchanged files): the site from earlier loads
        site = eis_home() / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"
        docs = str(site) if site.exists() else None
    lines.append(f"  staging views built by dbt: {staged}")
    lines.append(f"  quarantined rows: SELECT * FROM raw.quarantine WHERE load_id = {load_id}")
    if docs:
        lines.append(f"  Great Expectations Data Docs: file://{docs}")
    return "\n".join(lines)


def modeling_summary() -> str:
    from eis_core.modeling.selection import leaderboard_text, table3_text

    with db.connect() as conn:
        row = conn.execute(
            "SELECT experiment_id, report_path FROM results.selections WHERE chosen ORDER BY selection_id DESC LIMIT 1"
        ).fetchone()
    if row is None:
        return "no model group selected yet"
    experiment_id, report = row
    return "\n".join(
        [leaderboard_text(experiment_id, top=10), "", table3_text(experiment_id), "", f"selection report: {report}"]
    )


def scoring_date() -> date:
    """'Today' for the synthetic department: the day after its last recorded call."""
    from datetime import timedelta

    with db.connect() as conn:
        last = db.scalar(conn, "SELECT max(received_at)::date FROM staging.stg_calls_for_service")
    return last + timedelta(days=1)


def explain_step() -> None:
    """Risk-score curves, partial dependence and permutation importance of the chosen group's newest
    model, and its bias audit on the test splits."""
    from eis_core.production.insights import audit_model_group, explain_model, newest_model_of_group
    from eis_core.production.scoring import resolve_model_group

    with db.connect() as conn:
        group, _ = resolve_model_group(conn)
    model_id = newest_model_of_group(group)
    out = explain_model(model_id, top=8, n_samples=2000, n_repeats=3, progress=None)
    click.echo(f"      model {model_id}: risk-score curves and partial dependence of {len(out['features'])} features")
    for k, v in out["plots"].items():
        click.echo(f"      {k}: {v}")
    audit_model_group(group, progress=lambda m: click.echo(f"      {m}"))


def forecast_step() -> None:
    """Issue 7 on the small department, short history so it stays well under a minute."""
    from eis_core.forecast.priority import format_priority, run_priority
    from eis_core.forecast.run import format_peaks, format_table, peaks_report, run_calls_forecast, run_stops_forecast

    quiet = lambda m: None  # noqa: E731
    calls = run_calls_forecast(history_days=270, gbm_train_weeks=16, n_origins=4, progress=quiet)
    click.echo(
        f"      Hourly calls, city-wide, backtest over 4 weekly origins (run {calls['run_id']}; "
        f"chosen: {', '.join(f'{k}={v}' for k, v in calls['chosen'].items())}):"
    )
    click.echo("\n".join("        " + ln for ln in format_table(calls["table"]).splitlines()))
    stops = run_stops_forecast(history_days=400, n_origins=4, progress=quiet)
    click.echo(f"      Daily stops, city-wide, 28 days ahead (run {stops['run_id']}), chosen {stops['chosen']['ALL']}")
    peaks, png, _ = peaks_report(top=2)
    click.echo("      Peak hours (next 7 days, chosen model, top 2 per weekday):")
    click.echo("\n".join("        " + ln for ln in format_peaks(peaks).splitlines()))
    click.echo(f"      heat map: {png}")
    pr = run_priority(train_days=180, test_days=60, progress=quiet)
    click.echo("      Call priority band (time split):")
    click.echo("\n".join("        " + ln for ln in format_priority(pr).splitlines()))


@click.command("demo")
@click.option("--seed", default=42, show_default=True, help="Seed of the synthetic department.")
@click.option(
    "--real",
    "real",
    type=click.Choice(["chicago"]),
    default=None,
    help="Instead of the synthetic department, run the officer EIS on a real department's data: "
    "chicago = the Invisible Institute's CPDP sample (import, load, marts, grid, selection, "
    "Table 3, one scoring day; in its own warehouse under $EIS_HOME/departments/chicago).",
)
@click.option(
    "--src",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="With --real: the data folder (default ../shared/data/cpdp beside the repository).",
)
def demo(seed: int, real: str | None, src: Path | None) -> None:
    """Run the pipeline end to end on the small synthetic department, through Airflow.

    With --real chicago: the same officer EIS on real Chicago Police data, in one process.
    """
    if real:
        from eis_core.real_demo import run_real_demo

        run_real_demo(real, src)
        return
    total = 9
    t0 = step_start(1, total, "Starting the warehouse (embedded PostgreSQL unless EIS_DATABASE_URL is set)")
    st = db.start()
    from eis_core import migrations

    migrations.ensure_schema()  # = `eis db upgrade`
    click.echo(f"      {st.mode}: {st.url} (schema {migrations.current()})")
    step_done(t0)
    t0 = step_start(2, total, "Generating the small synthetic department")
    drop = ensure_small_drop(seed)
    step_done(t0)
    dag_steps = [
        ("eis_ingest", {"drop_dir": str(drop)}, "validate with Great Expectations and load into schema raw"),
        ("eis_transform", None, "dbt build (staging, officer features and labels, tests)"),
        ("eis_modeling", None, "splits, matrices, model grid (mapped tasks), evaluation, selection"),
    ]
    for n, (dag_id, conf, what) in enumerate(dag_steps, start=3):
        t0 = step_start(n, total, f"Airflow DAG {dag_id}: {what}")
        code = _run_dag(dag_id, conf)
        if code != 0:
            click.secho(f"{dag_id} failed; see the output above", fg="red", err=True)
            sys.exit(code)
        step_done(t0)
    today = scoring_date()
    t0 = step_start(
        6, total, f"Airflow DAG eis_production for {today} (the day after the data ends): the daily risk list"
    )
    code = _run_dag("eis_production", None, today.isoformat())
    if code != 0:
        click.secho("eis_production failed; see the output above", fg="red", err=True)
        sys.exit(code)
    step_done(t0)
    t0 = step_start(
        7, total, "Explanations of the chosen model group: risk-score curves, permutation importance, bias audit"
    )
    explain_step()
    step_done(t0)
    t0 = step_start(
        8, total, "Forecasts: hourly calls (backtest, 7 days ahead), daily stops, peak hours, call priority"
    )
    forecast_step()
    step_done(t0)
    t0 = step_start(9, total, "Crime-report severity: first model, the real-time API scoring sample reports")
    from eis_core.severity.demo import demo_step as severity_demo_step

    severity_demo_step(echo=lambda m: click.echo(f"      {m}"))
    step_done(t0)
    click.secho("\nSummary", bold=True)
    click.echo(load_summary())
    click.echo("")
    click.echo(modeling_summary())
    from eis_core.production.scoring import bias_summary_text, risk_list_text

    click.echo("")
    click.echo(risk_list_text(today, top=10))
    click.echo("")
    click.echo(bias_summary_text(today))
    click.echo("\nNext: `make airflow` starts the Airflow UI; `.venv/bin/eis db url` prints the warehouse URL.")
    from eis_core.webapp import demo_step as webapp_demo_step

    webapp_demo_step(echo=click.echo)
