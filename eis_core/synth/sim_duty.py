"""The simulation, part: one simulated year (the officer x day grid), training, secondary employment and dispatches."""

from __future__ import annotations

import datetime as dt

import numpy as np

from eis_core.synth._arrow import id_array, pa_take
from eis_core.synth.params import (
    CALL_DISPO,
    CALL_TYPES,
    CIT_IDX,
    COURSE_HOURS,
    COURSE_NAMES,
    COURSE_TOPIC,
    DAY,
    DISPATCHES_PER_CALL,
    EMPLOYERS,
    OI_IDX,
    OI_W,
    RANK_DISPATCH,
    RATES,
    RELEVANT_TOPICS,
    SHIFT_BETA,
    SHIFT_CALL_MULT,
    SHIFT_START_H,
    SOURCES,
    T_ALARM,
    T_DOMESTIC,
    T_TSTOP,
    TOPIC_P,
    TOPICS,
    TYPE_BACKUP,
    TYPE_PRIO,
    TYPE_SCENE,
    TYPE_STRESS,
    UNIT_DISPATCH,
    choice,
    choice_rows,
    holidays,
    rng_for,
    to_day,
)


class DutySim:
    """one simulated year (the officer x day grid), training, secondary employment and dispatches."""

    # ---------------------------------------------------------------- one year
    def year(self, year: int):
        rng = rng_for(self.seed, 100, year)
        ys, ye = max(to_day(dt.date(year, 1, 1)), self.d0), min(to_day(dt.date(year, 12, 31)), self.d1)
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
            beat[i, a:b] = s["beat"][k]
            shift[i, a:b] = s["shift"][k]
            unit[i, a:b] = s["unit"][k]
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
        wz, wb, ws, wh, wt = self.cfg.risk_weights
        logm = (
            wz * zgrid
            + wb * bz
            + ws * np.minimum(stress3, 4)
            + wh * np.clip((hours7 - 45) / 10, -1, 3)
            - wt * (tstock - ts_mean) / ts_sd
        ).astype(np.float32)
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
        setattr(self, f"_tail_{key}", ext[:, -(k - 1) :].copy())
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
        topic = choice(rng, TOPIC_P, m)
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
        self.w.write(
            "training",
            {
                "training_id": id_array("T", ids, 9),
                "officer_id": pa_take(self.ids, o),
                "completed_on": days[dd],
                "course": ("codes", COURSE_NAMES, course),
                "topic": ("codes", TOPICS, topic),
                "credit_hours": COURSE_HOURS[course],
            },
        )

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
        hours = np.array([3, 4, 5, 6, 8, 10, 12], float)[choice(rng, [0.1, 0.25, 0.15, 0.2, 0.18, 0.08, 0.04], m)]
        start = days[dd] * DAY + rng.integers(7, 20, m) * 3600 + rng.choice([0, 1800], m)
        hours_grid = np.zeros(n * nd, np.float32)
        np.add.at(hours_grid, idx, hours)
        emp = choice(rng, [0.3, 0.12, 0.1, 0.18, 0.1, 0.2], m)
        inc = rng.poisson(np.where(emp == 3, 0.25, 0.08))
        keep = (start <= self.extracted_at) & self.recorded("secondary_employment", days[dd])
        order = np.lexsort((o, start))
        order = order[keep[order]]
        ids = self.seq["job"] + np.arange(order.size)
        self.seq["job"] += order.size
        self.w.write(
            "secondary_employment",
            {
                "job_id": id_array("J", ids, 9),
                "officer_id": pa_take(self.ids, o[order]),
                "start_at": start[order],
                "hours": hours[order],
                "employer_type": ("codes", EMPLOYERS, emp[order]),
                "incident_count": inc[order],
            },
        )
        return hours_grid.reshape(n, nd)

    def dispatches(self, rng, year, days, nd, c_off, c_dd, c_beat, c_shift, c_unit, c_len, c_start, wd):
        hol = holidays(year)
        day_mult = np.array([1.0, 0.95, 0.95, 0.97, 1.1, 1.18, 1.02])[wd]
        doy = (days - to_day(dt.date(year, 1, 1))) / 365.25
        day_mult = day_mult * (1 + 0.08 * np.sin(2 * np.pi * (doy - 0.3)))
        hm = np.array([hol.get(int(d), 1.0) for d in days])
        day_mult = day_mult * hm
        base = (
            UNIT_DISPATCH[c_unit]
            * RANK_DISPATCH[self.rank[c_off]]
            * self.crime[c_beat] ** 0.35
            * day_mult[c_dd]
            * SHIFT_CALL_MULT[c_shift]
            * (c_len / 10)
        )
        lam_c, lam_o = base, base * 0.42 * self.proact[c_off]
        target = RATES["dispatches"] * self.cfg.activity / DISPATCHES_PER_CALL * (self.sworn_days / 365.25)
        f = target / max(lam_c.sum() + lam_o.sum(), 1e-9)
        kc, ko = rng.poisson(lam_c * f), rng.poisson(lam_o * f)
        cell = np.concatenate([np.repeat(np.arange(c_off.size), kc), np.repeat(np.arange(c_off.size), ko)])
        oi = np.concatenate([np.zeros(kc.sum(), bool), np.ones(ko.sum(), bool)])
        m = cell.size
        b = c_beat[cell]
        ctype = np.where(oi, OI_IDX[choice(rng, OI_W, m)], CIT_IDX[choice_rows(rng, self.cit_cum, b)])
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
        src = np.where(
            oi, 2, np.where(ctype == T_ALARM, 3, np.where(prio <= 4, 0, np.where(rng.random(m) < 0.7, 1, 0)))
        )
        queue = np.where(oi, 0, rng.exponential(30 + 110 * (prio - 1), m)).astype(np.int64)
        disp_t = recv + queue
        travel = np.where(
            oi,
            rng.integers(0, 120, m),
            rng.lognormal(np.log(240 + 35 * prio) + 0.4 * np.log(self.beat_area[b]), 0.55, m),
        ).astype(np.int64)
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
        cd = choice(rng, [0.35, 0.06, 0.3, 0.2, 0.09, 0], m)
        cd = np.where(cancel, 5, cd)
        cd = np.where(rng.random(m) < 0.01, -1, cd)
        sel = np.flatnonzero(rec_calls)
        sel = sel[np.argsort(call_no[sel], kind="stable")]
        no_geo = rng.random(sel.size) < 0.02
        self.w.write(
            "calls_for_service",
            {
                "call_id": id_array("C", call_no[sel], 9),
                "received_at": recv[sel],
                "call_type": ("codes", CALL_TYPES, ctype[sel]),
                "priority": prio[sel],
                "source": ("codes", SOURCES, src[sel]),
                "division": ("codes", self.div_names, self.beat_div[b[sel]]),
                "beat": ("codes", self.beat_names, b[sel]),
                "lat": (np.round(self.beat_lat[b[sel]] + rng.normal(0, 0.008, sel.size), 5), no_geo),
                "lon": (np.round(self.beat_lon[b[sel]] + rng.normal(0, 0.01, sel.size), 5), no_geo),
                "disposition": ("codes", CALL_DISPO, cd[sel]),
            },
        )
        ds = np.flatnonzero(rec_disp)
        ds = ds[np.lexsort((d_off[ds], d_disp[ds], call_no[d_call[ds]]))]
        self.w.write(
            "dispatches",
            {
                "call_id": id_array("C", call_no[d_call[ds]], 9),
                "officer_id": pa_take(self.ids, d_off[ds]),
                "dispatched_at": d_disp[ds],
                "arrived_at": (d_arr[ds], d_noarr[ds]),
                "cleared_at": (d_clear[ds], d_noclear[ds]),
            },
        )
        keep = d_ok
        return dict(
            off=d_off[keep],
            dd=c_dd[d_cell[keep]],
            cell=d_cell[keep],
            type=ctype[d_call[keep]],
            oi=oi[d_call[keep]],
            prio=prio[d_call[keep]],
            travel=d_travel[keep],
            noarr=d_noarr[keep],
            hours_on=hours_on[keep],
            call_no=call_no[d_call[keep]],
            recorded=rec_disp[keep],
            beat=b[d_call[keep]],
            t=d_disp[keep],
        )
