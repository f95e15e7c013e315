"""kill -9 converges (issue 17 acceptance): `eis score`, `eis features build` and `eis transform`, each run
as a real subprocess on the session's warehouse, are killed with SIGKILL at three points (15 %, 40 % and
70 % of a clean run's measured wall time); a rerun to completion must leave the tables they write with
the same checksums as the clean run.  (`eis load` is covered by tests/test_load_trust.py.)

A checksum is, per base table, the row count and the md5 of its rows (as text) in sorted order.  Left
out because they legitimately differ between two correct runs: every column whose name ends in ``_at``
(built_at, finished_at, scored_at, ...: wall-clock times) and those of ``VOLATILE``
(production.scoring_runs.timings: per-step durations; ``at``, the time of an alert event or a delivery; ``body``, an e-mail's text, which links to its alert by id; the bigserial ids of production.alerts,
alert_events and alert_notifications, drawn anew when a date's alerts are raised again).
features.build_info is left out whole (one row per build: a shape hash and a time).  Floating-point
columns are compared to 10 significant digits: an aggregate such as unit_risk.mean_score (avg() in SQL)
sums in heap order, which moves with free space and changes the last bits between two correct runs.
Before each killed run the state is perturbed (the run's rows deleted or one mart row removed), so the
killed run has real work to redo.  A control test checks that the checksum sees one altered value.

The alerts' e-mails converge too: each is written as a pending row of production.alert_notifications in
the transaction that raises the alert and delivered after it commits, so a kill between the two leaves it
pending and the rerun sends it (a test kills exactly there).

The modeling run (a selected model group) is test_production's module fixture, reused.  The tests run
in file order: `eis transform` (default configs) last, since it rebuilds the marts with the default
feature windows.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest
from psycopg import sql

from eis_core import db
from test_production import run  # noqa: F401 - the module-scoped modeling run (a selected model group)

EIS = str(Path(sys.executable).with_name("eis"))
FRACTIONS = (0.15, 0.40, 0.70)
#: columns that differ between two correct runs (besides *_at): durations, serial ids (see the module doc)
VOLATILE = {"timings", "alert_id", "event_id", "notification_id", "at", "body"}
FLOATS = {"double precision", "real"}
#: a float as text to 10 significant digits (NULL, 0, NaN and infinities as they are)
SIGNIFICANT = ("CASE WHEN {0} IS NULL OR {0} = 0 OR {0} IN ('NaN', 'Infinity', '-Infinity') THEN {0}::text "
               "ELSE round({0}::numeric, 9 - floor(log(abs({0}::numeric)))::int)::text END AS {0}")
SKIP_TABLES = {("features", "build_info")}
SCORE_DAYS = (date(2015, 7, 1), date(2015, 7, 4))


def digest(schemas: tuple[str, ...], skip: frozenset = frozenset()) -> dict[str, tuple[int, str]]:
    out = {}
    with db.connect() as conn:
        tables = conn.execute(
            "SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema = ANY(%s) "
            "AND table_type = 'BASE TABLE' ORDER BY 1, 2", (list(schemas),)).fetchall()
        for schema, table in tables:
            if (schema, table) in SKIP_TABLES or f"{schema}.{table}" in skip:
                continue
            cols = [sql.SQL(SIGNIFICANT).format(sql.Identifier(name)) if kind in FLOATS
                    else sql.Identifier(name) for name, kind in conn.execute(
                "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = %s "
                "AND table_name = %s ORDER BY ordinal_position", (schema, table))
                if not name.endswith("_at") and name not in VOLATILE]
            out[f"{schema}.{table}"] = tuple(conn.execute(sql.SQL(
                "SELECT count(*), coalesce(md5(string_agg(r::text, '|' ORDER BY r::text)), '') FROM (SELECT {} FROM {}) r"
            ).format(sql.SQL(", ").join(cols), sql.Identifier(schema, table))).fetchone())
    return out


def timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, (cmd, res.stdout[-2000:], res.stderr[-2000:])
    return time.perf_counter() - t0


def kill_after(cmd: list[str], seconds: float) -> bool:
    """Start *cmd*, SIGKILL it after *seconds*; True when it was still running (really killed)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        proc.wait(timeout=seconds)
        return False
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        return True


def converges(cmd: list[str], schemas: tuple[str, ...], perturb, skip: frozenset = frozenset(),
              warm: bool = False) -> None:
    """Clean run -> checksums; then per fraction: perturb (so the killed run has work to redo), kill, rerun.
    *warm*: run once before the clean run, whose wall time sets the kill points (a first run that also
    builds missing marts would put them past the end of the later, faster runs)."""
    if warm:
        perturb()
        timed(cmd)
    perturb()
    wall = timed(cmd)
    clean = digest(schemas, skip)
    assert clean and any(n for n, _ in clean.values())
    killed = 0
    for frac in FRACTIONS:
        perturb()
        assert digest(schemas, skip) != clean, "the perturbation must change the checksums"
        killed += kill_after(cmd, frac * wall)
        timed(cmd)
        after = digest(schemas, skip)
        assert after == clean, (frac, {t: (after.get(t), clean.get(t)) for t in set(after) | set(clean)
                                       if after.get(t) != clean.get(t)})
    assert killed >= 2, f"only {killed} of 3 runs were still running when killed (clean run took {wall:.1f}s)"


# ------------------------------------------------------------------------------------------ eis score
def _score_cmd(run) -> list[str]:
    return [EIS, "score", "--date", SCORE_DAYS[0].isoformat(), "--to", SCORE_DAYS[1].isoformat(), "--model-group",
            run["group"], "--mode", "stored", "--config", str(run["config"]), "--labels", str(run["labels"])]


def _clear_score_days() -> None:
    with db.connect() as conn:
        for (table,) in conn.execute(
                "SELECT c.table_name FROM information_schema.columns c JOIN information_schema.tables t USING "
                "(table_schema, table_name) WHERE c.table_schema = 'production' AND c.column_name = 'as_of_date' "
                "AND t.table_type = 'BASE TABLE' AND c.table_name <> 'reviews'").fetchall():
            conn.execute(sql.SQL("DELETE FROM {} WHERE as_of_date BETWEEN %s AND %s").format(
                sql.Identifier("production", table)), SCORE_DAYS)


def test_checksum_detects_one_altered_value(run):
    """Control: the checksum used below changes when one value of one row changes."""
    cmd = _score_cmd(run)
    subprocess.run(cmd[:4] + cmd[6:], check=True, capture_output=True)  # the first day only
    before = digest(("production",))
    with db.connect() as conn:
        conn.execute("UPDATE production.predictions SET score = score * 1.000001 WHERE (as_of_date, officer_id) = "
                     "(SELECT as_of_date, officer_id FROM production.predictions WHERE as_of_date = %s "
                     "ORDER BY officer_id LIMIT 1)", (SCORE_DAYS[0],))
    after = digest(("production",))
    assert after != before
    assert {t for t in after if after[t] != before[t]} == {"production.predictions"}


def test_score_killed_at_three_points_converges_on_rerun(run):
    """A four-day backfill; every production table, the alerts and their e-mails included."""
    converges(_score_cmd(run), ("production",), _clear_score_days, warm=True)


def test_score_killed_between_alerts_and_their_mail_converges_on_rerun(run):
    """The kill lands right after the first alert commits, before its e-mail is delivered: the rerun
    delivers the pending e-mail, so production.alert_notifications ends as after a clean run."""
    cmd = _score_cmd(run)
    _clear_score_days()
    timed(cmd)
    clean = digest(("production",))
    _clear_score_days()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    with db.connect() as conn:
        while time.time() < deadline and proc.poll() is None:  # test-only SQL: the first alert is committed
            if conn.execute("SELECT 1 FROM production.alerts WHERE as_of_date BETWEEN %s AND %s",
                            SCORE_DAYS).fetchone():
                break
            conn.rollback()
            time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    timed(cmd)
    after = digest(("production",))
    assert after == clean, {t: (after.get(t), clean.get(t)) for t in set(after) | set(clean)
                            if after.get(t) != clean.get(t)}


# ----------------------------------------------------------------------------------- eis features build
FEATURE_DAY = date(2015, 1, 1)
MARTS = (("features", "officer_cohort"), ("features", "officer_features"), ("features", "officer_protected"),
         ("labels", "officer_labels"), ("labels", "pending_cases_by_as_of"))


def _clear_feature_day() -> None:
    with db.connect() as conn:
        for schema, table in MARTS:
            conn.execute(sql.SQL("DELETE FROM {} WHERE as_of_date = %s").format(sql.Identifier(schema, table)),
                         (FEATURE_DAY,))


def test_features_build_killed_at_three_points_converges_on_rerun(run):
    cmd = [EIS, "features", "build", "--config", str(run["config"]), "--labels", str(run["labels"]),
           "--as-of-date", FEATURE_DAY.isoformat()]
    converges(cmd, ("features", "labels"), _clear_feature_day)


# ------------------------------------------------------------------------------------------ eis transform
def test_transform_killed_at_three_points_converges_on_rerun(run):
    """Everything dbt builds by default (staging and intermediate views, the feature and label marts for
    the default configs); checked: the tables of schemas features and labels."""
    def perturb():
        with db.connect() as conn:
            conn.execute("DELETE FROM features.officer_cohort WHERE officer_id = "
                         "(SELECT min(officer_id) FROM features.officer_cohort) AND as_of_date = '2013-01-01'")

    converges([EIS, "transform"], ("features", "labels"), perturb)
