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
import os
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
from eis_core.load.ddl import RAW_SCHEMA, add_column, create_raw_table
from eis_core.load.parse import ROW_COL, ParsedFile, Problem, find_files, path_problem, read_table_file, sha256_of
from eis_core.load.rowrules import UnsupportedRule, failing_rows
from eis_core.load.suites import INCOMING_SCHEMA, read_suite
from eis_core.paths import eis_home

ACCEPTED = ("loaded", "loaded_with_quarantine", "unchanged")
#: an optional table absent from the drop or only a header row: its previous rows (if any) stay in raw
NOT_PROVIDED = "not_provided"
#: ``_drop.json`` "kind": a department drop needs the contract's required tables; an activity drop
#: (calls, stops for forecasting, e.g. from a city's open data) needs none of them
DROP_KINDS = ("department", "activity")


#: the advisory lock that serialises loads (any constant; "EIS" + 1)
LOCK_KEY = 0x45495301
#: ``raw.load_log.table_name`` of the row that records the load as a whole (running/finished/rejected/aborted)
LOAD_ROW = "(load)"


class LoadRejected(RuntimeError):
    """At least one table of the drop was rejected (its previous data is untouched)."""


class LoadBusy(RuntimeError):
    """Another load holds the loader's lock."""


class ManifestError(ValueError):
    """``_drop.json`` or ``extracted_at`` is not usable; nothing was loaded."""


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
    """Upgrade the schema (the control tables) and create an empty ``raw.<table>`` for every contract table."""
    from eis_core.migrations import ensure_schema

    contract = contract or load_contract()
    ensure_schema()  # the bookkeeping tables (migration 0001); the raw tables below follow the contract
    with db.connect() as conn:
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
                    conn.execute(add_column(RAW_SCHEMA, t.name, c.name, c.pg_type))


def parse_extracted_at(value, source: str) -> str:
    """``extracted_at`` as ``YYYY-MM-DDTHH:MM:SS``; a date alone means its midnight.  Strict: no
    offset, no impossible day, no leap second."""
    if isinstance(value, str):
        for fmt in ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"):
            try:
                return datetime.strptime(value, fmt).strftime("%Y-%m-%dT%H:%M:%S")
            except ValueError:
                continue
    raise ManifestError(f"{source}: extracted_at must be YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS, not {value!r}")


def _drop_manifest(drop_dir: Path) -> dict:
    p = drop_dir / "_drop.json"
    if not os.path.lexists(p):
        return {}
    prob = path_problem(drop_dir, p)
    if prob:
        raise ManifestError(f"{p}: {prob.message}")
    try:
        manifest = json.loads(p.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ManifestError(f"{p}: not valid UTF-8 JSON ({str(exc).splitlines()[0]})") from None
    if not isinstance(manifest, dict):
        raise ManifestError(f"{p}: must be a JSON object such as {{\"extracted_at\": \"2016-01-01T00:00:00\"}}, "
                            f"not a {type(manifest).__name__}")
    return manifest

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


def _count(conn, schema: str, table: str) -> int:
    return conn.execute(sql.SQL("SELECT count(*) FROM {}.{}").format(sql.Identifier(schema), sql.Identifier(table))).fetchone()[0]


def _drop_side(conn, name: str) -> None:
    conn.execute(sql.SQL("DROP TABLE IF EXISTS {}.{}").format(sql.Identifier(INCOMING_SCHEMA), sql.Identifier(name)))


class _TableLoad:
    """Loads one table in two steps: ``prepare`` (read, side table, every rule) and ``commit`` (the swap).

    A table that is rejected, missing, unchanged or not provided is logged in ``prepare``; an accepted one
    is left *pending* (its side table validated) until the drop as a whole has been checked, then
    swapped in ``commit``.  Every outcome ends in exactly one committed transaction per table.
    """

    def __init__(self, loader: "DropLoader", spec: Table) -> None:
        self.loader, self.spec = loader, spec
        self.started = datetime.now().astimezone()
        self.t0 = time.perf_counter()
        self.side = f"{spec.name}__load{loader.load_id}"
        self.pf: ParsedFile | None = None
        self.reasons: dict[int, list[tuple[str, str]]] = {}
        self.problems: list[dict] = []
        self.res = TableResult(spec.name, "pending")
        self.pending = False

    # -- step 1 ------------------------------------------------------------------------------------
    def prepare(self) -> TableResult:
        L, spec, res = self.loader, self.spec, self.res
        paths = find_files(L.drop_dir, spec.name)
        res.file = paths[0].name if paths else None
        required = spec.name in L.required
        if len(paths) > 1:
            return self._refuse(res, "one file per table",
                                f"both {' and '.join(p.name for p in paths)} are in the drop; which one is {spec.name} "
                                f"is ambiguous: keep one")
        if not paths:
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
        path = paths[0]
        bad_path = path_problem(L.drop_dir, path)
        if bad_path:  # never read, copied or quoted: it may be any file of the system
            return self._refuse(res, bad_path.rule, bad_path.message)
        sha = sha256_of(path)
        with db.connect() as conn:
            if _last_accepted_sha(conn, spec.name) == sha:
                res.status, res.message = "unchanged", "same file as the last accepted load; nothing to do"
                _log(conn, L.load_id, L.drop_dir, res, sha, self.started, None)
                return res
        pf = self.pf = read_table_file(path, spec, sha)
        res.warnings += pf.warnings
        res.rows_in = pf.rows
        if pf.problems:
            return self._reject(res, pf, [_problem_dict(p) for p in pf.problems], dict(pf.row_reasons))
        if pf.rows == 0:
            if not required:
                return self._not_provided(res, f"{path.name} has a header but no rows")
            return self._reject(res, pf, [{"rule": "table not empty", "column": None, "count": 0, "examples": [],
                                           "message": f"{path.name} has a header but no rows; a department drop needs "
                                                      f"rows in {', '.join(L.contract.required_tables)}"}])
        with db.connect() as conn:
            _drop_side(conn, self.side)
            conn.execute(create_raw_table(INCOMING_SCHEMA, self.side, spec, pf.extra_columns))
            conn.execute(sql.SQL("ALTER TABLE {}.{} DROP COLUMN _load_id").format(
                sql.Identifier(INCOMING_SCHEMA), sql.Identifier(self.side)))
            _copy_arrow(conn, INCOMING_SCHEMA, self.side, pf.typed)
        return self.validate()

    def validate(self) -> TableResult:
        """Great Expectations on the side table, then every row-level rule again in SQL (all bad rows)."""
        L, spec, res, pf = self.loader, self.spec, self.res, self.pf
        self.pending = False
        failures, _ = L.runner.validate(spec.name, self.side, L.extracted_at)
        table_fail = [f for f in failures if f.level == "table"]
        ge_counts = {(f.etype, f.rule, f.column): f.count for f in failures if f.level == "row"}
        tprobs = [{"rule": f.rule, "column": f.column, "count": f.count, "examples": f.examples[:5],
                   "message": f.message or f"{f.count:,} value(s) break it, e.g. {', '.join(map(repr, f.examples[:3]))}"}
                  for f in table_fail]
        reasons: dict[int, list[tuple[str, str]]] = defaultdict(list)
        problems = []
        try:
            with db.connect() as conn:
                results = failing_rows(conn, read_suite(spec.name), spec, INCOMING_SCHEMA, self.side,
                                       L.extracted_at, L.officers_source(spec.name))
        except UnsupportedRule as exc:
            results = []
            tprobs.append({"rule": "row rules checkable", "column": None, "count": 0, "examples": [],
                           "message": f"a row rule cannot be counted in the database: {exc}"})
        for r in results:
            ge = ge_counts.get((r.etype, r.rule, r.column), 0)
            if r.etype != "unexpected_rows_expectation" and ge != r.count:
                tprobs.append({"rule": "rule counts agree", "column": r.column, "count": r.count, "examples": r.examples,
                               "message": f"rule '{r.rule}': Great Expectations counts {ge:,} failing row(s), the "
                                          f"database {r.count:,}; the table is not loaded on an uncertain count"})
            if not r.count:
                continue
            msg = (f"{r.count:,} row(s) break it, e.g. {', '.join(map(repr, r.examples[:3]))} "
                   f"(lines {r.row_numbers[:5]}{' …' if r.count > 5 else ''})")
            problems.append({"rule": r.rule, "column": r.column, "count": r.count, "examples": r.examples, "message": msg})
            reason = f"{r.rule} ({r.column})" if r.column else r.rule
            for rn in r.row_numbers:
                reasons[rn].append((r.rule, reason))
        self.reasons, self.problems = dict(reasons), problems
        if tprobs:
            self._table_rule_rows(tprobs, reasons)
            return self._reject(res, pf, tprobs + problems, reasons)
        share = len(reasons) / max(pf.rows, 1)
        if share > L.reject_share:
            over = {"rule": "bad-row share", "column": None, "count": len(reasons), "examples": [],
                    "message": f"{len(reasons):,} of {pf.rows:,} rows ({share:.1%}) break row rules; the limit is "
                               f"{L.reject_share:.1%} (--reject-share)"}
            return self._reject(res, pf, [over] + problems, reasons)
        if spec.name in L.contract.required_tables and not L.allow_shrink:
            with db.connect() as conn:
                now = _count(conn, RAW_SCHEMA, spec.name)
            after = pf.rows - len(reasons)
            if now and after < now * (1 - L.max_shrink):
                shrink = {"rule": "table shrink", "column": None, "count": now - after, "examples": [],
                          "message": f"{pf.path.name} would leave {after:,} rows in raw.{spec.name}, which holds {now:,} "
                                     f"now ({(now - after) / now:.0%} fewer; the limit is {L.max_shrink:.0%}, "
                                     f"--max-shrink): a truncated export? pass --allow-shrink if it is complete"}
                return self._reject(res, pf, [shrink] + problems, reasons)
        self.pending = True
        res.status = "pending"
        return res

    def _table_rule_rows(self, tprobs: list[dict], reasons: dict[int, list[tuple[str, str]]]) -> None:
        """Rows that break a table-level rule carry that rule in quarantine (a duplicate key: both rows)."""
        if not any(p["rule"] == "unique key" for p in tprobs):
            return
        key = sql.SQL(", ").join(sql.Identifier(c) for c in self.spec.primary_key)
        side = sql.SQL("{}.{}").format(sql.Identifier(INCOMING_SCHEMA), sql.Identifier(self.side))
        q = sql.SQL("SELECT {} FROM {} WHERE ({}) IN (SELECT {} FROM {} GROUP BY {} HAVING count(*) > 1)").format(
            sql.Identifier(ROW_COL), side, key, key, side, key)
        with db.connect() as conn:
            for (rn,) in conn.execute(q):
                reasons.setdefault(rn, []).append(("unique key", f"unique key ({'+'.join(self.spec.primary_key)})"))

    # -- step 2 ------------------------------------------------------------------------------------
    def commit(self) -> TableResult:
        L, spec, res, pf, reasons = self.loader, self.spec, self.res, self.pf, self.reasons
        with db.connect() as conn:
            self._add_extra_columns(conn, pf.extra_columns)
            conn.execute(sql.SQL("TRUNCATE {}.{}").format(sql.Identifier(RAW_SCHEMA), sql.Identifier(spec.name)))
            cols = [c.name for c in spec.column_list] + pf.extra_columns + [ROW_COL]
            collist = sql.SQL(", ").join(sql.Identifier(c) for c in cols)
            conn.execute(sql.SQL("INSERT INTO {}.{} ({}, _load_id) SELECT {}, %s FROM {}.{} WHERE NOT ({} = ANY(%s))").format(
                sql.Identifier(RAW_SCHEMA), sql.Identifier(spec.name), collist, collist,
                sql.Identifier(INCOMING_SCHEMA), sql.Identifier(self.side), sql.Identifier(ROW_COL)),
                (L.load_id, list(reasons)))
            res.rows_quarantined = _quarantine_rows(conn, L.load_id, spec.name, pf.text, reasons)
            res.rows_loaded = pf.rows - res.rows_quarantined
            res.status = "loaded_with_quarantine" if res.rows_quarantined else "loaded"
            res.problems = self.problems
            res.message = f"{res.rows_loaded:,} rows loaded" + (f", {res.rows_quarantined:,} quarantined" if res.rows_quarantined else "")
            res.seconds = time.perf_counter() - self.t0
            _log(conn, L.load_id, L.drop_dir, res, pf.sha256, self.started, L.docs_path)
            _drop_side(conn, self.side)
        self.pending = False
        return res

    # -- outcomes ----------------------------------------------------------------------------------
    def _not_provided(self, res: TableResult, message: str) -> TableResult:
        res.status, res.message = NOT_PROVIDED, message
        with db.connect() as conn:
            _log(conn, self.loader.load_id, self.loader.drop_dir, res, None, self.started, None)
        return res

    def _refuse(self, res: TableResult, rule: str, message: str) -> TableResult:
        """Reject without reading the file (nothing quarantined, nothing copied)."""
        res.status = "rejected"
        res.problems = [{"rule": rule, "column": None, "count": 0, "examples": [], "message": message}]
        res.message = f"rule '{rule}': {message}"
        res.rows_in = 0
        with db.connect() as conn:
            _log(conn, self.loader.load_id, self.loader.drop_dir, res, None, self.started, None)
        return res

    def fail(self, exc: BaseException) -> TableResult:
        """An unexpected error in this table: a named rejection (one line), the rest of the drop goes on."""
        res = self.res
        self.pending = False
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        res.status, res.rows_in, res.rows_loaded, res.rows_quarantined = "rejected", 0, 0, 0
        res.problems = [{"rule": "load error", "column": None, "count": 0, "examples": [],
                         "message": f"{res.file or self.spec.name} could not be loaded ({type(exc).__name__}: {first})"}]
        res.message = f"rule 'load error': {res.problems[0]['message']}"
        with db.connect() as conn:
            conn.execute("DELETE FROM raw.load_log WHERE load_id = %s AND table_name = %s", (self.loader.load_id, self.spec.name))
            _log(conn, self.loader.load_id, self.loader.drop_dir, res, None, self.started, None)
            _drop_side(conn, self.side)
        return res

    def _add_extra_columns(self, conn, extras: list[str]) -> None:
        have = {r[0] for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s",
            (RAW_SCHEMA, self.spec.name))}
        for e in extras:
            if e not in have:
                conn.execute(sql.SQL("ALTER TABLE {}.{} ADD COLUMN {} text").format(
                    sql.Identifier(RAW_SCHEMA), sql.Identifier(self.spec.name), sql.Identifier(e)))

    def _reject(self, res: TableResult, pf: ParsedFile, problems: list[dict],
                reasons: dict[int, list[tuple[str, str]]] | None = None) -> TableResult:
        L = self.loader
        self.pending = False
        res.status = "rejected"
        res.problems = problems
        first = problems[0]
        res.message = f"rule '{first['rule']}'" + (f" on column {first['column']}" if first.get("column") else "") + f": {first['message']}"
        res.rows_loaded = 0
        kept = None
        with db.connect() as conn:
            before = conn.execute(
                "SELECT load_id FROM raw.load_log WHERE table_name = %s AND file_sha256 = %s AND status = 'rejected' "
                "AND rows_quarantined > 0 AND load_id <> %s ORDER BY load_id DESC LIMIT 1",
                (self.spec.name, pf.sha256, L.load_id)).fetchone()
            if pf.text is not None and not pf.rows:
                pass  # a header and no rows: nothing to quarantine, nothing unreadable to keep
            elif pf.text is not None and before:
                # the same file was rejected before: its rows are in quarantine already, once is enough
                res.rows_quarantined = 0
                res.message += f" (the same file was rejected in load {before[0]}; its rows are in raw.quarantine under that load)"
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
            res.seconds = time.perf_counter() - self.t0
            _log(conn, L.load_id, L.drop_dir, res, pf.sha256, self.started, kept or L.docs_path)
            _drop_side(conn, self.side)
        return res

    def reject_whole(self, problem: dict) -> TableResult:
        """Reject a pending table on a check of the drop as a whole (orphaned history)."""
        return self._reject(self.res, self.pf, [problem] + self.problems, self.reasons)


class DropLoader:
    def __init__(self, drop_dir: Path, reject_share: float, extracted_at: str | None,
                 progress: Callable[[str], None], *, allow_shrink: bool = False, max_shrink: float = 0.2,
                 wait: bool = False) -> None:
        self.drop_dir = drop_dir.resolve()
        self.reject_share = reject_share
        self.allow_shrink, self.max_shrink = allow_shrink, max_shrink
        self.progress = progress
        self.contract = load_contract()
        self.wait = wait
        self._lock_conn = None
        self._officers_good: str | None = None
        self._extracted_arg = extracted_at

    # -- the lock and the load row ------------------------------------------------------------------
    def acquire(self) -> None:
        """Serialise loads: a session advisory lock held for the whole load (released if the process dies)."""
        import psycopg

        ensure_raw_schema(self.contract)
        self._lock_conn = psycopg.connect(db.database_url(), autocommit=True)
        if self.wait:
            self._lock_conn.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
        elif not self._lock_conn.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,)).fetchone()[0]:
            other = self._lock_conn.execute(
                "SELECT load_id, drop_path, started_at FROM raw.load_log WHERE table_name = %s AND status = 'running' "
                "ORDER BY load_id DESC LIMIT 1", (LOAD_ROW,)).fetchone()
            self.release()
            who = f"load {other[0]} of {other[1]}, started {other[2]:%Y-%m-%d %H:%M:%S}" if other else "another load"
            raise LoadBusy(f"another eis load is running ({who}); loads run one at a time: wait for it to finish "
                           f"and run this one again (or pass --wait)")
        with db.connect() as conn:
            conn.execute("UPDATE raw.load_log SET status = 'aborted', finished_at = now(), message = "
                         "'killed or crashed before it finished; its tables each kept the old or the new data' "
                         "WHERE table_name = %s AND status = 'running'", (LOAD_ROW,))
            # side tables of loads that did not finish (only this load may use raw_incoming now)
            for (name,) in conn.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                                        (INCOMING_SCHEMA,)).fetchall():
                _drop_side(conn, name)
            self.load_id = conn.execute("SELECT nextval('raw.load_id_seq')").fetchone()[0]
            conn.execute("INSERT INTO raw.load_log (load_id, drop_path, table_name, status, message, started_at, finished_at) "
                         "VALUES (%s, %s, %s, 'running', 'load in progress', now(), now())",
                         (self.load_id, str(self.drop_dir), LOAD_ROW))

    def finish(self, status: str, message: str) -> None:
        with db.connect() as conn:
            conn.execute("UPDATE raw.load_log SET status = %s, message = %s, finished_at = now() "
                         "WHERE load_id = %s AND table_name = %s", (status, message, self.load_id, LOAD_ROW))

    def release(self) -> None:
        if self._lock_conn is not None:
            try:
                self._lock_conn.close()  # ends the session: the advisory lock goes with it
            finally:
                self._lock_conn = None

    def setup(self) -> None:
        from eis_core.load.gx_runner import SuiteRunner

        manifest = _drop_manifest(self.drop_dir)
        if self._extracted_arg is not None:
            self.extracted_at = parse_extracted_at(self._extracted_arg, "--extracted-at")
        elif "extracted_at" in manifest:
            self.extracted_at = parse_extracted_at(manifest["extracted_at"], str(self.drop_dir / "_drop.json"))
        else:
            self.extracted_at = datetime.now().strftime("%Y-%m-%dT%H:%M:%S")
        self.kind = manifest.get("kind", "department")
        if self.kind not in DROP_KINDS:
            raise ManifestError(f"{self.drop_dir / '_drop.json'}: kind must be one of {list(DROP_KINDS)}, not {self.kind!r}")
        self.required = set(self.contract.required_tables) if self.kind == "department" else set()
        self.runner = SuiteRunner()
        self.docs_path = str(self.runner.data_docs_index())

    def officers_source(self, table: str) -> sql.Composable:
        """The officers a table's rows must name: those this load will leave in raw.officers."""
        if table != "officers" and self._officers_good:
            return sql.SQL("(SELECT officer_id FROM {}.{})").format(
                sql.Identifier(INCOMING_SCHEMA), sql.Identifier(self._officers_good))
        return sql.SQL("(SELECT officer_id FROM raw.officers)")

    def _set_officers_good(self, tl: _TableLoad | None) -> None:
        name = f"officers_next__load{self.load_id}"
        with db.connect() as conn:
            _drop_side(conn, name)
            if tl is None:
                self._officers_good = None
                return
            conn.execute(sql.SQL("CREATE TABLE {}.{} AS SELECT officer_id FROM {}.{} WHERE NOT ({} = ANY(%s))").format(
                sql.Identifier(INCOMING_SCHEMA), sql.Identifier(name), sql.Identifier(INCOMING_SCHEMA),
                sql.Identifier(tl.side), sql.Identifier(ROW_COL)), (list(tl.reasons),))
        self._officers_good = name

    def _orphans(self, officers: _TableLoad, pending: dict[str, _TableLoad]) -> dict | None:
        """History the new officers file would orphan: rows of tables this drop does not replace that name
        an officer now in raw.officers and absent from the file (rows of replaced tables are checked
        against the new officers by the 'known officer' rule)."""
        removed = sql.SQL("(SELECT officer_id FROM raw.officers EXCEPT SELECT officer_id FROM {}.{})").format(
            sql.Identifier(INCOMING_SCHEMA), sql.Identifier(officers.side))
        per_table, total = {}, 0
        with db.connect() as conn:
            gone = [r[0] for r in conn.execute(sql.SQL("SELECT officer_id FROM {} r ORDER BY 1").format(removed))]
            if not gone:
                return None
            for t in self.contract.ordered_tables():
                if t.name == "officers" or t.name in pending or not t.officer_fk:
                    continue
                cond = sql.SQL(" OR ").join(sql.SQL("{} IN {}").format(sql.Identifier(fk), removed) for fk in t.officer_fk)
                n = conn.execute(sql.SQL("SELECT count(*) FROM {}.{} WHERE {}").format(
                    sql.Identifier(RAW_SCHEMA), sql.Identifier(t.name), cond)).fetchone()[0]
                if n:
                    per_table[t.name] = n
                    total += n
        if not total:
            return None
        where = ", ".join(f"{k} {v:,}" for k, v in per_table.items())
        return {"rule": "no orphaned history", "column": "officer_id", "count": total, "examples": gone[:5],
                "message": f"{len(gone):,} officer(s) in the warehouse are missing from {officers.pf.path.name} "
                           f"(e.g. {', '.join(gone[:3])}) and {total:,} row(s) of their history would be orphaned "
                           f"({where}): a truncated export? pass --allow-shrink if it is intended"}

    # -- the drop ------------------------------------------------------------------------------------
    def _guarded(self, tl: _TableLoad, step: Callable[[], TableResult]) -> TableResult:
        try:
            return step()
        except Exception as exc:  # noqa: BLE001 - one table's unexpected error must not stop the drop
            return tl.fail(exc)

    def run(self) -> LoadReport:
        known = {t.name for t in self.contract.ordered_tables()}
        unknown_files = sorted(p.name for p in self.drop_dir.iterdir()
                               if p.is_file() and p.stem not in known and not p.name.startswith("_"))
        loads: dict[str, _TableLoad] = {}
        pending: dict[str, _TableLoad] = {}
        for spec in self.contract.ordered_tables():
            present = bool(find_files(self.drop_dir, spec.name))
            if present:
                self.progress(f"[{spec.name}] reading and validating ...")
            tl = loads[spec.name] = _TableLoad(self, spec)
            self._guarded(tl, tl.prepare)
            if tl.pending:
                pending[spec.name] = tl
                if spec.name == "officers":
                    self._set_officers_good(tl)
        # the drop as a whole: would the new officers orphan history that stays?
        off = pending.get("officers")
        if off is not None and not self.allow_shrink:
            problem = self._orphans(off, pending)
            if problem:
                self._guarded(off, lambda: off.reject_whole(problem))
                del pending["officers"]
                self._set_officers_good(None)
                for name, tl in list(pending.items()):  # validated against officers that will not be loaded
                    self.progress(f"[{name}] validating again against the officers in the warehouse ...")
                    self._guarded(tl, tl.validate)
                    if not tl.pending:
                        del pending[name]
        for name, tl in pending.items():
            self._guarded(tl, tl.commit)
        self._set_officers_good(None)
        results = []
        for spec in self.contract.ordered_tables():
            res = loads[spec.name].res
            present = bool(find_files(self.drop_dir, spec.name))
            if spec.name == "officers" and unknown_files:
                res.warnings.append(f"files not in the contract were ignored: {unknown_files}")
            if present or res.rejected:
                self.progress(f"[{spec.name}] {res.status.replace('_', ' ')}: {res.rows_loaded:,} loaded, {res.rows_quarantined:,} quarantined"
                              f"{' — ' + res.message if res.rejected or res.not_provided else ''}")
            results.append(res)
        return LoadReport(self.load_id, str(self.drop_dir), self.extracted_at, results, self.docs_path)


def load_drop(drop_dir: str | Path, *, reject_share: float = 0.01, extracted_at: str | None = None,
              progress: Callable[[str], None] | None = print, allow_shrink: bool = False, max_shrink: float = 0.2,
              wait: bool = False) -> LoadReport:
    """Validate and load every contract table found in *drop_dir*; see the module docstring.

    Raises ``LoadBusy`` when another load holds the lock (unless *wait*), ``ManifestError`` (a
    ``ValueError``) for a bad ``_drop.json`` or ``extracted_at``.
    """
    drop_dir = Path(drop_dir)
    if not drop_dir.is_dir():
        raise FileNotFoundError(f"drop folder {drop_dir} does not exist")
    loader = DropLoader(drop_dir, reject_share, extracted_at, progress or (lambda m: None),
                        allow_shrink=allow_shrink, max_shrink=max_shrink, wait=wait)
    loader.acquire()
    status, message = "aborted", "stopped by an error"
    try:
        try:
            loader.setup()
        except ManifestError as exc:
            status, message = "rejected", str(exc)
            raise
        report = loader.run()
        rejected = [t.table for t in report.tables if t.rejected]
        status = "rejected" if rejected else "finished"
        message = f"rejected tables: {', '.join(rejected)}" if rejected else "every table accepted"
        return report
    finally:
        try:
            loader.finish(status, message)
        finally:
            loader.release()
