"""CPDP tactical response reports (TRR-main / TRR-officers / TRR-statuses) -> use_of_force.

A TRR's approval is a supervisor's review of the report, not an Internal Affairs finding: TRRs never
become ia_cases.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from eis_core.importers.cpdp_sources import Report, SourceTables, clean_text, isin, parse_date, parse_uid

YES_NO = {"YES": True, "Y": True, "1": True, "TRUE": True, "NO": False, "N": False, "0": False, "FALSE": False}


def _flag(s: pd.Series) -> pd.Series:
    return pd.to_numeric(s, errors="coerce").fillna(0) > 0


def build_force(src: SourceTables, officers: pd.DataFrame, cap: pd.Timestamp, rep: Report) -> pd.DataFrame:
    T = "use_of_force"
    tm, to, ts = src["trr_main"], src["trr_officers"], src["trr_statuses"]
    main = pd.DataFrame(
        {
            "trr": tm["trr_id"].str.replace(r"\.0+$", "", regex=True),
            "date": parse_date(tm["trr_date"]),
            "time": tm["trr_time"],
            "taser": _flag(tm["taser"]),
            "firearm": _flag(tm["firearm_used"]),
        }
    )
    dup = main.trr.duplicated()
    rep.drop(T, "duplicate trr_id in TRR-main (first kept)", dup.sum())
    main = main[~dup & main.trr.notna()]
    off = pd.DataFrame(
        {
            "trr": to["trr_id"].str.replace(r"\.0+$", "", regex=True),
            "uid_raw": to["UID"],
            "uid": parse_uid(to["UID"]),
            "injured": clean_text(to["injured"]),
        }
    )
    rep.skip(T, "TRR-officers row without officer", off.uid_raw.isna().sum())
    rep.drop(T, "TRR-officers row with an unparseable UID", (off.uid_raw.notna() & off.uid.isna()).sum())
    off = off[off.uid.notna()]
    bad = ~off.uid.isin(officers.uid)
    rep.drop(T, "TRR of an officer not written", bad.sum())
    off = off[~bad]
    dup = off.duplicated(["trr", "uid"])
    rep.drop(T, "duplicate officer in one TRR (first kept)", dup.sum())
    off = off[~dup]
    df = off.merge(main, on="trr", how="left", indicator=True)
    bad = df._merge != "both"
    rep.drop(T, "trr_id not in TRR-main", bad.sum())
    df = df[~bad].drop(columns="_merge")
    bad = df.date.isna()
    rep.drop(T, "trr_date missing or unparseable", bad.sum())
    df = df[~bad].copy()
    tm = df.time.fillna("")
    tm = tm.where(tm.str.len() != 5, tm + ":00")
    ts_ = pd.to_datetime(df.date.dt.strftime("%Y-%m-%d") + "T" + tm, format="%Y-%m-%dT%H:%M:%S", errors="coerce")
    rep.recode(T, "trr_time missing or unparseable -> 00:00:00", ts_.isna().sum())
    df["occurred_at"] = ts_.fillna(df.date)
    bad = df.occurred_at.dt.normalize() > cap.normalize()
    rep.drop(T, "trr_date after extracted_at", bad.sum())
    df = df[~bad].copy()
    df["force_type"] = np.select([df.firearm, df.taser], ["FIREARM", "TASER"], "OTHER")
    rep.recode(T, "firearm_used -> FIREARM", (df.force_type == "FIREARM").sum())
    rep.recode(T, "taser (no firearm) -> TASER", (df.force_type == "TASER").sum())
    rep.recode(
        T, "neither firearm nor taser -> OTHER (kind of force not in these files)", (df.force_type == "OTHER").sum()
    )
    df["officer_injured"] = df.injured.map(YES_NO)
    rep.recode(T, "injured missing or unknown -> officer_injured NULL", df.officer_injured.isna().sum())
    df["subject_injured"] = pd.NA

    st = pd.DataFrame(
        {
            "trr": ts["trr_id"].str.replace(r"\.0+$", "", regex=True),
            "status": clean_text(ts["status"]),
            "date": parse_date(ts["status_date"]),
        }
    ).dropna()
    appr = st[st.status == "APPROVED"].groupby("trr").date.max()
    revd = st[st.status == "REVIEWED"].groupby("trr").date.max()
    df["reviewed_on"] = df.trr.map(appr)
    df["review_outcome"] = df.reviewed_on.notna().map({True: "APPROVED", False: None})
    only_rev = df.reviewed_on.isna() & isin(df.trr, revd.index)
    rep.recode(T, "reviewed but never approved -> reviewed_on = review date, review_outcome NULL", only_rev.sum())
    df.loc[only_rev, "reviewed_on"] = df.loc[only_rev, "trr"].map(revd)
    rep.recode(T, "no review status -> reviewed_on NULL", df.reviewed_on.isna().sum())
    bad = df.reviewed_on.notna() & ((df.reviewed_on < df.occurred_at.dt.normalize()) | (df.reviewed_on > cap))
    rep.recode(T, "review dated before the event or after extracted_at -> reviewed_on, review_outcome NULL", bad.sum())
    df.loc[bad, "reviewed_on"] = pd.NaT
    df.loc[bad, "review_outcome"] = None
    rep.used("trr_main", int(isin(main.trr, df.trr).sum()))
    rep.used("trr_officers", len(df))
    rep.used("trr_statuses", int(isin(st.trr, df.trr).sum()))
    df = df.rename(columns={"trr": "report_id"})
    return df[
        [
            "report_id",
            "uid",
            "occurred_at",
            "force_type",
            "subject_injured",
            "officer_injured",
            "reviewed_on",
            "review_outcome",
        ]
    ].reset_index(drop=True)
