"""The simulation, part: adverse incidents and IA cases.  The officers' activity (arrests, stops, ...) and
crime reports are :mod:`eis_core.synth.sim_activity`, which :class:`IncidentsSim` extends."""

from __future__ import annotations

import numpy as np

from eis_core.synth.params import (
    ADVERSE_DISPO,
    ADVERSE_LINKED_SHARE,
    ADVERSE_OFFICER_SHARE,
    BENIGN_DISPO,
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
    RATES,
    REPORT_DELAY,
    T_TSTOP,
    TYPE_RISKY,
    TYPE_STRESS,
    choice,
)
from eis_core.synth.sim_activity import ActivitySim


class IncidentsSim(ActivitySim):
    """Adverse incidents and IA cases; the officers' activity and crime reports come from ActivitySim."""

    def adverse_and_ia(self, rng, year, days, nd, disp, logm, duty, sworn_act, active, bz):
        n = self.n
        # situational weight of each dispatch
        tmin = np.maximum(disp["travel"], 30) / 60.0
        r = np.exp(
            0.55 * np.log(tmin / 6.0) * ~disp["oi"]
            + 0.8 * disp["oi"]
            + 0.9 * TYPE_RISKY[disp["type"]]
            + 0.12 * np.clip(disp["hours_on"] - 8, 0, 8)
            + 0.35 * TYPE_STRESS[disp["type"]]
            + 0.2 * (disp["prio"] <= 2)
        )
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
        prior = self.last_adverse >= ys - 730
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
            li = lorder[lst[i] : lst[i + 1]]
            di = dorder[dst[i] : dst[i + 1]]
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
        b_link = np.sqrt(r) * np.exp(
            0.3 * zd.ravel()[disp["off"] * nd + disp["dd"]]
            + 0.55 * self.crime_z[disp["beat"]]
            + 0.3 * np.log(self.proact[disp["off"]])
        )
        all_cells = np.flatnonzero(active.ravel())
        ao = all_cells // nd
        b_day = (
            np.exp(0.2 * zd.ravel()[all_cells])
            * np.where(self.sworn[ao], 1.0, 0.25)
            * np.where(duty.ravel()[all_cells], 1.0, 0.3)
            * np.exp(0.2 * bz.ravel()[all_cells])
        )
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
        for mask, p in (
            (adv_all & linked, EV_ADV_LINK),
            (adv_all & ~linked, EV_ADV_DAY),
            (~adv_all & linked, EV_BEN_LINK),
            (~adv_all & ~linked & ~civ, EV_BEN_DAY),
            (~adv_all & ~linked & civ, EV_CIVIL),
        ):
            ev[mask] = choice(rng, p, int(mask.sum()))
        # officer-initiated traffic work ends in pursuits more often
        djs = np.where(linked, dj_all, 0)
        tstop = linked & (disp["type"][djs] == T_TSTOP) & (rng.random(m) < 0.3)
        ev[tstop & np.isin(ev, [EVENT_INDEX["USE_OF_FORCE"], EVENT_INDEX["CITIZEN_COMPLAINT"]])] = EVENT_INDEX[
            "PURSUIT"
        ]
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
        interv[ai] = choice(rng, [0.4, 0.3, 0.2, 0.1], int(ai.sum()))
        bi = ~adv_all & ~pending & (rng.random(m) < 0.05)
        interv[bi] = 0
        call = np.where(linked & (rng.random(m) < 0.9), dj_all, -1)
        call_ok = call >= 0
        call_ok[call_ok] = disp["recorded"][call[call_ok]]
        call_no = np.where(call_ok, disp["call_no"][np.where(call >= 0, call, 0)], -1)
        known = rep_day <= self.d1
        self.ia_parts.append(
            dict(
                off=off_all[known],
                inc=inc_day[known],
                rep=rep_day[known],
                close=close_day[known],
                pending=pending[known],
                ev=ev[known],
                dispo=np.where(pending, DISPO_INDEX["PENDING"], dispo)[known],
                true_dispo=dispo[known],
                call=call_no[known],
                interv=interv[known],
                adverse=adv_all[known],
            )
        )
