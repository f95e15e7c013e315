"""CPDP officers, rank_history (from the yearly salary rows) and assignments (from unit-history)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from eis_core.importers.cpdp_sources import Report, clean_text, isin, parse_date, parse_uid

RACE = {
    "WHITE": "WHITE",
    "BLACK": "BLACK",
    "HISPANIC": "HISPANIC",
    "ASIAN/PACIFIC ISLANDER": "ASIAN",
    "ASIAN": "ASIAN",
    "NATIVE AMERICAN/ALASKAN NATIVE": "OTHER",
}
SEX = {"MALE": "M", "FEMALE": "F"}
STILL_THERE = pd.Timestamp("2018-06-01")  # unit-history's "still in this unit" end date

_CAPTAIN = re.compile(r"\b(CAPTAIN|CAPT|COMMANDER|CHIEF|SUPERINTENDENT|SUPT)\b")
_LIEUTENANT = re.compile(r"\b(LIEUTENANT|LT)\b")
_SERGEANT = re.compile(r"\b(SERGEANT|SGT)\b")
_OFFICER = re.compile(r"^(POLICE OFFICER|PO|P\.O|DET|DETECTIVE|FIELD TRAINING|FTO)\b")


def map_rank(title: str) -> tuple[str, bool] | None:
    """A CPD title -> (contract rank, sworn). Command ranks (commander, chiefs, superintendents) -> CAPTAIN;
    detectives, field training officers and other 'PO assigned as ...' titles -> OFFICER; any other title is
    a civilian job (forensic investigator, legal officer, technician ...) -> (OFFICER, not sworn)."""
    t = re.sub(r"\s+", " ", str(title).upper()).strip()
    if _OFFICER.search(t):
        return "OFFICER", True
    if _SERGEANT.search(t):
        return "SERGEANT", True
    if _LIEUTENANT.search(t):
        return "LIEUTENANT", True
    if _CAPTAIN.search(t):
        return "CAPTAIN", True
    return "OFFICER", False


def _mapped_titles(titles: pd.Series) -> pd.DataFrame:
    uniq = titles.dropna().unique()
    m = {t: map_rank(t) for t in uniq}
    return pd.DataFrame(
        {
            "rank": titles.map(lambda t: m[t][0] if t in m else None),
            "sworn": titles.map(lambda t: m[t][1] if t in m else None),
        },
        index=titles.index,
    )


def build_officers(prof: pd.DataFrame, salary: pd.DataFrame | None, cap: pd.Timestamp, rep: Report) -> pd.DataFrame:
    """One row per UID; columns uid + the contract's officers columns (officer_id added later)."""
    T = "officers"
    df = pd.DataFrame({"uid": parse_uid(prof["UID"])})
    rep.drop(T, "UID missing or not a whole number", df.uid.isna().sum())
    df["hire_date"] = parse_date(prof["appointed_date"])
    df["separation_date"] = parse_date(prof["resignation_date"])
    by = pd.to_numeric(prof["birth_year"], errors="coerce")
    df["birth_year"] = by.where(by == by.round()).astype("Int64")
    df["gender"] = clean_text(prof["gender"])
    df["race_src"] = clean_text(prof["race"])
    df["title"] = clean_text(prof["current_rank"]).fillna(clean_text(prof["cleaned_rank"]))
    df = df[df.uid.notna()]
    dup = df.uid.duplicated()
    rep.drop(T, "duplicate UID (first row kept)", dup.sum())
    df = df[~dup]
    bad = df.hire_date.isna()
    rep.drop(T, "appointed_date missing or unparseable", bad.sum())
    df = df[~bad]
    bad = df.birth_year.isna()
    rep.drop(T, "birth_year missing", bad.sum())
    df = df[~bad]
    bad = (df.birth_year < 1900) | (df.birth_year > 2100)
    rep.drop(T, "birth_year outside 1900-2100", bad.sum())
    df = df[~bad]
    bad = df.hire_date > cap
    rep.drop(T, "appointed_date after extracted_at", bad.sum())
    df = df[~bad]
    bad = df.separation_date.notna() & (df.separation_date < df.hire_date)
    rep.drop(T, "resignation_date before appointed_date", bad.sum())
    df = df[~bad]
    fut = df.separation_date > cap
    rep.recode(T, "resignation_date after extracted_at -> separation_date NULL", fut.sum())
    df.loc[fut, "separation_date"] = pd.NaT

    df["sex"] = df.gender.map(SEX).fillna("X")
    for g, n in df.loc[~isin(df.gender, SEX), "gender"].fillna("(missing)").value_counts().items():
        rep.recode(T, f"gender {g} -> X", n)
    df["race"] = df.race_src.map(RACE)
    for r, n in df.loc[df.race_src.notna() & df.race.isna(), "race_src"].value_counts().items():
        rep.recode(T, f"race {r} -> OTHER", n)
    df.loc[df.race_src.notna() & df.race.isna(), "race"] = "OTHER"
    rep.recode(T, "race missing -> UNKNOWN", df.race_src.isna().sum())
    df["race"] = df.race.fillna("UNKNOWN")
    for r, n in df.loc[isin(df.race_src, [k for k, v in RACE.items() if k != v]), "race_src"].value_counts().items():
        rep.recode(T, f"race {r} -> {RACE[r]}", n)
    df["education"] = "UNKNOWN"
    rep.recode(T, "education not in the data -> UNKNOWN", len(df))

    # rank: the profile's current rank; without one, the officer's latest salary-file rank
    if salary is not None and df.title.isna().any():
        sal = pd.DataFrame(
            {
                "uid": parse_uid(salary["UID"]),
                "year": pd.to_numeric(salary["year"], errors="coerce"),
                "t": clean_text(salary["rank"]),
            }
        ).dropna()
        last = sal.sort_values("year").groupby("uid").t.last()
        fill = df.title.isna() & df.uid.isin(last.index)
        rep.recode(T, "current_rank missing -> latest salary-file rank", fill.sum())
        df.loc[fill, "title"] = df.loc[fill, "uid"].map(last)
    mapped = _mapped_titles(df.title)
    df["rank"], df["sworn"] = mapped["rank"], mapped["sworn"]
    for (t, r, s), n in pd.DataFrame({"t": df.title, "r": df["rank"], "s": df.sworn}).dropna().value_counts().items():
        rep.recode(T, f"rank {t} -> {r}{'' if s else ' (civilian title: sworn false)'}", n)
    none = df.title.isna()
    rep.recode(T, "rank missing -> OFFICER (sworn true)", none.sum())
    df.loc[none, "rank"], df.loc[none, "sworn"] = "OFFICER", True
    df["height_cm"] = pd.NA
    df["weight_kg"] = pd.NA
    return df.reset_index(drop=True)


def build_rank_history(salary: pd.DataFrame, officers: pd.DataFrame, cap: pd.Timestamp, rep: Report) -> pd.DataFrame:
    """A row each time an officer's mapped rank changes between salary years.

    start_date: the row's spp_date ("date of most recent promotion/rank change") when it is usable, i.e. not
    after the end of that salary year and after the previous rank's start (for the first row: not before the
    appointed date); otherwise 1 January of the salary year (the first row: the later of that and hire_date)."""
    T = "rank_history"
    df = pd.DataFrame(
        {
            "uid": parse_uid(salary["UID"]),
            "year": pd.to_numeric(salary["year"], errors="coerce"),
            "spp": parse_date(salary["spp_date"]),
            "title": clean_text(salary["rank"]),
        }
    )
    rep.skip(T, "salary row without UID", df.uid.isna().sum())
    df = df[df.uid.notna()]
    bad = ~df.uid.isin(officers.uid)
    rep.drop(T, "salary row of an officer not written", bad.sum())
    df = df[~bad]
    bad = df.year.isna() | df.title.isna()
    rep.drop(T, "salary row without year or rank", bad.sum())
    df = df[~bad]
    mapped = _mapped_titles(df.title)
    civ = ~mapped.sworn.astype(bool)
    rep.skip(T, "salary row with a civilian title", civ.sum())
    df = df[~civ].assign(rank=mapped.loc[~civ, "rank"])
    df = df.sort_values(["uid", "year"]).drop_duplicates(["uid", "year"], keep="last")
    prev_rank = df.groupby("uid")["rank"].shift()
    keep = prev_rank.isna() | (prev_rank != df["rank"])
    rep.skip(T, "salary year with the same rank as the year before", (~keep).sum())
    prev_year = df.groupby("uid")["year"].shift()
    df = df.assign(prev_year=prev_year)[keep].copy()
    df["first"] = ~df.uid.duplicated()
    df["jan1"] = pd.to_datetime(df.year.astype(int).astype(str) + "-01-01")
    dec31 = pd.to_datetime(df.year.astype(int).astype(str) + "-12-31")
    hire = df.uid.map(officers.set_index("uid").hire_date)
    # the previous rank row's start, known only after computing it: spp must be later than the previous
    # salary year in which the old rank was still paid (a promotion late in that year is allowed)
    prev_year_start = pd.to_datetime(df.prev_year.fillna(1900).astype(int).astype(str) + "-01-01")
    spp_ok = df.spp.notna() & (df.spp <= dec31) & np.where(df["first"], df.spp >= hire, df.spp > prev_year_start)
    fallback = np.where(df["first"], np.maximum(df.jan1, hire.where(hire <= dec31, df.jan1)), df.jan1)
    df["start_date"] = pd.Series(np.where(spp_ok, df.spp, fallback), index=df.index).astype("datetime64[ns]")
    rep.recode(T, "start_date = spp_date", spp_ok.sum())
    rep.recode(
        T,
        "no usable spp_date -> start_date = 1 January of the salary year (first row: hire date if later)",
        (~spp_ok).sum(),
    )
    # strictly increasing per officer (a stale spp_date could otherwise tie or cross the previous row)
    prev_start = df.groupby("uid").start_date.shift()
    cross = prev_start.notna() & (df.start_date <= prev_start)
    df.loc[cross, "start_date"] = df.loc[cross, "jan1"]
    rep.recode(T, "start_date not after the previous rank's -> 1 January of the salary year", cross.sum())
    prev_start = df.groupby("uid").start_date.shift()
    bad = prev_start.notna() & (df.start_date <= prev_start)
    rep.drop(T, "rank change not datable after the previous one", bad.sum())
    df = df[~bad]
    bad = df.start_date > cap
    rep.drop(T, "start_date after extracted_at", bad.sum())
    df = df[~bad]
    return df[["uid", "start_date", "rank"]].reset_index(drop=True)


def unit_label(unit: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(division, unit): CPD districts 1-25 -> 'DISTRICT_013'; other units -> 'UNIT_044'; unit = '044'."""
    u = unit.astype(int)
    code = u.map(lambda x: f"{x:03d}")
    division = np.where((u >= 1) & (u <= 25), "DISTRICT_" + code, "UNIT_" + code)
    return pd.Series(division, index=unit.index), code


def build_assignments(units: pd.DataFrame, officers: pd.DataFrame, cap: pd.Timestamp, rep: Report) -> pd.DataFrame:
    T = "assignments"
    df = pd.DataFrame(
        {
            "uid": parse_uid(units["UID"]),
            "start_date": parse_date(units["unit_start_date"]),
            "end_date": parse_date(units["unit_end_date"]),
            "unit_n": pd.to_numeric(units["unit"], errors="coerce"),
        }
    )
    rep.skip(T, "unit row without UID", df.uid.isna().sum())
    df = df[df.uid.notna()]
    bad = ~df.uid.isin(officers.uid)
    rep.drop(T, "unit row of an officer not written", bad.sum())
    df = df[~bad]
    bad = df.unit_n.isna() | (df.unit_n != df.unit_n.round()) | (df.unit_n < 0)
    rep.drop(T, "unit missing or not a number", bad.sum())
    df = df[~bad]
    bad = df.start_date.isna()
    rep.drop(T, "unit_start_date missing or unparseable", bad.sum())
    df = df[~bad]
    bad = df.start_date > cap
    rep.drop(T, "unit_start_date after extracted_at", bad.sum())
    df = df[~bad]
    still = df.end_date == STILL_THERE
    rep.recode(T, "unit_end_date 2018-06-01 (still there) -> end_date NULL", still.sum())
    df.loc[still, "end_date"] = pd.NaT
    fut = df.end_date > cap
    rep.recode(T, "unit_end_date after extracted_at -> end_date NULL", fut.sum())
    df.loc[fut, "end_date"] = pd.NaT
    inv = df.end_date.notna() & (df.end_date < df.start_date)
    rep.drop(T, "unit_end_date before unit_start_date (inverted)", inv.sum())
    df = df[~inv]
    sep = df.uid.map(officers.set_index("uid").separation_date)
    bad = sep.notna() & (df.start_date > sep)
    rep.drop(T, "unit row starting after the officer's separation date", bad.sum())
    df = df[~bad]
    # one row per (officer, start_date): the one that lasts longest (open = longest)
    df = df.assign(_end=df.end_date.fillna(pd.Timestamp.max)).sort_values(["uid", "start_date", "_end"])
    dup = df.duplicated(["uid", "start_date"], keep="last")
    rep.drop(T, "duplicate unit_start_date for an officer (longest kept)", dup.sum())
    df = df[~dup].drop(columns="_end")
    # each row ends before the officer's next row starts: closes overlaps and all but the last open row
    nxt = df.groupby("uid").start_date.shift(-1)
    limit = nxt - pd.Timedelta(days=1)
    opened = nxt.notna() & df.end_date.isna()
    over = nxt.notna() & df.end_date.notna() & (df.end_date > limit)
    rep.recode(T, "open row followed by a later row -> closed the day before it", opened.sum())
    rep.recode(T, "row overlapping the next one -> end_date the day before the next start", over.sum())
    df.loc[opened | over, "end_date"] = limit[opened | over]
    # the open row of an officer who left ends at the separation date
    sep = df.uid.map(officers.set_index("uid").separation_date)
    close = df.end_date.isna() & sep.notna() & (sep >= df.start_date)
    rep.recode(T, "open row of a separated officer -> end_date = separation_date", close.sum())
    df.loc[close, "end_date"] = sep[close]
    late = df.end_date.notna() & sep.notna() & (df.end_date > sep)
    rep.recode(T, "row ending after the separation date -> end_date = separation_date", late.sum())
    df.loc[late, "end_date"] = sep[late]
    df["division"], df["unit"] = unit_label(df.unit_n)
    df["beat"] = "UNKNOWN"
    df["shift"] = "UNKNOWN"
    return df[["uid", "start_date", "end_date", "division", "beat", "unit", "shift"]].reset_index(drop=True)
