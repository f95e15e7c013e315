"""Runs triage's feature generation; started by bench_triage.py with the Python of a separate venv that
has ``triage==6.0.0`` (this file imports nothing of eis_core: that venv does not have it).

    python _triage_run.py SPEC.json OUT.json

SPEC: {"db_url", "schema", "cohort_table", "as_of_dates", "feature_aggregations"}; OUT: wall and client
CPU-seconds of the feature generation alone (after the imports), triage's version, and the feature tables it
wrote (name, feature columns, rows).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time


def _cpu() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def main(spec_path: str, out_path: str) -> int:
    spec = json.loads(open(spec_path).read())
    import sqlalchemy
    import triage
    from triage.component.architect.feature_generators import FeatureGenerator
    from triage.util.db import create_engine  # triage's SerializableDbEngine (its reflection helpers need it)

    logging.basicConfig(level=logging.WARNING)
    engine = create_engine(spec["db_url"])
    t0, c0 = time.perf_counter(), _cpu()
    gen = FeatureGenerator(db_engine=engine, features_schema_name=spec["schema"],
                           feature_start_time=spec.get("feature_start_time"))
    # aggregation tables, then the imputed tables (what triage's experiment runs); returns the latter
    tables = gen.create_all_tables(feature_aggregation_config=spec["feature_aggregations"],
                                   feature_dates=spec["as_of_dates"], state_table=spec["cohort_table"])
    wall, cpu = time.perf_counter() - t0, _cpu() - c0
    out = {"triage_version": getattr(triage, "__version__", "?"), "generation_wall_s": round(wall, 2),
           "generation_client_cpu_s": round(cpu, 2), "tables": []}
    with engine.connect() as conn:
        for t in sorted(tables):
            table = t.split(".")[-1].strip('"')
            cols = [r[0] for r in conn.execute(sqlalchemy.text(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = :s AND table_name = :t"),
                {"s": spec["schema"], "t": table})]
            rows = conn.execute(sqlalchemy.text(f'SELECT count(*) FROM "{spec["schema"]}"."{table}"')).scalar()
            out["tables"].append({"table": table, "features": [c for c in cols if c not in ("entity_id", "as_of_date")],
                                  "rows": rows})
    open(out_path, "w").write(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
