"""Running the committed Great Expectations suites against a side table, and building Data Docs.

Great Expectations Core 1.x, SQL data source on the active warehouse (``data_sources.add_sql``: the
``add_postgres`` helper rejects the embedded server's socket URL).  The GE file context lives in
``$EIS_HOME/gx``; Data Docs end up in ``$EIS_HOME/gx/uncommitted/data_docs/local_site/index.html``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from eis_core import db
from eis_core.load.parse import ROW_COL
from eis_core.load.suites import INCOMING_SCHEMA, read_suite
from eis_core.paths import eis_home

DATASOURCE = "warehouse"
#: The GE data source's connection string is this config variable, resolved from the process environment
#: when GE connects: ``great_expectations.yml`` holds ``${EIS_GX_WAREHOUSE_URL}``, never the password.
URL_VARIABLE = "EIS_GX_WAREHOUSE_URL"
URL_REFERENCE = "${" + URL_VARIABLE + "}"


@dataclass
class Failure:
    level: str  # "table" or "row"
    rule: str
    etype: str
    column: str | None
    count: int
    examples: list = field(default_factory=list)
    row_numbers: list[int] = field(default_factory=list)
    message: str = ""


def _context():
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    ctx = gx.get_context(mode="file", project_root_dir=str(eis_home()))
    bars = ctx.variables.progress_bars
    globally = bars.get("globally") if isinstance(bars, dict) else getattr(bars, "globally", None)
    if globally is not False:
        ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
        ctx.variables.save()
    # the secret stays in this process's environment; the file context only names the variable
    os.environ[URL_VARIABLE] = db.sqlalchemy_url()
    if _stored_connection_string(ctx) == URL_REFERENCE:
        ds = ctx.data_sources.get(DATASOURCE)
    else:  # a new home, or one written by an older version that held the URL itself
        ds = ctx.data_sources.add_or_update_sql(name=DATASOURCE, connection_string=URL_REFERENCE)
    return ctx, ds


def _stored_connection_string(ctx) -> str | None:
    """The data source's connection string as written in the file (before config substitution)."""
    import yaml

    path = Path(ctx.root_directory) / "great_expectations.yml"
    try:
        conf = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError):
        return None
    return ((conf.get("fluent_datasources") or {}).get(DATASOURCE) or {}).get("connection_string")


def with_officers(suite: dict, officers_table: str | None) -> dict:
    """*suite* with its row rules' ``raw.officers`` replaced by this load's officers side table.

    Great Expectations validates on its own connection, which sees committed rows only: on a department's
    first load (or any load that adds officers) ``raw.officers`` lacks this load's officers, so every row
    of every other table would break "known officer" -- and GE's query metric fetches the whole result
    into the client (psycopg2 buffers it: 0.9 GB at 2.8M dispatches), only to have the count ignored.
    The committed side table of the officers this load keeps is what the loader's own SQL rules check
    against (``DropLoader.officers_source``)."""
    if not officers_table:
        return suite

    quoted = '"' + officers_table.replace('"', '""') + '"'
    old = "(SELECT officer_id FROM raw.officers)"
    new = f"(SELECT officer_id FROM {INCOMING_SCHEMA}.{quoted})"
    out = dict(suite)
    out["expectations"] = [
        {
            **e,
            "kwargs": {**e["kwargs"], "unexpected_rows_query": e["kwargs"]["unexpected_rows_query"].replace(old, new)},
        }
        if "unexpected_rows_query" in (e.get("kwargs") or {})
        else e
        for e in suite["expectations"]
    ]
    return out


class SuiteRunner:
    """Validates a load's side tables ``raw_incoming.<table>__load<id>`` with the committed suites.

    Row-level results are counts only: the SQL engine lists at most 20 failing rows, so the loader
    finds the rows themselves in the database (``rowrules.failing_rows``).
    """

    def __init__(self) -> None:
        self.ctx, self.ds = _context()
        for name in sorted(self.ds.get_asset_names()):  # assets of side tables of earlier (finished or killed) loads
            if name.startswith("incoming_"):
                self.ds.delete_asset(name)
        self._made: list = []  # (delete, name) of what the current validation added, newest last

    def validate(
        self, table: str, side_table: str, extracted_at: str, officers_table: str | None = None
    ) -> tuple[list[Failure], bool]:
        """*officers_table*: the side table (in ``raw_incoming``) of the officers this load leaves in
        ``raw.officers``; the suite's "known officer" rules then read it instead of ``raw.officers``."""
        try:
            return self._validate(table, side_table, extracted_at, officers_table)
        finally:  # this load's checkpoint, validation definition and asset go with its side table
            while self._made:
                delete, name = self._made.pop()
                delete(name)

    def _validate(
        self, table: str, side_table: str, extracted_at: str, officers_table: str | None
    ) -> tuple[list[Failure], bool]:
        import great_expectations as gx
        from great_expectations.checkpoint import UpdateDataDocsAction
        from great_expectations.core import ExpectationSuite

        ctx, ds = self.ctx, self.ds
        asset_name = f"incoming_{side_table}"
        if asset_name in ds.get_asset_names():  # a table asset has no add_or_update: replace it
            ds.delete_asset(asset_name)
        asset = ds.add_table_asset(name=asset_name, table_name=side_table, schema_name=INCOMING_SCHEMA)
        self._made.append((ds.delete_asset, asset_name))
        batch_def = asset.add_batch_definition_whole_table("whole_table")
        suite = ctx.suites.add_or_update(ExpectationSuite(**with_officers(read_suite(table), officers_table)))
        vd = ctx.validation_definitions.add_or_update(
            gx.ValidationDefinition(name=f"validate_{side_table}", data=batch_def, suite=suite)
        )
        self._made.append((ctx.validation_definitions.delete, vd.name))
        cp = ctx.checkpoints.add_or_update(
            gx.Checkpoint(
                name=f"load_{side_table}",
                validation_definitions=[vd],
                actions=[UpdateDataDocsAction(name="update_data_docs")],
                # counts and a few examples; the failing rows themselves come from the database (rowrules)
                result_format={"result_format": "SUMMARY"},
            )
        )
        self._made.append((ctx.checkpoints.delete, cp.name))
        result = cp.run(expectation_parameters={"extracted_at": extracted_at}, run_id=None)
        vres = list(result.run_results.values())[0]
        failures: list[Failure] = []
        for r in vres.results:
            if r.success:
                continue
            meta = r.expectation_config.meta or {}
            level, rule, column = (
                meta.get("level", "table"),
                meta.get("rule", r.expectation_config.type),
                meta.get("column"),
            )
            res = r.result or {}
            if r.exception_info and r.exception_info.get("raised_exception"):
                failures.append(
                    Failure(
                        "table",
                        rule,
                        r.expectation_config.type,
                        column,
                        0,
                        message=f"expectation could not run: {r.exception_info.get('exception_message')}",
                    )
                )
                continue
            if r.expectation_config.type == "unexpected_rows_expectation":
                failures.append(
                    Failure(level, rule, r.expectation_config.type, column, int(res.get("observed_value") or 0))
                )
                continue
            idx = res.get("unexpected_index_list") or []
            rows = [int(i[ROW_COL]) for i in idx if isinstance(i, dict) and ROW_COL in i]
            examples = [str(v) for v in (res.get("partial_unexpected_list") or res.get("unexpected_list") or [])[:5]]
            count = int(res.get("unexpected_count") or len(rows) or 0)
            if r.expectation_config.type == "expect_table_row_count_to_be_between":
                examples = [str(res.get("observed_value"))]
            if r.expectation_config.type == "expect_table_columns_to_match_set":
                examples = [str(res.get("observed_value"))]
            failures.append(Failure(level, rule, r.expectation_config.type, column, count, examples, rows))
        return failures, bool(vres.success)

    def data_docs_index(self) -> Path:
        return eis_home() / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"
