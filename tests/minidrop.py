"""A tiny, hand-written, valid contract drop, and helpers to break it in specific ways.

Kept independent of the synthetic generator so the loader's tests say exactly which row is bad.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from eis_core.contract import load_contract

EXTRACTED_AT = "2016-01-01T00:00:00"


def _officers() -> list[dict]:
    rows = []
    for i in range(1, 41):
        rows.append({
            "officer_id": f"o_{i:04d}", "hire_date": f"20{(i % 10):02d}-03-01",
            "separation_date": "2015-06-30" if i % 13 == 0 else "", "birth_year": str(1960 + i % 30),
            "sex": "MF"[i % 2], "race": ["WHITE", "BLACK", "HISPANIC", "ASIAN", "OTHER"][i % 5],
            "education": ["HS", "BACHELOR", "GRADUATE"][i % 3], "height_cm": str(160 + i % 30) if i % 7 else "",
            "weight_kg": str(60 + i % 40), "rank": "OFFICER" if i % 9 else "SERGEANT", "sworn": "true" if i % 17 else "false",
        })
    return rows


def valid_tables() -> dict[str, list[dict]]:
    officers = _officers()
    t: dict[str, list[dict]] = {"officers": officers}
    t["assignments"] = [{"officer_id": o["officer_id"], "start_date": "2012-01-01", "end_date": "",
                         "division": f"D{i % 3}", "beat": f"B{i % 6}", "unit": "PATROL",
                         "shift": ["DAY", "EVENING", "NIGHT"][i % 3]} for i, o in enumerate(officers)]
    t["ia_cases"] = [{"case_id": f"c{i}", "officer_id": officers[i % 40]["officer_id"],
                      "event_type": ["CITIZEN_COMPLAINT", "USE_OF_FORCE", "VEHICLE_ACCIDENT"][i % 3],
                      "incident_date": f"2014-{1 + i % 12:02d}-10", "reported_date": f"2014-{1 + i % 12:02d}-20",
                      "closed_date": "" if i % 10 == 0 else f"2015-{1 + i % 12:02d}-01",
                      "disposition": "PENDING" if i % 10 == 0 else ["SUSTAINED", "UNJUSTIFIED", "PREVENTABLE", "NOT_SUSTAINED"][i % 4],
                      "call_id": f"k{i}" if i % 2 else "", "intervention": ""} for i in range(120)]
    t["calls_for_service"] = [{"call_id": f"k{i}", "received_at": f"2014-{1 + i % 12:02d}-{1 + i % 28:02d}T{i % 24:02d}:15:00",
                               "call_type": ["SUSP-SCN", "THEFT", "DOMESTIC"][i % 3], "priority": str(1 + i % 9),
                               "source": ["CITIZEN_911", "OFFICER_INITIATED"][i % 2], "division": f"D{i % 3}",
                               "beat": f"B{i % 6}", "lat": "35.2" if i % 4 else "", "lon": "-80.8" if i % 4 else "",
                               "disposition": ""} for i in range(300)]
    t["dispatches"] = [{"call_id": c["call_id"], "officer_id": officers[i % 40]["officer_id"], "dispatched_at": c["received_at"],
                        "arrived_at": c["received_at"][:-5] + "25:00", "cleared_at": c["received_at"][:-5] + "55:00"}
                       for i, c in enumerate(t["calls_for_service"])]
    t["arrests"] = [{"arrest_id": f"a{i}", "officer_id": officers[i % 40]["officer_id"], "arrested_at": f"2014-05-{1 + i % 28:02d}T10:00:00",
                     "division": "D1", "beat": "B1", "charge_category": ["VIOLENT", "DRUG", "OTHER"][i % 3],
                     "discretionary_only": "true" if i % 5 == 0 else "false", "probable_cause": "" if i % 6 == 0 else "true",
                     "suspect_race": "", "suspect_sex": "M", "suspect_age": "30", "call_id": ""} for i in range(150)]
    t["traffic_stops"] = [{"stop_id": f"s{i}", "officer_id": officers[i % 40]["officer_id"], "stopped_at": f"2014-06-{1 + i % 28:02d}T22:00:00",
                           "division": "D2", "beat": "B2", "reason": "SPEEDING", "outcome": ["WARNING", "CITATION"][i % 2],
                           "searched": "true" if i % 7 == 0 else "false", "contraband_found": "",
                           "use_of_force": "false", "driver_race": "", "driver_sex": "", "driver_age": ""} for i in range(150)]
    t["crime_reports"] = [{"report_id": f"r{i}", "officer_id": officers[i % 40]["officer_id"] if i % 3 else "",
                           "reported_at": f"2014-07-{1 + i % 28:02d}T12:00:00", "occurred_at": f"2014-07-{1 + i % 28:02d}T09:00:00",
                           "division": "D0", "beat": "B0", "offense_category": ["THEFT", "ASSAULT"][i % 2],
                           "weapon": "NONE", "victim_count": "1", "gang_related": "false", "domestic_violence": "false",
                           "narcotics": "false", "hate_crime": "false", "child_involved": "false", "suicide_related": "false",
                           "severity": ["LOW", "HIGH", ""][i % 3], "cleared_at": ""} for i in range(150)]
    t["training"] = [{"training_id": f"t{i}", "officer_id": officers[i % 40]["officer_id"], "completed_on": "2013-02-02",
                      "course": "C1", "topic": "BIAS", "credit_hours": "4.5"} for i in range(150)]
    t["neighborhoods"] = [{"beat": f"B{b}", "division": f"D{b % 3}", "year": str(y), "population": "12000",
                           "calls_311_per_1k": "10.5", "vacant_land_pct": "3.2", "median_income": "50000",
                           "violent_crime_per_1k": "4.1", "nuisance_violations_per_1k": "2.0", "avg_age_at_death": ""}
                          for b in range(6) for y in (2013, 2014)]
    return t


def write_drop(drop_dir: Path, tables: dict[str, list[dict]], extracted_at: str = EXTRACTED_AT,
               columns: dict[str, list[str]] | None = None) -> Path:
    contract = load_contract()
    drop_dir.mkdir(parents=True, exist_ok=True)
    for name, rows in tables.items():
        cols = (columns or {}).get(name) or list(contract.tables[name].columns)
        with open(drop_dir / f"{name}.csv", "w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=cols, extrasaction="ignore")
            w.writeheader()
            for r in rows:
                w.writerow({c: r.get(c, "") for c in cols})
    (drop_dir / "_drop.json").write_text(json.dumps({"extracted_at": extracted_at}), encoding="utf-8")
    return drop_dir
