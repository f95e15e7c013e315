"""Finding and reading the CPDP ("fully-unified-data") source files, and the shared import report.

Only the columns the importer needs are read (``include_columns``), as text, so names, star numbers
and street addresses in a source file never even reach memory. Files may be gzip CSV or plain CSV.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute  # noqa: F401  (pa.compute)
import pyarrow.csv as pacsv


class CpdpImportError(Exception):
    """A problem with the source folder that stops the import (reported as one line, exit 2)."""


@dataclass(frozen=True)
class Source:
    key: str
    pattern: str  # regex on the file name, without the .csv / .csv.gz suffix
    columns: tuple[str, ...]
    required: bool


SOURCES: tuple[Source, ...] = (
    Source(
        "profiles",
        r"final-profiles",
        ("UID", "birth_year", "race", "gender", "appointed_date", "resignation_date", "current_rank", "cleaned_rank"),
        True,
    ),
    Source("units", r"unit-history", ("UID", "unit", "unit_start_date", "unit_end_date"), True),
    Source("salary", r"salary-ranks_\d{4}-\d{4}_\d{4}-\d{2}", ("UID", "rank", "year", "spp_date"), False),
    Source("complaints", r"complaints-complaints", ("cr_id", "incident_date", "complaint_date", "closed_date"), True),
    Source(
        "complaints_2018",
        r"complaints-complaints_2000-2018_2018-03",
        ("cr_id", "incident_start_date", "complaint_date", "closed_date", "complainant_type"),
        False,
    ),
    Source(
        "accused",
        r"complaints-accused",
        ("UID", "cr_id", "complaint_category", "complaint_code", "final_finding", "final_outcome"),
        True,
    ),
    Source(
        "accused_2018",
        r"complaints-accused_2000-2018_2018-03",
        (
            "UID",
            "cr_id",
            "allegation_category",
            "allegation_category_code",
            "final_finding",
            "final_finding_USE",
            "final_outcome_USE",
        ),
        False,
    ),
    Source(
        "trr_main", r"TRR-main_2004-2016_2016-09", ("trr_id", "trr_date", "trr_time", "taser", "firearm_used"), False
    ),
    Source("trr_officers", r"TRR-officers_2004-2016_2016-09", ("trr_id", "UID", "injured"), False),
    Source("trr_statuses", r"TRR-statuses_2004-2016_2016-09", ("trr_id", "status", "status_date"), False),
)
SUFFIXES = (".csv.gz", ".csv")


@dataclass
class Report:
    """Rows in and out per source file and per table, and every dropped / recoded / skipped row by reason."""

    sources: dict[str, dict] = field(default_factory=dict)
    tables: dict[str, dict] = field(default_factory=dict)

    def table(self, name: str) -> dict:
        return self.tables.setdefault(
            name, {"rows_out": 0, "dropped": Counter(), "recoded": Counter(), "skipped": Counter()}
        )

    def drop(self, table: str, reason: str, n: int) -> None:
        if n:
            self.table(table)["dropped"][reason] += int(n)

    def recode(self, table: str, reason: str, n: int) -> None:
        if n:
            self.table(table)["recoded"][reason] += int(n)

    def skip(self, table: str, reason: str, n: int) -> None:
        if n:
            self.table(table)["skipped"][reason] += int(n)

    def used(self, key: str, n: int) -> None:
        self.sources[key]["rows_used"] = int(n)

    def as_dict(self) -> dict:
        tables = {}
        for name, t in self.tables.items():
            tables[name] = {
                "rows_out": t["rows_out"],
                "dropped": dict(sorted(t["dropped"].items())),
                "recoded": dict(sorted(t["recoded"].items())),
                "skipped": dict(sorted(t["skipped"].items())),
                "counts": t.get("counts", {}),
            }
        return {"sources": self.sources, "tables": tables}


def find_sources(src_dir: Path) -> dict[str, Path]:
    """Source key -> file. A missing required file is an error; optional ones may be absent."""
    files = {}
    for p in sorted(src_dir.iterdir()):
        for suf in SUFFIXES:
            if p.is_file() and p.name.endswith(suf):
                files[p.name[: -len(suf)]] = p
    found, missing = {}, []
    for s in SOURCES:
        hits = [p for stem, p in files.items() if re.fullmatch(s.pattern, stem)]
        if hits:
            found[s.key] = hits[0]
        elif s.required:
            missing.append(s.pattern.replace("\\d{4}", "YYYY").replace("\\d{2}", "MM") + ".csv.gz")
    if missing:
        raise CpdpImportError(f"{src_dir}: missing source file(s) {', '.join(missing)}")
    trr = [k for k in ("trr_main", "trr_officers", "trr_statuses") if k in found]
    if trr and len(trr) < 3:
        raise CpdpImportError(f"{src_dir}: TRR-main, TRR-officers and TRR-statuses come together; only {trr} found")
    return found


def _header(path: Path) -> list[str]:
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8", newline="") as fh:
            return next(csv.reader(io.StringIO(fh.readline())), [])
    except (OSError, UnicodeDecodeError, EOFError) as e:
        raise CpdpImportError(f"{path.name}: cannot be read ({e.__class__.__name__}: {e})") from None


def _read(path: Path, columns: list[str]) -> pd.DataFrame:
    try:
        table = pacsv.read_csv(
            path,
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                include_columns=columns, column_types={c: pa.string() for c in columns}, strings_can_be_null=True
            ),
        )
    except (pa.ArrowInvalid, OSError) as e:
        raise CpdpImportError(f"{path.name}: cannot be parsed as CSV ({str(e).splitlines()[0]})") from None
    df = table.to_pandas()
    del table
    for c in df.columns:
        df[c] = df[c].str.strip().replace("", pd.NA)
    return df


class Sources:
    """The source files of a folder, read on first use (only the needed columns) and released after use,
    so that only a few files are in memory at a time. Headers are checked up front."""

    def __init__(self, src_dir: Path, report: Report) -> None:
        self.paths = find_sources(src_dir)
        self.report = report
        self._by_key = {s.key: s for s in SOURCES}
        self._cache: dict[str, pd.DataFrame] = {}
        for key, path in self.paths.items():
            missing = [c for c in self._by_key[key].columns if c not in _header(path)]
            if missing:
                raise CpdpImportError(f"{path.name}: missing column(s) {', '.join(missing)}")

    def __contains__(self, key: str) -> bool:
        return key in self.paths

    def __getitem__(self, key: str) -> pd.DataFrame:
        if key not in self._cache:
            src, path = self._by_key[key], self.paths[key]
            df = _read(path, list(src.columns))
            self.report.sources[key] = {"file": path.name, "rows_in": len(df), "rows_used": 0}
            if src.required and df.empty:
                raise CpdpImportError(f"{path.name}: no data rows")
            self._cache[key] = df
        return self._cache[key]

    def get(self, key: str) -> pd.DataFrame | None:
        return self[key] if key in self else None  # noqa: SIM401 (this *is* get: self.get would recurse)

    def columns(self, key: str, columns: tuple[str, ...]) -> pd.DataFrame:
        """A few columns of a file, not kept (for the extraction date)."""
        return self._cache[key][list(columns)] if key in self._cache else _read(self.paths[key], list(columns))

    def release(self, *keys: str) -> None:
        for k in keys:
            self._cache.pop(k, None)


#: what the table builders read: the lazily read Sources of a folder, or plain frames by key (tests)
SourceTables = Sources | dict[str, pd.DataFrame]


# ---------------------------------------------------------------- value parsing helpers


def parse_uid(s: pd.Series) -> pd.Series:
    """'100005' and '100005.0' -> 100005 (Int64); anything else (empty, non-integral) -> NA."""
    num = pd.to_numeric(s, errors="coerce")
    ok = num.notna() & (num == num.round()) & (num > 0)
    return num.where(ok).astype("Int64")


def parse_date(s: pd.Series) -> pd.Series:
    """'YYYY-MM-DD' (a time part, if any, is ignored) -> datetime64; unparseable -> NaT."""
    return pd.to_datetime(s.str.slice(0, 10), format="%Y-%m-%d", errors="coerce")


def parse_cr(s: pd.Series) -> pd.Series:
    """A complaint register number as text: '1008750', '1008750.0' -> '1008750'; 'C170981' stays."""
    return s.str.upper().str.replace(r"^(\d+)\.0+$", r"\1", regex=True)


def clean_text(s: pd.Series) -> pd.Series:
    """Upper case, whitespace collapsed, empty -> NA (vectorised in Arrow)."""
    arr = pa.array(s.astype("string").to_numpy(dtype=object, na_value=None), type=pa.string())
    arr = pa.compute.utf8_trim_whitespace(pa.compute.replace_substring_regex(pa.compute.utf8_upper(arr), r"\s+", " "))
    out = pd.Series(arr.to_numpy(zero_copy_only=False), index=s.index, dtype="string")
    return out.replace("", pd.NA)


def isin(s: pd.Series, values) -> pd.Series:
    """``s.isin(values)`` for text, through Arrow (pandas' isin on Arrow strings is slow for big sets)."""
    vals = pd.Series(list(values) if not isinstance(values, (pd.Series, pd.Index)) else values, dtype="string")
    vs = pa.array(vals.dropna().unique().astype(object), type=pa.string())
    arr = pa.array(s.astype("string").to_numpy(dtype=object, na_value=None), type=pa.string())
    return pd.Series(pa.compute.is_in(arr, value_set=vs).fill_null(False).to_numpy(zero_copy_only=False), index=s.index)


def hash_ids(uids: pd.Series, salt: str) -> pd.Series:
    """officer_id = the first 16 hex digits of sha256(salt + ':' + UID)."""
    uniq = uids.dropna().unique()
    mapping = {int(u): hashlib.sha256(f"{salt}:{int(u)}".encode()).hexdigest()[:16] for u in uniq}
    return uids.map(mapping, na_action="ignore")
