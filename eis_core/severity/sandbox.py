"""A sandbox copy of a drop's ``crime_reports`` file in its own relation (default
``severity_sandbox.crime_reports``), for experiments and tests that need crime reports without loading
(and validating) a whole drop into ``raw``.  Every severity command takes ``--source SCHEMA.TABLE``.

This is not a loader: nothing is validated beyond PostgreSQL's types.  Production data goes through
``eis load``.
"""

from __future__ import annotations

import csv
from pathlib import Path

TYPES = {
    "report_id": "text",
    "officer_id": "text",
    "reported_at": "timestamp",
    "occurred_at": "timestamp",
    "division": "text",
    "beat": "text",
    "offense_category": "text",
    "weapon": "text",
    "victim_count": "bigint",
    "gang_related": "boolean",
    "domestic_violence": "boolean",
    "narcotics": "boolean",
    "hate_crime": "boolean",
    "child_involved": "boolean",
    "suicide_related": "boolean",
    "severity": "text",
    "cleared_at": "timestamp",
}


def copy_crime_reports(drop_dir: Path | str, schema: str = "severity_sandbox", table: str = "crime_reports") -> int:
    """(Re)create ``schema.table`` from ``<drop_dir>/crime_reports.csv``; returns the row count."""
    from psycopg import sql

    from eis_core import db

    path = Path(drop_dir) / "crime_reports.csv"
    if not path.exists():
        raise FileNotFoundError(f"{path} not found (a CSV drop from `eis synth` is needed)")
    with open(path, newline="", encoding="utf-8") as f:
        header = next(csv.reader(f))
    missing = set(TYPES) - set(header)
    if missing:
        raise ValueError(f"{path}: missing columns {sorted(missing)}")
    rel = sql.Identifier(schema, table)
    cols = sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(TYPES[c])) for c in TYPES)
    with db.connect() as conn:
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(rel))
        conn.execute(sql.SQL("CREATE TABLE {} ({}, PRIMARY KEY ({}))").format(rel, cols, sql.Identifier("report_id")))
        copy = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv, HEADER true)").format(
            rel, sql.SQL(", ").join(sql.Identifier(c) for c in header)
        )
        with conn.cursor() as cur, cur.copy(copy) as cp, open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                cp.write(chunk)
        return db.scalar(conn, sql.SQL("SELECT count(*) FROM {}").format(rel))
