"""A realistic warehouse state for the web app's tests and benchmark, written into a warehouse
upgraded by the migrations (``eis_core.migrations.ensure_schema``; ``ensure_raw_schema`` for the contract's
raw tables) with plain parameterised INSERT / COPY statements.

The real pipeline (loader, dbt, modeling, scoring) is tested elsewhere; here we need a known state
to click through: *n* officers in several divisions and units scored on a few as-of dates (with rank
changes, top-5 risk factors, unit aggregates, a flag-rate audit), one experiment with model groups
over three temporal splits (evaluations, test predictions, importances, Table 3, a selection), a
load-log entry with a quarantined row, and a small feature mart (``features.officer_features`` with
a handful of columns, its dictionary and block list, shaped like the dbt models').

Everything is deterministic for a seed.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

from psycopg.types.json import Jsonb

#: the as-of dates scored (latest last); 2024-05-31 is one day before the latest, 2024-05-25 seven days
AS_OF_DATES = [date(2024, 5, 2), date(2024, 5, 25), date(2024, 5, 31), date(2024, 6, 1)]
LATEST = AS_OF_DATES[-1]
DIVISION_NAMES = ["CENTRAL", "NORTH", "SOUTH", "EAST", "WEST", "AIRPORT", "UNIVERSITY", "STEELE_CREEK",
                  "PROVIDENCE", "INDEPENDENCE", "FREEDOM", "HICKORY_GROVE", "METRO"]
EXPERIMENT_ID = "e" * 8 + "webappexperiment0000000000"
SPLITS = [("split_2013-07-01", date(2013, 7, 1)), ("split_2014-01-01", date(2014, 1, 1)),
          ("split_2014-07-01", date(2014, 7, 1))]

#: (feature, block, label) of the risk-factor pool; values come from :func:`factor_value` (the same in
#: production.risk_factors and in features.officer_features, so that the division comparison is real).
#: The labels are the scoring's raw ones, internal names included: the pages must never show them.
FACTORS = [
    ("ia_closed_sustained_5y", "ia_history", "IA cases closed SUSTAINED (ia_closed_sustained_5y): {v}"),
    ("ia_closed_sustained_1y", "ia_history", "IA cases closed SUSTAINED (ia_closed_sustained_1y): {v}"),
    ("ia_closed_not_sustained_5y", "ia_history", "IA cases closed NOT_SUSTAINED in 5y: {v}"),
    ("ia_cases_1y", "ia_history", "Internal Affairs cases in the last year: {v}"),
    ("ia_pending_cases", "ia_history", "IA cases open on the date: {v}"),
    ("ia_days_since_adverse", "ia_history", "days since adverse (ia_days_since_adverse): {v}"),
    ("ia_days_since_adverse_missing", "ia_history",
     "1 when no adverse case was known before D (ia_days_since_adverse imputed): {v}"),
    ("dsp_stress_calls_6m", "dispatches", "suicide and domestic calls in the last 6 months: {v}"),
    ("dsp_night_share_1y", "dispatches", "share of dispatches at night: {v}"),
    ("dsp_calls_grp_property_1y", "dispatches",
     "calls in call-type group property (macro eis_call_type_groups): {v}"),
    ("arr_total_1y", "arrests", "arrests in the last year: {v}"),
    ("ts_searches_1y", "traffic_stops", "searches during stops in the last year: {v}"),
    ("trn_hours_1y", "training", "training hours in the last year: {v}"),
    ("chr_tenure_days", "characteristics", "days of service: {v}"),
]


def factor_value(officer_id: str, feature: str) -> float:
    """The officer's value of *feature* (deterministic)."""
    r = random.Random(f"{officer_id}:{feature.removesuffix('_missing')}")
    if feature == "ia_days_since_adverse_missing":
        return 1.0 if r.random() < 0.6 else 0.0
    if feature == "ia_days_since_adverse":
        return float(r.randint(200, 6000))
    if feature == "chr_tenure_days":
        return float(r.randint(300, 9000))
    if "share" in feature:
        return round(r.uniform(0, 0.6), 3)
    if feature.startswith("ia_closed_sustained"):
        return float(r.choice([0] * 8 + [1, 2]) * (1 if feature.endswith("5y") else 0 if r.random() < .5 else 1))
    if feature.startswith("ia_"):
        return float(r.choice([0, 0, 0, 1, 1, 2, 3]))
    return float(r.randint(0, 60))


#: the small feature mart: (feature, block, window, description)
MART = [
    ("ia_cases_1y", "ia_history", "1y", "IA cases reported in the last year"),
    ("ia_adverse_1y", "ia_history", "1y", "adverse IA cases closed in the last year"),
    ("dsp_calls_1y", "dispatches", "1y", "dispatches in the last year"),
    ("dsp_stress_calls_1y", "dispatches", "1y", "suicide and domestic calls in the last year"),
    ("dsp_night_share_1y", "dispatches", "1y", "share of dispatches at night in the last year"),
    ("arr_total_1y", "arrests", "1y", "arrests in the last year"),
    ("stp_stops_1y", "traffic_stops", "1y", "traffic stops in the last year"),
    ("trn_hours_1y", "training", "1y", "training hours in the last year"),
    ("dsp_calls_all", "dispatches", "all", "dispatches, all history"),
]

PROTECTED = {"race": ["WHITE", "BLACK", "HISPANIC", "ASIAN"], "sex": ["M", "F"]}


def officers(n: int, n_divisions: int, prefix: str = "OF") -> list[dict]:
    divisions = DIVISION_NAMES[:n_divisions]
    out = []
    for i in range(n):
        div = divisions[i % n_divisions]
        out.append({"officer_id": f"{prefix}{i + 1:05d}", "division": div, "unit": f"{div[:4]}-{(i // n_divisions) % 3 + 1}"})
    return out


def _rank(scores: dict[str, float]) -> dict[str, tuple[int, float]]:
    order = sorted(scores, key=lambda o: (-scores[o], o))
    n = len(order)
    return {o: (i + 1, i / max(n - 1, 1)) for i, o in enumerate(order)}


def seed_production(conn, n_officers: int = 60, n_divisions: int = 3, seed: int = 7,
                    dates: list[date] = AS_OF_DATES, prefix: str = "OF") -> list[dict]:
    rng = random.Random(seed)
    offs = officers(n_officers, n_divisions, prefix)
    base = {o["officer_id"]: rng.betavariate(1.3, 6) for o in offs}
    ranks_by_date: dict[date, dict[str, tuple[int, float]]] = {}
    pred_rows, factor_rows, change_rows = [], [], []
    for d in dates:
        scores = {o: min(max(s + rng.gauss(0, 0.03), 0.0), 1.0) for o, s in base.items()}
        ranks = _rank(scores)
        ranks_by_date[d] = ranks
        conn.execute("INSERT INTO production.scoring_runs (as_of_date, model_id, model_group_id, experiment_id, mode, "
                     "n_scored, flag_count, explain_method, timings, scored_by) VALUES (%s, %s, %s, %s, 'stored', %s, %s, "
                     "'shap_tree', %s, 'tests/webapp_data.py')",
                     (d, "wa_model_rf_3", "wa_group_rf", EXPERIMENT_ID, len(offs), max(1, len(offs) // 10),
                      Jsonb({"score_seconds": 1.0})))
        for o in offs:
            oid = o["officer_id"]
            rank, pct = ranks[oid]
            pred_rows.append((d, oid, "wa_model_rf_3", scores[oid], rank, pct, o["division"], o["unit"]))
            picks = rng.sample(FACTORS, 5)
            contribs = sorted((rng.uniform(-0.05, 0.12) for _ in picks), key=lambda c: -abs(c))
            for pos, ((feat, block, label), c) in enumerate(zip(picks, contribs), start=1):
                v = factor_value(oid, feat)
                factor_rows.append((d, oid, pos, feat, block, v, c, "raises" if c > 0 else "lowers",
                                    label.format(v=v), "shap_tree"))
            for back in (1, 7, 30, 90, 365):
                prev = ranks_by_date.get(d - timedelta(days=back), {}).get(oid)
                change_rows.append((d, oid, back, prev[0] if prev else None, (prev[0] - rank) if prev else None))
    with conn.cursor() as cur:
        with cur.copy("COPY production.predictions (as_of_date, officer_id, model_id, score, rank_abs, rank_pct, "
                      "division, unit) FROM STDIN") as cp:
            for r in pred_rows:
                cp.write_row(r)
        with cur.copy("COPY production.risk_factors (as_of_date, officer_id, position, feature, block, value, "
                      "contribution, direction, label, method) FROM STDIN") as cp:
            for r in factor_rows:
                cp.write_row(r)
        with cur.copy("COPY production.rank_changes (as_of_date, officer_id, days_back, previous_rank, rank_change) "
                      "FROM STDIN") as cp:
            for r in change_rows:
                cp.write_row(r)
    for d in dates:
        conn.execute(
            "INSERT INTO production.unit_risk (as_of_date, division, unit, officers, mean_score, max_score, top5_count) "
            "SELECT as_of_date, division, unit, count(*), avg(score), max(score), count(*) FILTER (WHERE rank_pct < 0.05) "
            "FROM production.predictions WHERE as_of_date = %s GROUP BY as_of_date, division, unit", (d,))
        for attr, groups in PROTECTED.items():
            # production's rule (scoring.flag_rate_audit): the ratio of each group's flag rate to the
            # largest group's, out of range outside [0.8, 1.25] for groups of at least 10 officers
            sizes = {g: rng.randint(5, 40) for g in groups}
            flagged = {g: rng.randint(0, sizes[g] // 3) for g in groups}
            ref = max(groups, key=lambda g: (sizes[g], g))
            ref_rate = flagged[ref] / sizes[ref]
            for g in groups:
                rate = flagged[g] / sizes[g]
                ratio = rate / ref_rate if ref_rate > 0 else None
                conn.execute("INSERT INTO results.bias_audit (as_of_date, model_id, threshold, attribute, group_value, "
                             "reference_group, group_size, flagged, flag_rate, flag_rate_ratio, out_of_range, scope, "
                             "split_id) VALUES (%s, 'wa_model_rf_3', 'top10%%', %s, %s, %s, %s, %s, %s, %s, %s, "
                             "'scored_day', 'production')",
                             (d, attr, g, ref, sizes[g], flagged[g], rate, ratio,
                              ratio is not None and not (0.8 <= ratio <= 1.25) and sizes[g] >= 10))
    return offs


def seed_results(conn, seed: int = 7, prefix: str = "OF") -> None:
    rng = random.Random(seed)
    conn.execute("INSERT INTO results.experiments (experiment_id, config) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                 (EXPERIMENT_ID, Jsonb({"officer": {"selection": {"metric": "precision@10%",
                                                                   "rules": ["best_average", "best_recent"]}},
                                        "labels": {}})))
    run_id = conn.execute("INSERT INTO results.runs (experiment_id, config_hash, random_seed, status, finished_at) "
                          "VALUES (%s, %s, 42, 'done', now()) RETURNING run_id", (EXPERIMENT_ID, EXPERIMENT_ID)).fetchone()[0]
    groups = [("wa_group_rf", "sklearn.ensemble.RandomForestClassifier", {"n_estimators": 500, "max_depth": 10}, False, 0.34),
              ("wa_group_lr", "sklearn.linear_model.LogisticRegression", {"C": 0.1, "penalty": "l1"}, False, 0.28),
              ("wa_group_legacy", "eis_core.modeling.baselines.LegacyEISBaseline", {}, True, 0.21),
              ("wa_group_prior", "eis_core.modeling.baselines.PriorBaseline", {}, True, 0.09)]
    for split_id, start in SPLITS:
        conn.execute("INSERT INTO results.matrices (matrix_id, kind, split_id, as_of_dates, n_rows) "
                     "VALUES (%s, 'test', %s, %s, 150) ON CONFLICT DO NOTHING",
                     ("wa_test_" + split_id, split_id, [start]))
    for gid, cls, hp, baseline, level in groups:
        conn.execute("INSERT INTO results.model_groups (model_group_id, class_path, hyperparameters, feature_list_hash, "
                     "label_name, is_baseline) VALUES (%s, %s, %s, 'wa', 'adverse_1y', %s) ON CONFLICT DO NOTHING",
                     (gid, cls, Jsonb(hp), baseline))
        for i, (split_id, start) in enumerate(SPLITS, start=1):
            mid = f"wa_model_{gid.removeprefix('wa_group_')}_{i}"
            conn.execute("INSERT INTO results.models (model_id, model_group_id, run_id, split_id, test_matrix_id, status, "
                         "train_seconds) VALUES (%s, %s, %s, %s, %s, 'done', %s)",
                         (mid, gid, run_id, split_id, "wa_test_" + split_id, rng.uniform(1, 30)))
            conn.execute("INSERT INTO results.run_models (run_id, model_id) VALUES (%s, %s)", (run_id, mid))
            for metric, param, tie, val in (
                    ("precision@", "10_pct", "stochastic", level + rng.uniform(-0.04, 0.04)),
                    ("recall@", "10_pct", "stochastic", level * 0.9 + rng.uniform(-0.04, 0.04)),
                    ("roc_auc", "", "none", 0.5 + level + rng.uniform(-0.03, 0.03))):
                conn.execute("INSERT INTO results.evaluations (model_id, split_id, metric, parameter, tie_method, value, "
                             "n_examples) VALUES (%s, %s, %s, %s, %s, %s, 150)", (mid, split_id, metric, param, tie, val))
            with conn.cursor() as cur, cur.copy("COPY results.predictions (model_id, officer_id, as_of_date, score, label, "
                                                "rank_abs_no_ties, rank_pct_no_ties, rank_abs_with_ties, "
                                                "rank_pct_with_ties) FROM STDIN") as cp:
                pts = []
                for k in range(150):
                    label = 1 if rng.random() < 0.12 else 0
                    pts.append((f"{prefix}{k + 1:05d}", min(1.0, max(0.0, rng.gauss(0.2 + level * label, 0.12))), label))
                pts.sort(key=lambda p: -p[1])
                for r, (oid, s, label) in enumerate(pts, start=1):
                    cp.write_row((mid, oid, start, s, label, r, r / 150, r, r / 150))
            if not baseline:
                for rank, (feat, _, _) in enumerate(FACTORS, start=1):
                    conn.execute("INSERT INTO results.feature_importances (model_id, feature, importance, method, rank) "
                                 "VALUES (%s, %s, %s, 'impurity', %s)", (mid, feat, 0.2 / rank, rank))
            if gid != "wa_group_legacy":
                tp = rng.randint(5, 8) if not baseline else rng.randint(1, 4)
                conn.execute("INSERT INTO results.table3 (model_id, split_id, model_group_id, flag_count, tp, fp, tn, fn, "
                             "legacy_tp, legacy_fp, legacy_tn, legacy_fn) VALUES (%s, %s, %s, 24, %s, %s, 115, %s, 4, 20, "
                             "115, %s)", (mid, split_id, gid, tp, 24 - tp, 13 - tp, 9))
    for rule, gid, chosen in (("best_average", "wa_group_rf", True), ("best_recent", "wa_group_lr", False)):
        conn.execute("INSERT INTO results.selections (experiment_id, rule, metric, model_group_id, chosen, selected_by) "
                     "VALUES (%s, %s, 'precision@10%%', %s, %s, 'eis select')", (EXPERIMENT_ID, rule, gid, chosen))


def seed_features(conn, offs: list[dict], seed: int = 7) -> None:
    rng = random.Random(seed)
    conn.execute("CREATE SCHEMA IF NOT EXISTS features")
    conn.execute("CREATE TABLE IF NOT EXISTS features.feature_dictionary (feature text, block text, \"window\" text, "
                 "description text, source_table text, known_from text, imputation text, position integer)")
    conn.execute("CREATE TABLE IF NOT EXISTS features.feature_blocks (block text, source_table text, status text, "
                 "reason text, n_columns integer)")
    conn.execute("CREATE TABLE IF NOT EXISTS features.officer_features (officer_id text NOT NULL, as_of_date date NOT NULL, "
                 "ia_cases_1y double precision, ia_adverse_1y double precision, dsp_calls_1y double precision, "
                 "dsp_stress_calls_1y double precision, dsp_night_share_1y double precision, "
                 "arr_total_1y double precision, stp_stops_1y double precision, trn_hours_1y double precision, "
                 "dsp_calls_all double precision, PRIMARY KEY (officer_id, as_of_date))")
    for feat, _, _ in FACTORS:
        conn.execute(f'ALTER TABLE features.officer_features ADD COLUMN IF NOT EXISTS "{feat}" double precision')
    for pos, (feat, block, window, desc) in enumerate(MART, start=1):
        conn.execute("INSERT INTO features.feature_dictionary VALUES (%s, %s, %s, %s, 'raw', 'reported_date', "
                     "'none (0 when no events)', %s)", (feat, block, window, desc, pos))
    for block in sorted({m[1] for m in MART}):
        conn.execute("INSERT INTO features.feature_blocks VALUES (%s, 'raw', 'built', 'source table has rows', %s)",
                     (block, sum(1 for m in MART if m[1] == block)))
    conn.execute("INSERT INTO features.feature_blocks VALUES ('field_interviews', 'field_interviews', 'skipped', "
                 "'skipped: raw.field_interviews is empty or absent from the drop', 0)")
    fdate = date(2024, 5, 1)
    extra = [f for f, _, _ in FACTORS if f not in {m[0] for m in MART}]
    cols = ["officer_id", "as_of_date"] + [m[0] for m in MART] + extra
    with conn.cursor() as cur, cur.copy("COPY features.officer_features ({}) FROM STDIN".format(
            ", ".join(f'"{c}"' for c in cols))) as cp:
        for o in offs:
            oid = o["officer_id"]
            calls = rng.randint(200, 900)
            cp.write_row((oid, fdate, factor_value(oid, "ia_cases_1y"), rng.choice([0, 0, 0, 1]), calls,
                          rng.randint(0, 25), factor_value(oid, "dsp_night_share_1y"), factor_value(oid, "arr_total_1y"),
                          rng.randint(0, 200), factor_value(oid, "trn_hours_1y"), calls * rng.randint(3, 9),
                          *[factor_value(oid, f) for f in extra]))


def seed_staging(conn, offs: list[dict], seed: int = 7) -> None:
    """Tables shaped like dbt's staging views of ia_cases, use_of_force and eis_flags (the officer
    page's timeline reads them): a few cases per officer with every kind of outcome."""
    rng = random.Random(seed)
    conn.execute("CREATE SCHEMA IF NOT EXISTS staging")
    conn.execute("CREATE TABLE IF NOT EXISTS staging.stg_ia_cases (case_id text, officer_id text, event_type text, "
                 "incident_date date, reported_date date, closed_date date, disposition text, call_id text, "
                 "intervention text, allegation text, load_id bigint, source_row bigint)")
    conn.execute("CREATE TABLE IF NOT EXISTS staging.stg_use_of_force (report_id text, officer_id text, "
                 "occurred_at timestamp, force_type text, subject_injured boolean, officer_injured boolean, "
                 "reviewed_on date, review_outcome text, load_id bigint, source_row bigint)")
    conn.execute("CREATE TABLE IF NOT EXISTS staging.stg_eis_flags (flag_id text, officer_id text, flagged_on date, "
                 "rule text, intervention text, load_id bigint, source_row bigint)")
    kinds = [("CITIZEN_COMPLAINT", "SUSTAINED"), ("CITIZEN_COMPLAINT", "NOT_SUSTAINED"),
             ("CITIZEN_COMPLAINT", "EXONERATED"), ("VEHICLE_ACCIDENT", "PREVENTABLE"), ("USE_OF_FORCE", "JUSTIFIED"),
             ("OFFICER_COMPLAINT", "PENDING")]
    n = 0
    for o in offs:
        for k in range(rng.randint(1, 4)):
            n += 1
            et, disp = rng.choice(kinds)
            inc = date(2024, 5, 1) - timedelta(days=rng.randint(20, 1500))
            closed = None if disp == "PENDING" else inc + timedelta(days=rng.randint(15, 120))
            if closed and closed >= date(2024, 5, 31):
                closed, disp = None, "PENDING"
            conn.execute("INSERT INTO staging.stg_ia_cases (case_id, officer_id, event_type, incident_date, "
                         "reported_date, closed_date, disposition) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                         (f"IA-{n:05d}", o["officer_id"], et, inc, inc + timedelta(days=3), closed, disp))
        if rng.random() < 0.5:
            t = date(2024, 5, 1) - timedelta(days=rng.randint(10, 700))
            conn.execute("INSERT INTO staging.stg_use_of_force (report_id, officer_id, occurred_at, force_type, "
                         "subject_injured, officer_injured, reviewed_on, review_outcome) VALUES "
                         "(%s, %s, %s, 'TAKEDOWN', true, false, %s, 'APPROVED')",
                         (f"UOF-{n:05d}", o["officer_id"], t, t + timedelta(days=5)))


def seed_load_log(conn) -> int:
    load_id = conn.execute("SELECT nextval('raw.load_id_seq')").fetchone()[0]
    conn.execute("INSERT INTO raw.load_log (load_id, drop_path, table_name, file_name, rows_in, rows_loaded, "
                 "rows_quarantined, status, message, started_at, finished_at) VALUES "
                 "(%s, '/drops/2024-06-01', 'ia_cases', 'ia_cases.csv', 1201, 1200, 1, 'loaded_with_quarantine', "
                 "'1 row quarantined', now() - interval '2 minutes', now() - interval '1 minute'), "
                 "(%s, '/drops/2024-06-01', 'officers', 'officers.csv', 150, 150, 0, 'loaded', NULL, "
                 "now() - interval '2 minutes', now() - interval '1 minute')", (load_id, load_id))
    conn.execute("INSERT INTO raw.quarantine (load_id, table_name, row_number, rules, reasons, row_data) VALUES "
                 "(%s, 'ia_cases', 734, %s, %s, %s)",
                 (load_id, ["closed_after_reported", "known_officer"],
                  ["closed_date 2019-02-01 is before reported_date 2019-03-04",
                   "officer_id OF99999 is not in officers"],
                  Jsonb({"case_id": "IA-2019-0734", "officer_id": "OF99999", "reported_date": "2019-03-04",
                         "closed_date": "2019-02-01"})))
    return int(load_id)


def seed_all(n_officers: int = 60, n_divisions: int = 3, seed: int = 7, dates: list[date] = AS_OF_DATES,
             prefix: str = "OF") -> dict:
    """Seed everything into the active warehouse (``eis_core.db``; the current department's); returns
    {officers, load_id}.  *prefix* starts the officer ids (another department's officers: other ids)."""
    from eis_core import db
    from eis_core.load.loader import ensure_raw_schema
    from eis_core.migrations import ensure_schema

    ensure_schema()
    ensure_raw_schema()
    with db.connect() as conn:
        offs = seed_production(conn, n_officers, n_divisions, seed, dates, prefix)
        seed_results(conn, seed, prefix)
        seed_features(conn, offs, seed)
        seed_staging(conn, offs, seed)
        load_id = seed_load_log(conn)
    return {"officers": offs, "load_id": load_id}


#: a year of monthly lists old enough for the outcomes page (their 6 and 12 months have passed)
HISTORY_DATES = [date(2022, m, 1) for m in range(1, 13)]
#: the interventions :func:`seed_interventions` chooses among (the default catalogue's codes)
INTERVENTIONS = ["mentoring", "counselling", "training"]


def seed_interventions(dates: list[date] = HISTORY_DATES, helped_share: float = 0.5) -> dict:
    """Work every alert of *dates* through the app's own alert workflow (eis_core.production.alerts:
    raise, acknowledge, meeting, review with its intervention, follow-up, close), as a sergeant would.

    An officer is one who gets help (*helped_share* of them, by a hash of the id) or one who never does;
    the first are given one intervention a year (of a type fixed per officer, 10 days after the list),
    the others are reviewed with "none" - the flagged comparison officers the outcomes page matches.
    Returns {"alerts": n, "helped": {code: n}}."""
    from eis_core import db
    from eis_core.production import alerts

    helped: dict[str, int] = {}
    last: dict[str, date] = {}
    n = 0
    for d in dates:
        for aid in alerts.raise_alerts(as_of=d, by="tests/webapp_data.py", today=d):
            n += 1
            with db.connect() as conn:
                a = alerts.get_alert(conn, aid)
                oid = a["officer_id"]
                factors = [r[0] for r in conn.execute(
                    "SELECT feature FROM production.risk_factors WHERE officer_id = %s AND as_of_date = %s",
                    (oid, d))]
            who = a["assigned_to"] or "tests"
            alerts.acknowledge(aid, who)
            alerts.record_meeting(aid, who, d + timedelta(days=3), "Talked through the flag and the last months.",
                                  today=d + timedelta(days=3))
            code, idate, fdate = "none", None, None
            if (random.Random(f"help:{oid}").random() < helped_share
                    and (oid not in last or (d - last[oid]).days > 365)):
                code = INTERVENTIONS[random.Random(f"type:{oid}").randrange(len(INTERVENTIONS))]
                idate, fdate = d + timedelta(days=10), d + timedelta(days=40)
                last[oid] = d
                helped[code] = helped.get(code, 0) + 1
            alerts.save_review(aid, who, agrees=True, factor_agreement={f: True for f in factors}, intervention=code,
                               intervention_date=idate, follow_up_date=fdate, dismissal_reason=None,
                               notes=None if code == "none" else f"{code} arranged", today=d + timedelta(days=10))
            if code != "none":
                alerts.record_follow_up(aid, who, "Completed; no new complaints so far.", today=fdate)
            alerts.close(aid, who, "Done.")
    return {"alerts": n, "helped": helped}


def isolated_database(name: str):
    """Point EIS_DATABASE_URL at database *name* on the session's server (created fresh); returns a
    function that drops it again.  The web-app tests thus never touch the tables other modules use."""
    import os

    import psycopg
    from psycopg import sql

    from eis_core import db

    db.start()
    base = db.database_url()
    admin = db.with_database(base, "postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    previous = os.environ.get("EIS_DATABASE_URL")
    os.environ["EIS_DATABASE_URL"] = db.with_database(base, name)

    def cleanup() -> None:
        if previous is None:
            os.environ.pop("EIS_DATABASE_URL", None)
        else:
            os.environ["EIS_DATABASE_URL"] = previous
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    return cleanup
