"""CPDP complaints -> ia_cases: one case per officer per complaint register (CR) number.

Both releases are merged: complaints-complaints / complaints-accused (all FOIA releases) and the 2018
release (*_2000-2018_2018-03). Per CR the later complaint date and the later closed date win (a missing
date is unknown, not 'open'); the incident date is the merged file's, else the 2018 release's earliest.
Per officer and CR all allegation rows of both releases are pooled and the most serious finding wins.
"""

from __future__ import annotations

import pandas as pd

from eis_core.importers.cpdp_sources import (
    Report,
    Sources,
    SourceTables,
    clean_text,
    isin,
    parse_cr,
    parse_date,
    parse_uid,
)

# finding -> (disposition, seriousness: lower = more serious); None = no finding recorded
FINDINGS: dict[str, tuple[str, int] | None] = {
    "SU": ("SUSTAINED", 0),
    "SUSTAINED": ("SUSTAINED", 0),
    "NS": ("NOT_SUSTAINED", 1),
    "NOT SUSTAINED": ("NOT_SUSTAINED", 1),
    "EX": ("EXONERATED", 2),
    "EXONERATED": ("EXONERATED", 2),
    "UN": ("UNFOUNDED", 3),
    "UNFOUNDED": ("UNFOUNDED", 3),
    "NAF": ("NO_FINDING", 4),
    "NO AFFIDAVIT": ("NO_FINDING", 4),
    "NC": ("NO_FINDING", 4),
    "DIS": ("NO_FINDING", 4),
    "ADDITIONAL INVESTIGATION REQUESTED": None,
}
NO_FINDING_RANK = 4
EMPTY_RANK = 5
NO_INTERVENTION = {"NO ACTION TAKEN", "UNKNOWN", "NO PENALTY", "SUSTAINED-NO PENALTY", "FINAL- NO PENALTY"}
EVENT_TYPE = {"CIVILIAN": "CITIZEN_COMPLAINT", "CPD_EMPLOYEE": "OFFICER_COMPLAINT"}


def _complaints(src: SourceTables, rep: Report, crs: dict[str, pd.Series]) -> pd.DataFrame:
    """One row per CR: incident, complaint (reported) and closed dates, complainant type."""
    cc = src["complaints"]
    a = pd.DataFrame(
        {
            "cr": parse_cr(cc["cr_id"]),
            "incident": parse_date(cc["incident_date"]),
            "complaint": parse_date(cc["complaint_date"]),
            "closed": parse_date(cc["closed_date"]),
        }
    )
    crs["complaints"] = a.cr
    per = a.groupby("cr").agg(incident=("incident", "min"), complaint=("complaint", "max"), closed=("closed", "max"))
    per["ctype"] = pd.NA
    per["closed_differs"] = False
    per["complaint_differs"] = False
    if "complaints_2018" in src:
        c2 = src["complaints_2018"]
        b = pd.DataFrame(
            {
                "cr": parse_cr(c2["cr_id"]),
                "incident": parse_date(c2["incident_start_date"]),
                "complaint": parse_date(c2["complaint_date"]),
                "closed": parse_date(c2["closed_date"]),
                "ctype": clean_text(c2["complainant_type"]),
            }
        )
        crs["complaints_2018"] = b.cr
        q = b.groupby("cr").agg(
            incident2=("incident", "min"),
            complaint2=("complaint", "max"),
            closed2=("closed", "max"),
            ctype2=("ctype", "first"),
        )
        per = per.join(q, how="outer")
        per["closed_differs"] = per.closed.notna() & per.closed2.notna() & (per.closed != per.closed2)
        per["complaint_differs"] = per.complaint.notna() & per.complaint2.notna() & (per.complaint != per.complaint2)
        per["incident"] = per.incident.fillna(per.incident2)
        per["complaint"] = per[["complaint", "complaint2"]].max(axis=1)
        per["closed"] = per[["closed", "closed2"]].max(axis=1)
        per["ctype"] = per.ctype2
        per = per.drop(columns=["incident2", "complaint2", "closed2", "ctype2"])
        per["closed_differs"] = per.closed_differs.fillna(False).astype(bool)
        per["complaint_differs"] = per.complaint_differs.fillna(False).astype(bool)
    return per


def _coded(code: pd.Series, text: pd.Series) -> pd.Series:
    """'<CPD category code> <category text>', e.g. '05A EXCESSIVE FORCE: ARRESTEE - DURING ARREST': the code's
    first two characters name CPD's allegation group (configs/chicago allegation_groups match on them)."""
    code, text = clean_text(code), clean_text(text)
    both = code.notna() & text.notna()
    out = text.copy()
    out[both] = code[both] + " " + text[both]
    out[code.notna() & text.isna()] = code[code.notna() & text.isna()]
    return out


def _allegations(src: SourceTables, rep: Report) -> pd.DataFrame:
    T = "ia_cases"
    parts = []
    a = src["accused"]
    parts.append(
        pd.DataFrame(
            {
                "uid": parse_uid(a["UID"]),
                "uid_raw": a["UID"],
                "cr": parse_cr(a["cr_id"]),
                "allegation": _coded(a["complaint_code"], a["complaint_category"]),
                "finding": clean_text(a["final_finding"]),
                "outcome": clean_text(a["final_outcome"]),
                "release": 0,
            }
        )
    )
    if "accused_2018" in src:
        b = src["accused_2018"]
        parts.append(
            pd.DataFrame(
                {
                    "uid": parse_uid(b["UID"]),
                    "uid_raw": b["UID"],
                    "cr": parse_cr(b["cr_id"]),
                    "allegation": _coded(b["allegation_category_code"], b["allegation_category"]),
                    "finding": clean_text(b["final_finding_USE"]).fillna(clean_text(b["final_finding"])),
                    "outcome": clean_text(b["final_outcome_USE"]),
                    "release": 1,
                }
            )
        )
    if isinstance(src, Sources):
        src.release("accused", "accused_2018")
    al = pd.concat(parts, ignore_index=True)
    del parts
    for c in ("allegation", "outcome"):  # few distinct texts: categories save memory
        al[c] = al[c].astype("category")
    al["order"] = range(len(al))
    no_off = al.uid_raw.isna()
    rep.skip(T, "allegation without officer", no_off.sum())
    bad = ~no_off & al.uid.isna()
    rep.drop(T, "allegation with an unparseable UID", bad.sum())
    bad_cr = al.uid.notna() & al.cr.isna()
    rep.drop(T, "allegation without cr_id", bad_cr.sum())
    al = al[al.uid.notna() & al.cr.notna()].drop(columns="uid_raw")
    unknown = al.finding.notna() & ~isin(al.finding, FINDINGS)
    for v, n in al.loc[unknown, "finding"].value_counts().items():
        rep.recode(T, f"allegation finding {v} (unknown code) -> NO_FINDING", n)
    disp = {k: v[0] for k, v in FINDINGS.items() if v}
    sev = {k: v[1] for k, v in FINDINGS.items() if v}
    al["disp"] = al.finding.map(disp).where(~unknown, "NO_FINDING")
    al["sev"] = al.finding.map(sev).where(~unknown, NO_FINDING_RANK).fillna(EMPTY_RANK).astype("int8")
    return al


def build_cases(src: SourceTables, officers: pd.DataFrame, cap: pd.Timestamp, rep: Report) -> pd.DataFrame:
    T = "ia_cases"
    crs: dict[str, pd.Series] = {}
    per = _complaints(src, rep, crs)
    if isinstance(src, Sources):
        src.release("complaints", "complaints_2018")
    al = _allegations(src, rep)
    bad = ~al.uid.isin(officers.uid)
    rep.drop(T, "allegation of an officer not written", bad.sum())
    al = al[~bad]
    al = al.sort_values(["uid", "cr", "sev", "release", "order"])
    g = al.groupby(["uid", "cr"], sort=False)
    stats = g.agg(n=("sev", "size"), nrel=("release", "nunique"), nsev=("sev", "nunique"))
    case = g.head(1).set_index(["uid", "cr"]).join(stats)
    rep.recode(
        T,
        "several allegation rows (of one or both releases) of one officer in one CR -> one case, most serious finding kept",
        (case.n > 1).sum(),
    )
    rep.recode(T, "releases disagree on the finding -> most serious kept", ((case.nrel > 1) & (case.nsev > 1)).sum())
    case = case.reset_index().join(per, on="cr")
    bad = ~isin(case.cr, per.index)
    rep.drop(T, "CR not in the complaints files", bad.sum())
    case = case[~bad]
    bad = case.complaint.isna()
    rep.drop(T, "no complaint_date", bad.sum())
    case = case[~bad]
    rep.recode(T, "complaint_date differs between releases -> the later kept", case.complaint_differs.sum())
    rep.recode(T, "closed_date differs between releases -> the later kept", case.closed_differs.sum())
    bad = case.complaint > cap
    rep.drop(T, "complaint_date after extracted_at", bad.sum())
    case = case[~bad].copy()
    miss = case.incident.isna()
    rep.recode(T, "no incident date -> incident_date = complaint_date", miss.sum())
    case.loc[miss, "incident"] = case.loc[miss, "complaint"]
    late = case.incident > case.complaint
    rep.recode(T, "incident after complaint_date -> incident_date = complaint_date", late.sum())
    case.loc[late, "incident"] = case.loc[late, "complaint"]
    early = case.closed.notna() & (case.closed < case.complaint)
    rep.recode(T, "closed before complaint_date -> closed_date = complaint_date", early.sum())
    case.loc[early, "closed"] = case.loc[early, "complaint"]
    fut = case.closed > cap
    rep.recode(T, "closed_date after extracted_at -> PENDING", fut.sum())
    case.loc[fut, "closed"] = pd.NaT

    open_ = case.closed.isna()
    rep.recode(T, "finding without a closed date -> PENDING", (open_ & case.disp.notna()).sum())
    rep.recode(T, "closed without a finding -> NO_FINDING", (~open_ & case.disp.isna()).sum())
    for v, n in case.loc[~open_ & (case.sev == NO_FINDING_RANK), "finding"].value_counts().items():
        rep.recode(T, f"finding {v} -> NO_FINDING", n)
    case["disposition"] = case.disp.where(~open_, "PENDING").fillna("NO_FINDING")
    inter = case.outcome.where(~open_ & case.outcome.notna() & ~isin(case.outcome, NO_INTERVENTION))
    numeric = inter.notna() & inter.str.fullmatch(r"\d+").fillna(False).astype(bool)
    rep.recode(T, "outcome is a bare number -> intervention NULL", numeric.sum())
    case["intervention"] = inter.where(~numeric)
    case["event_type"] = case.ctype.map(EVENT_TYPE)
    rep.recode(T, "complainant type unknown -> CITIZEN_COMPLAINT", case.ctype.isna().sum())
    for v, n in case.loc[case.ctype.notna() & case.event_type.isna(), "ctype"].value_counts().items():
        rep.recode(T, f"complainant type {v} -> CITIZEN_COMPLAINT", n)
    case["event_type"] = case.event_type.fillna("CITIZEN_COMPLAINT")
    case = case.rename(columns={"incident": "incident_date", "complaint": "reported_date", "closed": "closed_date"})
    case["call_id"] = pd.NA
    for key, cr in crs.items():
        rep.used(key, int(isin(cr, case.cr).sum()))
    for key, rel in (("accused", 0), ("accused_2018", 1)):
        if key in src:
            rep.used(key, int((al.release == rel).sum()))
    return case[
        [
            "uid",
            "cr",
            "event_type",
            "incident_date",
            "reported_date",
            "closed_date",
            "disposition",
            "call_id",
            "intervention",
            "allegation",
        ]
    ].reset_index(drop=True)
