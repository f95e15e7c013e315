"""``eis airflow ...``: the real Airflow 3 stack and its DAGs, locally."""

from __future__ import annotations

import json
import shlex
import sys
import time

import click


def _echo(msg: str) -> None:
    click.echo(msg, err=True)


def _parse_conf(conf: str | None) -> dict | None:
    if not conf:
        return None
    try:
        value = json.loads(conf)
    except ValueError as exc:
        raise click.BadParameter(f"not valid JSON: {exc}", param_hint="--conf") from exc
    if not isinstance(value, dict):
        raise click.BadParameter('must be a JSON object, e.g. \'{"drop_dir": "var/drops/small"}\'', param_hint="--conf")
    return value


@click.group("airflow", context_settings={"help_option_names": ["-h", "--help"]})
def airflow_cli() -> None:
    """Run the real Airflow 3 stack (LocalExecutor) and the platform's DAGs locally.

    Metadata lives in the database `airflow` of the warehouse server (the embedded PostgreSQL unless
    EIS_DATABASE_URL is set); AIRFLOW_HOME is $EIS_HOME/airflow.  A drop flows by itself: eis_ingest
    (drop -> raw) -> eis_transform (dbt build, on the Asset eis://warehouse/raw) -> eis_production
    (the risk list of the data's newest date, on eis://warehouse/staging; also @daily).  Failed tasks
    alert by e-mail (EIS_ALERT_EMAIL_TO, EIS_ALERT_SMTP_HOST/PORT) or webhook (EIS_ALERT_WEBHOOK_URL).

    \b
    eis airflow start                 # api-server, then scheduler, dag-processor, triggerer
    eis airflow trigger eis_ingest --conf '{"drop_dir": "var/drops/small"}' --wait
    eis airflow run-dag eis_ingest --conf '{"drop_dir": "var/drops/small"}'   # no stack needed
    eis airflow stop
    \b
    Backfill risk lists (Airflow 3; `airflow dags backfill` no longer exists):
    eval "$(eis airflow env)"
    airflow backfill create --dag-id eis_production --from-date 2016-01-01 --to-date 2016-01-31
    """


@airflow_cli.command("start")
@click.option("--port", type=int, default=None, help="api-server port (default 8080 or $EIS_AIRFLOW_PORT).")
@click.option(
    "--timeout",
    type=float,
    default=240,
    show_default=True,
    help="Seconds to wait for every component to report healthy.",
)
def start_cmd(port: int | None, timeout: float) -> None:
    """Start the stack in the background and wait until it is healthy.

    Starts `airflow scheduler` (LocalExecutor), `dag-processor`, `triggerer` and `api-server` in one
    process group of their own (pid file: $EIS_HOME/airflow/stack.json, logs:
    $EIS_HOME/airflow/stack-logs/), runs `airflow db migrate` first when needed, then prints the URL
    and the admin login.  Stop it with `eis airflow stop`.
    """
    from eis_core.orchestration import stack
    from eis_core.orchestration.airflow_env import ADMIN_USER, admin_password, passwords_file

    t0 = time.monotonic()
    try:
        state = stack.start(port, timeout=timeout, progress=_echo)
    except stack.StackError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Airflow {state.url}  (ready in {time.monotonic() - t0:.0f} s)")
    click.echo(f"  login: {ADMIN_USER} / {admin_password()}   (stored in {passwords_file()})")
    click.echo(f"  logs:  {state.log_dir}")
    click.echo("  stop:  eis airflow stop")


@airflow_cli.command("stop")
@click.option(
    "--timeout", type=float, default=60, show_default=True, help="Seconds to wait after SIGTERM before sending SIGKILL."
)
def stop_cmd(timeout: float) -> None:
    """Stop the stack: terminate its whole process group and wait until it is gone."""
    from eis_core.orchestration import stack

    try:
        stopped = stack.stop(timeout=timeout, progress=_echo)
    except stack.StackError as exc:
        raise click.ClickException(str(exc)) from exc
    if not stopped:
        click.echo("Airflow is not running.")


@airflow_cli.command("status")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def status_cmd(as_json: bool) -> None:
    """Show whether the stack runs, its processes and the health of each component.

    Exit code 0 when running and healthy, 1 otherwise.
    """
    from eis_core.orchestration import stack

    st = stack.status()
    healthy = st.get("running") and stack._healthy(st.get("health"))
    if as_json:
        click.echo(json.dumps(st, indent=2))
    elif not st["running"]:
        click.echo("Airflow is not running (`eis airflow start`).")
    else:
        click.echo(f"Airflow at {st['url']} (process group {st['pgid']}); logs in {st['log_dir']}")
        for name, alive in st["processes"].items():
            click.echo(f"  {name:14s} {'running' if alive else 'DEAD'}")
        h = st.get("health")
        if h is None:
            click.echo("  api-server does not answer the health endpoint")
        else:
            for part in ("metadatabase", "scheduler", "dag_processor", "triggerer"):
                click.echo(f"  health {part:14s} {(h.get(part) or {}).get('status')}")
    sys.exit(0 if healthy else 1)


@airflow_cli.command("run-dag")
@click.argument("dag_id")
@click.option("--conf", help='DAG run conf as a JSON object, e.g. \'{"drop_dir": "var/drops/small"}\'.')
@click.option("--logical-date", help="Logical date (ISO 8601); default: now.")
def run_dag_cmd(dag_id: str, conf: str | None, logical_date: str | None) -> None:
    """Run DAG_ID once, in this terminal, with `airflow dags test` (no running stack needed).

    Tasks run in-process against the real metadata database; the output is streamed; the exit code
    is non-zero when the run fails.  Asset events are recorded as usual, so a running scheduler
    will start the DAGs scheduled on them.
    """
    from eis_core.orchestration import stack

    code = stack.run_dag(dag_id, _parse_conf(conf), logical_date, progress=_echo)
    if code != 0:
        _echo(f"DAG run of {dag_id} failed (exit code {code}).")
    sys.exit(code)


@airflow_cli.command("trigger")
@click.argument("dag_id")
@click.option("--conf", help="DAG run conf as a JSON object.")
@click.option("--wait/--no-wait", default=False, help="Wait until the run succeeds or fails.")
@click.option("--timeout", type=float, default=1800, show_default=True, help="Seconds to wait with --wait.")
def trigger_cmd(dag_id: str, conf: str | None, wait: bool, timeout: float) -> None:
    """Trigger DAG_ID on the running stack through the REST API.

    Logs in with POST /auth/token, unpauses the DAG if needed, POSTs /api/v2/dags/DAG_ID/dagRuns and,
    with --wait, polls the run until it succeeds (exit 0) or fails (exit 1).  A relative
    "drop_dir" in --conf is made absolute (the stack's tasks run elsewhere).
    """
    from pathlib import Path

    from eis_core.orchestration import stack

    run_conf = _parse_conf(conf)
    if run_conf and isinstance(run_conf.get("drop_dir"), str) and not Path(run_conf["drop_dir"]).is_absolute():
        # tasks of the stack do not run in this directory
        run_conf["drop_dir"] = str(Path(run_conf["drop_dir"]).resolve())
        _echo(f"drop_dir: {run_conf['drop_dir']}")
    try:
        run = stack.trigger(dag_id, run_conf, wait=wait, timeout=timeout, progress=_echo)
    except stack.StackError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(json.dumps({k: run.get(k) for k in ("dag_id", "dag_run_id", "state", "start_date", "end_date")}))
    if wait and run["state"] != "success":
        sys.exit(1)


@airflow_cli.command("env")
@click.option("--port", type=int, default=None, help="api-server port the environment should point at.")
def env_cmd(port: int | None) -> None:
    """Print the Airflow environment as `export` lines.

    Use it to run the airflow CLI by hand against the same metadata database:
    eval "$(eis airflow env)"; airflow dags list
    """
    from eis_core.orchestration import stack
    from eis_core.orchestration.airflow_env import airflow_settings

    if port is None:
        st = stack.read_state()
        port = st.port if st else None
    for key, value in airflow_settings(port).items():
        click.echo(f"export {key}={shlex.quote(value)}")


@airflow_cli.command("migrate")
def migrate_cmd() -> None:
    """Create or upgrade the Airflow metadata database (`airflow db migrate`)."""
    from eis_core.orchestration.airflow_env import airflow_env, prepare

    prepare(airflow_env(), progress=_echo, force=True)
