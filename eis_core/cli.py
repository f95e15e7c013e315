"""The ``eis`` command line: one entry point for every stage of the platform.

Subcommands live beside the code they drive and are imported only when used, so ``eis --help``
stays fast and a broken optional part cannot stop the rest from working.
"""

from __future__ import annotations

import importlib

import click

# name -> ("module:attribute", one-line help shown by `eis --help`)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "db": ("eis_core.db_cli:db_group", "Start, stop and inspect the warehouse PostgreSQL (embedded by default)."),
    "department": (
        "eis_core.departments.cli:department_cli",
        "The departments this installation serves: add, list, show, remove, pooled-model contribution.",
    ),
    "config": (
        "eis_core.config_check:config_cli",
        "Check the department's configs against its data (dates, legacy system, blocks).",
    ),
    "synth": ("eis_core.synth.cli:synth", "Generate a synthetic department drop (deterministic for a seed)."),
    "load": ("eis_core.load.cli:load", "Validate a drop with Great Expectations and load it into schema raw."),
    "contract": (
        "eis_core.contract.cli:contract",
        "Show the data contract; regenerate or check the GE suites and dbt sources.",
    ),
    "transform": (
        "eis_core.transform:transform_cli",
        "Run dbt build (staging, marts and their tests) on the warehouse.",
    ),
    "features": (
        "eis_core.features.cli:features_cli",
        "Build the officer feature and label marts (dbt) from the configs.",
    ),
    "splits": ("eis_core.modeling.cli:splits_cli", "Show (and plot) the temporal train/test splits of the config."),
    "matrices": (
        "eis_core.modeling.cli:matrices_cli",
        "Build and list the train/test matrices of the temporal splits.",
    ),
    "airflow": ("eis_core.orchestration.cli:airflow_cli", "Run the real Airflow 3 stack and its DAGs locally."),
    "select": (
        "eis_core.modeling.selection:select_cli",
        "Choose a model group (selection rules), print the leaderboard and Table 3.",
    ),
    "pool": (
        "eis_core.modeling.pooled_cli:pool_cli",
        "Pooled models for small departments: pooled vs department-only vs legacy, and a recommendation.",
    ),
    "forecast": (
        "eis_core.forecast.cli:forecast_cli",
        "Forecast calls (hourly) and stops (daily), peak hours, call-priority model.",
    ),
    "import": (
        "eis_core.forecast.cli:import_cli",
        "Convert real exports (San Diego calls and RIPA stops, Chicago CPDP) into drop folders.",
    ),
    "score": (
        "eis_core.production.cli:score_cli",
        "Score the active officers on a date: risk list, risk factors, bias audit.",
    ),
    "explain": (
        "eis_core.production.cli:explain_cli",
        "Explain a model group: permutation importance, risk-score curves, bias audit.",
    ),
    "alerts": (
        "eis_core.production.alerts_cli:alerts_cli",
        "Supervisor alerts: raise the newest date's and escalate overdue ones (daily), list them.",
    ),
    "feedback": ("eis_core.production.cli:feedback_cli", "Supervisor reviews of flagged officers, and their outcomes."),
    "severity": (
        "eis_core.severity.cli:severity_cli",
        "Crime-report severity model: train, serve, retrain, promote/rollback, status, monitor.",
    ),
    "tokens": (
        "eis_core.severity.cli:tokens_cli",
        "API tokens for the severity service (add, list, disable; stored hashed).",
    ),
    "dispatch": (
        "eis_core.dispatch.cli:dispatch_cli",
        "Dispatch-level risk: build the dataset, train, suggest officers for a call.",
    ),
    "demo": ("eis_core.demo:demo", "Run the whole pipeline on the small synthetic department and summarise it."),
    "webapp": (
        "eis_core.webapp.cli:webapp_cli",
        "Serve the EIS web app (risk list, officers, reviews, models) behind a login.",
    ),
    "users": (
        "eis_core.webapp.cli:users_cli",
        "Manage the web app's users: add, list, disable (argon2-hashed passwords).",
    ),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(SUBCOMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in SUBCOMMANDS:
            return None
        target, _ = SUBCOMMANDS[name]
        module, attr = target.split(":")
        return getattr(importlib.import_module(module), attr)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, SUBCOMMANDS[name][1]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="eis-platform")
@click.option(
    "--department",
    metavar="NAME",
    envvar="EIS_DEPARTMENT",
    default=None,
    help="The department to work for (default: EIS_DEPARTMENT, else `default`); see `eis department list`.",
)
def main(department: str | None) -> None:
    """Early Intervention System platform.

    Typical day one: `eis db start`, `eis synth --scale small --out var/drops/small`,
    `eis load var/drops/small`, `eis transform`.  `make demo` does all of it through Airflow.
    The warehouse is the embedded PostgreSQL unless EIS_DATABASE_URL names another server.
    Several departments: `eis department add NAME`, then `eis --department NAME load ...`.
    """
    import os

    from eis_core import departments

    if department:
        name = departments.check_name(department)
        os.environ[departments.ENV] = name  # for this process and what it starts (dbt, Airflow tasks)
        if name != departments.DEFAULT and not _is_department_admin_command():
            from eis_core.departments import registry

            registry.get(name)  # an unknown department is a one-line error, not an empty warehouse


def _is_department_admin_command() -> bool:
    ctx = click.get_current_context()
    return ctx.invoked_subcommand == "department"


if __name__ == "__main__":  # pragma: no cover
    main()
