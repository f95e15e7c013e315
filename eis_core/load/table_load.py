"""One table of a load: ``prepare`` (stream the file in, type it, validate it) and ``commit`` (the swap).

A table that is rejected, missing, unchanged or not provided is logged in ``prepare``; an accepted one is
left *pending* (its side tables validated) until the drop as a whole has been checked, then swapped in
``commit``.  Every outcome ends in exactly one committed transaction that writes the table's
``raw.load_log`` row.  No row of the file passes through the client after the COPY: typing, the rules,
quarantine and the swap are SQL over the side tables (``sidetables``).
"""

from __future__ import annotations

import shutil
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

from psycopg import sql

from eis_core import db
from eis_core.contract import Table
from eis_core.load.ddl import RAW_SCHEMA
from eis_core.load.parse import ROW_COL, Problem, find_files, path_problem, sha256_of
from eis_core.load.report import ACCEPTED, NOT_PROVIDED, TableResult
from eis_core.load.sidetables import (
    count,
    create_why,
    drop_sides,
    ident,
    last_accepted_sha,
    log,
    quarantine,
    side_names,
)
from eis_core.load.stream import StreamedFile, stream_into_side
from eis_core.load.typecheck import type_side
from eis_core.load.validate import validate_side
from eis_core.paths import eis_home

if TYPE_CHECKING:
    from eis_core.load.loader import DropLoader


def problem_dict(p: Problem) -> dict:
    return {"rule": p.rule, "column": p.column, "message": p.message, "examples": p.examples[:5], "count": p.count}


class TableLoad:
    def __init__(self, loader: DropLoader, spec: Table) -> None:
        self.loader, self.spec = loader, spec
        self.started = datetime.now().astimezone()
        self.t0 = time.perf_counter()
        self.side = f"{spec.name}__load{loader.load_id}"  # the typed side table; see sidetables.side_names
        self.sf: StreamedFile | None = None
        self.bad = 0  # rows breaking a row rule
        self.problems: list[dict] = []
        self.res = TableResult(spec.name, "pending")
        self.pending = False

    @property
    def streamed(self) -> StreamedFile:
        """The file streamed into the side table by :meth:`prepare` (the later steps run only after it)."""
        if self.sf is None:
            raise RuntimeError(f"{self.spec.name}: the file has not been streamed into its side table yet")
        return self.sf

    # -- step 1 ------------------------------------------------------------------------------------
    def prepare(self) -> TableResult:
        L, spec, res = self.loader, self.spec, self.res
        paths = find_files(L.drop_dir, spec.name)
        res.file = paths[0].name if paths else None
        required = spec.name in L.required
        if len(paths) > 1:
            return self._refuse(
                res,
                "one file per table",
                f"both {' and '.join(p.name for p in paths)} are in the drop; which one is {spec.name} "
                f"is ambiguous: keep one",
            )
        if not paths:
            if not required:
                return self._not_provided(res, "optional table absent from the drop")
            res.status = "missing"
            res.problems.append(
                {
                    "rule": "required table present",
                    "column": None,
                    "count": 0,
                    "examples": [],
                    "message": f"required file {spec.name}.csv (or .parquet) is missing from the drop; "
                    f"a department drop needs {', '.join(L.contract.required_tables)}",
                }
            )
            res.message = res.problems[0]["message"]
            with db.connect() as conn:
                log(conn, L.load_id, L.drop_dir, res, None, self.started, None)
            return res
        path = paths[0]
        bad_path = path_problem(L.drop_dir, path)
        if bad_path:  # never read, copied or quoted: it may be any file of the system
            return self._refuse(res, bad_path.rule, bad_path.message)
        sha = sha256_of(path)
        with db.connect() as conn:
            if last_accepted_sha(conn, spec.name, ACCEPTED) == sha:
                res.status, res.message = "unchanged", "same file as the last accepted load; nothing to do"
                log(conn, L.load_id, L.drop_dir, res, sha, self.started, None)
                return res
        text, typed, _ = side_names(self.side)
        with db.connect() as conn:
            drop_sides(conn, self.side)
            sf = self.sf = stream_into_side(conn, path, spec, sha, text)
            if sf.readable:
                create_why(conn, self.side)
        res.warnings += sf.warnings
        res.rows_in = sf.rows
        if sf.problems:
            return self._reject(res, [problem_dict(p) for p in sf.problems])
        if sf.missing:
            present = [c for c in sf.columns if c not in sf.missing]
            return self._reject(
                res,
                [
                    problem_dict(
                        Problem(
                            "required columns present",
                            f"missing column(s) {sf.missing}; the file has {sorted(present)}",
                            column=sf.missing[0],
                            examples=sf.missing,
                            count=len(sf.missing),
                        )
                    )
                ],
            )
        if sf.rows == 0:
            if not required:
                return self._not_provided(res, f"{path.name} has a header but no rows")
            return self._reject(
                res,
                [
                    {
                        "rule": "table not empty",
                        "column": None,
                        "count": 0,
                        "examples": [],
                        "message": f"{path.name} has a header but no rows; a department drop needs "
                        f"rows in {', '.join(L.contract.required_tables)}",
                    }
                ],
            )
        with db.connect() as conn:
            problems = type_side(conn, spec, sf.extra_columns, text, typed, side_names(self.side)[2])
        if problems:
            return self._reject(res, [problem_dict(p) for p in problems])
        return self.validate()

    def validate(self) -> TableResult:
        """Great Expectations on the typed side table, then every row-level rule again in SQL (all bad rows)."""
        L, spec, res, sf = self.loader, self.spec, self.res, self.streamed
        self.pending = False
        tprobs, problems, self.bad = validate_side(L, self)
        self.problems = problems
        if tprobs:
            return self._reject(res, tprobs + problems)
        share = self.bad / max(sf.rows, 1)
        if share > L.reject_share:
            over: dict[str, Any] = {
                "rule": "bad-row share",
                "column": None,
                "count": self.bad,
                "examples": [],
                "message": f"{self.bad:,} of {sf.rows:,} rows ({share:.1%}) break row rules; the limit is "
                f"{L.reject_share:.1%} (--reject-share)",
            }
            return self._reject(res, [over] + problems)
        if spec.name in L.contract.required_tables and not L.allow_shrink:
            with db.connect() as conn:
                now = count(conn, RAW_SCHEMA, spec.name)
            after = sf.rows - self.bad
            if now and after < now * (1 - L.max_shrink):
                shrink: dict[str, Any] = {
                    "rule": "table shrink",
                    "column": None,
                    "count": now - after,
                    "examples": [],
                    "message": f"{sf.path.name} would leave {after:,} rows in raw.{spec.name}, which holds {now:,} "
                    f"now ({(now - after) / now:.0%} fewer; the limit is {L.max_shrink:.0%}, "
                    f"--max-shrink): a truncated export? pass --allow-shrink if it is complete",
                }
                return self._reject(res, [shrink] + problems)
        self.pending = True
        res.status = "pending"
        return res

    def good_rows(self) -> sql.Composable:
        """The typed side table's rows that break no rule."""
        _, typed, why = side_names(self.side)
        return sql.SQL("SELECT * FROM {} s WHERE NOT EXISTS (SELECT 1 FROM {} w WHERE w.row_number = s.{})").format(
            ident(typed), ident(why), sql.Identifier(ROW_COL)
        )

    # -- step 2 ------------------------------------------------------------------------------------
    def commit(self) -> TableResult:
        L, spec, res, sf = self.loader, self.spec, self.res, self.streamed
        with db.connect() as conn:
            self._add_extra_columns(conn, sf.extra_columns)
            conn.execute(sql.SQL("TRUNCATE {}.{}").format(sql.Identifier(RAW_SCHEMA), sql.Identifier(spec.name)))
            cols = [c.name for c in spec.column_list] + sf.extra_columns + [ROW_COL]
            collist = sql.SQL(", ").join(sql.Identifier(c) for c in cols)
            loaded = conn.execute(
                sql.SQL("INSERT INTO {}.{} ({}, _load_id) SELECT {}, %s FROM ({}) g").format(
                    sql.Identifier(RAW_SCHEMA), sql.Identifier(spec.name), collist, collist, self.good_rows()
                ),
                (L.load_id,),
            ).rowcount
            res.rows_quarantined = quarantine(conn, L.load_id, spec.name, self.side)
            res.rows_loaded = loaded
            res.rows_in = sf.rows
            res.status = "loaded_with_quarantine" if res.rows_quarantined else "loaded"
            res.problems = self.problems
            res.message = f"{res.rows_loaded:,} rows loaded" + (
                f", {res.rows_quarantined:,} quarantined" if res.rows_quarantined else ""
            )
            res.seconds = time.perf_counter() - self.t0
            log(conn, L.load_id, L.drop_dir, res, sf.sha256, self.started, L.docs_path)
            drop_sides(conn, self.side)
        self.pending = False
        return res

    # -- outcomes ----------------------------------------------------------------------------------
    def _not_provided(self, res: TableResult, message: str) -> TableResult:
        res.status, res.message = NOT_PROVIDED, message
        with db.connect() as conn:
            log(conn, self.loader.load_id, self.loader.drop_dir, res, None, self.started, None)
            drop_sides(conn, self.side)
        return res

    def _refuse(self, res: TableResult, rule: str, message: str) -> TableResult:
        """Reject without reading the file (nothing quarantined, nothing copied)."""
        res.status = "rejected"
        res.problems = [{"rule": rule, "column": None, "count": 0, "examples": [], "message": message}]
        res.message = f"rule '{rule}': {message}"
        res.rows_in = 0
        with db.connect() as conn:
            log(conn, self.loader.load_id, self.loader.drop_dir, res, None, self.started, None)
        return res

    def fail(self, exc: BaseException) -> TableResult:
        """An unexpected error in this table: a named rejection (one line), the rest of the drop goes on."""
        res = self.res
        self.pending = False
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        res.status, res.rows_in, res.rows_loaded, res.rows_quarantined = "rejected", 0, 0, 0
        res.problems = [
            {
                "rule": "load error",
                "column": None,
                "count": 0,
                "examples": [],
                "message": f"{res.file or self.spec.name} could not be loaded ({type(exc).__name__}: {first})",
            }
        ]
        res.message = f"rule 'load error': {res.problems[0]['message']}"
        with db.connect() as conn:
            conn.execute(
                "DELETE FROM raw.load_log WHERE load_id = %s AND table_name = %s", (self.loader.load_id, self.spec.name)
            )
            log(conn, self.loader.load_id, self.loader.drop_dir, res, None, self.started, None)
            drop_sides(conn, self.side)
        return res

    def _add_extra_columns(self, conn, extras: list[str]) -> None:
        have = {
            r[0]
            for r in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s",
                (RAW_SCHEMA, self.spec.name),
            )
        }
        for e in extras:
            if e not in have:
                conn.execute(
                    sql.SQL("ALTER TABLE {}.{} ADD COLUMN {} text").format(
                        sql.Identifier(RAW_SCHEMA), sql.Identifier(self.spec.name), sql.Identifier(e)
                    )
                )

    def _reject(self, res: TableResult, problems: list[dict]) -> TableResult:
        L, sf = self.loader, self.streamed
        self.pending = False
        res.status = "rejected"
        res.problems = problems
        first = problems[0]
        res.message = (
            f"rule '{first['rule']}'"
            + (f" on column {first['column']}" if first.get("column") else "")
            + f": {first['message']}"
        )
        res.rows_loaded = 0
        kept = None
        with db.connect() as conn:
            before = conn.execute(
                "SELECT load_id FROM raw.load_log WHERE table_name = %s AND file_sha256 = %s AND status = 'rejected' "
                "AND rows_quarantined > 0 AND load_id <> %s ORDER BY load_id DESC LIMIT 1",
                (self.spec.name, sf.sha256, L.load_id),
            ).fetchone()
            res.rows_quarantined = 0
            if sf.readable and not sf.rows:
                pass  # a header and no rows: nothing to quarantine, nothing unreadable to keep
            elif sf.readable and before:
                # the same file was rejected before: its rows are in quarantine already, once is enough
                res.message += (
                    f" (the same file was rejected in load {before[0]}; its rows are in raw.quarantine under that load)"
                )
            elif sf.readable:
                res.rows_quarantined = quarantine(
                    conn,
                    L.load_id,
                    self.spec.name,
                    self.side,
                    every_row=("table rejected", f"table rejected: {first['rule']}"),
                )
            else:
                # unreadable file: keep it byte for byte
                dest = eis_home() / "rejected" / str(L.load_id)
                dest.mkdir(parents=True, exist_ok=True)
                shutil.copy2(sf.path, dest / sf.path.name)
                kept = str(dest / sf.path.name)
                res.warnings.append(f"unreadable file kept as {kept}")
            res.rows_in = res.rows_quarantined
            res.seconds = time.perf_counter() - self.t0
            log(conn, L.load_id, L.drop_dir, res, sf.sha256, self.started, kept or L.docs_path)
            drop_sides(conn, self.side)
        return res

    def reject_whole(self, problem: dict) -> TableResult:
        """Reject a pending table on a check of the drop as a whole (orphaned history)."""
        return self._reject(self.res, [problem] + self.problems)
