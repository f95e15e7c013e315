"""Risk factors in words a sergeant uses.

Production scoring stores each officer's top factors as feature columns (``ia_closed_sustained_5y``,
``ia_days_since_adverse_missing`` …) with the officer's value and its contribution to the score
(``production.risk_factors``).  This module turns them into sentences about the officer:

* **grouped**: factors that state the same fact (the same count over different windows, a value and
  its "was imputed" indicator, a count and its outlier ratio) are shown once, under the window that
  weighed most, with the other windows in brackets;
* **a sentence about the officer**: "2 sustained complaints in the last 5 years — more than 90 % of
  officers in the division"; no column, macro or block name ever appears;
* **plain about findings**: a complaint that was not sustained, exonerated or unfounded is history,
  not a finding, and the sentence says so; an open case has no finding yet.

:func:`factor_groups` does the grouping, :func:`describe` the sentence for one group and
:func:`comparison` the "more than N % of officers in the division" part (from the values of the
division's officers on the scored date, when the feature mart has them).

The words themselves (tables of windows, dispositions, event types, counts ...) are in
:mod:`eis_core.production.wording_words`.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field

from eis_core.production.wording_words import (  # noqa: F401 (all re-exported)
    CALL_GROUPS,
    COUNTS,
    DISPOSITIONS,
    EDUCATION,
    EVENT_TYPES,
    NEIGHBORHOOD,
    NOT_A_FINDING,
    OPEN_CASE,
    RANKS,
    SHARES,
    WINDOW_ORDER,
    WINDOW_PATTERN,
    WINDOWS,
)

# ----------------------------------------------------------------------------------------- grouping


def split_window(feature: str) -> tuple[str, str | None]:
    """(base, window) of ``<base>_<window>``; window None for a state on the date."""
    m = WINDOW_PATTERN.match(feature)
    return (m.group("base"), m.group("w")) if m else (feature, None)


def fact_key(feature: str) -> str:
    """The fact a feature states, whatever its window: the key that groups factors."""
    f = feature[: -len("_missing")] if feature.endswith("_missing") else feature
    base, _ = split_window(f)
    m = re.match(r"^out_(?P<count>.+)_(div|beat)_(ratio|z)$", base)
    if m:
        return m.group("count")
    m = re.match(r"^chg_(?P<count>.+)_6m_(diff|ratio)$", f)
    if m:
        return "chg:" + m.group("count")
    if base.startswith("leg_") and (base.endswith("_cases") or base.endswith("_flag")):
        return base.rsplit("_", 1)[0]
    if base in ("ia_share_sustained", "ia_share_adverse"):
        return base
    return base


@dataclass
class Group:
    """Factors of one officer that state the same fact; ``primary`` weighs most."""

    key: str
    factors: list[dict] = field(default_factory=list)

    @property
    def primary(self) -> dict:
        plain = [
            f
            for f in self.factors
            if not f["feature"].endswith("_missing") and not f["feature"].startswith(("out_", "chg_"))
        ]
        pool = plain or self.factors
        return max(pool, key=lambda f: abs(f.get("contribution") or 0.0))

    @property
    def contribution(self) -> float:
        return float(sum((f.get("contribution") or 0.0) for f in self.factors))

    @property
    def direction(self) -> str:
        return "raises" if self.contribution > 0 else "lowers"

    @property
    def features(self) -> list[str]:
        return [f["feature"] for f in self.factors]


def factor_groups(factors: list[dict]) -> list[Group]:
    """Group an officer's risk factors (dicts with feature, value, contribution …) by the fact they
    state; groups in the order of their strongest factor."""
    groups: dict[str, Group] = {}
    for f in factors:
        groups.setdefault(fact_key(f["feature"]), Group(fact_key(f["feature"]))).factors.append(f)
    return sorted(groups.values(), key=lambda g: -max(abs(f.get("contribution") or 0.0) for f in g.factors))


# ----------------------------------------------------------------------------------------- numbers


def _num(v: float | None) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "unknown"
    if float(v).is_integer():
        return f"{int(v):,}"
    return f"{v:,.1f}" if abs(v) >= 10 else f"{v:,.2g}"


def _count(v: float | None, singular: str, plural: str) -> str:
    if v is None:
        return f"an unknown number of {plural}"
    if v == 0:
        return f"no {plural}"
    return f"{_num(v)} {singular if v == 1 else plural}"


def _pct(share: float) -> str:
    """Floor to a round number: 93 % -> 90 %, 97.5 % -> 97 %."""
    p = 100 * share
    return f"{int(p // 1)} %" if p >= 95 else f"{int(p // 5 * 5)} %"


def comparison(value: float | None, peers: list[float] | None, *, counts: bool = True) -> str | None:
    """ "more than 90 % of officers in the division" from the sorted values of the division's officers
    on the date (the officer included); None when there is nothing to compare with."""
    if value is None or not peers or len(peers) < 5:
        return None
    n = len(peers)
    below = bisect_left(peers, value) / n
    above = (n - bisect_right(peers, value)) / n
    same = 1 - below - above
    more, fewer = ("more", "fewer") if counts else ("higher", "lower")
    if below >= 0.5:
        return f"{more} than {_pct(below)} of officers in the division"
    if above >= 0.5:
        return f"{fewer} than {_pct(above)} of officers in the division"
    if same >= 0.5:
        return f"the same as {_pct(same)} of officers in the division"
    return "about the middle of the division"


# ----------------------------------------------------------------------------------------- sentences


def _window_text(w: str | None) -> str:
    return WINDOWS.get(w or "", "")


def _others(group: Group, primary: dict, noun: tuple[str, str] | None) -> str:
    """ "(3 in the last 5 years)": the other windows of the same count."""
    parts = []
    rank = {w: i for i, w in enumerate(WINDOW_ORDER)}
    for f in sorted(group.factors, key=lambda f: rank.get(split_window(f["feature"])[1] or "", 99)):
        if f is primary or f["feature"].startswith(("out_", "chg_")) or f["feature"].endswith("_missing"):
            continue
        _, w = split_window(f["feature"])
        if w and f.get("value") is not None:
            parts.append(f"{_num(f['value'])} {_window_text(w)}")
    return f" ({'; '.join(parts)})" if parts else ""


def _count_noun(base: str) -> tuple[str, str, str | None] | None:
    if base in COUNTS:
        return COUNTS[base]
    m = re.match(r"^ia_closed_(.+)$", base)
    if m and m.group(1) in DISPOSITIONS:
        return DISPOSITIONS[m.group(1)]
    m = re.match(r"^ia_cases_(.+)$", base)
    if m and m.group(1) in EVENT_TYPES:
        s, p = EVENT_TYPES[m.group(1)]
        return s + " reported", p + " reported", "This counts every case, whatever its outcome. " + NOT_A_FINDING
    m = re.match(r"^ia_alg_(.+)$", base)
    if m:
        what = m.group(1).replace("_", " ")
        return (
            f"complaint alleging {what}",
            f"complaints alleging {what}",
            "This counts allegations, whatever their outcome. " + NOT_A_FINDING,
        )
    m = re.match(r"^dsp_calls_grp_(.+)$", base)
    if m and m.group(1) in CALL_GROUPS:
        return (*CALL_GROUPS[m.group(1)], None)
    m = re.match(r"^uof_(.+)$", base)
    if m:
        what = m.group(1).replace("_", " ")
        return f"use of force ({what})", f"uses of force ({what})", None
    m = re.match(r"^arr_charge_(.+)$", base)
    if m:
        what = m.group(1).replace("_", " ")
        return f"arrest for a {what} charge", f"arrests for {what} charges", None
    m = re.match(r"^(fi|cit)_(.+)$", base)
    if m:
        what = m.group(2).replace("_", " ")
        kind = "field interview" if m.group(1) == "fi" else "citation"
        return f"{kind} ({what})", f"{kind}s ({what})", None
    m = re.match(r"^trn_hours_(.+)$", base)
    if m:
        what = m.group(1).replace("_", " ")
        return f"training hour in {what}", f"training hours in {what}", None
    return None


def _years(days: float) -> str:
    y = days / 365.25
    return f"{y:.0f} years" if y >= 2 else (f"{days / 30.4:.0f} months" if days >= 60 else f"{days:.0f} days")


@dataclass
class Sentence:
    text: str
    note: str | None
    direction: str
    features: list[str]
    primary: str
    value: float | None
    comparable: bool  # a count or share whose value can be put next to the division's officers

    def as_dict(self) -> dict:
        return {
            "text": self.text,
            "note": self.note,
            "direction": self.direction,
            "features": self.features,
            "primary": self.primary,
            "value": self.value,
        }


def describe(group: Group, peers: dict[str, list[float]] | None = None) -> Sentence:
    """The sentence for one group; *peers*: feature -> sorted values of the division's officers."""
    p = group.primary
    feat, value = p["feature"], p.get("value")
    base, w = split_window(feat.removesuffix("_missing"))
    values = {f["feature"]: f.get("value") for f in group.factors}
    if feat.endswith("_missing"):  # only the "was imputed" indicator made the top: the value is unknown here
        value = values.get(feat.removesuffix("_missing"))
    note = None
    comparable = True
    counts = True
    text: str

    def cmp(v=value, f=feat, c=True):
        return comparison(v, (peers or {}).get(f), counts=c)

    if group.key.startswith("chg:"):
        noun = _count_noun(group.key[4:])
        plural = noun[1] if noun else group.key[4:].replace("_", " ")
        diff = next((v for k, v in values.items() if k.endswith("_diff")), None)
        if diff is not None:
            if diff == 0:
                text = f"As many {plural} in the last 6 months as in the 6 months before"
            else:
                text = (
                    f"{_num(abs(diff))} {'more' if diff > 0 else 'fewer'} {plural} in the last 6 months than "
                    "in the 6 months before"
                )
        else:
            ratio = next(iter(values.values()))
            text = f"{plural.capitalize()} in the last 6 months: {_num(ratio)} times the 6 months before"
        comparable = False
    elif base.startswith("out_"):
        m = re.match(r"^out_(?P<count>.+)_(?P<g>div|beat)_(?P<k>ratio|z)$", base)
        noun = _count_noun(m.group("count")) if m else None
        plural = noun[1] if noun else base
        where = "division" if m and m.group("g") == "div" else "beat"
        if m and m.group("k") == "ratio":
            text = f"{_num(value)} times the {where}'s average number of {plural} {_window_text(w)}"
        else:
            level = (
                ("far above" if value >= 2 else "above" if value >= 1 else "about" if value > -1 else "below")
                if value is not None
                else "unknown against"
            )
            text = f"{plural.capitalize()} {_window_text(w)}: {level} the {where}'s average"
        comparable = False
    elif base == "ia_days_since_adverse":
        missing = values.get("ia_days_since_adverse_missing")
        days = values.get("ia_days_since_adverse")
        if missing == 1 or (days is None and missing is not None and missing >= 0.5):
            text = "No case closed with a finding against the officer" + (
                f" in {_years(days)} of service" if days else ""
            )
        elif days is not None:
            text = f"Last finding against the officer {_years(days)} before this date"
        else:
            text = "Has a case closed with a finding against the officer on record"
        comparable = False
    elif base == "ia_pending_cases":
        text = f"{_count(value, 'open internal case', 'open internal cases').capitalize()} on this date"
        note = OPEN_CASE
    elif base in SHARES:
        text = f"{_num(100 * value) if value is not None else 'unknown'} % {SHARES[base]} {_window_text(w)}".rstrip()
        counts = False
        if base == "ia_share_adverse":
            note = None
    elif base.startswith("chr_"):
        comparable = base in ("chr_tenure_days", "chr_days_in_assignment", "chr_age_years")
        counts = False
        if base == "chr_age_years":
            text = f"Age {_num(value)}"
        elif base == "chr_tenure_days":
            text = f"{_years(value or 0)} of service"
        elif base == "chr_tenure_years":
            text = f"{_num(value)} years of service"
        elif base == "chr_days_in_assignment":
            text = f"{_years(value or 0)} in the current assignment"
        elif base == "chr_rank_ordinal":
            text = f"Rank: {RANKS.get(int(round(value or 0)), 'unknown')}"
        elif base == "chr_education_ordinal":
            text = f"Education: {EDUCATION.get(int(round(value or 0)), 'unknown')}"
        elif base.startswith("chr_shift_"):
            shift = base.removeprefix("chr_shift_")
            text = f"Works the {shift} shift" if value else f"Does not work the {shift} shift"
        elif base in ("chr_height_cm", "chr_weight_kg"):
            text = f"{'Height' if 'height' in base else 'Weight'}: {_num(value)} {'cm' if 'height' in base else 'kg'}"
        else:
            text = base.removeprefix("chr_").replace("_", " ").capitalize() + f": {_num(value)}"
        if values.get(base + "_missing") == 1:
            text += " (not recorded; the division's typical value was used)"
    elif base.startswith("nbh_"):
        what = NEIGHBORHOOD.get(base.removeprefix("nbh_"), base.removeprefix("nbh_").replace("_", " "))
        text = f"{_num(value)} {what}"
        comparable = False
        if values.get(base + "_missing") == 1:
            text += " (not recorded; a typical value was used)"
    elif base.startswith("leg_"):
        rule = group.key.removeprefix("leg_").replace("_", " ")
        flag = next((v for k, v in values.items() if k.endswith("_flag")), None)
        cases = next((v for k, v in values.items() if k.endswith("_cases")), None)
        if flag is not None and cases is None:
            text = (
                f"Meets the department's warning rule “{rule}”"
                if flag
                else f"Does not meet the department's warning rule “{rule}”"
            )
        else:
            text = f"{_count(cases, 'case', 'cases').capitalize()} counted by the department's warning rule “{rule}”"
        comparable = False
    elif base.startswith("prot_"):
        text = "A demographic attribute (used only if the department configured it)"
        comparable = False
    elif base.startswith("dsp_travel_min_mean"):
        text = f"Average travel time to calls {_window_text(w)}: {_num(value)} minutes"
        counts = False
        if values.get(feat + "_missing") == 1:
            text += " (no arrival recorded; the typical time was used)"
    else:
        noun = _count_noun(base)
        if noun:
            singular, plural, note = noun
            text = f"{_count(value, singular, plural).capitalize()} {_window_text(w)}".rstrip()
            text += _others(group, p, (singular, plural))
        else:  # a feature this module does not know: its name in words, never the column itself
            what = re.sub(r"^[a-z]{2,3}_", "", base).replace("_", " ")
            text = f"{what.capitalize()} {_window_text(w)}: {_num(value)}".replace("  ", " ")
            comparable = False
    if comparable:
        c = cmp(c=counts)
        if c:
            text = f"{text} — {c}"
    return Sentence(
        text=text,
        note=note,
        direction=group.direction,
        features=group.features,
        primary=feat,
        value=value,
        comparable=comparable,
    )


def sentences(
    factors: list[dict], peers: dict[str, list[float]] | None = None, limit: int | None = None
) -> list[Sentence]:
    """The officer's risk factors as grouped sentences, strongest first."""
    out = [describe(g, peers) for g in factor_groups(factors)]
    return out[:limit] if limit else out
