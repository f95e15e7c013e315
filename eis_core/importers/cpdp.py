"""``eis import cpdp``: the Invisible Institute's Chicago Police data (CPDP "fully-unified-data") -> a
contract v2 drop. The decisions (and their counts on the shared sample) are in docs/importers.md.

Every row the importer cannot write as it is gets dropped or recoded and counted by reason in
``_import_report.json``, so that ``eis load`` of the drop has nothing left to quarantine.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from eis_core.contract import load_contract
from eis_core.importers.cpdp_cases import build_cases
from eis_core.importers.cpdp_force import build_force
from eis_core.importers.cpdp_officers import STILL_THERE, build_assignments, build_officers, build_rank_history
from eis_core.importers.cpdp_sources import CpdpImportError, Report, Sources, hash_ids, parse_date

DEFAULT_SALT = "eis-cpdp-v1"
SALT_ENV = "EIS_IMPORT_SALT"
DEFAULT_MAX_DROP_SHARE = 0.05
TABLES = ("officers", "rank_history", "assignments", "ia_cases", "use_of_force")
COUNTED = {
    "officers": ("rank", "sworn", "race", "sex"),
    "ia_cases": ("event_type", "disposition"),
    "use_of_force": ("force_type", "review_outcome", "officer_injured"),
}
_DATE_COLUMNS = {
    "profiles": ("appointed_date", "resignation_date"),
    "units": ("unit_start_date", "unit_end_date"),
    "salary": ("spp_date",),
    "complaints": ("incident_date", "complaint_date", "closed_date"),
    "complaints_2018": ("incident_start_date", "complaint_date", "closed_date"),
    "trr_main": ("trr_date",),
    "trr_statuses": ("status_date",),
}


@dataclass
class ImportResult:
    out_dir: Path
    extracted_at: str
    report: dict
    seconds: float

    @property
    def too_many_dropped(self) -> list[str]:
        return self.report["too_many_dropped"]

    def summary_lines(self) -> list[str]:
        lines = [f"CPDP import -> {self.out_dir} (extracted_at {self.extracted_at}, {self.seconds:.1f} s)"]
        for name, t in self.report["tables"].items():
            dropped = sum(t["dropped"].values())
            skipped = sum(t["skipped"].values())
            lines.append(
                f"  {name}: {t['rows_out']:,} rows written, {dropped:,} dropped, {skipped:,} skipped, "
                f"{sum(t['recoded'].values()):,} values recoded"
            )
            for reason, n in t["dropped"].items():
                lines.append(f"      dropped {n:,}: {reason}")
        lines.append(f"  details: {self.out_dir / '_import_report.json'}")
        return lines


def release_end(src_files: list[str]) -> pd.Timestamp | None:
    """The last day of the newest release month in the file names (``..._2018-03.csv.gz`` -> 2018-03-31)."""
    months = [m.group(1) for f in src_files if (m := re.search(r"_(\d{4}-\d{2})\.csv(\.gz)?$", f))]
    if not months:
        return None
    return pd.Timestamp(max(months) + "-01") + pd.offsets.MonthEnd(0)


def extraction_day(src: Sources, files: list[str]) -> pd.Timestamp:
    """The newest date in the data that is not after the newest release month (the 2018-06-01 'still in
    this unit' marker does not count)."""
    end = release_end(files) or pd.Timestamp.today().normalize()
    best = None
    for key, cols in _DATE_COLUMNS.items():
        if key not in src:
            continue
        df = src.columns(key, cols)
        for c in cols:
            d = parse_date(df[c])
            d = d[(d <= end) & (d != STILL_THERE)]
            if len(d.dropna()) and (best is None or d.max() > best):
                best = d.max()
    if best is None:
        raise CpdpImportError("no usable date in the source files")
    return best


def _format(df: pd.DataFrame, table: str) -> pd.DataFrame:
    """Contract columns as text: dates YYYY-MM-DD, timestamps YYYY-MM-DDTHH:MM:SS, bools true/false."""
    spec = load_contract().tables[table]
    out = pd.DataFrame(index=df.index)
    for c in spec.column_list:
        v = df[c.name] if c.name in df else pd.Series(pd.NA, index=df.index)
        if c.type == "date":
            s = pd.to_datetime(v).dt.strftime("%Y-%m-%d")
        elif c.type == "timestamp":
            s = pd.to_datetime(v).dt.strftime("%Y-%m-%dT%H:%M:%S")
        elif c.type == "bool":
            s = v.map(lambda x: None if pd.isna(x) else ("true" if bool(x) else "false"))
        elif c.type == "int":
            s = pd.to_numeric(v).astype("Int64").astype("string")
        else:
            s = v.astype("string")
        out[c.name] = s
    return out


def run_import(
    src_dir: str | Path,
    out_dir: str | Path,
    *,
    salt: str | None = None,
    max_drop_share: float = DEFAULT_MAX_DROP_SHARE,
    progress: Callable[[str], None] = lambda m: None,
) -> ImportResult:
    t0 = time.perf_counter()
    src_dir, out_dir = Path(src_dir), Path(out_dir)
    if not src_dir.is_dir():
        raise CpdpImportError(f"{src_dir}: not a folder")
    salt_source = "--salt" if salt else (SALT_ENV if os.environ.get(SALT_ENV) else "default")
    salt = salt or os.environ.get(SALT_ENV) or DEFAULT_SALT
    progress(f"reading {src_dir} ...")
    rep = Report()
    src = Sources(src_dir, rep)
    day = extraction_day(src, [p.name for p in src.paths.values()])
    cap = day + pd.Timedelta(hours=23, minutes=59, seconds=59)
    progress("officers, rank history, assignments ...")
    off = build_officers(src["profiles"], src.get("salary"), cap, rep)
    rep.used("profiles", len(off))
    src.release("profiles")
    tables = {"officers": off}
    if "salary" in src:
        tables["rank_history"] = build_rank_history(src["salary"], off, cap, rep)
        rep.used("salary", len(tables["rank_history"]))
        src.release("salary")
    tables["assignments"] = build_assignments(src["units"], off, cap, rep)
    rep.used("units", len(tables["assignments"]))
    src.release("units")
    progress("complaints -> ia_cases ...")
    tables["ia_cases"] = build_cases(src, off, cap, rep)
    src.release("complaints", "complaints_2018", "accused", "accused_2018")
    if "trr_main" in src:
        progress("tactical response reports -> use_of_force ...")
        tables["use_of_force"] = build_force(src, off, cap, rep)
    src.release(*src.paths)

    ids = hash_ids(off.uid, salt)
    id_of = dict(zip(off.uid.astype(int), ids))
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in [out_dir / f"{t}.csv" for t in TABLES if t not in tables]:
        stale.unlink(missing_ok=True)
    for name, df in tables.items():
        df = df.copy()
        df["officer_id"] = df.pop("uid").astype(int).map(id_of)
        if name == "ia_cases":
            df["case_id"] = "CR" + df.pop("cr") + "-" + df.officer_id
        _format(df, name).to_csv(out_dir / f"{name}.csv", index=False, na_rep="", lineterminator="\n")
        rep.table(name)["rows_out"] = len(df)
        for col in COUNTED.get(name, ()):
            rep.table(name).setdefault("counts", {})[col] = {
                str(k): int(v) for k, v in df[col].fillna("NULL").value_counts().sort_index().items()
            }
        progress(f"  {name}.csv: {len(df):,} rows")
    extracted_at = cap.strftime("%Y-%m-%dT%H:%M:%S")
    (out_dir / "_drop.json").write_text(
        json.dumps({"extracted_at": extracted_at, "kind": "department", "source": "CPDP fully-unified-data"}, indent=2)
        + "\n"
    )
    body = rep.as_dict()
    too_many = []
    for name, t in body["tables"].items():
        dropped = sum(t["dropped"].values())
        share = dropped / max(1, dropped + t["rows_out"])
        t["drop_share"] = round(share, 6)
        if share > max_drop_share:
            too_many.append(f"{name} {share:.1%}")
    body = {
        "source_dir": str(src_dir),
        "extracted_at": extracted_at,
        "salt": salt_source,
        "max_drop_share": max_drop_share,
        "too_many_dropped": too_many,
        **body,
    }
    (out_dir / "_import_report.json").write_text(json.dumps(body, indent=2) + "\n")
    return ImportResult(out_dir, extracted_at, body, time.perf_counter() - t0)
