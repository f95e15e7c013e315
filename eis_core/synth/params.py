"""Parameters of the synthetic department: scales, per-officer rates, the code tables of the
simulation and small shared helpers (day numbers, seeded generators, weighted choices).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field

import numpy as np

from eis_core.contract import load_contract

#: the contract's code sets, the one definition (eis_core/contract/contract.yaml)
CODES = load_contract().codes

GENERATOR_VERSION = "1.1.0"
DAY = 86400
EPOCH = dt.date(1970, 1, 1)


def to_day(date: dt.date) -> int:
    return (date - EPOCH).days


def from_day(days: int) -> dt.date:
    return EPOCH + dt.timedelta(days=int(days))


# --------------------------------------------------------------------------------------------------
# Presets and rates
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scale:
    name: str
    n_sworn: int  # sworn officers active at a time
    start: dt.date
    end: dt.date
    n_divisions: int
    beats_per_division: int
    civilian_share: float = 0.15
    #: table -> first date the department recorded it (the paper's sources start in different years)
    recorded_from: dict = field(default_factory=dict)
    #: share of active sworn officers with an adverse incident in a year (None: ADVERSE_OFFICER_SHARE)
    adverse_share: float | None = None
    #: weights of the officer-day adverse log-intensity on (latent propensity, beat crime, 3-day stress,
    #: 7-day hours, relevant training stock): a department's own mix of the shared risk drivers
    risk_weights: tuple[float, float, float, float, float] = (1.15, 0.15, 0.3, 0.35, 0.3)
    #: multiplier on the dispatch volume per officer (a busier or quieter department)
    activity: float = 1.0


SCALES: dict[str, Scale] = {
    "tiny": Scale("tiny", 60, dt.date(2012, 1, 1), dt.date(2015, 12, 31), 2, 4),
    "small": Scale("small", 150, dt.date(2012, 1, 1), dt.date(2015, 12, 31), 4, 5),
    "medium": Scale("medium", 600, dt.date(2008, 1, 1), dt.date(2015, 12, 31), 8, 8),
    "cmpd": Scale(
        "cmpd",
        1800,
        dt.date(2002, 1, 1),
        dt.date(2015, 12, 31),
        13,
        10,
        recorded_from={
            "calls_for_service": dt.date(2003, 1, 1),
            "dispatches": dt.date(2003, 1, 1),
            "crime_reports": dt.date(2005, 1, 1),
            "citations": dt.date(2006, 1, 1),
            "arrests": dt.date(2005, 1, 1),
            "field_interviews": dt.date(2003, 1, 1),
            "secondary_employment": dt.date(2009, 1, 1),
            "eis_flags": dt.date(2005, 1, 1),
        },
    ),
}

#: Rows per sworn officer-year while a source is recorded: the paper's Table 1 volumes divided by
#: 1,800 officers and by the years each source covers.  Scales differ only in head count and years.
RATES: dict[str, float] = {
    "dispatches": 598.0,  # 14M over 2003-2015
    "traffic_stops": 63.5,  # 1.6M over 2002-2015
    "arrests": 17.7,  # 350K over 2005-2015
    "crime_reports": 48.4,  # 959K over 2005-2015
    "citations": 52.6,  # 946K over 2006-2015
    "field_interviews": 7.7,  # 180K over 2003-2015
    "secondary_employment": 51.7,  # 651K over 2009-2015
    "training": 55.6,  # 1.4M over 2002-2015
    "ia_cases": 0.79,  # 20K over 2002-2015
}
DISPATCHES_PER_CALL = 1.40  # measured: primaries + backups, net of cancelled calls
#: Target share of active sworn officers with >= 1 adverse incident in a year (paper: about 8-9%).
ADVERSE_OFFICER_SHARE = 0.087
#: Share of adverse incidents tied to a dispatch (the rest: accidents, off-duty, internal complaints).
ADVERSE_LINKED_SHARE = 0.55


# --------------------------------------------------------------------------------------------------
# Code tables of the simulation
# --------------------------------------------------------------------------------------------------

SHIFTS = ["DAY", "EVENING", "NIGHT"]
SHIFT_START_H = np.array([7, 15, 23])
SHIFT_CALL_MULT = np.array([0.9, 1.2, 1.0])
SHIFT_BETA = np.array([[1.4, 1.0], [1.6, 1.6], [1.0, 1.8]])  # where in the shift calls fall

SWORN_UNITS = ["PATROL", "TRAFFIC", "CIU", "VICE", "K9", "SWAT"]
SWORN_UNIT_P = np.array([0.74, 0.07, 0.09, 0.04, 0.03, 0.03])
UNIT_DISPATCH = np.array([1.0, 0.5, 0.25, 0.4, 0.8, 0.5])
UNIT_STOPS = np.array([1.0, 3.5, 0.2, 0.5, 0.8, 0.3])
CIVIL_UNITS = ["RECORDS", "COMMUNICATIONS", "CRIME_LAB", "ADMIN"]
UNITS = SWORN_UNITS + CIVIL_UNITS
RANKS = list(CODES["rank"])
RANK_DISPATCH = np.array([1.0, 0.6, 0.2, 0.05])

SEX = list(CODES["sex"])
RACE = ["WHITE", "BLACK", "HISPANIC", "ASIAN", "OTHER"]
EDU = ["HS", "SOME_COLLEGE", "ASSOCIATE", "BACHELOR", "GRADUATE"]

# call type: (weight, base priority, violent/beat-sensitive, risky situational, stressful, backups, scene minutes)
CITIZEN_TYPES = {
    "DOMESTIC": (8, 2, 1, 0, 1, 0.9, 45),
    "SUICIDE": (1.0, 1, 0, 0, 1, 0.8, 60),
    "CHILD-ABUSE": (0.8, 2, 0, 0, 1, 0.6, 70),
    "MISSING-CHILD": (0.5, 2, 0, 0, 1, 0.9, 80),
    "ASSAULT": (6, 2, 1, 0, 0, 0.8, 40),
    "ROBBERY": (2, 1, 1, 0, 0, 1.1, 50),
    "SHOTS-FIRED": (1.5, 1, 1, 0, 0, 1.3, 35),
    "SUSP-SCN": (4, 2, 1, 1, 0, 1.0, 35),
    "JST-OCC": (5, 3, 1, 1, 0, 0.6, 40),
    "BURGLARY": (6, 3, 0, 0, 0, 0.5, 45),
    "THEFT": (10, 5, 0, 0, 0, 0.1, 30),
    "TRAFFIC": (9, 4, 0, 0, 0, 0.4, 40),
    "ALARM": (9, 6, 0, 0, 0, 0.3, 15),
    "DISTURBANCE": (10, 4, 1, 0, 0, 0.6, 25),
    "SUSP-PERS": (6, 4, 1, 0, 0, 0.4, 20),
    "NOISE": (5, 7, 0, 0, 0, 0.1, 15),
    "WELFARE-CHK": (5, 5, 0, 0, 0, 0.2, 25),
    "OTHER": (6, 8, 0, 0, 0, 0.1, 20),
}
OFFICER_TYPES = {
    "TRAFFIC-STOP": (40, 6, 0, 0, 0, 0.15, 15),
    "REPT-OFC": (14, 4, 1, 1, 0, 0.4, 30),
    "OFC-INVL": (3, 3, 1, 1, 0, 0.9, 40),
    "SUSP-PERS": (15, 5, 1, 0, 0, 0.3, 20),
    "DIRECTED-PATROL": (18, 9, 0, 0, 0, 0.05, 30),
    "FOLLOW-UP": (10, 8, 0, 0, 0, 0.05, 30),
}
CALL_TYPES = list(dict.fromkeys(list(CITIZEN_TYPES) + list(OFFICER_TYPES)))


def _type_attr(k: int) -> np.ndarray:
    out = []
    for t in CALL_TYPES:
        v = CITIZEN_TYPES.get(t) or OFFICER_TYPES[t]
        out.append(v[k])
    return np.array(out, dtype=float)


TYPE_PRIO = _type_attr(1)
TYPE_VIOLENT = _type_attr(2).astype(bool)
TYPE_RISKY = _type_attr(3).astype(bool)
TYPE_STRESS = _type_attr(4).astype(bool)
TYPE_BACKUP = _type_attr(5)
TYPE_SCENE = _type_attr(6)
CIT_IDX = np.array([CALL_TYPES.index(t) for t in CITIZEN_TYPES])
CIT_W = np.array([v[0] for v in CITIZEN_TYPES.values()], float)
OI_IDX = np.array([CALL_TYPES.index(t) for t in OFFICER_TYPES])
OI_W = np.array([v[0] for v in OFFICER_TYPES.values()], float)
T_DOMESTIC, T_ALARM, T_TSTOP = CALL_TYPES.index("DOMESTIC"), CALL_TYPES.index("ALARM"), CALL_TYPES.index("TRAFFIC-STOP")
SOURCES = list(CODES["call_source"])
CALL_DISPO = ["REPORT", "ARREST", "ADVISED", "NO_ACTION", "GONE_ON_ARRIVAL", "CANCELLED"]

EVENT_TYPES = list(CODES["event_type"])
DISPOSITIONS = [
    "SUSTAINED",
    "NOT_SUSTAINED",
    "EXONERATED",
    "UNFOUNDED",
    "PREVENTABLE",
    "NOT_PREVENTABLE",
    "JUSTIFIED",
    "UNJUSTIFIED",
    "PENDING",
]
EVENT_INDEX = {e: i for i, e in enumerate(EVENT_TYPES)}
DISPO_INDEX = {d: i for i, d in enumerate(DISPOSITIONS)}
ADVERSE_DISPO = np.array(
    [DISPO_INDEX["SUSTAINED"], DISPO_INDEX["SUSTAINED"], DISPO_INDEX["PREVENTABLE"], DISPO_INDEX["PREVENTABLE"]]
    + [DISPO_INDEX["UNJUSTIFIED"]] * 5
    + [DISPO_INDEX["SUSTAINED"], DISPO_INDEX["SUSTAINED"]]
)
# (event probabilities) for: adverse & dispatch-linked, adverse & not linked, benign & linked, benign & not linked
EV_ADV_LINK = np.array([0.33, 0, 0.07, 0.05, 0.34, 0.04, 0.08, 0.03, 0.02, 0, 0])
EV_ADV_DAY = np.array([0.30, 0.22, 0.28, 0.12, 0.08, 0, 0, 0, 0, 0, 0])
EV_BEN_LINK = np.array([0.28, 0, 0.03, 0.04, 0.47, 0.06, 0.07, 0.01, 0.02, 0.02, 0])
EV_BEN_DAY = np.array([0.14, 0.08, 0.20, 0.12, 0.04, 0, 0.01, 0, 0, 0.20, 0.21])
EV_CIVIL = np.array([0, 0.15, 0.25, 0.10, 0, 0, 0, 0, 0, 0.25, 0.25])
# benign dispositions per event type: list of (disposition, weight)
BENIGN_DISPO = {
    "CITIZEN_COMPLAINT": [("NOT_SUSTAINED", 4), ("EXONERATED", 3), ("UNFOUNDED", 3)],
    "OFFICER_COMPLAINT": [("NOT_SUSTAINED", 5), ("EXONERATED", 2), ("UNFOUNDED", 3)],
    "VEHICLE_ACCIDENT": [("NOT_PREVENTABLE", 1)],
    "INJURY": [("NOT_PREVENTABLE", 1)],
    "USE_OF_FORCE": [("JUSTIFIED", 1)],
    "RAID_AND_SEARCH": [("JUSTIFIED", 1)],
    "PURSUIT": [("JUSTIFIED", 1)],
    "FIREARM_DISCHARGE": [("JUSTIFIED", 1)],
    "TIRE_DEFLATION": [("JUSTIFIED", 1)],
    "RULE_VIOLATION": [("SUSTAINED", 6), ("NOT_SUSTAINED", 4)],
    "SICK_LEAVE": [("SUSTAINED", 7), ("NOT_SUSTAINED", 3)],
}
# report delay (median days, log-sd) and close delay (median days, log-sd) per event type
REPORT_DELAY = {
    "CITIZEN_COMPLAINT": (12, 0.9),
    "OFFICER_COMPLAINT": (9, 0.9),
    "RULE_VIOLATION": (6, 0.9),
    "SICK_LEAVE": (5, 0.8),
}
CLOSE_DELAY = {"FIREARM_DISCHARGE": (90, 0.5), "CITIZEN_COMPLAINT": (42, 0.6), "OFFICER_COMPLAINT": (38, 0.6)}
ADVERSE_INTERVENTIONS = ["COUNSELING", "TRAINING", "WRITTEN_REPRIMAND", "SUSPENSION"]
FLAG_INTERVENTIONS = ["COUNSELING", "TRAINING", "SUPERVISOR_MONITORING", "REASSIGNMENT"]

CHARGES = list(CODES["charge_category"])
STOP_REASONS = list(CODES["stop_reason"])
STOP_OUTCOMES = list(CODES["stop_outcome"])
FI_TYPES = list(CODES["fi_type"])
CIT_TYPES = list(CODES["citation_type"])
OFFENSES = list(CODES["offense_category"])
OFF_W = np.array([0.15, 12, 5, 1.5, 13, 30, 6, 10, 8, 6, 3, 5.35])
OFF_VIOLENT = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 1, 0], bool)
OFF_SEV = np.array([3.2, 1.3, 1.6, 1.8, 0.5, -0.6, 0.2, -0.8, -0.2, -0.4, 1.0, -0.5])
OFF_CLEAR = np.array([0.65, 0.45, 0.25, 0.3, 0.12, 0.15, 0.12, 0.1, 0.85, 0.25, 0.7, 0.2])
WEAPONS = list(CODES["weapon"])
WEAPON_SEV = np.array([0, 1.4, 0.9, 0.6, 0.3])
EMPLOYERS = list(CODES["employer_type"])
TOPICS = list(CODES["training_topic"])
TOPIC_P = np.array([0.10, 0.09, 0.12, 0.11, 0.18, 0.22, 0.18])
RELEVANT_TOPICS = np.array([1, 1, 0, 1, 0, 0, 0], bool)
COURSES = {
    "LESS_LETHAL": [("CEW Recertification", 4), ("Impact Weapons", 8), ("OC Spray Refresher", 2)],
    "BIAS": [("Fair and Impartial Policing", 8), ("Implicit Bias Awareness", 4)],
    "FITNESS": [("Physical Fitness Assessment", 2), ("Defensive Tactics", 8), ("Wellness Program", 1)],
    "DE_ESCALATION": [("Crisis Intervention Team", 40), ("Verbal De-escalation", 8), ("Mental Health First Aid", 8)],
    "FIREARMS": [("Firearms Qualification", 4), ("Low Light Shooting", 4), ("Patrol Rifle", 16)],
    "LEGAL": [
        ("Legal Update", 2),
        ("Search and Seizure", 4),
        ("Use of Force Policy Review", 2),
        ("Roll Call Bulletin", 0.5),
    ],
    "OTHER": [("Driver Training", 8), ("First Aid CPR", 4), ("Report Writing", 2), ("Online Module", 1)],
}
COURSE_NAMES = [c for t in TOPICS for c, _ in COURSES[t]]
COURSE_TOPIC = np.array([TOPICS.index(t) for t in TOPICS for _ in COURSES[t]])
COURSE_HOURS = np.array([h for t in TOPICS for _, h in COURSES[t]], float)


def rng_for(seed: int, *keys: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, *keys]))


def choice_rows(rng: np.random.Generator, cum: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Draw one category per element from per-row cumulative probabilities cum[rows]."""
    u = rng.random(rows.size)
    c = cum[rows]
    return np.minimum((u[:, None] > c).sum(axis=1), cum.shape[1] - 1)


def choice(rng: np.random.Generator, p: np.ndarray, n: int) -> np.ndarray:
    p = np.asarray(p, float)
    return np.minimum(np.searchsorted(np.cumsum(p / p.sum()), rng.random(n), side="right"), p.size - 1)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def holidays(year: int) -> dict[int, float]:
    """Day number -> call-volume multiplier for US holidays (and a few busy non-holidays)."""

    def nth(month, weekday, n):
        d = dt.date(year, month, 1)
        d += dt.timedelta(days=(weekday - d.weekday()) % 7 + 7 * (n - 1))
        return d

    def last(month, weekday):
        d = dt.date(year, month + 1, 1) - dt.timedelta(days=1)
        return d - dt.timedelta(days=(d.weekday() - weekday) % 7)

    h = {
        dt.date(year, 1, 1): 1.35,
        nth(1, 0, 3): 1.0,
        nth(2, 0, 3): 1.0,
        last(5, 0): 1.1,
        dt.date(year, 7, 4): 1.4,
        nth(9, 0, 1): 1.1,
        nth(10, 0, 2): 1.0,
        dt.date(year, 11, 11): 1.0,
        nth(11, 3, 4): 0.9,
        dt.date(year, 12, 25): 0.85,
        dt.date(year, 12, 31): 1.3,
        dt.date(year, 10, 31): 1.2,
    }
    return {to_day(k): v for k, v in h.items()}


def officer_ids(seed: int, n: int) -> list[str]:
    """Opaque, hashed-looking officer ids ('o_' + 10 hex chars), unique, derived from seed and index."""
    out, seen = [], set()
    for i in range(n):
        salt = 0
        while True:
            h = hashlib.blake2b(f"eis-synth:{seed}:{i}:{salt}".encode(), digest_size=5).hexdigest()
            if h not in seen:
                break
            salt += 1
        seen.add(h)
        out.append("o_" + h)
    return out
