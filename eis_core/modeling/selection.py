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

Modules: :mod:`~eis_core.modeling.selection_rules` (the rules and the data they read),
:mod:`~eis_core.modeling.selection_report` (leaderboard and Table 3 as text, the Markdown report),
:mod:`~eis_core.modeling.selection_plots` (its figures), and here ``select_model_group`` and ``eis select``.
Their public names are importable from here too.
"""

from __future__ import annotations

import json
from typing import Any

import click

from eis_core.modeling.selection_plots import write_plots
from eis_core.modeling.selection_report import leaderboard_text, table3_lines, table3_text, write_report  # noqa: F401
from eis_core.modeling.selection_rules import (  # noqa: F401 (re-exported)
    LEGACY_SOURCE_WORDS,
    RECENCY_HALF_LIFE,
    RULES,
    VARIANCE_TOLERANCE,
    apply_rules,
    board_from,
    chosen_group,
    experiment_config,
    group_info,
    group_name,
    leaderboard,
    leaderboard_frame,
    legacy_source_words,
    metric_values,
    recency_weighted_mean,
    table3,
    table3_total,
)


def select_model_group(experiment_id: str, officer_cfg: Any = None, selected_by: str = "eis select") -> dict:
    """Apply every selection rule, store the winners (``chosen`` for ``selection.chosen_rule``), write
    the report; returns {model_group_id, rule, report_path, leaderboard, winners, metric}."""
    from eis_core import db
    from eis_core.artifacts.storage import local_dir
    from eis_core.modeling.results import ensure_results_schema
    from eis_core.modeling.train import resolve_project_path

    ensure_results_schema()
    if officer_cfg is None:
        with db.connect() as conn:
            stored = experiment_config(conn, experiment_id)
        sel, project_path = stored.get("selection") or {}, stored.get("project_path", "project")
    else:
        sel = officer_cfg.selection.model_dump() if hasattr(officer_cfg, "selection") else officer_cfg["selection"]
        project_path = getattr(officer_cfg, "project_path", None) or "project"
    metric_name = sel.get("metric", "precision@10%")
    rules = list(sel.get("rules") or RULES)
    rule = sel.get("chosen_rule", "best_average")
    lb = leaderboard(experiment_id, metric_name)
    winners = apply_rules(board_from(lb), lb["greater_is_better"], rules)
    lb["winners"] = winners
    if not winners:
        raise click.ClickException(
            f"experiment {experiment_id}: no evaluations of {metric_name} to select from "
            "(run the modeling pipeline and evaluate_run first)"
        )
    chosen = winners[rule]
    report_dir = local_dir(resolve_project_path(project_path)) / "reports"  # reports stay on the local disk
    report_dir.mkdir(parents=True, exist_ok=True)
    report = report_dir / f"selection_{experiment_id}.md"
    t3 = table3(experiment_id, chosen)
    plots = write_plots(report_dir, experiment_id, lb, chosen, t3)
    write_report(report, experiment_id, lb, rule, chosen, plots, t3, selected_by)
    with db.connect() as conn:
        for r, g in winners.items():
            conn.execute(
                "INSERT INTO results.selections (experiment_id, rule, metric, model_group_id, chosen, "
                "report_path, selected_by) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                (experiment_id, r, lb["metric"], g, r == rule, str(report), selected_by),
            )
    return {
        "model_group_id": chosen,
        "rule": rule,
        "report_path": str(report),
        "metric": lb["metric"],
        "winners": winners,
        "leaderboard": lb["rows"],
    }


def latest_experiment() -> str | None:
    from eis_core import db
    from eis_core.modeling.results import ensure_results_schema

    ensure_results_schema()
    with db.connect() as conn:
        # officer-level experiments only: the dispatch-level experiment (eis dispatch) has its own models
        row = conn.execute(
            "SELECT r.experiment_id FROM results.runs r JOIN results.experiments x USING (experiment_id) "
            "WHERE EXISTS (SELECT 1 FROM results.run_models rm "
            "JOIN results.evaluations e USING (model_id) WHERE rm.run_id = r.run_id) "
            "AND coalesce(x.config -> 'officer' ->> 'kind', '') <> 'dispatch_level' "
            "ORDER BY r.run_id DESC LIMIT 1"
        ).fetchone()
    return row[0] if row else None


@click.command("select")
@click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="officer config (default configs/officer_config.yaml): selection metric, rules, chosen rule",
)
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
