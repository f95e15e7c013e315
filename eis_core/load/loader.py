"""``load_drop``: validate a department drop and load it into schema ``raw``, table by table.

For each contract table, in contract order (officers first, so every other table is checked against
the officers as they will be after this load):

1. read the file strictly (``parse.read_table_file``): missing file, empty file, bad encoding,
   missing column or a value of the wrong type reject the table;
2. put the typed rows into a side table ``raw_incoming.<table>``;
3. validate the side table with the committed Great Expectations suite: table-level failures (unique
   key, empty table) reject the table; row-level failures send those rows, with every reason, to
   ``raw.quarantine``; more than ``reject_share`` bad rows reject the table;
4. in ONE transaction: replace the rows of ``raw.<table>`` with the good rows, write the quarantined
   rows and the ``raw.load_log`` row.  A rejected table keeps its previous data; its rows all go to
   quarantine with the reasons.  Every input row is either loaded or quarantined and counted.

A file whose checksum equals the last accepted load of that table is not loaded again ("unchanged").

Contract v2: a table outside ``required_tables`` that is absent or only a header row is "not provided"
(logged, listed once in the report, its earlier rows untouched); a required one is rejected. A drop
whose ``_drop.json`` says ``"kind": "activity"`` requires no table.
"""

from __future__ import annotations

import io
import json
import shutil
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Callable

import pyarrow as pa
import pyarrow.csv as pacsv
from psycopg import sql

from eis_core import db
from eis_core.contract import Contract, Table, load_contract
from eis_core.load.ddl import CONTROL_DDL, RAW_SCHEMA, create_raw_table
from eis_core.load.parse import ROW_COL, ParsedFile, Problem, find_file, read_table_file, sha256_of
from eis_core.load.suites import INCOMING_SCHEMA
from eis_core.paths import eis_home

ACCEPTED = ("loaded", "loaded_with_quarantine", "unchanged")
#: an optional table absent from the drop or only a header row: its previous rows (if any) stay in raw
NOT_PROVIDED = "not_provided"
#: ``_drop.json`` "kind": a department drop needs the contract's required tables; an activity drop
#: (calls, stops for forecasting, e.g. from a city's open data) needs none of them
DROP_KINDS = ("department", "activity")


class LoadRejected(RuntimeError):
    """At least one table of the drop was rejected (its previous data is untouched)."""


@dataclass
class TableResult:
    table: str
    status: str
    file: str | None = None
    rows_in: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    message: str = ""
    problems: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def rejected(self) -> bool:
        return self.status in ("rejected", "missing")

    @property
    def not_provided(self) -> bool:
        return self.status == NOT_PROVIDED


@dataclass
class LoadReport:
    load_id: int
    drop_dir: str
    extracted_at: str
    tables: list[TableResult]
    data_docs: str | None = None

    @property
    def ok(self) -> bool:
        return not any(t.rejected for t in self.tables)

    def table(self, name: str) -> TableResult:
        return next(t for t in self.tables if t.table == name)

    def as_dict(self) -> dict:
        return {"load_id": self.load_id, "drop_dir": self.drop_dir, "ok": self.ok, "data_docs": self.data_docs,
                "tables": [asdict(t) for t in self.tables]}

    def summary(self) -> str:
        w = max(len(t.table) for t in self.tables) if self.tables else 5
        lines = [f"load {self.load_id} of {self.drop_dir} (extracted {self.extracted_at})",
                 f"{'table':<{w}}  {'status':<22} {'rows in':>10} {'loaded':>10} {'quarantined':>11}"]
        for t in self.tables:
            if not t.not_provided:
                lines.append(f"{t.table:<{w}}  {t.status:<22} {t.rows_in:>10,} {t.rows_loaded:>10,} {t.rows_quarantined:>11,}")
        absent = [t.table for t in self.tables if t.not_provided]
        if absent:
            lines.append(f"not provided (optional; features that need them carry no information): {', '.join(absent)}")
        for t in self.tables:
            for p in t.problems:
                lines.append(f"  {'REJECTED' if t.rejected else 'quarantined'} {t.table}"
                             f"{'.' + p['column'] if p.get('column') else ''}: rule '{p['rule']}': {p['message']}")
            for wmsg in t.warnings:
                lines.append(f"  warning {t.table}: {wmsg}")
        if self.data_docs:
            lines.append(f"Great Expectations Data Docs: {self.data_docs}")
        lines.append("result: " + ("OK" if self.ok else "REJECTED tables: " + ", ".join(t.table for t in self.tables if t.rejected)))
        return "\n".join(lines)

    def raise_for_status(self) -> None:
        if not self.ok:
            raise LoadRejected(self.summary())


def ensure_raw_schema(contract: Contract | None = None) -> None:
    """Create the control tables and an empty ``raw.<table>`` for every contract table."""
    contract = contract or load_contract()
    with db.connect() as conn:
        conn.execute(CONTROL_DDL)
        existing = {r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (RAW_SCHEMA,))}
        for t in contract.ordered_tables():
            if t.name not in existing:
                conn.execute(create_raw_table(RAW_SCHEMA, t.name, t, []))
                continue
            # a warehouse created under an older contract gets the columns added since (v2: ia_cases.allegation)
            have = {r[0] for r in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s",
                (RAW_SCHEMA, t.name))}
            for c in t.column_list:
                if c.name not in have:
                    conn.execute(sql.SQL("ALTER TABLE {}.{} ADD COLUMN {} {}").format(
                        sql.Identifier(RAW_SCHEMA), sql.Identifier(t.name), sql.Identifier(c.name), sql.SQL(c.pg_type)))


def _drop_manifest(drop_dir: Path) -> dict:
    p = drop_dir / "_drop.json"
    if p.exists():
        return json.loads(p.read_text(encoding="utf-8"))
    return {}


def _last_accepted_sha(conn, table: str) -> str | None:
    row = conn.execute(
        "SELECT file_sha256 FROM raw.load_log WHERE table_name = %s AND status = ANY(%s) "
        "ORDER BY load_id DESC LIMIT 1", (table, list(ACCEPTED))).fetchone()
    return row[0] if row else None


def _copy_arrow(conn, schema: str, name: str, table: pa.Table, batch_rows: int = 250_000) -> None:
    """COPY an Arrow table into schema.name, streaming CSV in batches (bounded memory)."""
    cols = sql.SQL(", ").join(sql.Identifier(c) for c in table.column_names)
    stmt = sql.SQL("COPY {}.{} ({}) FROM STDIN (FORMAT csv, NULL '')").format(
        sql.Identifier(schema), sql.Identifier(name), cols)
    opts = pacsv.WriteOptions(include_header=False, quoting_style="needed")
    with conn.cursor().copy(stmt) as cp:
        for batch in table.to_batches(max_chunksize=batch_rows):
            buf = io.BytesIO()
            pacsv.write_csv(batch, buf, write_options=opts)
            cp.write(buf.getvalue())


def _quarantine_rows(conn, load_id: int, table: str, text: pa.Table, reasons: dict[int, list[tuple[str, str]]]) -> int:
    """Write rows (by source line) with their rules and reasons to raw.quarantine."""
    if not reasons:
        return 0
    import pyarrow.compute as pc

    wanted = pa.array(sorted(reasons), type=pa.int64())
    mask = pc.is_in(text[ROW_COL], value_set=wanted)
    sub = text.filter(mask)
    data_cols = [c for c in sub.column_names if c != ROW_COL]
    out = io.StringIO()
    import csv

    writer = csv.writer(out)
    for row in sub.to_pylist():
        rn = row.pop(ROW_COL)
        rules = [r for r, _ in reasons[rn]]
        msgs = [m for _, m in reasons[rn]]
        writer.writerow([load_id, table, rn, _pg_array(rules), _pg_array(msgs),
                         json.dumps({c: row[c] for c in data_cols}, ensure_ascii=False)])
    stmt = sql.SQL("COPY raw.quarantine (load_id, table_name, row_number, rules, reasons, row_data) "
                   "FROM STDIN (FORMAT csv)")
    with conn.cursor().copy(stmt) as cp:
        cp.write(out.getvalue())
    return sub.num_rows


def _pg_array(items: list[str]) -> str:
    return "{" + ",".join('"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"' for s in items) + "}"


def _log(conn, load_id: int, drop: Path, res: TableResult, sha: str | None, started: datetime, report_path: str | None) -> None:
    conn.execute(
        "INSERT INTO raw.load_log (load_id, drop_path, table_name, file_name, file_sha256, rows_in, rows_loaded, "
        "rows_quarantined, status, message, warnings, report_path, started_at, finished_at) "
        "VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s, now())",
        (load_id, str(drop), res.table, res.file, sha, res.rows_in, res.rows_loaded, res.rows_quarantined,
         res.status, res.message or None, "\n".join(res.warnings) or None, report_path, started))


def _problem_dict(p: Problem) -> dict:
    return {"rule": p.rule, "column": p.column, "message": p.message, "examples": p.examples[:5], "count": p.count}


class _TableLoad:
    """Loads one table; every outcome ends in exactly one committed transaction."""

    def __init__(self, loader: "DropLoader", spec: Table) -> None:
        self.loader, self.spec = loader, spec
        self.started = datetime.now().astimezone()

    def run(self) -> TableResult:
        L, spec = self.loader, self.spec
        t0 = time.perf_counter()
        path = find_file(L.drop_dir, spec.name)
        res = TableResult(spec.name, "loaded", file=path.name if path else None)
        required = spec.name in L.required
        if path is None:
            if not required:
                return self._not_provided(res, "optional table absent from the drop")
            res.status = "missing"
            res.problems.append({"rule": "required table present", "column": None, "count": 0, "examples": [],
                                 "message": f"required file {spec.name}.csv (or .parquet) is missing from the drop; "
                                            f"a department drop needs {', '.join(L.contract.required_tables)}"})
            res.message = res.problems[0]["message"]
            with db.connect() as conn:
                _log(conn, L.load_id, L.drop_dir, res, None, self.started, None)
            return res
        sha = sha256_of(path)
        with db.connect() as conn:
            if _last_accepted_sha(conn, spec.name) == sha:
                res.status, res.message = "unchanged", "same file as the last accepted load; nothing to do"
                _log(conn, L.load_id, L.drop_dir, res, sha, self.started, None)
                return res
        pf = read_table_file(path, spec, sha)
        res.warnings += pf.warnings
        res.rows_in = pf.rows
        if pf.problems:
            return self._reject(res, pf, [_problem_dict(p) for p in pf.problems], t0)
        if pf.rows == 0:
            if not required:
                return self._not_provided(res, f"{path.name} has a header but no rows")
            return self._reject(res, pf, [{"rule": "table not empty", "column": None, "count": 0, "examples": [],
                                           "message": f"{path.name} has a header but no rows; a department drop needs "
                                                      f"rows in {', '.join(L.contract.required_tables)}"}], t0)
        # side table, then Great Expectations
        with db.connect() as conn:
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {}.{}").format(sql.Identifier(INCOMING_SCHEMA), sql.Identifier(spec.name)))
            conn.execute(create_raw_table(INCOMING_SCHEMA, spec.name, spec, pf.extra_columns))
            conn.execute(sql.SQL("ALTER TABLE {}.{} DROP COLUMN _load_id").format(
                sql.Identifier(INCOMING_SCHEMA), sql.Identifier(spec.name)))
            _copy_arrow(conn, INCOMING_SCHEMA, spec.name, pf.typed)
        failures, _ = L.runner.validate(spec.name, L.extracted_at, L.load_id)
        table_fail = [f for f in failures if f.level == "table"]
        row_fail = [f for f in failures if f.level == "row"]
        reasons: dict[int, list[tuple[str, str]]] = defaultdict(list)
        problems = []
        for f in row_fail:
            msg = f"{f.count:,} row(s) break it, e.g. {', '.join(map(repr, f.examples[:3]))} (lines {f.row_numbers[:5]})"
            problems.append({"rule": f.rule, "column": f.column, "count": f.count, "examples": f.examples[:5], "message": msg})
            for rn in f.row_numbers:
                reasons[rn].append((f.rule, f"{f.rule} ({f.column})" if f.column else f.rule))
        if table_fail:
            tprobs = [{"rule": f.rule, "column": f.column, "count": f.count, "examples": f.examples[:5],
                       "message": f.message or f"{f.count:,} value(s) break it, e.g. {', '.join(map(repr, f.examples[:3]))}"}
                      for f in table_fail]
            return self._reject(res, pf, tprobs + problems, t0, reasons)
        share = len(reasons) / max(pf.rows, 1)
        if share > L.reject_share:
            over = {"rule": "bad-row share", "column": None, "count": len(reasons), "examples": [],
                    "message": f"{len(reasons):,} of {pf.rows:,} rows ({share:.1%}) break row rules; the limit is "
                               f"{L.reject_share:.1%} (--reject-share)"}
            return self._reject(res, pf, [over] + problems, t0, reasons)
        # accept: swap in one transaction
        with db.connect() as conn:
            self._add_extra_columns(conn, pf.extra_columns)
            conn.execute(sql.SQL("TRUNCATE {}.{}").format(sql.Identifier(RAW_SCHEMA), sql.Identifier(spec.name)))
            cols = [c.name for c in spec.column_list] + pf.extra_columns + [ROW_COL]
            collist = sql.SQL(", ").join(sql.Identifier(c) for c in cols)
            conn.execute(sql.SQL("INSERT INTO {}.{} ({}, _load_id) SELECT {}, %s FROM {}.{} WHERE NOT ({} = ANY(%s))").format(
                sql.Identifier(RAW_SCHEMA), sql.Identifier(spec.name), collist, collist,
                sql.Identifier(INCOMING_SCHEMA), sql.Identifier(spec.name), sql.Identifier(ROW_COL)),
                (L.load_id, list(reasons)))
            res.rows_quarantined = _quarantine_rows(conn, L.load_id, spec.name, pf.text, reasons)
            res.rows_loaded = pf.rows - res.rows_quarantined
            res.status = "loaded_with_quarantine" if res.rows_quarantined else "loaded"
            res.problems = problems
            res.message = f"{res.rows_loaded:,} rows loaded" + (f", {res.rows_quarantined:,} quarantined" if res.rows_quarantined else "")
            res.seconds = time.perf_counter() - t0
            _log(conn, L.load_id, L.drop_dir, res, pf.sha256, self.started, L.docs_path)
            conn.execute(sql.SQL("DROP TABLE {}.{}").format(sql.Identifier(INCOMING_SCHEMA), sql.Identifier(spec.name)))
        return res

    def _not_provided(self, res: TableResult, message: str) -> TableResult:
        res.status, res.message = NOT_PROVIDED, message
        with db.connect() as conn:
            _log(conn, self.loader.load_id, self.loader.drop_dir, res, None, self.started, None)
        return res

    def _add_extra_columns(self, conn, extras: list[str]) -> None:
        have = {r[0] for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s",
            (RAW_SCHEMA, self.spec.name))}
        for e in extras:
            if e not in have:
                conn.execute(sql.SQL("ALTER TABLE {}.{} ADD COLUMN {} text").format(
                    sql.Identifier(RAW_SCHEMA), sql.Identifier(self.spec.name), sql.Identifier(e)))

    def _reject(self, res: TableResult, pf: ParsedFile, problems: list[dict], t0: float,
                reasons: dict[int, list[tuple[str, str]]] | None = None) -> TableResult:
        L = self.loader
        res.status = "rejected"
        res.problems = problems
        first = problems[0]
        res.message = f"rule '{first['rule']}'" + (f" on column {first['column']}" if first.get("column") else "") + f": {first['message']}"
        kept = None
        with db.connect() as conn:
            if pf.text is not None and not pf.rows:
                pass  # a header and no rows: nothing to quarantine, nothing unreadable to keep
            elif pf.text is not None:
                all_reasons: dict[int, list[tuple[str, str]]] = defaultdict(list)
                for rn, rs in (reasons or {}).items():
                    all_reasons[rn] += rs
                table_rule = f"table rejected: {first['rule']}"
                for rn in pf.text[ROW_COL].to_pylist():
                    all_reasons[rn].append(("table rejected", table_rule))
                res.rows_quarantined = _quarantine_rows(conn, L.load_id, self.spec.name, pf.text, all_reasons)
            else:
                # unreadable file: keep it byte for byte
                dest = eis_home() / "rejected" / str(L.load_id)
                dest.mkdir(parents=True, exist_ok=True)
                shutil.copy2(pf.path, dest / pf.path.name)
                kept = str(dest / pf.path.name)
                res.warnings.append(f"unreadable file kept as {kept}")
            res.rows_in = res.rows_quarantined
            res.seconds = time.perf_counter() - t0
            _log(conn, L.load_id, L.drop_dir, res, pf.sha256, self.started, kept or L.docs_path)
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {}.{}").format(sql.Identifier(INCOMING_SCHEMA), sql.Identifier(self.spec.name)))
        return res


class DropLoader:
    def __init__(self, drop_dir: Path, reject_share: float, extracted_at: str | None,
                 progress: Callable[[str], None]) -> None:
        from eis_core.load.gx_runner import SuiteRunner

        self.drop_dir = drop_dir.resolve()
        self.reject_share = reject_share
        manifest = _drop_manifest(self.drop_dir)
        self.extracted_at = extracted_at or manifest.get("extracted_at") or datetime.now().strftime("%Y-%m-%dT%H:%M:%S")
        self.progress = progress
        self.contract = load_contract()
        self.kind = manifest.get("kind", "department")
        if self.kind not in DROP_KINDS:
            raise ValueError(f"{self.drop_dir / '_drop.json'}: kind must be one of {list(DROP_KINDS)}, not {self.kind!r}")
        self.required = set(self.contract.required_tables) if self.kind == "department" else set()
        ensure_raw_schema(self.contract)
        with db.connect() as conn:
            self.load_id = conn.execute("SELECT nextval('raw.load_id_seq')").fetchone()[0]
        self.runner = SuiteRunner()
        self.docs_path = str(self.runner.data_docs_index())

    def run(self) -> LoadReport:
        results = []
        known = {t.name for t in self.contract.ordered_tables()}
        unknown_files = sorted(p.name for p in self.drop_dir.iterdir()
                               if p.is_file() and p.stem not in known and not p.name.startswith("_"))
        for spec in self.contract.ordered_tables():
            present = find_file(self.drop_dir, spec.name) is not None
            if present:
                self.progress(f"[{spec.name}] reading and validating ...")
            res = _TableLoad(self, spec).run()
            if spec.name == "officers" and unknown_files:
                res.warnings.append(f"files not in the contract were ignored: {unknown_files}")
            if present or res.rejected:
                self.progress(f"[{spec.name}] {res.status.replace('_', ' ')}: {res.rows_loaded:,} loaded, {res.rows_quarantined:,} quarantined"
                              f"{' — ' + res.message if res.rejected or res.not_provided else ''}")
            results.append(res)
        return LoadReport(self.load_id, str(self.drop_dir), self.extracted_at, results, self.docs_path)


def load_drop(drop_dir: str | Path, *, reject_share: float = 0.01, extracted_at: str | None = None,
              progress: Callable[[str], None] = print) -> LoadReport:
    """Validate and load every contract table found in *drop_dir*; see the module docstring."""
    drop_dir = Path(drop_dir)
    if not drop_dir.is_dir():
        raise FileNotFoundError(f"drop folder {drop_dir} does not exist")
    return DropLoader(drop_dir, reject_share, extracted_at, progress).run()
