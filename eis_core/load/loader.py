"""``load_drop``: validate a department drop and load it into schema ``raw``, table by table.

For each contract table, in contract order (officers first, so every other table is checked against
the officers as they will be after this load), ``table_load.TableLoad``:

1. streams the file into a side table ``raw_incoming.<table>__load<id>__text``, every value as text
   (``stream``: COPY in batches, client memory independent of the file's size): a missing, empty,
   unreadable or ambiguous file, a bad header or a missing column rejects the table;
2. checks and types the values in PostgreSQL (``typecheck``), strictly: a value of the wrong type rejects
   the table, and is quoted verbatim;
3. validates the typed side table with the committed Great Expectations suite and runs every row rule as
   SQL (``validate``, ``rowrules``): table-level failures (unique key, empty table) reject the table;
   row-level failures send those rows, with every reason, to ``raw.quarantine``; more than
   ``reject_share`` bad rows reject the table;
4. in ONE transaction: replaces the rows of ``raw.<table>`` with the good rows, writes the quarantined
   rows and the ``raw.load_log`` row.  A rejected table keeps its previous data; its rows all go to
   quarantine with the reasons.  Every input row is either loaded or quarantined and counted.

A file whose checksum equals the last accepted load of that table is not loaded again ("unchanged").
The drop is then checked as a whole (``DropLoader.run``), and loads are serialised by an advisory lock.

Contract v2: a table outside ``required_tables`` that is absent or only a header row is "not provided"
(logged, listed once in the report, its earlier rows untouched); a required one is rejected. A drop
whose ``_drop.json`` says ``"kind": "activity"`` requires no table.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from psycopg import sql

from eis_core import db
from eis_core.contract import Contract, load_contract
from eis_core.load.ddl import RAW_SCHEMA, add_column, create_raw_table
from eis_core.load.parse import drop_manifest, find_files, parse_extracted_at

# ACCEPTED, NOT_PROVIDED, LoadRejected are used by callers of this module (re-exported)
from eis_core.load.report import (  # noqa: F401
    ACCEPTED,
    DROP_KINDS,
    LOAD_ROW,
    LOCK_KEY,
    NOT_PROVIDED,
    LoadBusy,
    LoadRejected,
    LoadReport,
    ManifestError,
    TableResult,
)
from eis_core.load.sidetables import drop_side, ident
from eis_core.load.suites import INCOMING_SCHEMA
from eis_core.load.table_load import TableLoad

if TYPE_CHECKING:
    import psycopg


def ensure_raw_schema(contract: Contract | None = None) -> None:
    """Upgrade the schema (the control tables) and create an empty ``raw.<table>`` for every contract table."""
    from eis_core.migrations import ensure_schema

    contract = contract or load_contract()
    ensure_schema()  # the bookkeeping tables (migration 0001); the raw tables below follow the contract
    with db.connect() as conn:
        existing = {
            r[0]
            for r in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (RAW_SCHEMA,)
            )
        }
        for t in contract.ordered_tables():
            if t.name not in existing:
                conn.execute(create_raw_table(RAW_SCHEMA, t.name, t, []))
                continue
            # a warehouse created under an older contract gets the columns added since (v2: ia_cases.allegation)
            have = {
                r[0]
                for r in conn.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s",
                    (RAW_SCHEMA, t.name),
                )
            }
            for c in t.column_list:
                if c.name not in have:
                    conn.execute(add_column(RAW_SCHEMA, t.name, c.name, c.pg_type))


class DropLoader:
    def __init__(
        self,
        drop_dir: Path,
        reject_share: float,
        extracted_at: str | None,
        progress: Callable[[str], None],
        *,
        allow_shrink: bool = False,
        max_shrink: float = 0.2,
        wait: bool = False,
    ) -> None:
        self.drop_dir = drop_dir.resolve()
        self.reject_share = reject_share
        self.allow_shrink, self.max_shrink = allow_shrink, max_shrink
        self.progress = progress
        self.contract = load_contract()
        self.wait = wait
        self._lock_conn: psycopg.Connection | None = None
        self._officers_good: str | None = None
        self._extracted_arg = extracted_at

    # -- the lock and the load row ------------------------------------------------------------------
    def acquire(self) -> None:
        """Serialise loads: a session advisory lock held for the whole load (released if the process dies)."""
        import psycopg

        ensure_raw_schema(self.contract)
        lock_conn = self._lock_conn = psycopg.connect(db.database_url(), autocommit=True)
        if self.wait:
            lock_conn.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
        elif not db.scalar(lock_conn, "SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,)):
            other = lock_conn.execute(
                "SELECT load_id, drop_path, started_at FROM raw.load_log WHERE table_name = %s AND status = 'running' "
                "ORDER BY load_id DESC LIMIT 1",
                (LOAD_ROW,),
            ).fetchone()
            self.release()
            who = f"load {other[0]} of {other[1]}, started {other[2]:%Y-%m-%d %H:%M:%S}" if other else "another load"
            raise LoadBusy(
                f"another eis load is running ({who}); loads run one at a time: wait for it to finish "
                f"and run this one again (or pass --wait)"
            )
        with db.connect() as conn:
            conn.execute(
                "UPDATE raw.load_log SET status = 'aborted', finished_at = now(), message = "
                "'killed or crashed before it finished; its tables each kept the old or the new data' "
                "WHERE table_name = %s AND status = 'running'",
                (LOAD_ROW,),
            )
            # side tables of loads that did not finish (only this load may use raw_incoming now)
            for (name,) in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (INCOMING_SCHEMA,)
            ).fetchall():
                drop_side(conn, name)
            self.load_id = db.scalar(conn, "SELECT nextval('raw.load_id_seq')")
            conn.execute(
                "INSERT INTO raw.load_log (load_id, drop_path, table_name, status, message, started_at, finished_at) "
                "VALUES (%s, %s, %s, 'running', 'load in progress', now(), now())",
                (self.load_id, str(self.drop_dir), LOAD_ROW),
            )

    def finish(self, status: str, message: str) -> None:
        with db.connect() as conn:
            conn.execute(
                "UPDATE raw.load_log SET status = %s, message = %s, finished_at = now() "
                "WHERE load_id = %s AND table_name = %s",
                (status, message, self.load_id, LOAD_ROW),
            )

    def release(self) -> None:
        if self._lock_conn is not None:
            try:
                self._lock_conn.close()  # ends the session: the advisory lock goes with it
            finally:
                self._lock_conn = None

    def setup(self) -> None:
        from eis_core.load.gx_runner import SuiteRunner

        manifest = drop_manifest(self.drop_dir)
        if self._extracted_arg is not None:
            self.extracted_at = parse_extracted_at(self._extracted_arg, "--extracted-at")
        elif "extracted_at" in manifest:
            self.extracted_at = parse_extracted_at(manifest["extracted_at"], str(self.drop_dir / "_drop.json"))
        else:
            self.extracted_at = datetime.now().strftime("%Y-%m-%dT%H:%M:%S")
        self.kind = manifest.get("kind", "department")
        if self.kind not in DROP_KINDS:
            raise ManifestError(
                f"{self.drop_dir / '_drop.json'}: kind must be one of {list(DROP_KINDS)}, not {self.kind!r}"
            )
        self.required = set(self.contract.required_tables) if self.kind == "department" else set()
        self.runner = SuiteRunner()
        self.docs_path = str(self.runner.data_docs_index())

    def officers_source(self, table: str) -> sql.Composable:
        """The officers a table's rows must name: those this load will leave in raw.officers."""
        if table != "officers" and self._officers_good:
            return sql.SQL("(SELECT officer_id FROM {}.{})").format(
                sql.Identifier(INCOMING_SCHEMA), sql.Identifier(self._officers_good)
            )
        return sql.SQL("(SELECT officer_id FROM raw.officers)")

    def officers_table(self, table: str) -> str | None:
        """The name (in ``raw_incoming``) of the table behind :meth:`officers_source`, None for raw.officers."""
        return self._officers_good if table != "officers" else None

    def _set_officers_good(self, tl: TableLoad | None) -> None:
        name = f"officers_next__load{self.load_id}"
        with db.connect() as conn:
            drop_side(conn, name)
            if tl is None:
                self._officers_good = None
                return
            conn.execute(
                sql.SQL("CREATE UNLOGGED TABLE {} AS SELECT officer_id FROM ({}) g").format(ident(name), tl.good_rows())
            )
        self._officers_good = name

    def _orphans(self, officers: TableLoad, pending: dict[str, TableLoad]) -> dict | None:
        """History the new officers file would orphan: rows of tables this drop does not replace that name
        an officer now in raw.officers and absent from the file (rows of replaced tables are checked
        against the new officers by the 'known officer' rule)."""
        removed = sql.SQL("(SELECT officer_id FROM raw.officers EXCEPT SELECT officer_id FROM {}.{})").format(
            sql.Identifier(INCOMING_SCHEMA), sql.Identifier(officers.side)
        )
        per_table, total = {}, 0
        with db.connect() as conn:
            gone = [r[0] for r in conn.execute(sql.SQL("SELECT officer_id FROM {} r ORDER BY 1").format(removed))]
            if not gone:
                return None
            for t in self.contract.ordered_tables():
                if t.name == "officers" or t.name in pending or not t.officer_fk:
                    continue
                cond = sql.SQL(" OR ").join(
                    sql.SQL("{} IN {}").format(sql.Identifier(fk), removed) for fk in t.officer_fk
                )
                n = db.scalar(
                    conn,
                    sql.SQL("SELECT count(*) FROM {}.{} WHERE {}").format(
                        sql.Identifier(RAW_SCHEMA), sql.Identifier(t.name), cond
                    ),
                )
                if n:
                    per_table[t.name] = n
                    total += n
        if not total:
            return None
        where = ", ".join(f"{k} {v:,}" for k, v in per_table.items())
        return {
            "rule": "no orphaned history",
            "column": "officer_id",
            "count": total,
            "examples": gone[:5],
            "message": f"{len(gone):,} officer(s) in the warehouse are missing from {officers.streamed.path.name} "
            f"(e.g. {', '.join(gone[:3])}) and {total:,} row(s) of their history would be orphaned "
            f"({where}): a truncated export? pass --allow-shrink if it is intended",
        }

    # -- the drop ------------------------------------------------------------------------------------
    def _guarded(self, tl: TableLoad, step: Callable[[], TableResult]) -> TableResult:
        try:
            return step()
        except Exception as exc:  # noqa: BLE001 - one table's unexpected error must not stop the drop
            return tl.fail(exc)

    def run(self) -> LoadReport:
        known = {t.name for t in self.contract.ordered_tables()}
        unknown_files = sorted(
            p.name
            for p in self.drop_dir.iterdir()
            if p.is_file() and p.stem not in known and not p.name.startswith("_")
        )
        loads: dict[str, TableLoad] = {}
        pending: dict[str, TableLoad] = {}
        for spec in self.contract.ordered_tables():
            present = bool(find_files(self.drop_dir, spec.name))
            if present:
                self.progress(f"[{spec.name}] reading and validating ...")
            tl = loads[spec.name] = TableLoad(self, spec)
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
        for tl in pending.values():
            self._guarded(tl, tl.commit)
        self._set_officers_good(None)
        results = []
        for spec in self.contract.ordered_tables():
            res = loads[spec.name].res
            present = bool(find_files(self.drop_dir, spec.name))
            if spec.name == "officers" and unknown_files:
                res.warnings.append(f"files not in the contract were ignored: {unknown_files}")
            if present or res.rejected:
                self.progress(
                    f"[{spec.name}] {res.status.replace('_', ' ')}: {res.rows_loaded:,} loaded, {res.rows_quarantined:,} quarantined"
                    f"{' — ' + res.message if res.rejected or res.not_provided else ''}"
                )
            results.append(res)
        return LoadReport(self.load_id, str(self.drop_dir), self.extracted_at, results, self.docs_path)


def load_drop(
    drop_dir: str | Path,
    *,
    reject_share: float = 0.01,
    extracted_at: str | None = None,
    progress: Callable[[str], None] | None = print,
    allow_shrink: bool = False,
    max_shrink: float = 0.2,
    wait: bool = False,
) -> LoadReport:
    """Validate and load every contract table found in *drop_dir*; see the module docstring.

    Raises ``LoadBusy`` when another load holds the lock (unless *wait*), ``ManifestError`` (a
    ``ValueError``) for a bad ``_drop.json`` or ``extracted_at``.
    """
    drop_dir = Path(drop_dir)
    if not drop_dir.is_dir():
        raise FileNotFoundError(f"drop folder {drop_dir} does not exist")
    loader = DropLoader(
        drop_dir,
        reject_share,
        extracted_at,
        progress or (lambda m: None),
        allow_shrink=allow_shrink,
        max_shrink=max_shrink,
        wait=wait,
    )
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
