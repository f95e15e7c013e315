"""``eis score``, ``eis explain`` and ``eis feedback``: daily scoring, model explanations, supervisor reviews."""

from __future__ import annotations

import json
import sys
from datetime import date, timedelta

import click

from eis_core.config import DEFAULT_LABELS_CONFIG, DEFAULT_OFFICER_CONFIG, ConfigError


def _dates(start: str, end: str | None) -> list[date]:
    from eis_core.production.scoring import parse_date

    a = parse_date(start)
    b = parse_date(end) if end else a
    if b < a:
        raise click.BadParameter(f"--to {b} is before --date {a}")
    return [a + timedelta(days=i) for i in range((b - a).days + 1)]


@click.command("score", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--date", "day", required=True, help="as-of date YYYY-MM-DD to score (features use only what was known before it)")
@click.option("--to", "until", help="score every day from --date through this date (a backfill; each day replaced atomically)")
@click.option("--model-group", "model_group", help="model group id (default: the newest chosen by `eis select`)")
@click.option("--mode", type=click.Choice(["stored", "retrain"]),
              help="stored: newest stored model of the group; retrain: refit on the window ending at the date "
                   "(default: production.mode of the config)")
@click.option("--config", default=str(DEFAULT_OFFICER_CONFIG), show_default=True, help="officer config YAML")
@click.option("--labels", default=str(DEFAULT_LABELS_CONFIG), show_default=True, help="labels config YAML")
@click.option("--top", default=10, show_default=True, help="officers of the risk list to print")
@click.option("--json", "as_json", is_flag=True, help="print the scoring summary as JSON")
def score_cli(day, until, model_group, mode, config, labels, top, as_json) -> None:
    """Score the active officers on a date: ranks, risk factors, rank changes, unit risk, bias audit.

    Writes schema production (one transaction per date: a re-run replaces the date's rows).
    Exit code 2 for a request that cannot be served (unknown model group, date in the future or before
    any usable training data, nothing selected), 1 when the pipeline fails.
    """
    from eis_core.modeling.matrices import MatrixError
    from eis_core.production.scoring import ProductionError, bias_summary_text, risk_list_text, score_day
    from eis_core.transform import TransformError

    try:
        days = _dates(day, until)
        results = []
        for d in days:
            results.append(score_day(d, model_group, mode, config, labels,
                                     progress=None if as_json else click.echo))
    except (ProductionError, ConfigError, click.BadParameter) as exc:
        click.secho(f"error: {exc}", fg="red", err=True)
        sys.exit(2)
    except (MatrixError, TransformError) as exc:
        click.secho(f"error: {exc}", fg="red", err=True)
        sys.exit(1)
    if as_json:
        click.echo(json.dumps([r.to_dict() for r in results], indent=2))
        return
    last = results[-1].as_of_date
    click.echo("")
    click.echo(risk_list_text(last, top))
    click.echo("")
    click.echo(bias_summary_text(last))


@click.command("explain", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--model-group", "model_group", help="model group id (default: the newest chosen)")
@click.option("--model", "model_id", help="one model id (default: the group's newest model)")
@click.option("--top", default=12, show_default=True, help="features with risk-score curves and permutation importance")
@click.option("--samples", default=5000, show_default=True, help="Monte Carlo samples of the risk-score curves")
@click.option("--repeats", default=5, show_default=True, help="permutation-importance repeats")
@click.option("--config", default=str(DEFAULT_OFFICER_CONFIG), show_default=True, help="officer config YAML")
@click.option("--no-bias-audit", is_flag=True, help="skip the bias audit of the group's test splits")
def explain_cli(model_group, model_id, top, samples, repeats, config, no_bias_audit) -> None:
    """Explain a model group: permutation importance, risk-score curves with directionality, partial
    dependence (tables in schema results, PNGs under <project>/reports/explain/) and its bias audit."""
    from eis_core import db
    from eis_core.config import load_officer_config
    from eis_core.production.insights import audit_model_group, explain_model, newest_model_of_group
    from eis_core.production.scoring import ProductionError, resolve_model_group

    try:
        cfg = load_officer_config(config)
        with db.connect() as conn:
            group, _ = resolve_model_group(conn, model_group)
        model_id = model_id or newest_model_of_group(group)
        if model_id is None:
            raise ProductionError(f"model group {group} has no finished model with a test matrix")
        explain_model(model_id, top=top, n_samples=samples, n_repeats=repeats, progress=click.echo, officer_cfg=cfg)
        if not no_bias_audit:
            audit_model_group(group, cfg, progress=click.echo)
    except (ProductionError, ConfigError, ValueError) as exc:
        click.secho(f"error: {exc}", fg="red", err=True)
        sys.exit(2)


@click.group("feedback", context_settings={"help_option_names": ["-h", "--help"]})
def feedback_cli() -> None:
    """Supervisor reviews of flagged officers (production.reviews) and how they turned out."""


def _factor_pairs(values: tuple[str, ...]) -> dict[str, bool]:
    out = {}
    for v in values:
        name, sep, ans = v.partition("=")
        if not sep or ans.lower() not in ("agree", "disagree", "yes", "no", "true", "false"):
            raise click.BadParameter(f"{v!r}: use FEATURE=agree or FEATURE=disagree", param_hint="--factor")
        out[name] = ans.lower() in ("agree", "yes", "true")
    return out


@feedback_cli.command("add")
@click.option("--officer", required=True, help="officer id")
@click.option("--date", "day", required=True, help="the scored as-of date being reviewed (YYYY-MM-DD)")
@click.option("--reviewer", required=True, help="who reviews (supervisor's user name)")
@click.option("--agree/--disagree", "agrees", required=True, help="agree with the score or not")
@click.option("--factor", "factors", multiple=True, help="FEATURE=agree|disagree, once per risk factor shown")
@click.option("--all-factors", type=click.Choice(["agree", "disagree"]), help="the same answer for every risk factor")
@click.option("--reason", help="dismissal reason (required with --disagree)")
@click.option("--intervention", type=click.Choice(["training", "counselling", "reassignment", "none"]), required=True)
@click.option("--intervention-date", help="YYYY-MM-DD (required unless --intervention none)")
@click.option("--notes", help="free text")
def feedback_add(officer, day, reviewer, agrees, factors, all_factors, reason, intervention, intervention_date, notes):
    """Record a review of a flagged officer."""
    from eis_core import db
    from eis_core.production.reviews import ReviewError, add_review
    from eis_core.production.scoring import ProductionError, parse_date

    try:
        d = parse_date(day)
        answers = _factor_pairs(factors)
        if all_factors:
            with db.connect() as conn:
                for (f,) in conn.execute("SELECT feature FROM production.risk_factors WHERE officer_id = %s "
                                         "AND as_of_date = %s", (officer, d)):
                    answers.setdefault(f, all_factors == "agree")
        rid = add_review(officer, d, reviewer, agrees, answers, intervention,
                         parse_date(intervention_date) if intervention_date else None, reason, notes)
    except (ReviewError, ProductionError, click.BadParameter) as exc:
        click.secho(f"error: {exc}", fg="red", err=True)
        sys.exit(2)
    click.echo(f"review {rid} recorded for {officer} on {d}")


@feedback_cli.command("list")
@click.option("--officer", help="only this officer")
@click.option("--limit", default=50, show_default=True)
def feedback_list(officer, limit):
    """The newest reviews."""
    from eis_core.production.reviews import list_reviews

    rows = list_reviews(officer, limit)
    if not rows:
        click.echo("no reviews yet")
        return
    for r in rows:
        agree = "agrees" if r["agrees_with_score"] else f"disagrees ({r['dismissal_reason']})"
        when = f" on {r['intervention_date']}" if r["intervention_date"] else ""
        click.echo(f"#{r['review_id']} {r['as_of_date']} {r['officer_id']} by {r['reviewer']}: {agree}; "
                   f"intervention {r['intervention']}{when}")


@feedback_cli.command("outcomes")
def feedback_outcomes():
    """Reviews next to outcomes: share of flagged officers with an adverse incident, per intervention."""
    from eis_core.production.reviews import review_outcomes

    rows = review_outcomes()
    if not rows:
        click.echo("nothing to report yet")
        return
    from eis_core.cli_tables import echo_table

    echo_table(["intervention", ("officers", "right"), ("observed", "right"), ("adverse", "right")],
               [(r["intervention"], r["officers"], r["with_outcome"],
                 "-" if r["adverse_rate"] is None else f"{r['adverse_rate']:.1%}") for r in rows])
