"""The simulated department's OWN legacy threshold EIS: the system whose flags the synthetic drop ships as
``eis_flags``.

This is deliberately not the platform's definition of a legacy EIS.  A real department's system is a
black box that produced its ``eis_flags``; the generator simulates one (11 per-type threshold rules
over IA cases as known on their reported date, with a cool-down: after a flag only cases reported
after it count towards the next flag of the same rule).  The platform's evaluation
(:class:`eis_core.modeling.baselines.LegacyEISBaseline`) reads those flags (``source="flags"``), or,
for a department without flags, evaluates the config's ``legacy_rules`` as sliding windows in the
feature mart (``source="rules"``); Table 3 records which (``results.table3.legacy_source``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from eis_core.contract import load_contract

#: the contract's code sets, the one definition (eis_core/contract/contract.yaml)
CODES = load_contract().codes

# --------------------------------------------------------------------------------------------------
# The legacy threshold EIS (reused later as the baseline to beat)
# --------------------------------------------------------------------------------------------------


INDICATOR_EVENTS = tuple(CODES["event_type"])


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
                    out_off.append(o[a])
                    out_day.append(t)
                    out_rule.append(rule.label)
                    last_flag = t
    res = pd.DataFrame(
        {"officer_id": out_off, "flagged_on": np.array(out_day, dtype="datetime64[D]"), "rule": out_rule}
    )
    return res.sort_values(["flagged_on", "officer_id", "rule"], kind="stable").reset_index(drop=True)
