"""Contract v2 tables for a synthetic drop, derived from the simulated v1 tables (``eis synth --contract 2``).

The simulation writes the v1 tables; this step adds what a real department's v2 export holds, from
the same officers and cases and the same seed, so a v2 drop is a v1 drop plus:

* ``use_of_force``: one report per USE_OF_FORCE IA case (the report the officer filed for that force),
  plus about as many again that never became an IA case. Force type and injuries are drawn; a supervisor
  reviews each report 0-14 days later: NOT_APPROVED or REFERRED_TO_IA where the IA case was found
  UNJUSTIFIED (a review precedes the IA finding, as in a department), APPROVED otherwise.
* ``ia_cases.allegation``: the department's own allegation category for complaints (NULL for other
  event types).
* ``rank_history``: each officer starts as OFFICER on the hire date; officers whose current rank is
  higher were promoted once, on a drawn date between hire and extraction.

Deterministic for (seed, input files): the same seed gives byte-identical files.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

FORCE_TYPES = ["PHYSICAL", "TAKEDOWN", "TASER", "CHEMICAL", "IMPACT_WEAPON", "FIREARM", "OTHER"]
FORCE_P = [0.38, 0.27, 0.14, 0.08, 0.06, 0.02, 0.05]
ALLEGATIONS = [
    "EXCESSIVE FORCE",
    "VERBAL ABUSE",
    "ILLEGAL SEARCH",
    "ILLEGAL ARREST",
    "NEGLECT OF DUTY",
    "CONDUCT UNBECOMING",
    "FAILURE TO PROVIDE SERVICE",
]
ALLEGATION_P = [0.22, 0.18, 0.14, 0.08, 0.18, 0.12, 0.08]


def _read(path: Path) -> pa.Table:
    """A drop table as written (Parquet), or with every CSV column as text, so a rewrite keeps its values."""
    if path.suffix == ".parquet":
        return pq.read_table(path)
    with open(path, encoding="utf-8") as fh:
        header = [h.strip('"') for h in fh.readline().rstrip("\r\n").split(",")]
    return pacsv.read_csv(
        path,
        convert_options=pacsv.ConvertOptions(column_types={c: pa.string() for c in header}, strings_can_be_null=True),
    )


def _d(v) -> date | None:
    if v is None or v == "":
        return None
    return v if isinstance(v, date) else date.fromisoformat(str(v)[:10])


def _write(out_dir: Path, fmt: str, name: str, table: pa.Table) -> None:
    if fmt == "parquet":
        pq.write_table(table, out_dir / f"{name}.parquet", compression="zstd")
    else:
        pacsv.write_csv(table, out_dir / f"{name}.csv", write_options=pacsv.WriteOptions(include_header=True))


def add_v2_tables(out_dir: Path, fmt: str, seed: int, extracted_at: str) -> dict[str, int]:
    """Write use_of_force and rank_history and add ia_cases.allegation; return rows per new table."""
    out_dir = Path(out_dir)
    rng = np.random.default_rng([int(seed), 2])
    ext = datetime.fromisoformat(extracted_at).date()
    ia = _read(out_dir / f"ia_cases.{fmt}")
    cases = ia.to_pydict()
    officers = _read(out_dir / f"officers.{fmt}").to_pydict()

    # ia_cases.allegation: complaints only
    n = len(cases["case_id"])
    draw = rng.choice(len(ALLEGATIONS), size=n, p=ALLEGATION_P)
    allegation = [
        ALLEGATIONS[k] if ev in ("CITIZEN_COMPLAINT", "OFFICER_COMPLAINT") else None
        for ev, k in zip(cases["event_type"], draw)
    ]
    _write(out_dir, fmt, "ia_cases", ia.append_column("allegation", pa.array(allegation, type=pa.string())))

    # use_of_force: one report per USE_OF_FORCE case, plus reports that never became a case
    uof = {
        k: []
        for k in (
            "report_id",
            "officer_id",
            "occurred_at",
            "force_type",
            "subject_injured",
            "officer_injured",
            "reviewed_on",
            "review_outcome",
        )
    }
    idx = [i for i, ev in enumerate(cases["event_type"]) if ev == "USE_OF_FORCE"]
    extra = len(idx)  # about as many reports again that never became an IA case
    sources = [(cases["officer_id"][i], _d(cases["incident_date"][i]), cases["disposition"][i]) for i in idx]
    if idx and extra:
        pick = rng.choice(len(idx), size=extra)
        for k in pick:  # an officer who used force once tends to use it again: reuse that officer
            off, day, _ = sources[k]
            later = day + timedelta(days=int(rng.integers(1, 366)))
            if later < ext:
                sources.append((off, later, "NONE"))
    for j, (off, day, disp) in enumerate(sources):
        at = datetime.combine(day, datetime.min.time()) + timedelta(minutes=int(rng.integers(0, 24 * 60)))
        if at.date() > ext:
            continue
        review = day + timedelta(days=int(rng.integers(0, 15)))
        reviewed = review <= ext and rng.random() < 0.97
        if disp == "UNJUSTIFIED":
            outcome = "REFERRED_TO_IA" if rng.random() < 0.6 else "NOT_APPROVED"
        else:
            outcome = "NOT_APPROVED" if rng.random() < 0.03 else "APPROVED"
        uof["report_id"].append(f"uof{j + 1:07d}")
        uof["officer_id"].append(off)
        uof["occurred_at"].append(at.strftime("%Y-%m-%dT%H:%M:%S"))
        uof["force_type"].append(FORCE_TYPES[int(rng.choice(len(FORCE_TYPES), p=FORCE_P))])
        uof["subject_injured"].append(bool(rng.random() < 0.18))
        uof["officer_injured"].append(bool(rng.random() < 0.08))
        uof["reviewed_on"].append(review if reviewed else None)
        uof["review_outcome"].append(outcome if reviewed else None)
    uof_table = pa.table(
        {
            "report_id": pa.array(uof["report_id"], pa.string()),
            "officer_id": pa.array(uof["officer_id"], pa.string()),
            "occurred_at": pa.array(uof["occurred_at"], pa.string()),
            "force_type": pa.array(uof["force_type"], pa.string()),
            "subject_injured": pa.array(uof["subject_injured"], pa.bool_()),
            "officer_injured": pa.array(uof["officer_injured"], pa.bool_()),
            "reviewed_on": pa.array(uof["reviewed_on"], pa.date32()),
            "review_outcome": pa.array(uof["review_outcome"], pa.string()),
        }
    )
    _write(out_dir, fmt, "use_of_force", uof_table)

    # rank_history: OFFICER from hire; one promotion for officers whose current rank is higher
    rh = {"officer_id": [], "start_date": [], "rank": []}
    for off, hired, rank, sep in zip(
        officers["officer_id"], officers["hire_date"], officers["rank"], officers["separation_date"]
    ):
        hired, end = _d(hired), min(_d(sep) or ext, ext)
        rh["officer_id"].append(off)
        rh["start_date"].append(hired)
        rh["rank"].append("OFFICER")
        span = (end - hired).days
        if rank != "OFFICER" and span > 2:
            rh["officer_id"].append(off)
            rh["start_date"].append(hired + timedelta(days=int(rng.integers(1, span))))
            rh["rank"].append(rank)
    _write(
        out_dir,
        fmt,
        "rank_history",
        pa.table(
            {
                "officer_id": pa.array(rh["officer_id"], pa.string()),
                "start_date": pa.array(rh["start_date"], pa.date32()),
                "rank": pa.array(rh["rank"], pa.string()),
            }
        ),
    )
    return {"use_of_force": uof_table.num_rows, "rank_history": len(rh["officer_id"])}
