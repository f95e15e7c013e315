"""The simulation, part: geography (divisions, beats, neighborhoods), the workforce and its assignments."""

from __future__ import annotations

import datetime as dt

import numpy as np

from eis_core.synth._arrow import pa_ids, pa_take
from eis_core.synth.params import (
    CIT_IDX,
    CIT_W,
    EDU,
    OFF_VIOLENT,
    OFF_W,
    RACE,
    RANKS,
    SEX,
    SHIFTS,
    SWORN_UNIT_P,
    SWORN_UNITS,
    TYPE_VIOLENT,
    UNITS,
    choice,
    officer_ids,
    rng_for,
    sigmoid,
    to_day,
)


class WorkforceSim:
    """geography (divisions, beats, neighborhoods), the workforce and its assignments."""

    # ---------------------------------------------------------------- geography
    def geography(self):
        cfg, rng = self.cfg, rng_for(self.seed, 1)
        nd, nb = cfg.n_divisions, cfg.beats_per_division
        self.n_beats = nd * nb
        self.beat_div = np.repeat(np.arange(nd), nb)
        div_level = rng.normal(0, 0.45, nd)
        logc = div_level[self.beat_div] + rng.normal(0, 0.4, self.n_beats)
        self.crime = np.exp(logc) / np.exp(logc).mean()
        self.crime_z = (logc - logc.mean()) / logc.std()
        self.div_names = [f"D{d + 1:02d}" for d in range(nd)]
        self.beat_names = [f"D{self.beat_div[b] + 1:02d}B{b % nb + 1:02d}" for b in range(self.n_beats)]
        ang = rng.uniform(0, 2 * np.pi, nd)
        rad = rng.uniform(0.03, 0.2, nd)
        self.beat_lat = 35.227 + rad[self.beat_div] * np.sin(ang[self.beat_div]) + rng.normal(0, 0.02, self.n_beats)
        self.beat_lon = -80.843 + rad[self.beat_div] * np.cos(ang[self.beat_div]) + rng.normal(0, 0.025, self.n_beats)
        self.beat_area = rng.lognormal(0, 0.35, self.n_beats)  # larger beats -> longer travel
        # per-beat call-type mix: violent types scale with crime level
        w = (
            np.tile(CIT_W, (self.n_beats, 1))
            * np.where(TYPE_VIOLENT[CIT_IDX], 1.0, 0.0)[None, :]
            * (self.crime[:, None] ** 0.7)
            + np.tile(CIT_W, (self.n_beats, 1)) * (~TYPE_VIOLENT[CIT_IDX])[None, :]
        )
        self.cit_cum = np.cumsum(w / w.sum(1, keepdims=True), axis=1)
        ow = np.tile(OFF_W, (self.n_beats, 1)) * np.where(
            OFF_VIOLENT | (np.arange(12) == 8), self.crime[:, None] ** 0.9, 1.0
        )
        self.off_cum = np.cumsum(ow / ow.sum(1, keepdims=True), axis=1)
        # resident mix per beat (for suspect / driver demographics)
        black = sigmoid(-0.6 + 1.1 * self.crime_z + rng.normal(0, 0.4, self.n_beats))
        hisp = 0.08 + 0.08 * rng.random(self.n_beats)
        white = (1 - black - hisp) * 0.92
        asian = (1 - black - hisp) * 0.05
        other = 1 - black - hisp - white - asian
        self.race_cum = np.cumsum(np.stack([white, black, hisp, asian, other], 1), axis=1)

    def neighborhoods(self):
        rng = rng_for(self.seed, 2)
        years = np.arange(self.cfg.start.year, self.cfg.end.year + 1)
        nb, ny = self.n_beats, years.size
        b = np.repeat(np.arange(nb), ny)
        y = np.tile(years, nb)
        t = (y - years[0]).astype(float)
        cz = self.crime_z[b]
        pop0 = rng.lognormal(np.log(9000), 0.35, nb)
        pop = np.round(pop0[b] * (1.012**t) * rng.lognormal(0, 0.02, b.size)).astype(np.int64)
        trend = 1.0 - 0.02 * t
        violent = np.round(np.exp(np.log(6.0) + 0.55 * cz + rng.normal(0, 0.12, b.size)) * trend, 2)
        vacant = np.round(np.clip(8 + 6 * cz + rng.normal(0, 3, b.size), 0.5, 60), 2)
        income = np.round(np.exp(np.log(52000) - 0.3 * cz + rng.normal(0, 0.1, b.size)) * (1.02**t), 0)
        calls311 = np.round(np.exp(np.log(180) + 0.25 * cz + rng.normal(0, 0.15, b.size)), 2)
        nuisance = np.round(np.exp(np.log(25) + 0.35 * cz + rng.normal(0, 0.2, b.size)), 2)
        death = np.round(74 - 3.5 * cz + rng.normal(0, 1.5, b.size), 1)
        death_null = (y % 2 == 1) & (rng.random(b.size) < 0.7)  # quality-of-life studies skip some years
        self.w.write(
            "neighborhoods",
            {
                "beat": ("codes", self.beat_names, b),
                "division": ("codes", self.div_names, self.beat_div[b]),
                "year": y.astype(np.int64),
                "population": pop,
                "calls_311_per_1k": calls311,
                "vacant_land_pct": vacant,
                "median_income": income,
                "violent_crime_per_1k": violent,
                "nuisance_violations_per_1k": nuisance,
                "avg_age_at_death": (death, death_null),
            },
        )

    # ---------------------------------------------------------------- workforce
    def workforce(self):
        cfg, rng = self.cfg, rng_for(self.seed, 3)
        d0, d1 = self.d0, self.d1
        n0 = cfg.n_sworn
        n_civ = int(round(cfg.civilian_share * n0))
        tenure = np.minimum(rng.gamma(1.6, 5.5, n0) * 365.25, 30 * 365.25)
        hire = list((d0 - 1 - tenure).astype(np.int64))
        sworn = [True] * n0
        hire += list((d0 - 1 - rng.uniform(0, 15 * 365.25, n_civ)).astype(np.int64))
        sworn += [False] * n_civ
        hire = np.array(hire, dtype=np.int64)
        sworn = np.array(sworn)
        sep = np.full(hire.size, np.iinfo(np.int64).max // 4)
        # year by year: separations, then academy classes replace them (plus slow growth)
        for year in range(cfg.start.year, cfg.end.year + 1):
            ys, ye = to_day(dt.date(year, 1, 1)), to_day(dt.date(year, 12, 31))
            act = (hire <= ye) & (sep > ys)
            ten_y = (ys - hire) / 365.25
            haz = np.where(sworn, 0.045 + 0.05 * (ten_y < 2) + 0.25 * (ten_y > 25), 0.08)
            leave = act & (rng.random(hire.size) < haz) & (hire < ys)
            sep[leave] = ys + rng.integers(0, ye - ys + 1, leave.sum())
            # academy classes refill the authorised strength
            still = (hire <= ye) & (sep > ye)
            strength = n0
            n_new = max(int(round(strength - np.sum(still & sworn))), 0)
            n_new_civ = max(int(round(n_civ - np.sum(still & ~sworn))), 0)
            classes = [to_day(dt.date(year, 3, 1)), to_day(dt.date(year, 9, 1))]
            new_h = np.array([classes[k % 2] for k in range(n_new)], dtype=np.int64) + rng.integers(0, 10, n_new)
            new_c = ys + rng.integers(0, ye - ys + 1, n_new_civ)
            hire = np.concatenate([hire, new_h, new_c])
            sworn = np.concatenate([sworn, np.ones(n_new, bool), np.zeros(n_new_civ, bool)])
            sep = np.concatenate([sep, np.full(n_new + n_new_civ, np.iinfo(np.int64).max // 4)])
        n = hire.size
        self.n = n
        self.hire, self.sworn = hire, sworn
        self.sep = sep
        self.has_sep = sep <= d1
        self.ids = officer_ids(self.seed, n)
        # demographics
        sex = choice(rng, [0.84, 0.155, 0.005], n)
        race = choice(rng, [0.66, 0.2, 0.07, 0.03, 0.04], n)
        edu = choice(rng, [0.18, 0.27, 0.17, 0.31, 0.07], n)
        age_hire = np.clip(rng.normal(27, 4.5, n), 21, 50)
        hire_year = hire.astype("datetime64[D]").astype("datetime64[Y]").astype(int) + 1970
        birth = (hire_year - age_hire).astype(np.int64)
        height = np.where(sex == 1, rng.normal(165, 7, n), rng.normal(178, 7, n)).round().astype(np.int64)
        weight = (
            np.clip(np.where(sex == 1, rng.normal(68, 10, n), rng.normal(88, 13, n)), 45, 160).round().astype(np.int64)
        )
        h_null, w_null = rng.random(n) < 0.04, rng.random(n) < 0.06
        ten_end = (np.minimum(sep, d1) - hire) / 365.25
        u = rng.random(n)
        rank = np.where(
            u < sigmoid((ten_end - 14) / 3) * 0.06,
            3,
            np.where(
                u < sigmoid((ten_end - 12) / 3) * 0.14, 2, np.where(u < sigmoid((ten_end - 7) / 2.5) * 0.35, 1, 0)
            ),
        )
        rank = np.where(sworn, rank, 0)
        self.sex, self.race, self.edu, self.rank = sex, race, edu, rank
        # latent traits
        zb = rng.normal(0, 1, n) - 0.18 * (edu - 2)
        self.proact = np.exp(0.45 * (0.4 * zb + np.sqrt(1 - 0.16) * rng.normal(0, 1, n)))
        self.sidejob = rng.gamma(0.7, 1 / 0.7, n) * sworn
        self.train_rate = rng.gamma(5, 1 / 5, n)
        self.edu_z = (edu - 2) / 1.2
        rho, eps = 0.985, 0.07
        z = np.empty((n, self.n_months), np.float32)
        w = rng.normal(0, eps / np.sqrt(1 - rho**2), n)
        shocks = rng.normal(0, eps, (n, self.n_months))
        for m in range(self.n_months):
            w = rho * w + shocks[:, m]
            z[:, m] = zb + w
        self.z = z
        self.zb = zb
        self.w.write(
            "officers",
            {
                "officer_id": pa_ids(self.ids),
                "hire_date": hire,
                "separation_date": (np.where(self.has_sep, sep, 0), ~self.has_sep),
                "birth_year": birth,
                "sex": ("codes", SEX, sex),
                "race": ("codes", RACE, race),
                "education": ("codes", EDU, edu),
                "height_cm": (height, h_null),
                "weight_kg": (weight, w_null),
                "rank": ("codes", RANKS, rank),
                "sworn": sworn,
            },
        )
        self.assignments(rng)

    def assignments(self, rng: np.random.Generator):
        n, d0, d1 = self.n, self.d0, self.d1
        nb = self.n_beats
        first = np.maximum(self.hire, d0 - rng.integers(0, 3 * 365, n))
        last_day = np.minimum(self.sep - 1, d1)  # last active day is sep - 1 (sep day itself: gone)
        # change events per officer-year
        years = self.cfg.end.year - self.cfg.start.year + 1
        span = d1 - d0 + 1
        k = rng.poisson(0.45 * years, n)
        ev_off = np.repeat(np.arange(n), k)
        ev_day = d0 + rng.integers(0, span, ev_off.size)
        keep = (ev_day > first[ev_off]) & (ev_day <= last_day[ev_off])
        ev_off, ev_day = ev_off[keep], ev_day[keep]
        order = np.lexsort((ev_day, ev_off))
        ev_off, ev_day = ev_off[order], ev_day[order]
        dup = np.r_[False, (ev_off[1:] == ev_off[:-1]) & (ev_day[1:] == ev_day[:-1])]
        ev_off, ev_day = ev_off[~dup], ev_day[~dup]
        kind = rng.random(ev_off.size)  # < .45 beat change, < .8 shift change, else both
        beat_w = self.crime**0.5
        beat_w = beat_w / beat_w.sum()
        init_beat = choice(rng, np.ones(nb), n)
        new_hire = self.hire >= d0 - 365
        init_beat[new_hire] = choice(rng, beat_w, int(new_hire.sum()))  # rookies go where the work is
        init_shift = choice(rng, [0.34, 0.36, 0.30], n)
        init_unit = np.where(
            self.sworn, choice(rng, SWORN_UNIT_P, n), len(SWORN_UNITS) + choice(rng, [0.35, 0.35, 0.1, 0.2], n)
        )
        init_unit[new_hire & self.sworn] = 0
        # build segments
        seg_off, seg_start, seg_beat, seg_shift, seg_unit = [], [], [], [], []
        ptr = 0
        rnd_beat = rng.integers(0, nb, ev_off.size)
        rnd_local = rng.integers(0, self.cfg.beats_per_division, ev_off.size)
        rnd_shift = rng.integers(1, 3, ev_off.size)
        rnd_unit = choice(rng, SWORN_UNIT_P, ev_off.size)
        for i in range(n):
            b, s, u = int(init_beat[i]), int(init_shift[i]), int(init_unit[i])
            seg_off.append(i)
            seg_start.append(int(first[i]))
            seg_beat.append(b)
            seg_shift.append(s)
            seg_unit.append(u)
            while ptr < ev_off.size and ev_off[ptr] == i:
                kd = kind[ptr]
                if kd < 0.45 or kd >= 0.8:
                    if rnd_beat[ptr] % 3 == 0:
                        b = int(rnd_beat[ptr])  # transfer to another division
                    else:
                        div = b // self.cfg.beats_per_division
                        b = div * self.cfg.beats_per_division + int(rnd_local[ptr])
                    if self.sworn[i] and rnd_beat[ptr] % 7 == 0:
                        u = int(rnd_unit[ptr])
                if kd >= 0.45:
                    s = (s + int(rnd_shift[ptr])) % 3
                seg_off.append(i)
                seg_start.append(int(ev_day[ptr]))
                seg_beat.append(b)
                seg_shift.append(s)
                seg_unit.append(u)
                ptr += 1
        seg_off = np.array(seg_off)
        seg_start = np.array(seg_start, np.int64)
        seg_beat = np.array(seg_beat)
        seg_shift = np.array(seg_shift)
        seg_unit = np.array(seg_unit)
        nxt_same = np.r_[seg_off[1:] == seg_off[:-1], False]
        seg_end = np.where(
            nxt_same, np.r_[seg_start[1:], 0] - 1, np.where(self.has_sep[seg_off], self.sep[seg_off], -1)
        )
        open_ = seg_end < 0
        seg_end = np.where(open_, np.iinfo(np.int64).max // 4, seg_end)
        # civilians work at headquarters
        civ = ~self.sworn[seg_off]
        self.seg = dict(off=seg_off, start=seg_start, end=seg_end, beat=seg_beat, shift=seg_shift, unit=seg_unit)
        beat_names = self.beat_names + ["HQ"]
        div_names = self.div_names + ["HQ"]
        bcode = np.where(civ, self.n_beats, seg_beat)
        dcode = np.where(civ, len(self.div_names), self.beat_div[seg_beat])
        self.w.write(
            "assignments",
            {
                "officer_id": pa_take(self.ids, seg_off),
                "start_date": seg_start,
                "end_date": (np.where(open_, 0, seg_end), open_),
                "division": ("codes", div_names, dcode),
                "beat": ("codes", beat_names, bcode),
                "unit": ("codes", UNITS, seg_unit),
                "shift": ("codes", SHIFTS, np.where(civ, 0, seg_shift)),
            },
        )
