"""The synthetic department: a deterministic, vectorised simulation of a police department's records.

The generative model in brief (docs/synthetic-department.md has the long version):

* Geography: divisions of beats; each beat has a crime level.  High-crime beats raise everybody's
  activity there (calls, arrests, stops, justified uses of force) - a confounder for naive models.
* Workforce: sworn officers and some civilians with hires, separations, transfers and shift changes.
  Every officer has a latent propensity for adverse incidents that drifts slowly month to month;
  more education lowers it a little.  A "proactivity" trait (correlated with propensity) drives
  officer-initiated work and discretionary arrests.
* Each year is simulated day by day for every officer at once (numpy arrays officer x day):
  duty schedule, calls and dispatches, arrests, stops, field interviews, citations, crime reports,
  off-duty jobs and training.
* Adverse incidents: an officer-day intensity (propensity, short-term stress from SUICIDE / DOMESTIC
  / child calls, hours worked in the last 7 days incl. off-duty jobs, relevant training, a little
  beat) times, for dispatch-linked incidents, a situational weight of the dispatch (travel time,
  officer-initiated, call types REPT-OFC / OFC-INVL / SUSP-SCN / JST-OCC, hours on duty).  Each year
  the officers with an adverse incident are drawn by weighted sampling without replacement so that
  the share of active sworn officers with one is close to ADVERSE_OFFICER_SHARE.
* Non-adverse IA cases (justified force, unfounded complaints, minor violations) come from a second
  process that leans on beat crime and activity more than on propensity.
* The department's legacy threshold EIS (LEGACY_EIS_RULES) runs over IA cases as known on their
  reported_date and writes eis_flags.

Everything is derived from the seed: the same seed gives byte-identical files.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from eis_core.contract import load_contract
from eis_core.synth._arrow import DropWriter, id_array

GENERATOR_VERSION = "1.1.0"
DAY = 86400
_EPOCH = dt.date(1970, 1, 1)


def _d(date: dt.date) -> int:
    return (date - _EPOCH).days


def _date(days: int) -> dt.date:
    return _EPOCH + dt.timedelta(days=int(days))


# --------------------------------------------------------------------------------------------------
# Presets and rates
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scale:
    name: str
    n_sworn: int                 # sworn officers active at a time
    start: dt.date
    end: dt.date
    n_divisions: int
    beats_per_division: int
    civilian_share: float = 0.15
    #: table -> first date the department recorded it (the paper's sources start in different years)
    recorded_from: dict = field(default_factory=dict)


SCALES: dict[str, Scale] = {
    "small": Scale("small", 150, dt.date(2012, 1, 1), dt.date(2015, 12, 31), 4, 5),
    "medium": Scale("medium", 600, dt.date(2008, 1, 1), dt.date(2015, 12, 31), 8, 8),
    "cmpd": Scale("cmpd", 1800, dt.date(2002, 1, 1), dt.date(2015, 12, 31), 13, 10, recorded_from={
        "calls_for_service": dt.date(2003, 1, 1), "dispatches": dt.date(2003, 1, 1),
        "crime_reports": dt.date(2005, 1, 1), "citations": dt.date(2006, 1, 1),
        "arrests": dt.date(2005, 1, 1), "field_interviews": dt.date(2003, 1, 1),
        "secondary_employment": dt.date(2009, 1, 1), "eis_flags": dt.date(2005, 1, 1),
    }),
}

#: Rows per sworn officer-year while a source is recorded: the paper's Table 1 volumes divided by
#: 1,800 officers and by the years each source covers.  Scales differ only in head count and years.
RATES: dict[str, float] = {
    "dispatches": 598.0,          # 14M over 2003-2015
    "traffic_stops": 63.5,        # 1.6M over 2002-2015
    "arrests": 17.7,              # 350K over 2005-2015
    "crime_reports": 48.4,        # 959K over 2005-2015
    "citations": 52.6,            # 946K over 2006-2015
    "field_interviews": 7.7,      # 180K over 2003-2015
    "secondary_employment": 51.7,  # 651K over 2009-2015
    "training": 55.6,             # 1.4M over 2002-2015
    "ia_cases": 0.79,             # 20K over 2002-2015
}
DISPATCHES_PER_CALL = 1.40  # measured: primaries + backups, net of cancelled calls
#: Target share of active sworn officers with >= 1 adverse incident in a year (paper: about 8-9%).
ADVERSE_OFFICER_SHARE = 0.087
#: Share of adverse incidents tied to a dispatch (the rest: accidents, off-duty, internal complaints).
ADVERSE_LINKED_SHARE = 0.55


# --------------------------------------------------------------------------------------------------
# The legacy threshold EIS (reused later as the baseline to beat)
# --------------------------------------------------------------------------------------------------


INDICATOR_EVENTS = ("CITIZEN_COMPLAINT", "OFFICER_COMPLAINT", "VEHICLE_ACCIDENT", "INJURY", "USE_OF_FORCE",
                    "RAID_AND_SEARCH", "PURSUIT", "FIREARM_DISCHARGE", "TIRE_DEFLATION", "RULE_VIOLATION",
                    "SICK_LEAVE")


@dataclass(frozen=True)
class ThresholdRule:
    """Flag an officer when ``count`` IA cases of ``event_type`` were reported within ``window_days``.

    ``event_type`` is one contract event type, or ``ANY_INDICATOR`` for all of them (the combined
    indicator count such systems also keep).  Cases count whatever their disposition (the department
    acts on what is reported).  After a flag, only cases reported after the flag day count towards the
    next flag of the same rule (cool-down: one burst gives one flag).
    """

    event_type: str
    count: int
    window_days: int

    @property
    def event_types(self) -> tuple[str, ...]:
        return INDICATOR_EVENTS if self.event_type == "ANY_INDICATOR" else (self.event_type,)

    @property
    def label(self) -> str:
        what = "IA indicators" if self.event_type == "ANY_INDICATOR" else self.event_type
        return f"{self.count} {what} in {self.window_days} days"


LEGACY_EIS_RULES: tuple[ThresholdRule, ...] = (
    ThresholdRule("USE_OF_FORCE", 3, 90),
    ThresholdRule("CITIZEN_COMPLAINT", 2, 180),
    ThresholdRule("OFFICER_COMPLAINT", 2, 180),
    ThresholdRule("VEHICLE_ACCIDENT", 2, 180),
    ThresholdRule("PURSUIT", 2, 180),
    ThresholdRule("INJURY", 2, 180),
    ThresholdRule("RAID_AND_SEARCH", 2, 180),
    ThresholdRule("FIREARM_DISCHARGE", 2, 365),
    ThresholdRule("RULE_VIOLATION", 2, 365),
    ThresholdRule("SICK_LEAVE", 3, 180),
    # CMPD's system flagged ~14K times in ten years for ~1,800 officers (about 0.8 flags per officer
    # and year) from ~20K IA records: per-type thresholds alone cannot reach that volume, so it also
    # counted indicators together.  This rule brings the simulated system to a comparable volume.
    ThresholdRule("ANY_INDICATOR", 2, 365),
)


def legacy_flags(cases: pd.DataFrame, rules: tuple[ThresholdRule, ...] = LEGACY_EIS_RULES) -> pd.DataFrame:
    """Run threshold rules over IA cases as known on their reported_date.

    ``cases`` needs columns officer_id, event_type, reported_date (dates or anything pandas can turn
    into datetimes).  Returns officer_id, flagged_on (datetime64), rule, sorted by flagged_on.
    """
    out_off, out_day, out_rule = [], [], []
    rep = pd.to_datetime(cases["reported_date"]).to_numpy("datetime64[D]").astype(np.int64)
    ev = cases["event_type"].to_numpy()
    off = cases["officer_id"].to_numpy()
    for rule in rules:
        sel = np.flatnonzero(np.isin(ev, rule.event_types))
        if sel.size < rule.count:
            continue
        order = sel[np.lexsort((rep[sel], off[sel]))]
        o, r = off[order], rep[order]
        starts = np.flatnonzero(np.r_[True, o[1:] != o[:-1]])
        ends = np.r_[starts[1:], o.size]
        for a, b in zip(starts, ends):
            if b - a < rule.count:
                continue
            days = r[a:b]
            last_flag = None
            for k in range(b - a):
                t = days[k]
                if k + 1 < b - a and days[k + 1] == t:
                    continue  # evaluate once per day, after all of that day's cases
                lo = t - rule.window_days
                if last_flag is not None:
                    lo = max(lo, last_flag)
                n = int(np.count_nonzero(days[: k + 1] > lo))
                if n >= rule.count:
                    out_off.append(o[a]); out_day.append(t); out_rule.append(rule.label)
                    last_flag = t
    res = pd.DataFrame({"officer_id": out_off, "flagged_on": np.array(out_day, dtype="datetime64[D]"),
                        "rule": out_rule})
    return res.sort_values(["flagged_on", "officer_id", "rule"], kind="stable").reset_index(drop=True)


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
RANKS = ["OFFICER", "SERGEANT", "LIEUTENANT", "CAPTAIN"]
RANK_DISPATCH = np.array([1.0, 0.6, 0.2, 0.05])

SEX = ["M", "F", "X"]
RACE = ["WHITE", "BLACK", "HISPANIC", "ASIAN", "OTHER"]
EDU = ["HS", "SOME_COLLEGE", "ASSOCIATE", "BACHELOR", "GRADUATE"]

# call type: (weight, base priority, violent/beat-sensitive, risky situational, stressful, backups, scene minutes)
CITIZEN_TYPES = {
    "DOMESTIC": (8, 2, 1, 0, 1, 0.9, 45), "SUICIDE": (1.0, 1, 0, 0, 1, 0.8, 60),
    "CHILD-ABUSE": (0.8, 2, 0, 0, 1, 0.6, 70), "MISSING-CHILD": (0.5, 2, 0, 0, 1, 0.9, 80),
    "ASSAULT": (6, 2, 1, 0, 0, 0.8, 40), "ROBBERY": (2, 1, 1, 0, 0, 1.1, 50),
    "SHOTS-FIRED": (1.5, 1, 1, 0, 0, 1.3, 35), "SUSP-SCN": (4, 2, 1, 1, 0, 1.0, 35),
    "JST-OCC": (5, 3, 1, 1, 0, 0.6, 40), "BURGLARY": (6, 3, 0, 0, 0, 0.5, 45),
    "THEFT": (10, 5, 0, 0, 0, 0.1, 30), "TRAFFIC": (9, 4, 0, 0, 0, 0.4, 40),
    "ALARM": (9, 6, 0, 0, 0, 0.3, 15), "DISTURBANCE": (10, 4, 1, 0, 0, 0.6, 25),
    "SUSP-PERS": (6, 4, 1, 0, 0, 0.4, 20), "NOISE": (5, 7, 0, 0, 0, 0.1, 15),
    "WELFARE-CHK": (5, 5, 0, 0, 0, 0.2, 25), "OTHER": (6, 8, 0, 0, 0, 0.1, 20),
}
OFFICER_TYPES = {
    "TRAFFIC-STOP": (40, 6, 0, 0, 0, 0.15, 15), "REPT-OFC": (14, 4, 1, 1, 0, 0.4, 30),
    "OFC-INVL": (3, 3, 1, 1, 0, 0.9, 40), "SUSP-PERS": (15, 5, 1, 0, 0, 0.3, 20),
    "DIRECTED-PATROL": (18, 9, 0, 0, 0, 0.05, 30), "FOLLOW-UP": (10, 8, 0, 0, 0, 0.05, 30),
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
SOURCES = ["CITIZEN_911", "CITIZEN_NON_EMERGENCY", "OFFICER_INITIATED", "ALARM"]
CALL_DISPO = ["REPORT", "ARREST", "ADVISED", "NO_ACTION", "GONE_ON_ARRIVAL", "CANCELLED"]

EVENT_TYPES = ["CITIZEN_COMPLAINT", "OFFICER_COMPLAINT", "VEHICLE_ACCIDENT", "INJURY", "USE_OF_FORCE",
               "RAID_AND_SEARCH", "PURSUIT", "FIREARM_DISCHARGE", "TIRE_DEFLATION", "RULE_VIOLATION", "SICK_LEAVE"]
DISPOSITIONS = ["SUSTAINED", "NOT_SUSTAINED", "EXONERATED", "UNFOUNDED", "PREVENTABLE", "NOT_PREVENTABLE",
                "JUSTIFIED", "UNJUSTIFIED", "PENDING"]
_E = {e: i for i, e in enumerate(EVENT_TYPES)}
_D = {d: i for i, d in enumerate(DISPOSITIONS)}
ADVERSE_DISPO = np.array([_D["SUSTAINED"], _D["SUSTAINED"], _D["PREVENTABLE"], _D["PREVENTABLE"]]
                         + [_D["UNJUSTIFIED"]] * 5 + [_D["SUSTAINED"], _D["SUSTAINED"]])
# (event probabilities) for: adverse & dispatch-linked, adverse & not linked, benign & linked, benign & not linked
EV_ADV_LINK = np.array([.33, 0, .07, .05, .34, .04, .08, .03, .02, 0, 0])
EV_ADV_DAY = np.array([.30, .22, .28, .12, .08, 0, 0, 0, 0, 0, 0])
EV_BEN_LINK = np.array([.28, 0, .03, .04, .47, .06, .07, .01, .02, .02, 0])
EV_BEN_DAY = np.array([.14, .08, .20, .12, .04, 0, .01, 0, 0, .20, .21])
EV_CIVIL = np.array([0, .15, .25, .10, 0, 0, 0, 0, 0, .25, .25])
# benign dispositions per event type: list of (disposition, weight)
BENIGN_DISPO = {
    "CITIZEN_COMPLAINT": [("NOT_SUSTAINED", 4), ("EXONERATED", 3), ("UNFOUNDED", 3)],
    "OFFICER_COMPLAINT": [("NOT_SUSTAINED", 5), ("EXONERATED", 2), ("UNFOUNDED", 3)],
    "VEHICLE_ACCIDENT": [("NOT_PREVENTABLE", 1)], "INJURY": [("NOT_PREVENTABLE", 1)],
    "USE_OF_FORCE": [("JUSTIFIED", 1)], "RAID_AND_SEARCH": [("JUSTIFIED", 1)], "PURSUIT": [("JUSTIFIED", 1)],
    "FIREARM_DISCHARGE": [("JUSTIFIED", 1)], "TIRE_DEFLATION": [("JUSTIFIED", 1)],
    "RULE_VIOLATION": [("SUSTAINED", 6), ("NOT_SUSTAINED", 4)], "SICK_LEAVE": [("SUSTAINED", 7), ("NOT_SUSTAINED", 3)],
}
# report delay (median days, log-sd) and close delay (median days, log-sd) per event type
REPORT_DELAY = {"CITIZEN_COMPLAINT": (12, 0.9), "OFFICER_COMPLAINT": (9, 0.9), "RULE_VIOLATION": (6, 0.9),
                "SICK_LEAVE": (5, 0.8)}
CLOSE_DELAY = {"FIREARM_DISCHARGE": (90, 0.5), "CITIZEN_COMPLAINT": (42, 0.6), "OFFICER_COMPLAINT": (38, 0.6)}
ADVERSE_INTERVENTIONS = ["COUNSELING", "TRAINING", "WRITTEN_REPRIMAND", "SUSPENSION"]
FLAG_INTERVENTIONS = ["COUNSELING", "TRAINING", "SUPERVISOR_MONITORING", "REASSIGNMENT"]

CHARGES = ["VIOLENT", "PROPERTY", "DRUG", "PUBLIC_ORDER", "TRAFFIC", "WARRANT", "OTHER"]
STOP_REASONS = ["SPEEDING", "MOVING_VIOLATION", "EQUIPMENT", "REGISTRATION", "INVESTIGATIVE", "OTHER"]
STOP_OUTCOMES = ["NO_ACTION", "WARNING", "CITATION", "ARREST"]
FI_TYPES = ["STOP_AND_FRISK", "KNOCK_AND_TALK", "RAID_AND_SEARCH", "TRAFFIC_RELATED", "OTHER"]
CIT_TYPES = ["MOVING", "PARKING", "EQUIPMENT", "CRIMINAL", "OTHER"]
OFFENSES = ["HOMICIDE", "ASSAULT", "ROBBERY", "SEX_OFFENSE", "BURGLARY", "THEFT", "VEHICLE_THEFT", "VANDALISM",
            "DRUG", "FRAUD", "WEAPONS", "OTHER"]
OFF_W = np.array([0.15, 12, 5, 1.5, 13, 30, 6, 10, 8, 6, 3, 5.35])
OFF_VIOLENT = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 1, 0], bool)
OFF_SEV = np.array([3.2, 1.3, 1.6, 1.8, 0.5, -0.6, 0.2, -0.8, -0.2, -0.4, 1.0, -0.5])
OFF_CLEAR = np.array([0.65, 0.45, 0.25, 0.3, 0.12, 0.15, 0.12, 0.1, 0.85, 0.25, 0.7, 0.2])
WEAPONS = ["NONE", "FIREARM", "KNIFE", "OTHER", "UNKNOWN"]
WEAPON_SEV = np.array([0, 1.4, 0.9, 0.6, 0.3])
EMPLOYERS = ["RETAIL", "FINANCIAL", "SPORTS", "EVENTS", "HOSPITAL", "OTHER"]
TOPICS = ["LESS_LETHAL", "BIAS", "FITNESS", "DE_ESCALATION", "FIREARMS", "LEGAL", "OTHER"]
TOPIC_P = np.array([.10, .09, .12, .11, .18, .22, .18])
RELEVANT_TOPICS = np.array([1, 1, 0, 1, 0, 0, 0], bool)
COURSES = {
    "LESS_LETHAL": [("CEW Recertification", 4), ("Impact Weapons", 8), ("OC Spray Refresher", 2)],
    "BIAS": [("Fair and Impartial Policing", 8), ("Implicit Bias Awareness", 4)],
    "FITNESS": [("Physical Fitness Assessment", 2), ("Defensive Tactics", 8), ("Wellness Program", 1)],
    "DE_ESCALATION": [("Crisis Intervention Team", 40), ("Verbal De-escalation", 8), ("Mental Health First Aid", 8)],
    "FIREARMS": [("Firearms Qualification", 4), ("Low Light Shooting", 4), ("Patrol Rifle", 16)],
    "LEGAL": [("Legal Update", 2), ("Search and Seizure", 4), ("Use of Force Policy Review", 2), ("Roll Call Bulletin", 0.5)],
    "OTHER": [("Driver Training", 8), ("First Aid CPR", 4), ("Report Writing", 2), ("Online Module", 1)],
}
COURSE_NAMES = [c for t in TOPICS for c, _ in COURSES[t]]
COURSE_TOPIC = np.array([TOPICS.index(t) for t in TOPICS for _ in COURSES[t]])
COURSE_HOURS = np.array([h for t in TOPICS for _, h in COURSES[t]], float)


def _rng(seed: int, *keys: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, *keys]))


def _choice_rows(rng: np.random.Generator, cum: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Draw one category per element from per-row cumulative probabilities cum[rows]."""
    u = rng.random(rows.size)
    c = cum[rows]
    return np.minimum((u[:, None] > c).sum(axis=1), cum.shape[1] - 1)


def _choice(rng: np.random.Generator, p: np.ndarray, n: int) -> np.ndarray:
    p = np.asarray(p, float)
    return np.minimum(np.searchsorted(np.cumsum(p / p.sum()), rng.random(n), side="right"), p.size - 1)


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _holidays(year: int) -> dict[int, float]:
    """Day number -> call-volume multiplier for US holidays (and a few busy non-holidays)."""
    def nth(month, weekday, n):
        d = dt.date(year, month, 1)
        d += dt.timedelta(days=(weekday - d.weekday()) % 7 + 7 * (n - 1))
        return d

    def last(month, weekday):
        d = dt.date(year, month + 1, 1) - dt.timedelta(days=1)
        return d - dt.timedelta(days=(d.weekday() - weekday) % 7)

    h = {
        dt.date(year, 1, 1): 1.35, nth(1, 0, 3): 1.0, nth(2, 0, 3): 1.0, last(5, 0): 1.1,
        dt.date(year, 7, 4): 1.4, nth(9, 0, 1): 1.1, nth(10, 0, 2): 1.0, dt.date(year, 11, 11): 1.0,
        nth(11, 3, 4): 0.9, dt.date(year, 12, 25): 0.85, dt.date(year, 12, 31): 1.3, dt.date(year, 10, 31): 1.2,
    }
    return {_d(k): v for k, v in h.items()}


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


# --------------------------------------------------------------------------------------------------
# Generator
# --------------------------------------------------------------------------------------------------


class _Sim:
    def __init__(self, cfg: Scale, seed: int, writer: DropWriter):
        self.cfg, self.seed, self.w = cfg, seed, writer
        self.d0, self.d1 = _d(cfg.start), _d(cfg.end)
        self.extracted_at = (self.d1 + 1) * DAY - 1  # 23:59:59 on the last day
        self.rec = {t: _d(d) for t, d in cfg.recorded_from.items()}
        # month index of every day in the window
        days = np.arange(self.d0, self.d1 + 1).astype("datetime64[D]")
        m = days.astype("datetime64[M]").astype(np.int64)
        self.m0 = int(m[0])
        self.month_of = (m - self.m0).astype(np.int32)
        self.n_months = int(self.month_of[-1]) + 1
        self.ia_parts: list[dict] = []
        self.call_seq = 1
        self.seq = {k: 0 for k in ("arrest", "stop", "fi", "cit", "crime", "job", "train")}

    def recorded(self, table: str, day) -> np.ndarray | bool:
        lo = self.rec.get(table)
        day = np.asarray(day)
        return np.ones(day.shape, bool) if lo is None else day >= lo

    # ---------------------------------------------------------------- geography
    def geography(self):
        cfg, rng = self.cfg, _rng(self.seed, 1)
        nd, nb = cfg.n_divisions, cfg.beats_per_division
        self.n_beats = nd * nb
        self.beat_div = np.repeat(np.arange(nd), nb)
        div_level = rng.normal(0, 0.45, nd)
        logc = div_level[self.beat_div] + rng.normal(0, 0.4, self.n_beats)
        self.crime = np.exp(logc) / np.exp(logc).mean()
        self.crime_z = (logc - logc.mean()) / logc.std()
        self.div_names = [f"D{d + 1:02d}" for d in range(nd)]
        self.beat_names = [f"D{self.beat_div[b] + 1:02d}B{b % nb + 1:02d}" for b in range(self.n_beats)]
        ang = rng.uniform(0, 2 * np.pi, nd)
        rad = rng.uniform(0.03, 0.2, nd)
        self.beat_lat = 35.227 + rad[self.beat_div] * np.sin(ang[self.beat_div]) + rng.normal(0, 0.02, self.n_beats)
        self.beat_lon = -80.843 + rad[self.beat_div] * np.cos(ang[self.beat_div]) + rng.normal(0, 0.025, self.n_beats)
        self.beat_area = rng.lognormal(0, 0.35, self.n_beats)  # larger beats -> longer travel
        # per-beat call-type mix: violent types scale with crime level
        w = np.tile(CIT_W, (self.n_beats, 1)) * np.where(TYPE_VIOLENT[CIT_IDX], 1.0, 0.0)[None, :] * \
            (self.crime[:, None] ** 0.7) + np.tile(CIT_W, (self.n_beats, 1)) * (~TYPE_VIOLENT[CIT_IDX])[None, :]
        self.cit_cum = np.cumsum(w / w.sum(1, keepdims=True), axis=1)
        ow = np.tile(OFF_W, (self.n_beats, 1)) * np.where(OFF_VIOLENT | (np.arange(12) == 8), self.crime[:, None] ** 0.9, 1.0)
        self.off_cum = np.cumsum(ow / ow.sum(1, keepdims=True), axis=1)
        # resident mix per beat (for suspect / driver demographics)
        black = _sigmoid(-0.6 + 1.1 * self.crime_z + rng.normal(0, 0.4, self.n_beats))
        hisp = 0.08 + 0.08 * rng.random(self.n_beats)
        white = (1 - black - hisp) * 0.92
        asian = (1 - black - hisp) * 0.05
        other = 1 - black - hisp - white - asian
        self.race_cum = np.cumsum(np.stack([white, black, hisp, asian, other], 1), axis=1)

    def neighborhoods(self):
        rng = _rng(self.seed, 2)
        years = np.arange(self.cfg.start.year, self.cfg.end.year + 1)
        nb, ny = self.n_beats, years.size
        b = np.repeat(np.arange(nb), ny)
        y = np.tile(years, nb)
        t = (y - years[0]).astype(float)
        cz = self.crime_z[b]
        pop0 = rng.lognormal(np.log(9000), 0.35, nb)
        pop = np.round(pop0[b] * (1.012 ** t) * rng.lognormal(0, 0.02, b.size)).astype(np.int64)
        trend = 1.0 - 0.02 * t
        violent = np.round(np.exp(np.log(6.0) + 0.55 * cz + rng.normal(0, 0.12, b.size)) * trend, 2)
        vacant = np.round(np.clip(8 + 6 * cz + rng.normal(0, 3, b.size), 0.5, 60), 2)
        income = np.round(np.exp(np.log(52000) - 0.3 * cz + rng.normal(0, 0.1, b.size)) * (1.02 ** t), 0)
        calls311 = np.round(np.exp(np.log(180) + 0.25 * cz + rng.normal(0, 0.15, b.size)), 2)
        nuisance = np.round(np.exp(np.log(25) + 0.35 * cz + rng.normal(0, 0.2, b.size)), 2)
        death = np.round(74 - 3.5 * cz + rng.normal(0, 1.5, b.size), 1)
        death_null = (y % 2 == 1) & (rng.random(b.size) < 0.7)  # quality-of-life studies skip some years
        self.w.write("neighborhoods", {
            "beat": ("codes", self.beat_names, b), "division": ("codes", self.div_names, self.beat_div[b]),
            "year": y.astype(np.int64), "population": pop, "calls_311_per_1k": calls311,
            "vacant_land_pct": vacant, "median_income": income, "violent_crime_per_1k": violent,
            "nuisance_violations_per_1k": nuisance, "avg_age_at_death": (death, death_null),
        })

    # ---------------------------------------------------------------- workforce
    def workforce(self):
        cfg, rng = self.cfg, _rng(self.seed, 3)
        d0, d1 = self.d0, self.d1
        n0 = cfg.n_sworn
        n_civ = int(round(cfg.civilian_share * n0))
        tenure = np.minimum(rng.gamma(1.6, 5.5, n0) * 365.25, 30 * 365.25)
        hire = list((d0 - 1 - tenure).astype(np.int64))
        sworn = [True] * n0
        hire += list((d0 - 1 - rng.uniform(0, 15 * 365.25, n_civ)).astype(np.int64))
        sworn += [False] * n_civ
        hire = np.array(hire, dtype=np.int64)
        sworn = np.array(sworn)
        sep = np.full(hire.size, np.iinfo(np.int64).max // 4)
        # year by year: separations, then academy classes replace them (plus slow growth)
        for year in range(cfg.start.year, cfg.end.year + 1):
            ys, ye = _d(dt.date(year, 1, 1)), _d(dt.date(year, 12, 31))
            act = (hire <= ye) & (sep > ys)
            ten_y = (ys - hire) / 365.25
            haz = np.where(sworn, 0.045 + 0.05 * (ten_y < 2) + 0.25 * (ten_y > 25), 0.08)
            leave = act & (rng.random(hire.size) < haz) & (hire < ys)
            sep[leave] = ys + rng.integers(0, ye - ys + 1, leave.sum())
            # academy classes refill the authorised strength
            still = (hire <= ye) & (sep > ye)
            strength = n0
            n_new = max(int(round(strength - np.sum(still & sworn))), 0)
            n_new_civ = max(int(round(n_civ - np.sum(still & ~sworn))), 0)
            classes = [_d(dt.date(year, 3, 1)), _d(dt.date(year, 9, 1))]
            new_h = np.array([classes[k % 2] for k in range(n_new)], dtype=np.int64) + rng.integers(0, 10, n_new)
            new_c = ys + rng.integers(0, ye - ys + 1, n_new_civ)
            hire = np.concatenate([hire, new_h, new_c])
            sworn = np.concatenate([sworn, np.ones(n_new, bool), np.zeros(n_new_civ, bool)])
            sep = np.concatenate([sep, np.full(n_new + n_new_civ, np.iinfo(np.int64).max // 4)])
        n = hire.size
        self.n = n
        self.hire, self.sworn = hire, sworn
        self.sep = sep
        self.has_sep = sep <= d1
        self.ids = officer_ids(self.seed, n)
        # demographics
        sex = _choice(rng, [0.84, 0.155, 0.005], n)
        race = _choice(rng, [0.66, 0.2, 0.07, 0.03, 0.04], n)
        edu = _choice(rng, [0.18, 0.27, 0.17, 0.31, 0.07], n)
        age_hire = np.clip(rng.normal(27, 4.5, n), 21, 50)
        hire_year = (hire.astype("datetime64[D]").astype("datetime64[Y]").astype(int) + 1970)
        birth = (hire_year - age_hire).astype(np.int64)
        height = np.where(sex == 1, rng.normal(165, 7, n), rng.normal(178, 7, n)).round().astype(np.int64)
        weight = np.clip(np.where(sex == 1, rng.normal(68, 10, n), rng.normal(88, 13, n)), 45, 160).round().astype(np.int64)
        h_null, w_null = rng.random(n) < 0.04, rng.random(n) < 0.06
        ten_end = (np.minimum(sep, d1) - hire) / 365.25
        u = rng.random(n)
        rank = np.where(u < _sigmoid((ten_end - 14) / 3) * 0.06, 3,
                        np.where(u < _sigmoid((ten_end - 12) / 3) * 0.14, 2,
                                 np.where(u < _sigmoid((ten_end - 7) / 2.5) * 0.35, 1, 0)))
        rank = np.where(sworn, rank, 0)
        self.sex, self.race, self.edu, self.rank = sex, race, edu, rank
        # latent traits
        zb = rng.normal(0, 1, n) - 0.18 * (edu - 2)
        self.proact = np.exp(0.45 * (0.4 * zb + np.sqrt(1 - 0.16) * rng.normal(0, 1, n)))
        self.sidejob = rng.gamma(0.7, 1 / 0.7, n) * sworn
        self.train_rate = rng.gamma(5, 1 / 5, n)
        self.edu_z = (edu - 2) / 1.2
        rho, eps = 0.985, 0.07
        z = np.empty((n, self.n_months), np.float32)
        w = rng.normal(0, eps / np.sqrt(1 - rho ** 2), n)
        shocks = rng.normal(0, eps, (n, self.n_months))
        for m in range(self.n_months):
            w = rho * w + shocks[:, m]
            z[:, m] = zb + w
        self.z = z
        self.zb = zb
        self.w.write("officers", {
            "officer_id": pa_ids(self.ids), "hire_date": hire, "separation_date": (np.where(self.has_sep, sep, 0), ~self.has_sep),
            "birth_year": birth, "sex": ("codes", SEX, sex), "race": ("codes", RACE, race),
            "education": ("codes", EDU, edu), "height_cm": (height, h_null), "weight_kg": (weight, w_null),
            "rank": ("codes", RANKS, rank), "sworn": sworn,
        })
        self.assignments(rng)

    def assignments(self, rng: np.random.Generator):
        n, d0, d1 = self.n, self.d0, self.d1
        nb = self.n_beats
        first = np.maximum(self.hire, d0 - rng.integers(0, 3 * 365, n))
        last_day = np.minimum(self.sep - 1, d1)  # last active day is sep - 1 (sep day itself: gone)
        # change events per officer-year
        years = self.cfg.end.year - self.cfg.start.year + 1
        span = (d1 - d0 + 1)
        k = rng.poisson(0.45 * years, n)
        ev_off = np.repeat(np.arange(n), k)
        ev_day = d0 + rng.integers(0, span, ev_off.size)
        keep = (ev_day > first[ev_off]) & (ev_day <= last_day[ev_off])
        ev_off, ev_day = ev_off[keep], ev_day[keep]
        order = np.lexsort((ev_day, ev_off))
        ev_off, ev_day = ev_off[order], ev_day[order]
        dup = np.r_[False, (ev_off[1:] == ev_off[:-1]) & (ev_day[1:] == ev_day[:-1])]
        ev_off, ev_day = ev_off[~dup], ev_day[~dup]
        kind = rng.random(ev_off.size)  # < .45 beat change, < .8 shift change, else both
        beat_w = self.crime ** 0.5
        beat_w = beat_w / beat_w.sum()
        init_beat = _choice(rng, np.ones(nb), n)
        new_hire = self.hire >= d0 - 365
        init_beat[new_hire] = _choice(rng, beat_w, int(new_hire.sum()))  # rookies go where the work is
        init_shift = _choice(rng, [0.34, 0.36, 0.30], n)
        init_unit = np.where(self.sworn, _choice(rng, SWORN_UNIT_P, n), len(SWORN_UNITS) + _choice(rng, [.35, .35, .1, .2], n))
        init_unit[new_hire & self.sworn] = 0
        # build segments
        seg_off, seg_start, seg_beat, seg_shift, seg_unit = [], [], [], [], []
        ptr = 0
        rnd_beat = rng.integers(0, nb, ev_off.size)
        rnd_local = rng.integers(0, self.cfg.beats_per_division, ev_off.size)
        rnd_shift = rng.integers(1, 3, ev_off.size)
        rnd_unit = _choice(rng, SWORN_UNIT_P, ev_off.size)
        for i in range(n):
            b, s, u = int(init_beat[i]), int(init_shift[i]), int(init_unit[i])
            seg_off.append(i); seg_start.append(int(first[i])); seg_beat.append(b); seg_shift.append(s); seg_unit.append(u)
            while ptr < ev_off.size and ev_off[ptr] == i:
                kd = kind[ptr]
                if kd < 0.45 or kd >= 0.8:
                    if rnd_beat[ptr] % 3 == 0:
                        b = int(rnd_beat[ptr])  # transfer to another division
                    else:
                        div = b // self.cfg.beats_per_division
                        b = div * self.cfg.beats_per_division + int(rnd_local[ptr])
                    if self.sworn[i] and rnd_beat[ptr] % 7 == 0:
                        u = int(rnd_unit[ptr])
                if kd >= 0.45:
                    s = (s + int(rnd_shift[ptr])) % 3
                seg_off.append(i); seg_start.append(int(ev_day[ptr])); seg_beat.append(b); seg_shift.append(s); seg_unit.append(u)
                ptr += 1
        seg_off = np.array(seg_off); seg_start = np.array(seg_start, np.int64)
        seg_beat = np.array(seg_beat); seg_shift = np.array(seg_shift); seg_unit = np.array(seg_unit)
        nxt_same = np.r_[seg_off[1:] == seg_off[:-1], False]
        seg_end = np.where(nxt_same, np.r_[seg_start[1:], 0] - 1, np.where(self.has_sep[seg_off], self.sep[seg_off], -1))
        open_ = seg_end < 0
        seg_end = np.where(open_, np.iinfo(np.int64).max // 4, seg_end)
        # civilians work at headquarters
        civ = ~self.sworn[seg_off]
        self.seg = dict(off=seg_off, start=seg_start, end=seg_end, beat=seg_beat, shift=seg_shift, unit=seg_unit)
        beat_names = self.beat_names + ["HQ"]
        div_names = self.div_names + ["HQ"]
        bcode = np.where(civ, self.n_beats, seg_beat)
        dcode = np.where(civ, len(self.div_names), self.beat_div[seg_beat])
        self.w.write("assignments", {
            "officer_id": pa_take(self.ids, seg_off), "start_date": seg_start, "end_date": (np.where(open_, 0, seg_end), open_),
            "division": ("codes", div_names, dcode), "beat": ("codes", beat_names, bcode),
            "unit": ("codes", UNITS, seg_unit), "shift": ("codes", SHIFTS, np.where(civ, 0, seg_shift)),
        })

    # ---------------------------------------------------------------- one year
    def year(self, year: int):
        rng = _rng(self.seed, 100, year)
        ys, ye = max(_d(dt.date(year, 1, 1)), self.d0), min(_d(dt.date(year, 12, 31)), self.d1)
        nd, n = ye - ys + 1, self.n
        days = np.arange(ys, ye + 1)
        # --- officer x day grid
        beat = np.full((n, nd), -1, np.int32)
        shift = np.zeros((n, nd), np.int8)
        unit = np.zeros((n, nd), np.int8)
        s = self.seg
        ov = np.flatnonzero((s["start"] <= ye) & (np.minimum(s["end"], self.sep[s["off"]] - 1) >= ys))
        for k in ov:
            a = max(int(s["start"][k]), ys) - ys
            b = min(int(s["end"][k]), int(self.sep[s["off"][k]]) - 1, ye) - ys + 1
            i = s["off"][k]
            beat[i, a:b] = s["beat"][k]; shift[i, a:b] = s["shift"][k]; unit[i, a:b] = s["unit"][k]
        active = beat >= 0
        sworn_act = active & self.sworn[:, None]
        wd = (days + 3) % 7  # Monday = 0
        rot = rng.integers(0, 7, n)
        sched = ((days[None, :] + rot[:, None]) % 7) < 4
        civ_sched = (wd < 5)[None, :] & np.ones((n, 1), bool)
        sched = np.where(self.sworn[:, None], sched, civ_sched)
        absent = rng.random((n, nd)) < 0.07
        extra = rng.random((n, nd)) < 0.05
        duty = active & ((sched & ~absent) | (~sched & extra))
        shift_len = np.where(rng.random((n, nd)) < 0.13, 10 + rng.integers(2, 7, (n, nd)), 10).astype(np.float32)
        shift_len = np.where(self.sworn[:, None], shift_len, 8)
        month = self.month_of[days - self.d0]
        # --- training (all employees), relevant hours feed a 12-month stock
        self.training(rng, year, active, days, month)
        # --- secondary employment: hours feed the 7-day workload
        sec_hours = self.secondary(rng, sworn_act, duty, days)
        # --- duty cells (sworn, on duty) and dispatches
        cells = np.flatnonzero((duty & sworn_act).ravel())
        c_off, c_dd = cells // nd, cells % nd
        c_beat = beat.ravel()[cells]
        c_shift = shift.ravel()[cells].astype(np.int64)
        c_unit = unit.ravel()[cells].astype(np.int64)
        c_len = shift_len.ravel()[cells]
        c_start = (days[c_dd] * DAY + SHIFT_START_H[c_shift] * 3600).astype(np.int64)
        disp = self.dispatches(rng, year, days, nd, c_off, c_dd, c_beat, c_shift, c_unit, c_len, c_start, wd)
        # --- short-term stress and workload grids
        stress_day = np.zeros(n * nd, np.float32)
        np.add.at(stress_day, disp["off"] * nd + disp["dd"], TYPE_STRESS[disp["type"]].astype(np.float32))
        stress_day = stress_day.reshape(n, nd)
        hours_day = np.where(duty, shift_len, 0).astype(np.float32) + sec_hours
        stress3 = self._rolling(stress_day, 3, "stress")
        hours7 = self._rolling(hours_day, 7, "hours")
        # --- officer-day log-multiplier of adverse risk
        tstock = self.train_stock[:, np.clip(month, 0, None)]
        act_rows = self.sworn
        ts_mean = tstock[act_rows].mean() if act_rows.any() else 0.0
        ts_sd = tstock[act_rows].std() + 1e-6
        zgrid = self.z[:, month]
        bz = np.where(beat >= 0, self.crime_z[np.clip(beat, 0, None)], 0.0)
        logm = (1.15 * zgrid + 0.15 * bz + 0.3 * np.minimum(stress3, 4) + 0.35 * np.clip((hours7 - 45) / 10, -1, 3)
                - 0.3 * (tstock - ts_mean) / ts_sd).astype(np.float32)
        self.adverse_and_ia(rng, year, days, nd, disp, logm, duty, sworn_act, active, bz)
        self.activity(rng, year, days, nd, c_off, c_dd, c_beat, c_shift, c_unit, c_len, c_start, disp)

    def _rolling(self, grid: np.ndarray, k: int, key: str) -> np.ndarray:
        tail = getattr(self, f"_tail_{key}", None)
        if tail is None or tail.shape[0] != grid.shape[0]:
            tail = np.zeros((grid.shape[0], k - 1), np.float32)
        ext = np.concatenate([tail, grid], axis=1)
        c = np.cumsum(ext, axis=1, dtype=np.float64)
        c = np.concatenate([np.zeros((grid.shape[0], 1)), c], axis=1)
        out = (c[:, k:] - c[:, :-k]).astype(np.float32)
        setattr(self, f"_tail_{key}", ext[:, -(k - 1):].copy())
        return out

    def training(self, rng, year, active, days, month):
        n, nd = active.shape
        if not hasattr(self, "train_month"):
            self.train_month = np.zeros((self.n, self.n_months), np.float32)
            self.train_stock = np.zeros((self.n, self.n_months), np.float32)
        cells = np.flatnonzero(active.ravel())
        off = cells // nd
        lam = np.where(self.sworn[off], 1.0, 0.3) * self.train_rate[off]
        sworn_years = (active & self.sworn[:, None]).sum() / 365.25
        lam *= RATES["training"] * sworn_years / max(lam.sum(), 1e-9)
        k = rng.poisson(lam)
        idx = np.repeat(cells, k)
        o, dd = idx // nd, idx % nd
        m = idx.size
        topic = _choice(rng, TOPIC_P, m)
        # civilians: legal / other only
        civ = ~self.sworn[o]
        topic[civ] = np.where(rng.random(civ.sum()) < 0.5, 5, 6)
        # course within topic
        course = np.empty(m, np.int64)
        for t in range(len(TOPICS)):
            sel = topic == t
            cidx = np.flatnonzero(t == COURSE_TOPIC)
            course[sel] = cidx[rng.integers(0, cidx.size, sel.sum())]
        hours = COURSE_HOURS[course]
        rel = RELEVANT_TOPICS[topic]
        np.add.at(self.train_month, (o[rel], month[dd[rel]]), hours[rel])
        # 12-month stock as of the start of each month (months before, not including, m)
        c = np.concatenate([np.zeros((self.n, 1), np.float32), np.cumsum(self.train_month, axis=1)], axis=1)
        mm = np.arange(self.n_months)
        self.train_stock = np.log1p(c[:, mm] - c[:, np.maximum(mm - 12, 0)])
        order = np.lexsort((o, days[dd]))
        o, dd, course, topic = o[order], dd[order], course[order], topic[order]
        ids = self.seq["train"] + np.arange(m)
        self.seq["train"] += m
        self.w.write("training", {
            "training_id": id_array("T", ids, 9), "officer_id": pa_take(self.ids, o), "completed_on": days[dd],
            "course": ("codes", COURSE_NAMES, course), "topic": ("codes", TOPICS, topic), "credit_hours": COURSE_HOURS[course],
        })

    def secondary(self, rng, sworn_act, duty, days):
        n, nd = sworn_act.shape
        cells = np.flatnonzero(sworn_act.ravel())
        off = cells // nd
        lam = self.sidejob[off] * np.where(duty.ravel()[cells], 0.5, 1.6)
        lam *= RATES["secondary_employment"] * (sworn_act.sum() / 365.25) / max(lam.sum(), 1e-9)
        k = rng.poisson(lam)
        idx = np.repeat(cells, k)
        o, dd = idx // nd, idx % nd
        m = idx.size
        hours = np.array([3, 4, 5, 6, 8, 10, 12], float)[_choice(rng, [.1, .25, .15, .2, .18, .08, .04], m)]
        start = days[dd] * DAY + rng.integers(7, 20, m) * 3600 + rng.choice([0, 1800], m)
        hours_grid = np.zeros(n * nd, np.float32)
        np.add.at(hours_grid, idx, hours)
        emp = _choice(rng, [.3, .12, .1, .18, .1, .2], m)
        inc = rng.poisson(np.where(emp == 3, 0.25, 0.08))
        keep = (start <= self.extracted_at) & self.recorded("secondary_employment", days[dd])
        order = np.lexsort((o, start))
        order = order[keep[order]]
        ids = self.seq["job"] + np.arange(order.size)
        self.seq["job"] += order.size
        self.w.write("secondary_employment", {
            "job_id": id_array("J", ids, 9), "officer_id": pa_take(self.ids, o[order]), "start_at": start[order],
            "hours": hours[order], "employer_type": ("codes", EMPLOYERS, emp[order]), "incident_count": inc[order],
        })
        return hours_grid.reshape(n, nd)

    def dispatches(self, rng, year, days, nd, c_off, c_dd, c_beat, c_shift, c_unit, c_len, c_start, wd):
        hol = _holidays(year)
        day_mult = np.array([1.0, 0.95, 0.95, 0.97, 1.1, 1.18, 1.02])[wd]
        doy = (days - _d(dt.date(year, 1, 1))) / 365.25
        day_mult = day_mult * (1 + 0.08 * np.sin(2 * np.pi * (doy - 0.3)))
        hm = np.array([hol.get(int(d), 1.0) for d in days])
        day_mult = day_mult * hm
        base = (UNIT_DISPATCH[c_unit] * RANK_DISPATCH[self.rank[c_off]] * self.crime[c_beat] ** 0.35
                * day_mult[c_dd] * SHIFT_CALL_MULT[c_shift] * (c_len / 10))
        lam_c, lam_o = base, base * 0.42 * self.proact[c_off]
        target = RATES["dispatches"] / DISPATCHES_PER_CALL * (self.sworn_days / 365.25)
        f = target / max(lam_c.sum() + lam_o.sum(), 1e-9)
        kc, ko = rng.poisson(lam_c * f), rng.poisson(lam_o * f)
        cell = np.concatenate([np.repeat(np.arange(c_off.size), kc), np.repeat(np.arange(c_off.size), ko)])
        oi = np.concatenate([np.zeros(kc.sum(), bool), np.ones(ko.sum(), bool)])
        m = cell.size
        b = c_beat[cell]
        ctype = np.where(oi, OI_IDX[_choice(rng, OI_W, m)],
                         CIT_IDX[_choice_rows(rng, self.cit_cum, b)])
        # traffic units do more stops; holidays bring more domestic calls
        tu = oi & (c_unit[cell] == 1) & (rng.random(m) < 0.5)
        ctype[tu] = T_TSTOP
        holi = np.isin(days[c_dd[cell]], list(hol)) & ~oi & (rng.random(m) < 0.08)
        ctype[holi] = T_DOMESTIC
        sh = c_shift[cell]
        pos = rng.beta(SHIFT_BETA[sh, 0], SHIFT_BETA[sh, 1])
        recv = c_start[cell] + (pos * c_len[cell] * 3600).astype(np.int64)
        hour = (recv // 3600) % 24
        night = (hour >= 22) | (hour < 5)
        weekend = np.isin(wd[c_dd[cell]], [4, 5])
        prio = TYPE_PRIO[ctype] + np.round(rng.normal(0, 0.7, m)) - ((night | weekend) & (rng.random(m) < 0.25))
        prio = np.clip(prio, 1, 9).astype(np.int64)
        src = np.where(oi, 2, np.where(ctype == T_ALARM, 3, np.where(prio <= 4, 0, np.where(rng.random(m) < 0.7, 1, 0))))
        queue = np.where(oi, 0, rng.exponential(30 + 110 * (prio - 1), m)).astype(np.int64)
        disp_t = recv + queue
        travel = np.where(oi, rng.integers(0, 120, m),
                          rng.lognormal(np.log(240 + 35 * prio) + 0.4 * np.log(self.beat_area[b]), 0.55, m)).astype(np.int64)
        cancel = ~oi & (prio >= 5) & (rng.random(m) < 0.03)
        no_arr = ~oi & (rng.random(m) < 0.03)
        scene = rng.lognormal(np.log(TYPE_SCENE[ctype] * 60), 0.6, m).astype(np.int64)
        cleared = disp_t + travel + scene
        # call records (sorted by time -> ids)
        order = np.lexsort((c_off[cell], recv))
        call_no = np.empty(m, np.int64)
        call_no[order] = self.call_seq + np.arange(m)
        self.call_seq += m
        # backups: drawn from on-duty officers of the same day, division and shift
        nbk = np.where(cancel, 0, np.minimum(rng.poisson(TYPE_BACKUP[ctype] * (1 + 0.2 * (prio <= 2))), 4))
        key_cells = (c_dd * len(self.div_names) + self.beat_div[c_beat]) * 3 + c_shift
        korder = np.argsort(key_cells, kind="stable")
        skeys = key_cells[korder]
        req = np.repeat(np.arange(m), nbk)
        rkey = key_cells[cell[req]]
        lo = np.searchsorted(skeys, rkey, "left")
        hi = np.searchsorted(skeys, rkey, "right")
        pick = korder[lo + (rng.random(req.size) * (hi - lo)).astype(np.int64)]
        bk_off = c_off[pick]
        good = bk_off != c_off[cell[req]]
        req, pick = req[good], pick[good]
        pair = call_no[req] * (self.n + 1) + c_off[pick]
        _, first_idx = np.unique(pair, return_index=True)
        req, pick = req[first_idx], pick[first_idx]
        bk_disp = disp_t[req] + rng.integers(30, 600, req.size)
        bk_travel = rng.lognormal(np.log(420) + 0.4 * np.log(self.beat_area[b[req]]), 0.5, req.size).astype(np.int64)
        bk_clear = bk_disp + bk_travel + (scene[req] * rng.uniform(0.4, 1.1, req.size)).astype(np.int64)
        # dispatch rows: primaries (not cancelled) + backups
        prim = np.flatnonzero(~cancel)
        d_call = np.concatenate([prim, req])
        d_cell = np.concatenate([cell[prim], pick])
        d_off = c_off[d_cell]
        d_disp = np.concatenate([disp_t[prim], bk_disp])
        d_travel = np.concatenate([travel[prim], bk_travel])
        d_noarr = np.concatenate([no_arr[prim], rng.random(req.size) < 0.02])
        d_arr = d_disp + d_travel
        d_clear = np.concatenate([cleared[prim], bk_clear])
        d_noclear = rng.random(d_call.size) < 0.01
        hours_on = (d_disp - c_start[d_cell]) / 3600.0
        # horizon: nothing after the extraction moment
        call_ok = recv <= self.extracted_at
        d_ok = (d_disp <= self.extracted_at) & call_ok[d_call]
        d_noarr |= d_arr > self.extracted_at
        d_noclear |= d_clear > self.extracted_at
        rec_calls = self.recorded("calls_for_service", recv // DAY) & call_ok
        rec_disp = d_ok & self.recorded("dispatches", d_disp // DAY) & rec_calls[d_call]
        # call disposition
        cd = _choice(rng, [.35, .06, .3, .2, .09, 0], m)
        cd = np.where(cancel, 5, cd)
        cd = np.where(rng.random(m) < 0.01, -1, cd)
        sel = np.flatnonzero(rec_calls)
        sel = sel[np.argsort(call_no[sel], kind="stable")]
        no_geo = rng.random(sel.size) < 0.02
        self.w.write("calls_for_service", {
            "call_id": id_array("C", call_no[sel], 9), "received_at": recv[sel], "call_type": ("codes", CALL_TYPES, ctype[sel]),
            "priority": prio[sel], "source": ("codes", SOURCES, src[sel]),
            "division": ("codes", self.div_names, self.beat_div[b[sel]]), "beat": ("codes", self.beat_names, b[sel]),
            "lat": (np.round(self.beat_lat[b[sel]] + rng.normal(0, 0.008, sel.size), 5), no_geo),
            "lon": (np.round(self.beat_lon[b[sel]] + rng.normal(0, 0.01, sel.size), 5), no_geo),
            "disposition": ("codes", CALL_DISPO, cd[sel]),
        })
        ds = np.flatnonzero(rec_disp)
        ds = ds[np.lexsort((d_off[ds], d_disp[ds], call_no[d_call[ds]]))]
        self.w.write("dispatches", {
            "call_id": id_array("C", call_no[d_call[ds]], 9), "officer_id": pa_take(self.ids, d_off[ds]),
            "dispatched_at": d_disp[ds], "arrived_at": (d_arr[ds], d_noarr[ds]), "cleared_at": (d_clear[ds], d_noclear[ds]),
        })
        keep = d_ok
        return dict(
            off=d_off[keep], dd=c_dd[d_cell[keep]], cell=d_cell[keep], type=ctype[d_call[keep]],
            oi=oi[d_call[keep]], prio=prio[d_call[keep]], travel=d_travel[keep], noarr=d_noarr[keep],
            hours_on=hours_on[keep], call_no=call_no[d_call[keep]], recorded=rec_disp[keep], beat=b[d_call[keep]],
            t=d_disp[keep],
        )

    def adverse_and_ia(self, rng, year, days, nd, disp, logm, duty, sworn_act, active, bz):
        n = self.n
        # situational weight of each dispatch
        tmin = np.maximum(disp["travel"], 30) / 60.0
        r = np.exp(0.55 * np.log(tmin / 6.0) * ~disp["oi"] + 0.8 * disp["oi"] + 0.9 * TYPE_RISKY[disp["type"]]
                   + 0.12 * np.clip(disp["hours_on"] - 8, 0, 8) + 0.35 * TYPE_STRESS[disp["type"]]
                   + 0.2 * (disp["prio"] <= 2))
        lm_d = logm.ravel()[disp["off"] * nd + disp["dd"]]
        w_link = np.exp(lm_d) * r
        day_cells = np.flatnonzero(sworn_act.ravel())
        w_day = np.exp(logm.ravel()[day_cells]) * np.where(duty.ravel()[day_cells], 1.0, 0.15)
        tot_l, tot_d = w_link.sum(), w_day.sum()
        if tot_l > 0 and tot_d > 0:
            w_link = w_link * ADVERSE_LINKED_SHARE / tot_l
            w_day = w_day * (1 - ADVERSE_LINKED_SHARE) / tot_d
        off_day = day_cells // nd
        W = np.bincount(disp["off"], w_link, n) + np.bincount(off_day, w_day, n)
        ys = int(days[0])
        prior = (self.last_adverse >= ys - 730)
        W = W * np.where(prior, 1.4, 1.0)
        act_sworn = sworn_act.any(axis=1)
        n_act = int(act_sworn.sum())
        share = ADVERSE_OFFICER_SHARE + rng.uniform(-0.004, 0.004)
        k = int(round(share * n_act))
        cand = np.flatnonzero(act_sworn & (W > 0))
        g = np.log(W[cand]) + rng.gumbel(size=cand.size)
        chosen = cand[np.argsort(-g, kind="stable")[:k]]
        chosen = np.sort(chosen)
        # place each chosen officer's incidents on their units
        lorder = np.argsort(disp["off"], kind="stable")
        lst = np.searchsorted(disp["off"][lorder], np.arange(n + 1))
        dorder = np.argsort(off_day, kind="stable")
        dst = np.searchsorted(off_day[dorder], np.arange(n + 1))
        zmean = self.z[:, self.month_of[days - self.d0]].mean(axis=1)
        cases = []  # (officer, day, dispatch index or -1, adverse)
        for i in chosen:
            li = lorder[lst[i]:lst[i + 1]]
            di = dorder[dst[i]:dst[i + 1]]
            wts = np.concatenate([w_link[li], w_day[di]])
            if wts.sum() <= 0:
                continue
            cnt = 1 + min(int(rng.poisson(0.22 * np.exp(0.35 * zmean[i]))), 3)
            cnt = min(cnt, wts.size)
            sel = rng.choice(wts.size, size=cnt, replace=False, p=wts / wts.sum())
            for s_ in sel:
                if s_ < li.size:
                    j = li[s_]
                    cases.append((i, int(disp["dd"][j]), int(j), 1))
                else:
                    c = day_cells[di[s_ - li.size]]
                    cases.append((i, int(c % nd), -1, 1))
            self.last_adverse[i] = ys + max(int(c[1]) for c in cases if c[0] == i)
        # benign IA cases: lean on beat crime and activity more than on propensity
        zd = self.z[:, self.month_of[days - self.d0]]
        b_link = np.sqrt(r) * np.exp(0.3 * zd.ravel()[disp["off"] * nd + disp["dd"]] + 0.55 * self.crime_z[disp["beat"]]
                                     + 0.3 * np.log(self.proact[disp["off"]]))
        all_cells = np.flatnonzero(active.ravel())
        ao = all_cells // nd
        b_day = np.exp(0.2 * zd.ravel()[all_cells]) * np.where(self.sworn[ao], 1.0, 0.25) * \
            np.where(duty.ravel()[all_cells], 1.0, 0.3) * np.exp(0.2 * bz.ravel()[all_cells])
        n_benign = max(RATES["ia_cases"] - ADVERSE_OFFICER_SHARE * 1.3, 0.1) * self.sworn_days / 365.25
        b_link *= 0.5 * n_benign / max(b_link.sum(), 1e-9)
        b_day *= 0.5 * n_benign / max(b_day.sum(), 1e-9)
        kl = rng.poisson(b_link)
        kd = rng.poisson(b_day)
        jl = np.repeat(np.arange(kl.size), kl)
        cd_ = np.repeat(all_cells, kd)
        off_all = np.concatenate([np.array([c[0] for c in cases], np.int64), disp["off"][jl], cd_ // nd])
        dd_all = np.concatenate([np.array([c[1] for c in cases], np.int64), disp["dd"][jl], cd_ % nd])
        dj_all = np.concatenate([np.array([c[2] for c in cases], np.int64), jl, np.full(cd_.size, -1)])
        adv_all = np.concatenate([np.ones(len(cases), bool), np.zeros(jl.size + cd_.size, bool)])
        m = off_all.size
        linked = dj_all >= 0
        civ = ~self.sworn[off_all]
        ev = np.empty(m, np.int64)
        for mask, p in ((adv_all & linked, EV_ADV_LINK), (adv_all & ~linked, EV_ADV_DAY),
                        (~adv_all & linked, EV_BEN_LINK), (~adv_all & ~linked & ~civ, EV_BEN_DAY),
                        (~adv_all & ~linked & civ, EV_CIVIL)):
            ev[mask] = _choice(rng, p, int(mask.sum()))
        # officer-initiated traffic work ends in pursuits more often
        djs = np.where(linked, dj_all, 0)
        tstop = linked & (disp["type"][djs] == T_TSTOP) & (rng.random(m) < 0.3)
        ev[tstop & np.isin(ev, [_E["USE_OF_FORCE"], _E["CITIZEN_COMPLAINT"]])] = _E["PURSUIT"]
        dispo = np.empty(m, np.int64)
        dispo[adv_all] = ADVERSE_DISPO[ev[adv_all]]
        for e, opts in BENIGN_DISPO.items():
            sel = ~adv_all & (ev == _E[e])
            names, wts = zip(*opts)
            dispo[sel] = np.array([_D[x] for x in names])[_choice(rng, np.array(wts, float), int(sel.sum()))]
        inc_day = np.where(linked, disp["t"][djs] // DAY, days[dd_all])
        rep_med = np.array([REPORT_DELAY.get(e, (1.5, 1.0))[0] for e in EVENT_TYPES])[ev]
        rep_sd = np.array([REPORT_DELAY.get(e, (1.5, 1.0))[1] for e in EVENT_TYPES])[ev]
        rep_delay = np.floor(rng.lognormal(np.log(rep_med), rep_sd) - 0.5).clip(0, 400).astype(np.int64)
        rep_day = inc_day + rep_delay
        cl_med = np.array([CLOSE_DELAY.get(e, (28, 0.6))[0] for e in EVENT_TYPES])[ev]
        cl_sd = np.array([CLOSE_DELAY.get(e, (28, 0.6))[1] for e in EVENT_TYPES])[ev]
        close_day = rep_day + np.ceil(rng.lognormal(np.log(cl_med), cl_sd)).astype(np.int64)
        pending = close_day > self.d1
        interv = np.full(m, -1)
        ai = adv_all & ~pending
        interv[ai] = _choice(rng, [.4, .3, .2, .1], int(ai.sum()))
        bi = ~adv_all & ~pending & (rng.random(m) < 0.05)
        interv[bi] = 0
        call = np.where(linked & (rng.random(m) < 0.9), dj_all, -1)
        call_ok = call >= 0
        call_ok[call_ok] = disp["recorded"][call[call_ok]]
        call_no = np.where(call_ok, disp["call_no"][np.where(call >= 0, call, 0)], -1)
        known = rep_day <= self.d1
        self.ia_parts.append(dict(
            off=off_all[known], inc=inc_day[known], rep=rep_day[known], close=close_day[known], pending=pending[known],
            ev=ev[known], dispo=np.where(pending, _D["PENDING"], dispo)[known], true_dispo=dispo[known],
            call=call_no[known], interv=interv[known], adverse=adv_all[known]))

    def activity(self, rng, year, days, nd, c_off, c_dd, c_beat, c_shift, c_unit, c_len, c_start, disp):
        n_cells = c_off.size
        if n_cells == 0:
            return
        cz = self.crime_z[c_beat]
        pro = self.proact[c_off]
        act = UNIT_DISPATCH[c_unit] ** 0.5 * RANK_DISPATCH[self.rank[c_off]] * (c_len / 10)
        yrs = self.sworn_days / 365.25
        # dispatches of each cell, to link arrests to calls
        dorder = np.argsort(disp["cell"], kind="stable")
        dcell = disp["cell"][dorder]
        dlo = np.searchsorted(dcell, np.arange(n_cells))
        dhi = np.searchsorted(dcell, np.arange(n_cells), "right")

        def draw(lam, rate):
            lam = lam * rate * yrs / max(lam.sum(), 1e-9)
            k = rng.poisson(lam)
            cell = np.repeat(np.arange(n_cells), k)
            t = c_start[cell] + (rng.random(cell.size) * c_len[cell] * 3600).astype(np.int64)
            keep = t <= self.extracted_at
            cell, t = cell[keep], t[keep]
            o = np.lexsort((c_off[cell], t))
            return cell[o], t[o]

        def demo(cell, null_p):
            m = cell.size
            race = _choice_rows(rng, self.race_cum, c_beat[cell])
            race = np.where(rng.random(m) < null_p, -1, race)
            sex = np.where(rng.random(m) < null_p, -1, np.where(rng.random(m) < 0.72, 0, 1))
            age = np.clip(rng.gamma(4, 7.5, m) + 14, 14, 90).astype(np.int64)
            return ("codes", RACE, race), ("codes", ["M", "F"], sex), (age, rng.random(m) < null_p)

        # arrests: high-crime beats and proactive officers arrest more
        cell, t = draw(act * np.exp(0.6 * cz) * pro ** 1.2, RATES["arrests"])
        rec = self.recorded("arrests", t // DAY)
        cell, t = cell[rec], t[rec]
        m = cell.size
        chg = _choice(rng, [.16, .22, .2, .17, .1, .1, .05], m)
        chg = np.where((rng.random(m) < 0.08 * np.exp(0.5 * cz[cell])) & (chg != 0), 0, chg)
        discr = np.isin(chg, [2, 3, 4]) & (rng.random(m) < _sigmoid(-0.4 + 1.6 * np.log(pro[cell])))
        pc_ = np.where(rng.random(m) < 0.04, -1, (rng.random(m) < 0.95 - 0.05 * discr).astype(int))
        has = dhi[cell] > dlo[cell]
        link = has & (rng.random(m) < 0.6)
        pick = dorder[np.minimum(dlo[cell] + (rng.random(m) * (dhi[cell] - dlo[cell])).astype(np.int64), dorder.size - 1)] \
            if dorder.size else np.zeros(m, np.int64)
        link &= disp["recorded"][pick] if dorder.size else False
        r_, s_, a_ = demo(cell, 0.03)
        ids = self.seq["arrest"] + np.arange(m)
        self.seq["arrest"] += m
        self.w.write("arrests", {
            "arrest_id": id_array("A", ids, 8), "officer_id": pa_take(self.ids, c_off[cell]), "arrested_at": t,
            "division": ("codes", self.div_names, self.beat_div[c_beat[cell]]), "beat": ("codes", self.beat_names, c_beat[cell]),
            "charge_category": ("codes", CHARGES, chg), "discretionary_only": discr,
            "probable_cause": (pc_ == 1, pc_ < 0),
            "suspect_race": r_, "suspect_sex": s_, "suspect_age": a_,
            "call_id": id_array("C", np.where(link, disp["call_no"][pick] if dorder.size else 0, 0), 9, ~link),
        })
        # traffic stops
        cell, t = draw(act * UNIT_STOPS[c_unit] * np.exp(0.2 * cz) * pro ** 1.3, RATES["traffic_stops"])
        m = cell.size
        reason = _choice(rng, [.38, .22, .1, .14, .1, .06], m)
        searched = rng.random(m) < _sigmoid(-3.0 + 0.6 * cz[cell] + 0.5 * np.log(pro[cell]) + 1.2 * (reason == 4))
        contra = np.where(searched, rng.random(m) < 0.28, False)
        zz = self.z[c_off[cell], self.month_of[t // DAY - self.d0]]
        uof = rng.random(m) < 0.003 * np.exp(0.5 * cz[cell] + 0.4 * zz)
        outc = _choice(rng, [.12, .42, .43, .03], m)
        outc = np.where(contra & (rng.random(m) < 0.7), 3, outc)
        r_, s_, a_ = demo(cell, 0.02)
        ids = self.seq["stop"] + np.arange(m)
        self.seq["stop"] += m
        self.w.write("traffic_stops", {
            "stop_id": id_array("S", ids, 9), "officer_id": pa_take(self.ids, c_off[cell]), "stopped_at": t,
            "division": ("codes", self.div_names, self.beat_div[c_beat[cell]]), "beat": ("codes", self.beat_names, c_beat[cell]),
            "reason": ("codes", STOP_REASONS, reason), "outcome": ("codes", STOP_OUTCOMES, outc), "searched": searched,
            "contraband_found": (contra, ~searched), "use_of_force": uof,
            "driver_race": r_, "driver_sex": s_, "driver_age": a_,
        })
        # field interviews
        cell, t = draw(act * np.exp(0.7 * cz) * pro ** 1.2, RATES["field_interviews"])
        rec = self.recorded("field_interviews", t // DAY)
        cell, t = cell[rec], t[rec]
        m = cell.size
        fit = _choice(rng, [.38, .22, .05, .2, .15], m)
        r_, s_, a_ = demo(cell, 0.05)
        ids = self.seq["fi"] + np.arange(m)
        self.seq["fi"] += m
        self.w.write("field_interviews", {
            "fi_id": id_array("FI", ids, 8), "officer_id": pa_take(self.ids, c_off[cell]), "occurred_at": t,
            "division": ("codes", self.div_names, self.beat_div[c_beat[cell]]), "beat": ("codes", self.beat_names, c_beat[cell]),
            "fi_type": ("codes", FI_TYPES, fit), "person_race": r_, "person_sex": s_, "person_age": a_,
        })
        # citations
        cell, t = draw(act * UNIT_STOPS[c_unit] ** 1.2 * np.exp(0.05 * cz) * pro, RATES["citations"])
        rec = self.recorded("citations", t // DAY)
        cell, t = cell[rec], t[rec]
        m = cell.size
        ids = self.seq["cit"] + np.arange(m)
        self.seq["cit"] += m
        self.w.write("citations", {
            "citation_id": id_array("CT", ids, 9), "officer_id": pa_take(self.ids, c_off[cell]), "issued_at": t,
            "division": ("codes", self.div_names, self.beat_div[c_beat[cell]]),
            "citation_type": ("codes", CIT_TYPES, _choice(rng, [.55, .12, .15, .1, .08], m)),
            "electronic": rng.random(m) < _sigmoid(0.7 * (year - 2009)),
        })
        self.crime_reports(rng, year, days, n_cells, c_off, c_beat, c_start, c_len, cz, act, draw)

    def crime_reports(self, rng, year, days, n_cells, c_off, c_beat, c_start, c_len, cz, act, draw):
        cell, t = draw(act ** 0.5 * np.exp(0.75 * cz), RATES["crime_reports"] * 0.92)
        m1 = cell.size
        # reports taken without an officer (online / desk), about 8%
        m2 = int(rng.poisson(m1 * 0.087))
        b2 = _choice(rng, self.crime ** 0.75, m2)
        t2 = (days[rng.integers(0, days.size, m2)] * DAY + rng.integers(0, DAY, m2)).astype(np.int64)
        beat = np.concatenate([c_beat[cell], b2])
        off = np.concatenate([c_off[cell], np.full(m2, -1)])
        rep = np.concatenate([t, t2])
        keep = (rep <= self.extracted_at) & self.recorded("crime_reports", rep // DAY)
        o = np.lexsort((beat[keep], rep[keep]))
        beat, off, rep = beat[keep][o], off[keep][o], rep[keep][o]
        m = beat.size
        offense = _choice_rows(rng, self.off_cum, beat)
        violent = OFF_VIOLENT[offense]
        wp = np.where(violent, _choice(rng, [.45, .3, .12, .08, .05], m), _choice(rng, [.9, .02, .01, .03, .04], m))
        wp = np.where(offense == OFFENSES.index("WEAPONS"), np.where(rng.random(m) < 0.8, 1, 3), wp)
        victims = np.where(np.isin(offense, [8, 10]), rng.poisson(0.2, m), 1 + rng.poisson(np.where(violent, 0.35, 0.12)))
        gang = rng.random(m) < _sigmoid(-3.2 + 0.7 * self.crime_z[beat] + 1.3 * violent)
        dv = (offense == 1) & (rng.random(m) < 0.35) | (rng.random(m) < 0.01)
        narc = (offense == 8) & (rng.random(m) < 0.95) | (rng.random(m) < 0.03)
        hate = rng.random(m) < 0.003
        child = rng.random(m) < np.where(offense == 3, 0.25, 0.03)
        suic = rng.random(m) < 0.004
        score = (OFF_SEV[offense] + WEAPON_SEV[wp] + 0.5 * np.log1p(victims) + 0.6 * gang + 0.35 * dv + 0.8 * child
                 + 0.9 * hate + 0.5 * suic + rng.normal(0, 0.55, m))
        sev = np.where(score > 1.6, 0, np.where(score > 0.2, 1, 2))
        unassessed = (rep > self.extracted_at - 45 * DAY) & (rng.random(m) < 0.85) | (rng.random(m) < 0.02)
        sev = np.where(unassessed, -1, sev)
        delay = rng.lognormal(np.where(violent, np.log(1800), np.log(6 * 3600)), 1.3, m).astype(np.int64)
        occ = rep - np.minimum(delay, 60 * DAY)
        p_clear = OFF_CLEAR[offense] * np.where(off >= 0, 1.0, 0.5) * np.exp(-0.15 * self.crime_z[beat])
        clr = rep + (rng.lognormal(np.log(12), 1.2, m) * DAY).astype(np.int64)
        cleared = (rng.random(m) < np.clip(p_clear, 0, 0.95)) & (clr <= self.extracted_at)
        ids = self.seq["crime"] + np.arange(m)
        self.seq["crime"] += m
        self.w.write("crime_reports", {
            "report_id": id_array("R", ids, 9), "officer_id": pa_take(self.ids, off), "reported_at": rep, "occurred_at": occ,
            "division": ("codes", self.div_names, self.beat_div[beat]), "beat": ("codes", self.beat_names, beat),
            "offense_category": ("codes", OFFENSES, offense), "weapon": ("codes", WEAPONS, wp),
            "victim_count": victims.astype(np.int64), "gang_related": gang, "domestic_violence": dv, "narcotics": narc,
            "hate_crime": hate, "child_involved": child, "suicide_related": suic,
            "severity": ("codes", ["HIGH", "MEDIUM", "LOW"], sev), "cleared_at": (clr, ~cleared),
        })

    # ---------------------------------------------------------------- IA cases and legacy flags
    def finish_ia(self):
        rng = _rng(self.seed, 9)
        parts = self.ia_parts
        cat = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        order = np.lexsort((cat["ev"], cat["off"], cat["inc"]))
        cat = {k: v[order] for k, v in cat.items()}
        m = order.size
        case_ids = id_array("IA", np.arange(1, m + 1), 7)
        self.w.write("ia_cases", {
            "case_id": case_ids, "officer_id": pa_take(self.ids, cat["off"]),
            "event_type": ("codes", EVENT_TYPES, cat["ev"]), "incident_date": cat["inc"], "reported_date": cat["rep"],
            "closed_date": (cat["close"], cat["pending"]), "disposition": ("codes", DISPOSITIONS, cat["dispo"]),
            "call_id": id_array("C", np.maximum(cat["call"], 0), 9, cat["call"] < 0),
            "intervention": ("codes", ADVERSE_INTERVENTIONS, cat["interv"]),
        })
        frame = pd.DataFrame({"officer_id": np.array(self.ids, dtype=object)[cat["off"]],
                              "event_type": np.array(EVENT_TYPES, dtype=object)[cat["ev"]],
                              "reported_date": cat["rep"].astype("datetime64[D]")})
        flags = legacy_flags(frame)
        fday = flags["flagged_on"].to_numpy("datetime64[D]").astype(np.int64)
        keep = self.recorded("eis_flags", fday)
        flags, fday = flags[keep], fday[keep]
        k = len(flags)
        interv = np.where(rng.random(k) < 0.45, -1, _choice(rng, [.4, .25, .25, .1], k))
        rules = sorted(set(flags["rule"]))
        self.w.write("eis_flags", {
            "flag_id": id_array("EF", np.arange(1, k + 1), 6),
            "officer_id": pa_take_str(flags["officer_id"].tolist()),
            "flagged_on": fday, "rule": ("codes", rules, np.array([rules.index(r) for r in flags["rule"]], np.int64)),
            "intervention": ("codes", FLAG_INTERVENTIONS, interv),
        })

    def run(self, progress: Callable | None):
        t0 = time.perf_counter()
        years = list(range(self.cfg.start.year, self.cfg.end.year + 1))
        total = len(years) + 3

        def step(label: str, done: int):
            if progress is not None:
                progress(label, done, total, dict(self.w.rows), time.perf_counter() - t0)

        self.geography()
        self.neighborhoods()
        self.workforce()
        self.last_adverse = np.full(self.n, -10 ** 9, np.int64)
        step("officers, assignments, neighborhoods", 1)
        for k, y in enumerate(years):
            ys, ye = max(_d(dt.date(y, 1, 1)), self.d0), min(_d(dt.date(y, 12, 31)), self.d1)
            act_days = np.clip(np.minimum(self.sep - 1, ye) - np.maximum(self.hire, ys) + 1, 0, None)
            self.sworn_days = float(act_days[self.sworn].sum())
            self.year(y)
            step(f"year {y}", 2 + k)
        self.finish_ia()
        step("ia_cases, eis_flags", total - 1)
        self.w.close()
        step("done", total)


def pa_ids(ids: list[str]):
    import pyarrow as pa
    return pa.array(ids, type=pa.string())


def pa_take(ids: list[str], idx: np.ndarray):
    """officer ids by index; index -1 gives NULL."""
    import pyarrow as pa
    import pyarrow.compute as pc
    idx = np.asarray(idx, np.int64)
    mask = idx < 0
    return pc.take(pa.array(ids, type=pa.string()),
                   pa.array(np.where(mask, 0, idx), mask=mask if mask.any() else None))


def pa_take_str(values: list[str]):
    import pyarrow as pa
    return pa.array(values, type=pa.string())


#: tables added by contract v2, not part of the simulated v1 drop
V2_TABLES = ("rank_history", "use_of_force")


def generate(scale: str, seed: int, out_dir: Path, fmt: str = "csv", progress: Callable | None = None,
             contract_version: int = 1) -> dict:
    """Write a synthetic department drop for ``scale`` into ``out_dir`` and return its manifest.

    One file per contract table (``<table>.csv`` or ``<table>.parquet``) plus ``_drop.json``.  The
    output depends only on (scale, seed, fmt, generator version): the same seed gives byte-identical
    files.  ``progress``, if given, is called as ``progress(label, done, total, rows_by_table, elapsed_s)``.
    ``contract_version=2`` adds the v2 tables use_of_force, rank_history and ia_cases.allegation
    (``eis_core.synth.v2``); 1 writes exactly the v1 drop.
    """
    if contract_version not in (1, 2):
        raise ValueError(f"contract_version must be 1 or 2, not {contract_version!r}")
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; choose one of {sorted(SCALES)}")
    cfg = SCALES[scale]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    contract = load_contract()
    # the simulation writes the v1 tables; contract v2 tables are derived afterwards (synth.v2)
    writer = DropWriter(out_dir, fmt, {n: t for n, t in contract.tables.items() if n not in V2_TABLES})
    sim = _Sim(cfg, int(seed), writer)
    sim.run(progress)
    manifest = {
        "department": f"Synthetic Police Department ({scale})",
        "scale": scale,
        "seed": int(seed),
        "generator_version": GENERATOR_VERSION,
        "extracted_at": f"{cfg.end.isoformat()}T23:59:59",
        "format": fmt,
        "tables": {name: writer.rows[name] for name in contract.load_order if name in writer.rows},
    }
    if contract_version == 2:
        from eis_core.synth.v2 import add_v2_tables

        added = add_v2_tables(out_dir, fmt, int(seed), manifest["extracted_at"])
        manifest["contract_version"] = 2
        manifest["tables"] = {name: manifest["tables"].get(name, added.get(name, 0)) for name in contract.load_order}
    with open(out_dir / "_drop.json", "w", encoding="utf-8") as fh:
        json.dump(manifest, fh, indent=2)
        fh.write("\n")
    return manifest
