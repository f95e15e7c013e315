"""``eis config check``: does this department's configuration fit its data?

A new department starts from the shipped configs, whose dates, adverse definition and legacy rules are
those of the synthetic department.  This check reads both configs and, when a drop has been loaded,
compares them with what the warehouse holds, then prints one line per finding:

* the as-of grid and the temporal splits against the data's date range (as-of dates before the first
  record or after the extraction date; label windows that run past the extraction date; too few
  test splits);
* the legacy comparison: the drop's own ``eis_flags`` (used by Table 3 when present) or the configured
  ``legacy_rules`` (event types the data never holds; no rules at all);
* feature blocks switched on for tables the drop did not provide.

The findings are pure functions of the configs and a :class:`DataRange` (testable without a database);
:func:`data_range` reads one from the warehouse.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import click

#: feature block -> the raw table it needs
BLOCK_TABLES = {
    "ia_history": "ia_cases",
    "use_of_force": "use_of_force",
    "dispatches": "dispatches",
    "arrests": "arrests",
    "traffic_stops": "traffic_stops",
    "field_interviews": "field_interviews",
    "citations": "citations",
    "secondary_employment": "secondary_employment",
    "training": "training",
    "eis_flags": "eis_flags",
    "neighborhood": "neighborhoods",
}


@dataclass(frozen=True)
class DataRange:
    """What the warehouse holds: first and last IA case (reported), the extraction date, row counts of
    the raw tables and the IA event types present."""

    first_record: date | None
    last_record: date | None
    extracted: date | None
    rows: dict[str, int] = field(default_factory=dict)
    event_types: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Finding:
    level: str  # "warning" or "note"
    text: str


def _fmt(d: date | None) -> str:
    return d.isoformat() if d else "?"


def check_dates(officer, labels, data: DataRange) -> list[Finding]:
    from eis_core.modeling.splits import SplitError, make_splits

    out: list[Finding] = []
    dates = officer.as_of_dates.dates()
    if data.first_record and dates and dates[0] < data.first_record:
        before = [d for d in dates if d < data.first_record]
        out.append(
            Finding(
                "warning",
                f"{len(before)} as-of date(s) ({_fmt(before[0])} … {_fmt(before[-1])}) come before "
                f"the first IA case ({_fmt(data.first_record)}): their features are all zero; "
                "move as_of_dates.start",
            )
        )
    end = data.extracted or data.last_record
    if end and dates and dates[-1] > end:
        after = [d for d in dates if d > end]
        out.append(
            Finding(
                "warning",
                f"{len(after)} as-of date(s) ({_fmt(after[0])} … {_fmt(after[-1])}) come after the "
                f"data end ({_fmt(end)}); move as_of_dates.end",
            )
        )
    tc = officer.temporal_config
    if tc is None:
        out.append(Finding("warning", "no temporal_config: no splits, no model can be trained or compared"))
        return out
    label_end = tc.label_end_time + tc.label_window.delta()  # exclusive: the window is [D, D + label window)
    if end and label_end > end + timedelta(days=1):
        out.append(
            Finding(
                "warning",
                f"temporal_config.label_end_time {_fmt(tc.label_end_time)} + label_window "
                f"{tc.label_window} = {_fmt(label_end)} is after the data end ({_fmt(end)}): "
                "the last labels are not fully observed; move label_end_time back",
            )
        )
    if data.first_record and tc.feature_start_time < data.first_record:
        out.append(
            Finding(
                "note",
                f"temporal_config.feature_start_time {_fmt(tc.feature_start_time)} is before the first "
                f"IA case ({_fmt(data.first_record)})",
            )
        )
    try:
        splits = make_splits(tc)
    except SplitError as e:
        out.append(Finding("warning", f"the temporal_config yields no split: {e}"))
        return out
    if len(splits) < 3:
        out.append(
            Finding(
                "warning",
                f"only {len(splits)} test split(s): too few to choose a model group that holds "
                "over time; add as-of dates or shorten model_update_frequency",
            )
        )
    thin = [s.split_id for s in splits if len(s.train_as_of_dates) < 3]
    if thin:
        out.append(
            Finding(
                "warning",
                f"{len(thin)} split(s) train on fewer than 3 as-of dates ({', '.join(thin[:3])}"
                f"{' …' if len(thin) > 3 else ''}); lower training_as_of_frequency or move "
                "label_start_time back",
            )
        )
    return out


def check_legacy(officer, data: DataRange) -> list[Finding]:
    out: list[Finding] = []
    if data.rows.get("eis_flags"):
        out.append(
            Finding(
                "note",
                f"the drop has {data.rows['eis_flags']:,} eis_flags: Table 3 compares the model with "
                "the department's own flags (raised in the year before each as-of date)",
            )
        )
        if not officer.feature_blocks.get("eis_flags"):
            out.append(
                Finding(
                    "warning",
                    "feature block eis_flags is off: Table 3 cannot use the department's flags "
                    "and falls back to legacy_rules",
                )
            )
        return out
    if not officer.legacy_rules:
        out.append(
            Finding(
                "warning",
                "no eis_flags in the drop and no legacy_rules in the config: Table 3 has no "
                "legacy system to compare with; write your system's threshold rules",
            )
        )
        return out
    out.append(
        Finding(
            "note",
            f"no eis_flags in the drop: Table 3 compares with the {len(officer.legacy_rules)} "
            "legacy_rules of the config; make sure they are your department's own",
        )
    )
    for rule in officer.legacy_rules:
        if rule.source == "ia_cases" and rule.event_types and data.event_types:
            missing = sorted(set(rule.event_types) - data.event_types)
            if len(missing) == len(rule.event_types):
                out.append(
                    Finding(
                        "warning",
                        f"legacy rule {rule.name} counts {', '.join(missing)}, which the data "
                        "never holds: it can never fire",
                    )
                )
        if rule.source == "use_of_force" and not data.rows.get("use_of_force"):
            out.append(Finding("warning", f"legacy rule {rule.name} counts use_of_force reports; the drop has none"))
    return out


def check_blocks(officer, data: DataRange) -> list[Finding]:
    if not data.rows:
        return []
    off = [b for b, t in BLOCK_TABLES.items() if officer.feature_blocks.get(b) and not data.rows.get(t)]
    if not off:
        return []
    return [
        Finding(
            "note",
            f"feature block(s) {', '.join(off)} are on but their tables hold no rows: they are skipped "
            "(switch them off to say so)",
        )
    ]


def check(officer, labels, data: DataRange) -> list[Finding]:
    return check_dates(officer, labels, data) + check_legacy(officer, data) + check_blocks(officer, data)


def data_range(conn=None) -> DataRange | None:
    """The warehouse's :class:`DataRange`, or None when nothing has been loaded."""
    from eis_core import db
    from eis_core.production.staleness import data_extraction

    if conn is None:
        with db.connect() as own:
            return data_range(own)
    if conn.execute("SELECT to_regclass('raw.ia_cases')").fetchone()[0] is None:
        return None
    first, last = conn.execute("SELECT min(reported_date), max(reported_date) FROM raw.ia_cases").fetchone()
    rows = {}
    for table in sorted(set(BLOCK_TABLES.values())):
        if conn.execute("SELECT to_regclass(%s)", (f"raw.{table}",)).fetchone()[0] is not None:
            from psycopg import sql

            rows[table] = conn.execute(
                sql.SQL("SELECT count(*) FROM {}.{}").format(sql.Identifier("raw"), sql.Identifier(table))
            ).fetchone()[0]
    types = frozenset(r[0] for r in conn.execute("SELECT DISTINCT event_type FROM raw.ia_cases").fetchall())
    extracted, _ = data_extraction(conn)
    return DataRange(first, last, extracted, rows, types)


class ConfigInvalid(click.ClickException):
    exit_code = 2


@click.group("config")
def config_cli() -> None:
    """Check this department's configuration against its data."""


@config_cli.command("check")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Officer config (default: configs/officer_config.yaml).",
)
@click.option(
    "--labels",
    "labels_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Labels config (default: configs/labels_config.yaml).",
)
@click.option("--strict", is_flag=True, help="Exit 1 when there is any warning (for CI of a department's configs).")
def check_cli(config_path: Path | None, labels_path: Path | None, strict: bool) -> None:
    """Validate both configs and compare them with the loaded data.

    Prints one line per finding: as-of dates outside the data, label windows past the extraction date,
    too few splits, what Table 3 compares with (the drop's eis_flags or your legacy_rules), rules that
    can never fire, blocks without data.  Exit 0 (warnings are printed), 1 with --strict and a warning,
    2 when a config is invalid.  docs/new-department.md says which settings to adapt.
    """
    from eis_core.config import (
        DEFAULT_LABELS_CONFIG,
        DEFAULT_OFFICER_CONFIG,
        ConfigError,
        load_labels_config,
        load_officer_config,
    )

    config_path = config_path or DEFAULT_OFFICER_CONFIG
    labels_path = labels_path or DEFAULT_LABELS_CONFIG
    try:
        officer = load_officer_config(config_path)
        labels = load_labels_config(labels_path)
    except (ConfigError, OSError, ValueError) as e:
        raise ConfigInvalid(str(e).splitlines()[0]) from None
    click.echo(f"{config_path}: valid; {labels_path}: valid")
    try:
        data = data_range()
    except Exception as e:  # noqa: BLE001 - no warehouse yet is a finding, not a crash
        data = None
        click.echo(f"note: the warehouse cannot be read ({str(e).splitlines()[0]}); only the configs were checked")
    if data is None:
        data = DataRange(None, None, None)
        click.echo("note: no drop loaded yet: dates are checked against the configs only (load a drop, then rerun)")
    else:
        click.echo(
            f"data: IA cases reported {_fmt(data.first_record)} … {_fmt(data.last_record)}, "
            f"extracted {_fmt(data.extracted)}"
        )
    findings = check(officer, labels, data)
    for f in findings:
        click.echo(f"{f.level}: {f.text}")
    warnings = sum(1 for f in findings if f.level == "warning")
    click.echo(f"{warnings} warning(s)" if warnings else "no warnings")
    if strict and warnings:
        raise SystemExit(1)
