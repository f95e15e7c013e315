"""Cut a department drop at a date: the drop as its export would have looked earlier, for incremental loads.

``cut_drop(src, dst, before)`` writes into *dst* the rows of each event table of *src* that were fully known
before the day *before*: every date and timestamp column of the row is NULL or earlier than *before*
(a case closed later, or a dispatch cleared after midnight, is not in the cut at all, rather than in it
with a different closing).  The reference tables (:data:`WHOLE`: officers, their ranks and assignments,
neighbourhoods) are copied byte for byte, so a later cut or the full drop finds them "unchanged".  Cuts at
increasing dates are therefore *append-only*: every row of an earlier cut is in a later one unchanged, and
loading them in order exercises the loader's append path and the incremental running totals
(``tests/test_incremental_load.py``, ``bench/bench_incremental.py``).  ``_drop.json`` is copied (same
``extracted_at``), with ``cut_before`` added.

Not a model of how a real department's exports change: a real export also rewrites rows (cases close,
dispositions change), which the loader detects and answers with a replace (``eis_core.load.write``).
"""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

#: tables copied whole: the roster and its history, and the neighbourhood covariates
WHOLE = ("officers", "rank_history", "assignments", "neighborhoods")


def _keep_mask(table, columns: list[str], before: str):
    import pyarrow as pa
    import pyarrow.compute as pc

    keep = pa.array([True] * table.num_rows, type=pa.bool_())
    for c in columns:
        if c not in table.column_names:
            continue
        day = pc.utf8_slice_codeunits(pc.cast(table[c], pa.string()), 0, 10)
        early = pc.or_kleene(pc.is_null(day), pc.equal(day, ""))
        keep = pc.and_(keep, pc.fill_null(pc.or_kleene(early, pc.less(day, before)), True))
    return keep


def _cut_csv(path: Path, out: Path, temporal: list[str], before: str) -> int:
    """The CSV rows whose temporal values are all empty or earlier than *before* (ISO text compares as
    dates), written with minimal quoting as the generator writes them."""
    import csv

    n = 0
    with open(path, newline="", encoding="utf-8") as fin, open(out, "w", newline="", encoding="utf-8") as fout:
        reader, writer = csv.reader(fin), csv.writer(fout, lineterminator="\n")
        header = next(reader)
        writer.writerow(header)
        idx = [header.index(c) for c in temporal if c in header]
        for row in reader:
            if all(not row[i] or row[i][:10] < before for i in idx):
                writer.writerow(row)
                n += 1
    return n


def cut_drop(src: Path | str, dst: Path | str, before: date) -> dict[str, int]:
    """Write the cut of drop *src* before *before* into *dst*; returns the rows written per table."""
    import pyarrow.parquet as pq

    from eis_core.contract import load_contract

    src, dst = Path(src), Path(dst)
    dst.mkdir(parents=True, exist_ok=True)
    contract = load_contract()
    rows: dict[str, int] = {}
    for spec in contract.ordered_tables():
        path = next((p for p in (src / f"{spec.name}.csv", src / f"{spec.name}.parquet") if p.exists()), None)
        if path is None:
            continue
        if spec.name in WHOLE:
            shutil.copy2(path, dst / path.name)
            continue
        temporal = [c.name for c in spec.temporal_columns]
        if path.suffix == ".csv":
            rows[spec.name] = _cut_csv(path, dst / path.name, temporal, before.isoformat())
            continue
        table = pq.read_table(path)
        cut = table.filter(_keep_mask(table, temporal, before.isoformat()))
        pq.write_table(cut, dst / path.name)
        rows[spec.name] = cut.num_rows
    manifest_path = src / "_drop.json"
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        manifest["cut_before"] = before.isoformat()
        (dst / "_drop.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return rows


__all__ = ["WHOLE", "cut_drop"]
