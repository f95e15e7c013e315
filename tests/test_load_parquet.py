"""A drop in Parquet (typed columns, timestamps at millisecond unit as most writers store them) loads
to exactly the same raw rows as the same drop in CSV."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from eis_core.contract import load_contract
from minidrop import valid_tables, write_drop

ARROW = {"text": pa.string(), "date": pa.date32(), "timestamp": pa.timestamp("ms"), "int": pa.int64(),
         "float": pa.float64(), "bool": pa.bool_()}


def to_parquet(csv_dir, pq_dir):
    contract = load_contract()
    pq_dir.mkdir()
    for f in csv_dir.glob("*.csv"):
        spec = contract.tables[f.stem]
        types = {c.name: ARROW[c.type] for c in spec.column_list}
        t = pacsv.read_csv(f, convert_options=pacsv.ConvertOptions(
            column_types={n: (pa.string() if ty == pa.timestamp("ms") else ty) for n, ty in types.items()},
            true_values=["true"], false_values=["false"], strings_can_be_null=True))
        cols = []
        for name in t.column_names:
            col = t[name]
            if types[name] == pa.timestamp("ms"):
                col = col.cast(pa.timestamp("s")).cast(pa.timestamp("ms"))
            cols.append(col)
        pq.write_table(pa.table(cols, names=t.column_names), pq_dir / f"{f.stem}.parquet")
    (pq_dir / "_drop.json").write_text((csv_dir / "_drop.json").read_text())


def table_digest(warehouse, table: str, key: str) -> tuple[int, str]:
    from psycopg import sql

    contract = load_contract()
    cols = sql.SQL(", ").join(sql.Identifier(c.name) for c in contract.tables[table].column_list)
    q = sql.SQL("SELECT count(*), md5(string_agg(r::text, '|' ORDER BY r.{})) FROM (SELECT {} FROM raw.{}) r").format(
        sql.Identifier(key), cols, sql.Identifier(table))
    with warehouse.connect() as conn:
        return tuple(conn.execute(q).fetchone())


def test_parquet_drop_loads_like_csv(warehouse, tmp_path):
    from eis_core.load.loader import load_drop

    from conftest import reset_raw

    reset_raw(warehouse)
    csv_dir = write_drop(tmp_path / "csv", valid_tables())
    rep = load_drop(csv_dir, progress=lambda m: None)
    assert rep.ok, rep.summary()
    keys = {"officers": "officer_id", "ia_cases": "case_id", "dispatches": "call_id", "crime_reports": "report_id",
            "traffic_stops": "stop_id", "training": "training_id"}
    before = {t: table_digest(warehouse, t, k) for t, k in keys.items()}
    to_parquet(csv_dir, tmp_path / "pq")
    rep = load_drop(tmp_path / "pq", progress=lambda m: None)
    assert rep.ok, rep.summary()
    assert all(t.status == "loaded" for t in rep.tables if t.file), rep.summary()
    assert {t: table_digest(warehouse, t, k) for t, k in keys.items()} == before


def test_time_zone_aware_parquet_timestamps_are_rejected_like_csv_offsets(warehouse, tmp_path):
    """A tz-aware Parquet timestamp is not shifted to UTC wall time: like an offset in a CSV it is a wrong
    type, reported with its offset, and the table keeps its previous rows."""
    from eis_core.load.loader import load_drop

    from conftest import reset_raw

    reset_raw(warehouse)
    csv_dir = write_drop(tmp_path / "csv", valid_tables())
    assert load_drop(csv_dir, progress=lambda m: None).ok
    before = table_digest(warehouse, "crime_reports", "report_id")
    to_parquet(csv_dir, tmp_path / "pq")
    path = tmp_path / "pq" / "crime_reports.parquet"
    t = pq.read_table(path)
    i = t.column_names.index("reported_at")
    t = t.set_column(i, "reported_at", t["reported_at"].cast(pa.timestamp("ms", tz="America/Chicago")))
    pq.write_table(t, path)
    rep = load_drop(tmp_path / "pq", progress=lambda m: None)
    cr = rep.table("crime_reports")
    assert cr.status == "rejected" and cr.problems[0]["rule"] == "column type", rep.summary()
    assert "reported_at" in cr.message and "-0500'" in cr.message  # July in Chicago: the offset is shown
    assert table_digest(warehouse, "crime_reports", "report_id") == before
