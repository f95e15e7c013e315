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


@dataclass
class Failure:
    level: str  # "table" or "row"
    rule: str
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
    url = db.sqlalchemy_url()
    try:
        ds = ctx.data_sources.get(DATASOURCE)
        if str(ds.connection_string) != url:
            ctx.data_sources.delete(DATASOURCE)
            raise KeyError
    except Exception:  # noqa: BLE001 - GE raises several types for "not found"
        ds = ctx.data_sources.add_sql(name=DATASOURCE, connection_string=url)
    return ctx, ds


class SuiteRunner:
    """Validates side tables ``raw_incoming.<table>`` with the committed suites."""

    def __init__(self) -> None:
        self.ctx, self.ds = _context()

    def validate(self, table: str, extracted_at: str, load_id: int) -> tuple[list[Failure], bool]:
        import great_expectations as gx
        from great_expectations.checkpoint import UpdateDataDocsAction
        from great_expectations.core import ExpectationSuite

        ctx, ds = self.ctx, self.ds
        asset_name = f"incoming_{table}"
        try:
            asset = ds.get_asset(asset_name)
        except Exception:  # noqa: BLE001
            asset = ds.add_table_asset(name=asset_name, table_name=table, schema_name=INCOMING_SCHEMA)
        try:
            batch_def = asset.get_batch_definition("whole_table")
        except Exception:  # noqa: BLE001
            batch_def = asset.add_batch_definition_whole_table("whole_table")
        suite_dict = read_suite(table)
        for name in (f"raw_{table}",):
            try:
                ctx.suites.delete(name)
            except Exception:  # noqa: BLE001
                pass
        suite = ctx.suites.add(ExpectationSuite(**suite_dict))
        vd_name, cp_name = f"validate_raw_{table}", f"load_raw_{table}"
        for store, name in ((ctx.checkpoints, cp_name), (ctx.validation_definitions, vd_name)):
            try:
                store.delete(name)
            except Exception:  # noqa: BLE001
                pass
        vd = ctx.validation_definitions.add(gx.ValidationDefinition(name=vd_name, data=batch_def, suite=suite))
        cp = ctx.checkpoints.add(gx.Checkpoint(
            name=cp_name, validation_definitions=[vd], actions=[UpdateDataDocsAction(name="update_data_docs")],
            result_format={"result_format": "COMPLETE", "unexpected_index_column_names": [ROW_COL]},
        ))
        result = cp.run(expectation_parameters={"extracted_at": extracted_at},
                        run_id=None)
        vres = list(result.run_results.values())[0]
        failures: list[Failure] = []
        for r in vres.results:
            if r.success:
                continue
            meta = r.expectation_config.meta or {}
            level, rule, column = meta.get("level", "table"), meta.get("rule", r.expectation_config.type), meta.get("column")
            res = r.result or {}
            if r.exception_info and r.exception_info.get("raised_exception"):
                failures.append(Failure("table", rule, column, 0,
                                        message=f"expectation could not run: {r.exception_info.get('exception_message')}"))
                continue
            if r.expectation_config.type == "unexpected_rows_expectation":
                rows = self._unexpected_rows(r.expectation_config.kwargs["unexpected_rows_query"], table)
                examples = [str(x.get(column)) for x in (res.get("details", {}) or {}).get("unexpected_rows", [])[:5]]
                failures.append(Failure(level, rule, column, len(rows), examples, rows))
                continue
            idx = res.get("unexpected_index_list") or []
            rows = [int(i[ROW_COL]) for i in idx if isinstance(i, dict) and ROW_COL in i]
            examples = [str(v) for v in (res.get("partial_unexpected_list") or res.get("unexpected_list") or [])[:5]]
            count = int(res.get("unexpected_count") or len(rows) or 0)
            if r.expectation_config.type == "expect_table_row_count_to_be_between":
                examples = [str(res.get("observed_value"))]
            if r.expectation_config.type == "expect_table_columns_to_match_set":
                examples = [str(res.get("observed_value"))]
            failures.append(Failure(level, rule, column, count, examples, rows))
        return failures, bool(vres.success)

    def _unexpected_rows(self, query: str, table: str) -> list[int]:
        from psycopg import sql

        batch = sql.SQL("{}.{}").format(sql.Identifier(INCOMING_SCHEMA), sql.Identifier(table))
        # The query text is generated from the contract (never from user input); only the batch
        # placeholder is substituted, as a quoted identifier.
        parts = query.split("{batch}")
        composed = sql.SQL("SELECT {} FROM (").format(sql.Identifier(ROW_COL))
        pieces = [sql.SQL(parts[0])]
        for p in parts[1:]:
            pieces += [batch, sql.SQL(p)]
        composed = composed + sql.Composed(pieces) + sql.SQL(") AS q")
        with db.connect() as conn:
            return [r[0] for r in conn.execute(composed).fetchall()]

    def data_docs_index(self) -> Path:
        return eis_home() / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"
