"""The simulation, part: the officers' activity (arrests, traffic stops, field interviews, citations) and
crime reports, drawn over each officer's duty cells.  A mixin of the simulation (see
:mod:`eis_core.synth.generator`), extended by :class:`eis_core.synth.sim_incidents.IncidentsSim`."""

from __future__ import annotations

import numpy as np

from eis_core.synth._arrow import id_array, pa_take
from eis_core.synth.params import (
    CHARGES,
    CIT_TYPES,
    DAY,
    FI_TYPES,
    OFF_CLEAR,
    OFF_SEV,
    OFF_VIOLENT,
    OFFENSES,
    RACE,
    RANK_DISPATCH,
    RATES,
    STOP_OUTCOMES,
    STOP_REASONS,
    UNIT_DISPATCH,
    UNIT_STOPS,
    WEAPON_SEV,
    WEAPONS,
    choice,
    choice_rows,
    sigmoid,
)


class ActivitySim:
    """The officers' activity (arrests, stops, field interviews, citations) and crime reports."""

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
            race = choice_rows(rng, self.race_cum, c_beat[cell])
            race = np.where(rng.random(m) < null_p, -1, race)
            sex = np.where(rng.random(m) < null_p, -1, np.where(rng.random(m) < 0.72, 0, 1))
            age = np.clip(rng.gamma(4, 7.5, m) + 14, 14, 90).astype(np.int64)
            return ("codes", RACE, race), ("codes", ["M", "F"], sex), (age, rng.random(m) < null_p)

        # arrests: high-crime beats and proactive officers arrest more
        cell, t = draw(act * np.exp(0.6 * cz) * pro**1.2, RATES["arrests"])
        rec = self.recorded("arrests", t // DAY)
        cell, t = cell[rec], t[rec]
        m = cell.size
        chg = choice(rng, [0.16, 0.22, 0.2, 0.17, 0.1, 0.1, 0.05], m)
        chg = np.where((rng.random(m) < 0.08 * np.exp(0.5 * cz[cell])) & (chg != 0), 0, chg)
        discr = np.isin(chg, [2, 3, 4]) & (rng.random(m) < sigmoid(-0.4 + 1.6 * np.log(pro[cell])))
        pc_ = np.where(rng.random(m) < 0.04, -1, (rng.random(m) < 0.95 - 0.05 * discr).astype(int))
        has = dhi[cell] > dlo[cell]
        link = has & (rng.random(m) < 0.6)
        pick = (
            dorder[np.minimum(dlo[cell] + (rng.random(m) * (dhi[cell] - dlo[cell])).astype(np.int64), dorder.size - 1)]
            if dorder.size
            else np.zeros(m, np.int64)
        )
        link &= disp["recorded"][pick] if dorder.size else False
        r_, s_, a_ = demo(cell, 0.03)
        ids = self.seq["arrest"] + np.arange(m)
        self.seq["arrest"] += m
        self.w.write(
            "arrests",
            {
                "arrest_id": id_array("A", ids, 8),
                "officer_id": pa_take(self.ids, c_off[cell]),
                "arrested_at": t,
                "division": ("codes", self.div_names, self.beat_div[c_beat[cell]]),
                "beat": ("codes", self.beat_names, c_beat[cell]),
                "charge_category": ("codes", CHARGES, chg),
                "discretionary_only": discr,
                "probable_cause": (pc_ == 1, pc_ < 0),
                "suspect_race": r_,
                "suspect_sex": s_,
                "suspect_age": a_,
                "call_id": id_array("C", np.where(link, disp["call_no"][pick] if dorder.size else 0, 0), 9, ~link),
            },
        )
        # traffic stops
        cell, t = draw(act * UNIT_STOPS[c_unit] * np.exp(0.2 * cz) * pro**1.3, RATES["traffic_stops"])
        m = cell.size
        reason = choice(rng, [0.38, 0.22, 0.1, 0.14, 0.1, 0.06], m)
        searched = rng.random(m) < sigmoid(-3.0 + 0.6 * cz[cell] + 0.5 * np.log(pro[cell]) + 1.2 * (reason == 4))
        contra = np.where(searched, rng.random(m) < 0.28, False)
        zz = self.z[c_off[cell], self.month_of[t // DAY - self.d0]]
        uof = rng.random(m) < 0.003 * np.exp(0.5 * cz[cell] + 0.4 * zz)
        outc = choice(rng, [0.12, 0.42, 0.43, 0.03], m)
        outc = np.where(contra & (rng.random(m) < 0.7), 3, outc)
        r_, s_, a_ = demo(cell, 0.02)
        ids = self.seq["stop"] + np.arange(m)
        self.seq["stop"] += m
        self.w.write(
            "traffic_stops",
            {
                "stop_id": id_array("S", ids, 9),
                "officer_id": pa_take(self.ids, c_off[cell]),
                "stopped_at": t,
                "division": ("codes", self.div_names, self.beat_div[c_beat[cell]]),
                "beat": ("codes", self.beat_names, c_beat[cell]),
                "reason": ("codes", STOP_REASONS, reason),
                "outcome": ("codes", STOP_OUTCOMES, outc),
                "searched": searched,
                "contraband_found": (contra, ~searched),
                "use_of_force": uof,
                "driver_race": r_,
                "driver_sex": s_,
                "driver_age": a_,
            },
        )
        # field interviews
        cell, t = draw(act * np.exp(0.7 * cz) * pro**1.2, RATES["field_interviews"])
        rec = self.recorded("field_interviews", t // DAY)
        cell, t = cell[rec], t[rec]
        m = cell.size
        fit = choice(rng, [0.38, 0.22, 0.05, 0.2, 0.15], m)
        r_, s_, a_ = demo(cell, 0.05)
        ids = self.seq["fi"] + np.arange(m)
        self.seq["fi"] += m
        self.w.write(
            "field_interviews",
            {
                "fi_id": id_array("FI", ids, 8),
                "officer_id": pa_take(self.ids, c_off[cell]),
                "occurred_at": t,
                "division": ("codes", self.div_names, self.beat_div[c_beat[cell]]),
                "beat": ("codes", self.beat_names, c_beat[cell]),
                "fi_type": ("codes", FI_TYPES, fit),
                "person_race": r_,
                "person_sex": s_,
                "person_age": a_,
            },
        )
        # citations
        cell, t = draw(act * UNIT_STOPS[c_unit] ** 1.2 * np.exp(0.05 * cz) * pro, RATES["citations"])
        rec = self.recorded("citations", t // DAY)
        cell, t = cell[rec], t[rec]
        m = cell.size
        ids = self.seq["cit"] + np.arange(m)
        self.seq["cit"] += m
        self.w.write(
            "citations",
            {
                "citation_id": id_array("CT", ids, 9),
                "officer_id": pa_take(self.ids, c_off[cell]),
                "issued_at": t,
                "division": ("codes", self.div_names, self.beat_div[c_beat[cell]]),
                "citation_type": ("codes", CIT_TYPES, choice(rng, [0.55, 0.12, 0.15, 0.1, 0.08], m)),
                "electronic": rng.random(m) < sigmoid(0.7 * (year - 2009)),
            },
        )
        self.crime_reports(rng, year, days, n_cells, c_off, c_beat, c_start, c_len, cz, act, draw)

    def crime_reports(self, rng, year, days, n_cells, c_off, c_beat, c_start, c_len, cz, act, draw):
        cell, t = draw(act**0.5 * np.exp(0.75 * cz), RATES["crime_reports"] * 0.92)
        m1 = cell.size
        # reports taken without an officer (online / desk), about 8%
        m2 = int(rng.poisson(m1 * 0.087))
        b2 = choice(rng, self.crime**0.75, m2)
        t2 = (days[rng.integers(0, days.size, m2)] * DAY + rng.integers(0, DAY, m2)).astype(np.int64)
        beat = np.concatenate([c_beat[cell], b2])
        off = np.concatenate([c_off[cell], np.full(m2, -1)])
        rep = np.concatenate([t, t2])
        keep = (rep <= self.extracted_at) & self.recorded("crime_reports", rep // DAY)
        o = np.lexsort((beat[keep], rep[keep]))
        beat, off, rep = beat[keep][o], off[keep][o], rep[keep][o]
        m = beat.size
        offense = choice_rows(rng, self.off_cum, beat)
        violent = OFF_VIOLENT[offense]
        wp = np.where(
            violent, choice(rng, [0.45, 0.3, 0.12, 0.08, 0.05], m), choice(rng, [0.9, 0.02, 0.01, 0.03, 0.04], m)
        )
        wp = np.where(offense == OFFENSES.index("WEAPONS"), np.where(rng.random(m) < 0.8, 1, 3), wp)
        victims = np.where(
            np.isin(offense, [8, 10]), rng.poisson(0.2, m), 1 + rng.poisson(np.where(violent, 0.35, 0.12))
        )
        gang = rng.random(m) < sigmoid(-3.2 + 0.7 * self.crime_z[beat] + 1.3 * violent)
        dv = (offense == 1) & (rng.random(m) < 0.35) | (rng.random(m) < 0.01)
        narc = (offense == 8) & (rng.random(m) < 0.95) | (rng.random(m) < 0.03)
        hate = rng.random(m) < 0.003
        child = rng.random(m) < np.where(offense == 3, 0.25, 0.03)
        suic = rng.random(m) < 0.004
        score = (
            OFF_SEV[offense]
            + WEAPON_SEV[wp]
            + 0.5 * np.log1p(victims)
            + 0.6 * gang
            + 0.35 * dv
            + 0.8 * child
            + 0.9 * hate
            + 0.5 * suic
            + rng.normal(0, 0.55, m)
        )
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
        self.w.write(
            "crime_reports",
            {
                "report_id": id_array("R", ids, 9),
                "officer_id": pa_take(self.ids, off),
                "reported_at": rep,
                "occurred_at": occ,
                "division": ("codes", self.div_names, self.beat_div[beat]),
                "beat": ("codes", self.beat_names, beat),
                "offense_category": ("codes", OFFENSES, offense),
                "weapon": ("codes", WEAPONS, wp),
                "victim_count": victims.astype(np.int64),
                "gang_related": gang,
                "domestic_violence": dv,
                "narcotics": narc,
                "hate_crime": hate,
                "child_involved": child,
                "suicide_related": suic,
                "severity": ("codes", ["HIGH", "MEDIUM", "LOW"], sev),
                "cleared_at": (clr, ~cleared),
            },
        )
