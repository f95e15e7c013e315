"""The words of the risk factors: windows, dispositions, event types, call groups, counts, shares, the
neighbourhood, ranks and education, as a sergeant says them.  Used by :mod:`eis_core.production.wording`."""

from __future__ import annotations

import re

WINDOWS = {
    "1m": "in the last month",
    "3m": "in the last 3 months",
    "6m": "in the last 6 months",
    "1y": "in the last year",
    "5y": "in the last 5 years",
    "all": "in their whole career",
}
WINDOW_ORDER = ["1m", "3m", "6m", "1y", "5y", "all"]
WINDOW_PATTERN = re.compile(r"^(?P<base>.+?)_(?P<w>1m|3m|6m|1y|5y|all)$")

NOT_A_FINDING = "A complaint that was not sustained, exonerated or unfounded is history, not a finding of misconduct."
OPEN_CASE = "An open case has no finding yet."

#: dispositions as a sergeant says them (ia_closed_<disposition>)
DISPOSITIONS = {
    "sustained": ("sustained complaint", "sustained complaints", None),
    "not_sustained": ("complaint closed as not sustained", "complaints closed as not sustained", NOT_A_FINDING),
    "exonerated": ("complaint closed as exonerated", "complaints closed as exonerated", NOT_A_FINDING),
    "unfounded": ("complaint closed as unfounded", "complaints closed as unfounded", NOT_A_FINDING),
    "no_finding": ("case closed with no finding", "cases closed with no finding", NOT_A_FINDING),
    "preventable": ("accident or injury found preventable", "accidents or injuries found preventable", None),
    "not_preventable": (
        "accident or injury found not preventable",
        "accidents or injuries found not preventable",
        "Found not preventable: history, not a finding against the officer.",
    ),
    "justified": (
        "use of force found justified",
        "uses of force found justified",
        "Found justified: history, not a finding against the officer.",
    ),
    "unjustified": ("use of force found unjustified", "uses of force found unjustified", None),
    "pending": ("case still open", "cases still open", OPEN_CASE),
}

EVENT_TYPES = {
    "citizen_complaint": ("citizen complaint", "citizen complaints"),
    "officer_complaint": ("complaint by another officer", "complaints by other officers"),
    "vehicle_accident": ("vehicle accident", "vehicle accidents"),
    "injury": ("injury case", "injury cases"),
    "use_of_force": ("use-of-force investigation", "use-of-force investigations"),
    "raid_and_search": ("raid or search case", "raid or search cases"),
    "pursuit": ("pursuit case", "pursuit cases"),
    "firearm_discharge": ("firearm discharge", "firearm discharges"),
    "tire_deflation": ("tire deflation case", "tire deflation cases"),
    "rule_violation": ("rule violation case", "rule violation cases"),
    "sick_leave": ("sick leave case", "sick leave cases"),
}

CALL_GROUPS = {
    "violent": ("call about violence or a disturbance", "calls about violence or disturbances"),
    "property": ("property-crime call", "property-crime calls"),
    "traffic": ("traffic call", "traffic calls"),
    "officer": ("call the officer reported or started", "calls the officer reported or started"),
    "other": ("other call", "other calls"),
}

#: count features: base name -> (singular, plural, note or None)
COUNTS: dict[str, tuple[str, str, str | None]] = {
    "ia_cases": (
        "complaint or internal case reported",
        "complaints or internal cases reported",
        "This counts every case, whatever its outcome. " + NOT_A_FINDING,
    ),
    "ia_closed": ("internal case closed", "internal cases closed", None),
    "ia_adverse": (
        "case closed with a finding against the officer",
        "cases closed with a finding against the officer",
        None,
    ),
    "uof_reports": ("use-of-force report", "use-of-force reports", None),
    "uof_subject_injured": ("use of force with the person injured", "uses of force with the person injured", None),
    "uof_officer_injured": ("use of force with the officer injured", "uses of force with the officer injured", None),
    "uof_reviewed": ("use-of-force report reviewed", "use-of-force reports reviewed", None),
    "uof_not_approved": (
        "use-of-force report not approved or sent to Internal Affairs",
        "use-of-force reports not approved or sent to Internal Affairs",
        None,
    ),
    "dsp_calls": ("call dispatched", "calls dispatched", None),
    "dsp_calls_prio_high": ("urgent call (priority 1–3)", "urgent calls (priority 1–3)", None),
    "dsp_calls_prio_medium": ("priority 4–6 call", "priority 4–6 calls", None),
    "dsp_calls_prio_low": ("low-priority call", "low-priority calls", None),
    "dsp_stress_calls": (
        "stress call (suicide, domestic violence, a child)",
        "stress calls (suicide, domestic violence, a child)",
        None,
    ),
    "dsp_hours_on_calls": ("hour on calls", "hours on calls", None),
    "dsp_crime_reports": ("crime report responded to", "crime reports responded to", None),
    "dsp_crime_stress": ("stressful crime scene", "stressful crime scenes", None),
    "dsp_crime_child_involved": ("crime involving a child", "crimes involving a child", None),
    "dsp_crime_gang_related": ("gang-related crime", "gang-related crimes", None),
    "dsp_crime_narcotics": ("narcotics crime", "narcotics crimes", None),
    "dsp_crime_domestic_violence": ("domestic-violence crime", "domestic-violence crimes", None),
    "dsp_crime_suicide_related": ("suicide-related crime", "suicide-related crimes", None),
    "arr_total": ("arrest", "arrests", None),
    "arr_discretionary": ("discretionary arrest", "discretionary arrests", None),
    "arr_no_probable_cause": (
        "arrest without recorded probable cause",
        "arrests without recorded probable cause",
        None,
    ),
    "ts_stops": ("traffic stop", "traffic stops", None),
    "ts_searches": ("search during a stop", "searches during stops", None),
    "ts_contraband_hits": ("search that found contraband", "searches that found contraband", None),
    "ts_arrests": ("stop ending in an arrest", "stops ending in an arrest", None),
    "ts_uof": ("stop with use of force", "stops with use of force", None),
    "fi_total": ("field interview", "field interviews", None),
    "cit_total": ("citation issued", "citations issued", None),
    "sec_jobs": ("secondary job", "secondary jobs", None),
    "sec_hours": ("hour of secondary employment", "hours of secondary employment", None),
    "sec_incidents": ("incident at a secondary job", "incidents at secondary jobs", None),
    "trn_courses": ("training course completed", "training courses completed", None),
    "trn_hours": ("training hour", "training hours", None),
    "flg_flags": (
        "flag from the department's previous warning system",
        "flags from the department's previous warning system",
        None,
    ),
}

#: shares and rates: base name -> what it is a share of
SHARES = {
    "dsp_night_share": "of their calls were at night (22:00–06:00)",
    "dsp_officer_initiated_share": "of their calls were ones they started themselves",
    "ts_search_rate": "of their traffic stops led to a search",
    "ts_hit_rate": "of their searches found contraband",
    "ia_share_sustained": "of their closed complaints were sustained",
    "ia_share_adverse": "of their closed cases ended with a finding against them",
}

NEIGHBORHOOD = {
    "population": "people live in the beat they work",
    "calls_311_per_1k": "311 calls per 1,000 residents in their beat",
    "vacant_land_pct": "% vacant land in their beat",
    "median_income": "median household income in their beat",
    "violent_crime_per_1k": "violent crimes per 1,000 residents in their beat",
    "nuisance_violations_per_1k": "nuisance violations per 1,000 residents in their beat",
    "avg_age_at_death": "average age at death in their beat",
}

RANKS = {1: "officer", 2: "sergeant", 3: "lieutenant", 4: "captain"}
EDUCATION = {
    1: "high school",
    2: "some college",
    3: "an associate degree",
    4: "a bachelor's degree",
    5: "a graduate degree",
}
