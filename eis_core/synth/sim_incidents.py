"""The simulation, part: adverse incidents and IA cases, the officers' activity (arrests, stops, ...), crime reports."""

from __future__ import annotations

import numpy as np

from eis_core.synth._arrow import id_array, pa_take
from eis_core.synth.params import (
    ADVERSE_DISPO,
    ADVERSE_LINKED_SHARE,
    ADVERSE_OFFICER_SHARE,
    BENIGN_DISPO,
    CHARGES,
    CIT_TYPES,
    CLOSE_DELAY,
    DAY,
    DISPO_INDEX,
    EV_ADV_DAY,
    EV_ADV_LINK,
    EV_BEN_DAY,
    EV_BEN_LINK,
    EV_CIVIL,
    EVENT_INDEX,
    EVENT_TYPES,
    FI_TYPES,
    OFF_CLEAR,
    OFF_SEV,
    OFF_VIOLENT,
    OFFENSES,
    RACE,
    RANK_DISPATCH,
    RATES,
    REPORT_DELAY,
    STOP_OUTCOMES,
    STOP_REASONS,
    T_TSTOP,
    TYPE_RISKY,
    TYPE_STRESS,
    UNIT_DISPATCH,
    UNIT_STOPS,
    WEAPON_SEV,
    WEAPONS,
    choice,
    choice_rows,
    sigmoid,
)


class IncidentsSim:
    """adverse incidents and IA cases, the officers' activity (arrests, stops, ...), crime reports."""

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
        share = (self.cfg.adverse_share or ADVERSE_OFFICER_SHARE) + rng.uniform(-0.004, 0.004)
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
            ev[mask] = choice(rng, p, int(mask.sum()))
        # officer-initiated traffic work ends in pursuits more often
        djs = np.where(linked, dj_all, 0)
        tstop = linked & (disp["type"][djs] == T_TSTOP) & (rng.random(m) < 0.3)
        ev[tstop & np.isin(ev, [EVENT_INDEX["USE_OF_FORCE"], EVENT_INDEX["CITIZEN_COMPLAINT"]])] = EVENT_INDEX["PURSUIT"]
        dispo = np.empty(m, np.int64)
        dispo[adv_all] = ADVERSE_DISPO[ev[adv_all]]
        for e, opts in BENIGN_DISPO.items():
            sel = ~adv_all & (ev == EVENT_INDEX[e])
            names, wts = zip(*opts)
            dispo[sel] = np.array([DISPO_INDEX[x] for x in names])[choice(rng, np.array(wts, float), int(sel.sum()))]
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
        interv[ai] = choice(rng, [.4, .3, .2, .1], int(ai.sum()))
        bi = ~adv_all & ~pending & (rng.random(m) < 0.05)
        interv[bi] = 0
        call = np.where(linked & (rng.random(m) < 0.9), dj_all, -1)
        call_ok = call >= 0
        call_ok[call_ok] = disp["recorded"][call[call_ok]]
        call_no = np.where(call_ok, disp["call_no"][np.where(call >= 0, call, 0)], -1)
        known = rep_day <= self.d1
        self.ia_parts.append(dict(
            off=off_all[known], inc=inc_day[known], rep=rep_day[known], close=close_day[known], pending=pending[known],
            ev=ev[known], dispo=np.where(pending, DISPO_INDEX["PENDING"], dispo)[known], true_dispo=dispo[known],
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
            race = choice_rows(rng, self.race_cum, c_beat[cell])
            race = np.where(rng.random(m) < null_p, -1, race)
            sex = np.where(rng.random(m) < null_p, -1, np.where(rng.random(m) < 0.72, 0, 1))
            age = np.clip(rng.gamma(4, 7.5, m) + 14, 14, 90).astype(np.int64)
            return ("codes", RACE, race), ("codes", ["M", "F"], sex), (age, rng.random(m) < null_p)

        # arrests: high-crime beats and proactive officers arrest more
        cell, t = draw(act * np.exp(0.6 * cz) * pro ** 1.2, RATES["arrests"])
        rec = self.recorded("arrests", t // DAY)
        cell, t = cell[rec], t[rec]
        m = cell.size
        chg = choice(rng, [.16, .22, .2, .17, .1, .1, .05], m)
        chg = np.where((rng.random(m) < 0.08 * np.exp(0.5 * cz[cell])) & (chg != 0), 0, chg)
        discr = np.isin(chg, [2, 3, 4]) & (rng.random(m) < sigmoid(-0.4 + 1.6 * np.log(pro[cell])))
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
        reason = choice(rng, [.38, .22, .1, .14, .1, .06], m)
        searched = rng.random(m) < sigmoid(-3.0 + 0.6 * cz[cell] + 0.5 * np.log(pro[cell]) + 1.2 * (reason == 4))
        contra = np.where(searched, rng.random(m) < 0.28, False)
        zz = self.z[c_off[cell], self.month_of[t // DAY - self.d0]]
        uof = rng.random(m) < 0.003 * np.exp(0.5 * cz[cell] + 0.4 * zz)
        outc = choice(rng, [.12, .42, .43, .03], m)
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
        fit = choice(rng, [.38, .22, .05, .2, .15], m)
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
            "citation_type": ("codes", CIT_TYPES, choice(rng, [.55, .12, .15, .1, .08], m)),
            "electronic": rng.random(m) < sigmoid(0.7 * (year - 2009)),
        })
        self.crime_reports(rng, year, days, n_cells, c_off, c_beat, c_start, c_len, cz, act, draw)

    def crime_reports(self, rng, year, days, n_cells, c_off, c_beat, c_start, c_len, cz, act, draw):
        cell, t = draw(act ** 0.5 * np.exp(0.75 * cz), RATES["crime_reports"] * 0.92)
        m1 = cell.size
        # reports taken without an officer (online / desk), about 8%
        m2 = int(rng.poisson(m1 * 0.087))
        b2 = choice(rng, self.crime ** 0.75, m2)
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
        wp = np.where(violent, choice(rng, [.45, .3, .12, .08, .05], m), choice(rng, [.9, .02, .01, .03, .04], m))
        wp = np.where(offense == OFFENSES.index("WEAPONS"), np.where(rng.random(m) < 0.8, 1, 3), wp)
        victims = np.where(np.isin(offense, [8, 10]), rng.poisson(0.2, m), 1 + rng.poisson(np.where(violent, 0.35, 0.12)))
        gang = rng.random(m) < sigmoid(-3.2 + 0.7 * self.crime_z[beat] + 1.3 * violent)
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
