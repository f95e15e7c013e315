"""What a load reports: one ``TableResult`` per contract table, the ``LoadReport`` of the drop, and the
errors a load raises."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

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
        return {
            "load_id": self.load_id,
            "drop_dir": self.drop_dir,
            "ok": self.ok,
            "data_docs": self.data_docs,
            "tables": [asdict(t) for t in self.tables],
        }

    def summary(self) -> str:
        w = max(len(t.table) for t in self.tables) if self.tables else 5
        lines = [
            f"load {self.load_id} of {self.drop_dir} (extracted {self.extracted_at})",
            f"{'table':<{w}}  {'status':<22} {'rows in':>10} {'loaded':>10} {'quarantined':>11}",
        ]
        for t in self.tables:
            if not t.not_provided:
                lines.append(
                    f"{t.table:<{w}}  {t.status:<22} {t.rows_in:>10,} {t.rows_loaded:>10,} {t.rows_quarantined:>11,}"
                )
        absent = [t.table for t in self.tables if t.not_provided]
        if absent:
            lines.append(f"not provided (optional; features that need them carry no information): {', '.join(absent)}")
        for t in self.tables:
            for p in t.problems:
                lines.append(
                    f"  {'REJECTED' if t.rejected else 'quarantined'} {t.table}"
                    f"{'.' + p['column'] if p.get('column') else ''}: rule '{p['rule']}': {p['message']}"
                )
            for wmsg in t.warnings:
                lines.append(f"  warning {t.table}: {wmsg}")
        if self.data_docs:
            lines.append(f"Great Expectations Data Docs: {self.data_docs}")
        lines.append(
            "result: "
            + ("OK" if self.ok else "REJECTED tables: " + ", ".join(t.table for t in self.tables if t.rejected))
        )
        return "\n".join(lines)

    def raise_for_status(self) -> None:
        if not self.ok:
            raise LoadRejected(self.summary())
