"""The synthetic department: a deterministic, vectorised simulation of a police department's records.

The generative model in brief (docs/synthetic-department.md has the long version):

* Geography: divisions of beats; each beat has a crime level.  High-crime beats raise everybody's
  activity there (calls, arrests, stops, justified uses of force) - a confounder for naive models.
* Workforce: sworn officers and some civilians with hires, separations, transfers and shift changes.
  Every officer has a latent propensity for adverse incidents that drifts slowly month to month;
  more education lowers it a little.  A "proactivity" trait (correlated with propensity) drives
  officer-initiated work and discretionary arrests.
* Each year is simulated day by day for every officer at once (numpy arrays officer x day):
  duty schedule, calls and dispatches, arrests, stops, field interviews, citations, crime reports,
  off-duty jobs and training.
* Adverse incidents: an officer-day intensity (propensity, short-term stress from SUICIDE / DOMESTIC
  / child calls, hours worked in the last 7 days incl. off-duty jobs, relevant training, a little
  beat) times, for dispatch-linked incidents, a situational weight of the dispatch (travel time,
  officer-initiated, call types REPT-OFC / OFC-INVL / SUSP-SCN / JST-OCC, hours on duty).  Each year
  the officers with an adverse incident are drawn by weighted sampling without replacement so that
  the share of active sworn officers with one is close to ADVERSE_OFFICER_SHARE.
* Non-adverse IA cases (justified force, unfounded complaints, minor violations) come from a second
  process that leans on beat crime and activity more than on propensity.
* The department's own legacy threshold EIS (LEGACY_EIS_RULES in :mod:`eis_core.synth.legacy`) runs
  over IA cases as known on their reported_date and writes eis_flags.

Everything is derived from the seed: the same seed gives byte-identical files.

Modules: :mod:`~eis_core.synth.params` (scales, rates, code tables), :mod:`~eis_core.synth.legacy` (the
department's own threshold EIS), the simulation in three parts (:mod:`~eis_core.synth.sim_workforce`,
:mod:`~eis_core.synth.sim_duty`, :mod:`~eis_core.synth.sim_incidents`) and here its driver and
:func:`generate`.  Names are re-exported here for older imports.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from eis_core.contract import load_contract
from eis_core.synth._arrow import DropWriter, id_array, pa_ids, pa_take, pa_take_str  # noqa: F401 (pa_ids: re-export)
from eis_core.synth.legacy import INDICATOR_EVENTS, LEGACY_EIS_RULES, ThresholdRule, legacy_flags  # noqa: F401
from eis_core.synth.params import (  # noqa: F401 (ADVERSE_*, RATES, officer_ids: re-exported for older imports)
    ADVERSE_INTERVENTIONS,
    ADVERSE_LINKED_SHARE,
    ADVERSE_OFFICER_SHARE,
    DAY,
    DISPOSITIONS,
    EVENT_TYPES,
    FLAG_INTERVENTIONS,
    GENERATOR_VERSION,
    RATES,
    SCALES,
    Scale,
    choice,
    officer_ids,
    rng_for,
    to_day,
)
from eis_core.synth.sim_duty import DutySim
from eis_core.synth.sim_incidents import IncidentsSim
from eis_core.synth.sim_workforce import WorkforceSim


class _Sim(WorkforceSim, DutySim, IncidentsSim):
    def __init__(self, cfg: Scale, seed: int, writer: DropWriter):
        self.cfg, self.seed, self.w = cfg, seed, writer
        self.d0, self.d1 = to_day(cfg.start), to_day(cfg.end)
        self.extracted_at = (self.d1 + 1) * DAY - 1  # 23:59:59 on the last day
        self.rec = {t: to_day(d) for t, d in cfg.recorded_from.items()}
        # month index of every day in the window
        days = np.arange(self.d0, self.d1 + 1).astype("datetime64[D]")
        m = days.astype("datetime64[M]").astype(np.int64)
        self.m0 = int(m[0])
        self.month_of = (m - self.m0).astype(np.int32)
        self.n_months = int(self.month_of[-1]) + 1
        self.ia_parts: list[dict] = []
        self.call_seq = 1
        self.seq = {k: 0 for k in ("arrest", "stop", "fi", "cit", "crime", "job", "train")}

    def recorded(self, table: str, day) -> np.ndarray | bool:
        lo = self.rec.get(table)
        day = np.asarray(day)
        return np.ones(day.shape, bool) if lo is None else day >= lo

    # ---------------------------------------------------------------- IA cases and legacy flags
    def finish_ia(self):
        rng = rng_for(self.seed, 9)
        parts = self.ia_parts
        cat = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        order = np.lexsort((cat["ev"], cat["off"], cat["inc"]))
        cat = {k: v[order] for k, v in cat.items()}
        m = order.size
        case_ids = id_array("IA", np.arange(1, m + 1), 7)
        self.w.write(
            "ia_cases",
            {
                "case_id": case_ids,
                "officer_id": pa_take(self.ids, cat["off"]),
                "event_type": ("codes", EVENT_TYPES, cat["ev"]),
                "incident_date": cat["inc"],
                "reported_date": cat["rep"],
                "closed_date": (cat["close"], cat["pending"]),
                "disposition": ("codes", DISPOSITIONS, cat["dispo"]),
                "call_id": id_array("C", np.maximum(cat["call"], 0), 9, cat["call"] < 0),
                "intervention": ("codes", ADVERSE_INTERVENTIONS, cat["interv"]),
            },
        )
        frame = pd.DataFrame(
            {
                "officer_id": np.array(self.ids, dtype=object)[cat["off"]],
                "event_type": np.array(EVENT_TYPES, dtype=object)[cat["ev"]],
                "reported_date": cat["rep"].astype("datetime64[D]"),
            }
        )
        flags = legacy_flags(frame)
        fday = flags["flagged_on"].to_numpy("datetime64[D]").astype(np.int64)
        keep = self.recorded("eis_flags", fday)
        flags, fday = flags[keep], fday[keep]
        k = len(flags)
        interv = np.where(rng.random(k) < 0.45, -1, choice(rng, [0.4, 0.25, 0.25, 0.1], k))
        rules = sorted(set(flags["rule"]))
        self.w.write(
            "eis_flags",
            {
                "flag_id": id_array("EF", np.arange(1, k + 1), 6),
                "officer_id": pa_take_str(flags["officer_id"].tolist()),
                "flagged_on": fday,
                "rule": ("codes", rules, np.array([rules.index(r) for r in flags["rule"]], np.int64)),
                "intervention": ("codes", FLAG_INTERVENTIONS, interv),
            },
        )

    def run(self, progress: Callable | None):
        t0 = time.perf_counter()
        years = list(range(self.cfg.start.year, self.cfg.end.year + 1))
        total = len(years) + 3

        def step(label: str, done: int):
            if progress is not None:
                progress(label, done, total, dict(self.w.rows), time.perf_counter() - t0)

        self.geography()
        self.neighborhoods()
        self.workforce()
        self.last_adverse = np.full(self.n, -(10**9), np.int64)
        step("officers, assignments, neighborhoods", 1)
        for k, y in enumerate(years):
            ys, ye = max(to_day(dt.date(y, 1, 1)), self.d0), min(to_day(dt.date(y, 12, 31)), self.d1)
            act_days = np.clip(np.minimum(self.sep - 1, ye) - np.maximum(self.hire, ys) + 1, 0, None)
            self.sworn_days = float(act_days[self.sworn].sum())
            self.year(y)
            step(f"year {y}", 2 + k)
        self.finish_ia()
        step("ia_cases, eis_flags", total - 1)
        self.w.close()
        step("done", total)


V2_TABLES = ("rank_history", "use_of_force")


def generate(
    scale: str | Scale,
    seed: int,
    out_dir: Path,
    fmt: str = "csv",
    progress: Callable | None = None,
    contract_version: int = 1,
) -> dict:
    """Write a synthetic department drop for ``scale`` into ``out_dir`` and return its manifest.

    One file per contract table (``<table>.csv`` or ``<table>.parquet``) plus ``_drop.json``.  The
    output depends only on (scale, seed, fmt, generator version): the same seed gives byte-identical
    files.  ``progress``, if given, is called as ``progress(label, done, total, rows_by_table, elapsed_s)``.
    ``contract_version=2`` adds the v2 tables use_of_force, rank_history and ia_cases.allegation
    (``eis_core.synth.v2``); 1 writes exactly the v1 drop.
    """
    if contract_version not in (1, 2):
        raise ValueError(f"contract_version must be 1 or 2, not {contract_version!r}")
    if isinstance(scale, Scale):  # a consortium department's own scale (eis_core.synth.consortium)
        cfg, scale = scale, scale.name
    elif scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; choose one of {sorted(SCALES)}")
    else:
        cfg = SCALES[scale]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    contract = load_contract()
    # the simulation writes the v1 tables; contract v2 tables are derived afterwards (synth.v2)
    writer = DropWriter(out_dir, fmt, {n: t for n, t in contract.tables.items() if n not in V2_TABLES})
    sim = _Sim(cfg, int(seed), writer)
    sim.run(progress)
    manifest = {
        "department": f"Synthetic Police Department ({scale})",
        "scale": scale,
        "seed": int(seed),
        "generator_version": GENERATOR_VERSION,
        "extracted_at": f"{cfg.end.isoformat()}T23:59:59",
        "format": fmt,
        "tables": {name: writer.rows[name] for name in contract.load_order if name in writer.rows},
    }
    if contract_version == 2:
        from eis_core.synth.v2 import add_v2_tables

        added = add_v2_tables(out_dir, fmt, int(seed), manifest["extracted_at"])
        manifest["contract_version"] = 2
        manifest["tables"] = {name: manifest["tables"].get(name, added.get(name, 0)) for name in contract.load_order}
    with open(out_dir / "_drop.json", "w", encoding="utf-8") as fh:
        json.dump(manifest, fh, indent=2)
        fh.write("\n")
    return manifest
