"""City of San Diego open data -> contract drop folders (``eis import sd-calls`` / ``eis import sd-ripa``).

Every input row ends in exactly one place: the contract table, ``_rejects_<table>.csv`` (with the
reason), or - for calls only - ``_skipped_information_log.csv`` (beat -1 rows: information-log entries,
not calls for service).  Files starting with ``_`` are ignored by ``eis load``.  The mapping is
documented in docs/forecasting.md ("San Diego import").
"""

from __future__ import annotations

import csv
import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import NoReturn

#: SDPD beats are three digits; the first digit is the patrol division.
SD_DIVISIONS = {
    "1": "NORTHERN",
    "2": "NORTHEASTERN",
    "3": "EASTERN",
    "4": "SOUTHEASTERN",
    "5": "CENTRAL",
    "6": "WESTERN",
    "7": "SOUTHERN",
    "8": "MID-CITY",
    "9": "NORTHWESTERN",
}
#: call types the city's lookup describes as field-initiated (stops, flag-downs, foot patrol, ...)
OFFICER_INITIATED_TYPES = {"1149", "1150", "1151", "T", "MPSSTP", "FD", "FOOT", "FU", "PAPER", "SELENF"}
#: call types whose description in the lookup names an alarm
ALARM_TYPES = {"459A", "211A", "1131A", "10852A", "594VARDA", "VARDA", "BIOALARM"}
PLACEHOLDER_OFFICER = "SDPD_UNKNOWN"

CALL_COLUMNS = [
    "call_id",
    "received_at",
    "call_type",
    "priority",
    "source",
    "division",
    "beat",
    "lat",
    "lon",
    "disposition",
]
STOP_COLUMNS = [
    "stop_id",
    "officer_id",
    "stopped_at",
    "division",
    "beat",
    "reason",
    "outcome",
    "searched",
    "contraband_found",
    "use_of_force",
    "driver_race",
    "driver_sex",
    "driver_age",
]
OFFICER_ROW = {
    "officer_id": PLACEHOLDER_OFFICER,
    "hire_date": "1900-01-01",
    "separation_date": "",
    "birth_year": "1900",
    "sex": "X",
    "race": "UNKNOWN",
    "education": "UNKNOWN",
    "height_cm": "",
    "weight_kg": "",
    "rank": "OFFICER",
    "sworn": "true",
}
#: RIPA 'basic details' header aliases: current file (id, stopdate, stoptime) and historic (stop_id, date_stop, time_stop)
RIPA_ALIASES = {
    "stop_id": ("stop_id", "id"),
    "date": ("date_stop", "stopdate"),
    "time": ("time_stop", "stoptime"),
    "beat": ("beat",),
    "age": ("perceived_age", "perceivedage"),
}


class ImportError_(RuntimeError):
    """The input cannot be read at all (missing columns, empty file)."""


@dataclass
class ImportReport:
    table: str
    out_dir: str
    rows_in: int = 0
    rows_out: int = 0
    rejected: int = 0
    skipped: int = 0
    reasons: dict = field(default_factory=dict)
    max_reject_share: float = 0.05

    @property
    def reject_share(self) -> float:
        considered = self.rows_in - self.skipped
        return self.rejected / considered if considered else 0.0

    @property
    def ok(self) -> bool:
        return self.rows_out > 0 and self.reject_share <= self.max_reject_share

    def summary(self) -> str:
        lines = [
            f"{self.table}: {self.rows_in:,} rows read -> {self.rows_out:,} written, {self.rejected:,} rejected "
            f"({100 * self.reject_share:.1f} %, limit {100 * self.max_reject_share:.1f} %)"
            + (f", {self.skipped:,} information-log rows skipped" if self.skipped else "")
        ]
        for r, n in sorted(self.reasons.items(), key=lambda kv: -kv[1]):
            lines.append(f"  rejected: {r}: {n:,}")
        lines.append(f"drop folder: {self.out_dir}  ->  {'OK' if self.ok else 'FAILED'}")
        return "\n".join(lines)


def _division(beat: str) -> tuple[str | None, str | None]:
    b = (beat or "").strip()
    if not b:
        return None, "missing beat"
    if not (b.isdigit() and len(b) == 3 and b[0] in SD_DIVISIONS):
        return None, f"unknown beat {b!r}"
    return SD_DIVISIONS[b[0]], None


def _timestamp(text: str, fmts=("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M")):
    for f in fmts:
        try:
            return datetime.strptime(text.strip(), f)
        except ValueError:
            continue
    return None


def _open_csv(path: Path):
    """A DictReader on *path* (plain or ``.gz``); raises ImportError_ for an empty or unreadable file."""
    import gzip

    try:
        # The handle is returned open with its reader; the caller closes it.
        fh = (
            gzip.open(path, "rt", newline="", encoding="utf-8-sig")  # noqa: SIM115
            if path.suffix == ".gz"
            else open(path, newline="", encoding="utf-8-sig")  # noqa: SIM115
        )
        reader = csv.DictReader(fh)
        names = reader.fieldnames
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise ImportError_(f"{path}: cannot read it as a UTF-8 CSV ({type(e).__name__})") from None
    if not names:
        fh.close()
        raise ImportError_(f"{path}: empty file (no header)")
    return fh, reader


def _write(out_dir: Path, name: str, columns: list[str], rows: list[dict]) -> None:
    with open(out_dir / name, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)


def _manifest(out_dir: Path, source: str | Path, importer: str, last: datetime, report: ImportReport) -> None:
    """``_drop.json``: an *activity* drop (calls or stops only: the loader needs no officer tables for it),
    extracted at the latest timestamp in the data (so no row is "in the future" of the extract)."""
    (out_dir / "_drop.json").write_text(
        json.dumps(
            {
                "kind": "activity",
                "extracted_at": last.strftime("%Y-%m-%dT%H:%M:%S"),
                "department": "City of San Diego Police Department (open data)",
                "source_file": str(source),
                "importer": importer,
                "report": asdict(report),
            },
            indent=2,
        )
        + "\n"
    )


def _no_rows(src: Path, rep: ImportReport) -> NoReturn:
    """One-line error when nothing could be converted (header-only file, or every row rejected/skipped)."""
    if rep.rows_in == 0:
        raise ImportError_(f"{src}: no data rows (header only); need at least one row to import")
    raise ImportError_(
        f"{src}: none of the {rep.rows_in:,} rows could be converted "
        f"({rep.rejected:,} rejected, {rep.skipped:,} information-log rows); "
        f"reasons: {', '.join(sorted(rep.reasons)) or 'none'}"
    )


def import_sd_calls(src: str | Path, out_dir: str | Path, max_reject_share: float = 0.05) -> ImportReport:
    """Convert a 'Police Calls for Service' export into ``<out>/calls_for_service.csv``."""
    src, out = Path(src), Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    fh, reader = _open_csv(src)
    need = {"incident_num", "date_time", "call_type", "disposition", "beat", "priority"}
    missing = need - set(reader.fieldnames)
    if missing:
        fh.close()
        raise ImportError_(f"{src}: missing column(s) {sorted(missing)}; is this the calls-for-service export?")
    rep = ImportReport("calls_for_service", str(out), max_reject_share=max_reject_share)
    good, rejects, skipped, seen, last = [], [], [], set(), None
    with fh:
        for line, row in enumerate(reader, start=2):
            rep.rows_in += 1
            beat = (row.get("beat") or "").strip()
            if beat == "-1":
                skipped.append({**row, "line": line})
                continue
            reason = None
            ts = _timestamp(row.get("date_time") or "")
            cid = (row.get("incident_num") or "").strip()
            prio = (row.get("priority") or "").strip()
            ctype = (row.get("call_type") or "").strip()
            division, breason = _division(beat)
            if not cid:
                reason = "missing incident_num"
            elif cid in seen:
                reason = "duplicate incident_num"
            elif ts is None:
                reason = f"bad date_time {row.get('date_time')!r}"
            elif not ctype:
                reason = "missing call_type"
            elif prio not in {"0", "1", "2", "3", "4", "9"}:
                reason = f"bad priority {prio!r}"
            elif breason:
                reason = breason
            if reason:
                rejects.append({**row, "line": line, "reason": reason})
                key = reason.split(" '")[0] if not reason.startswith("unknown beat") else "unknown beat"
                rep.reasons[key] = rep.reasons.get(key, 0) + 1
                continue
            seen.add(cid)
            last = ts if last is None or ts > last else last
            source = (
                "OFFICER_INITIATED"
                if ctype in OFFICER_INITIATED_TYPES
                else "ALARM"
                if ctype in ALARM_TYPES
                else "CITIZEN_911"
            )
            good.append(
                {
                    "call_id": cid,
                    "received_at": ts.strftime("%Y-%m-%dT%H:%M:%S"),
                    "call_type": ctype,
                    "priority": 9 if prio == "9" else int(prio) + 1,
                    "source": source,
                    "division": division,
                    "beat": beat,
                    "lat": "",
                    "lon": "",
                    "disposition": (row.get("disposition") or "").strip(),
                }
            )
    rep.rows_out, rep.rejected, rep.skipped = len(good), len(rejects), len(skipped)
    if not good or last is None:  # every good row has set last
        _no_rows(src, rep)
    _write(out, "calls_for_service.csv", CALL_COLUMNS, good)
    _write(out, "_rejects_calls_for_service.csv", list(reader.fieldnames) + ["line", "reason"], rejects)
    _write(out, "_skipped_information_log.csv", list(reader.fieldnames) + ["line"], skipped)
    _manifest(out, src, "sd-calls", last, rep)
    return rep


def _pick(fieldnames, key) -> str | None:
    low = {f.lower(): f for f in fieldnames}
    return next((low[a.lower()] for a in RIPA_ALIASES[key] if a.lower() in low), None)


def import_sd_ripa(src: str | Path, out_dir: str | Path, max_reject_share: float = 0.05) -> ImportReport:
    """Convert a RIPA 'stops - basic details' export into ``traffic_stops.csv`` + a placeholder ``officers.csv``.

    One row per person stopped in the export; the contract wants one row per stop: the first row of
    each stop id is kept, further persons of the same stop are not rejects.
    """
    src, out = Path(src), Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    fh, reader = _open_csv(src)
    cols = {k: _pick(reader.fieldnames, k) for k in RIPA_ALIASES}
    missing = [k for k in ("stop_id", "date", "time", "beat") if cols[k] is None]
    if missing:
        fh.close()
        raise ImportError_(
            f"{src}: no column for {missing} (accepted headers: "
            + "; ".join(f"{k}: {'/'.join(RIPA_ALIASES[k])}" for k in missing)
            + ")"
        )
    rep = ImportReport("traffic_stops", str(out), max_reject_share=max_reject_share)
    good, rejects, seen, last = [], [], set(), None
    with fh:
        for line, row in enumerate(reader, start=2):
            sid = (row[cols["stop_id"]] or "").strip()
            if sid and sid in seen:  # another person of a stop already written
                continue
            rep.rows_in += 1
            ts = _timestamp(
                f"{(row[cols['date']] or '').strip()[:10]} {(row[cols['time']] or '').strip()}",
                ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S.%f"),
            )
            division, breason = _division(row[cols["beat"]])
            age = (row.get(cols["age"]) or "").strip() if cols["age"] else ""
            reason = (
                "missing stop id"
                if not sid
                else f"bad date/time {row[cols['date']]!r} {row[cols['time']]!r}"
                if ts is None
                else breason
            )
            if reason:
                rejects.append({**row, "line": line, "reason": reason})
                key = (
                    "bad date/time"
                    if reason.startswith("bad date")
                    else ("unknown beat" if reason.startswith("unknown beat") else reason)
                )
                rep.reasons[key] = rep.reasons.get(key, 0) + 1
                continue
            seen.add(sid)
            last = ts if last is None or ts > last else last
            good.append(
                {
                    "stop_id": sid,
                    "officer_id": PLACEHOLDER_OFFICER,
                    "stopped_at": ts.strftime("%Y-%m-%dT%H:%M:%S"),
                    "division": division,
                    "beat": row[cols["beat"]].strip(),
                    "reason": "OTHER",
                    "outcome": "NO_ACTION",
                    "searched": "false",
                    "contraband_found": "",
                    "use_of_force": "false",
                    "driver_race": "",
                    "driver_sex": "",
                    "driver_age": age if age.isdigit() and 0 <= int(age) <= 120 else "",
                }
            )
    rep.rows_out, rep.rejected = len(good), len(rejects)
    if not good or last is None:  # every good row has set last
        _no_rows(src, rep)
    _write(out, "traffic_stops.csv", STOP_COLUMNS, good)
    _write(out, "officers.csv", list(OFFICER_ROW), [OFFICER_ROW])
    _write(out, "_rejects_traffic_stops.csv", list(reader.fieldnames) + ["line", "reason"], rejects)
    _manifest(out, src, "sd-ripa", last, rep)
    return rep


def load_imported(out_dir: str | Path, tables: tuple[str, ...], progress=print) -> tuple[bool, dict[str, str], str]:
    """``eis load`` the drop; success = every table this import wrote was accepted.  Only those tables'
    statuses are judged: the contract's other tables are not part of an import (the manifest says
    ``"kind": "activity"``).  Returns (ok, {table: status}, the load summary)."""
    from eis_core.load.loader import ACCEPTED, load_drop

    report = load_drop(out_dir, progress=progress)
    statuses = {t: report.table(t).status for t in tables}
    ok = all(s in ACCEPTED for s in statuses.values())
    return ok, statuses, report.summary()
