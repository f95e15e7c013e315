"""Issue 19.2, incremental by load (real loader, real dbt, real PostgreSQL, the `small` department).

* The small drop cut before 2015-12-01 (eis_core.synth.cut) is loaded and built (as-of 2016-01-01, from
  what was known before the cut); then the whole drop is
  loaded: the loader appends only the new rows (write_mode 'append', the old rows keep their load id) and
  the next build updates the running totals of the affected officers from their first affected day only
  (rows before it are not rewritten).  Every table of intermediate, features and labels then has the same
  checksum as after a full rebuild (`--full-refresh`) of the same raw data.
* A drop that changes one IA disposition of an earlier load is detected by the loader (write_mode
  'replace', 1 row removed); the build says in one line that raw.ia_cases forced int_ia_daily to be
  rebuilt in full, updates the others incrementally, and again equals a full rebuild.
* The dependency map the decision uses (features.incremental.SOURCES) is dbt's lineage.
"""

from __future__ import annotations

import csv
import json
import shutil
from datetime import date

import pytest
from conftest import reset_raw

from eis_core import db
from eis_core.features import build_features, incremental
from eis_core.load.loader import load_drop
from eis_core.synth.cut import WHOLE, cut_drop
from eis_core.transform import target_dir

CUT = date(2015, 12, 1)
D = date(2016, 1, 1)  # the one as-of date built (from the cut, then again from each later load)
EVENT_TABLES = ("ia_cases", "calls_for_service", "dispatches", "arrests", "traffic_stops", "field_interviews",
                "citations", "crime_reports", "secondary_employment", "training", "eis_flags")


def _q(query: str, params: tuple = ()) -> list[tuple]:
    with db.connect() as conn:
        return conn.execute(query, params).fetchall()


def _build(dates, full_refresh=False) -> list[str]:
    lines: list[str] = []
    build_features(as_of_dates=dates, full_refresh=full_refresh, progress=lines.append)
    return lines


def _log(load_id: int) -> dict[str, tuple]:
    return {t: (s, m, a, r) for t, s, m, a, r in _q(
        "SELECT table_name, status, write_mode, rows_added, rows_removed FROM raw.load_log WHERE load_id = %s",
        (load_id,))}


@pytest.fixture(scope="module")
def appended(warehouse, small_drop, tmp_path_factory):
    """Load the cut, build D; load the whole drop, build D again incrementally; return what it saw."""
    reset_raw(warehouse)
    cut = tmp_path_factory.mktemp("cut")
    cut_rows = cut_drop(small_drop, cut, CUT)
    first = load_drop(cut, progress=None)
    _build([D])
    # the totals of days well before the cut: an append must not rewrite them (same row versions)
    old = dict(_q("SELECT officer_id || day, xmin::text FROM intermediate.int_dsp_daily WHERE day < '2015-11-01'"))
    second = load_drop(small_drop, progress=None)
    lines = _build([D])
    kept = dict(_q("SELECT officer_id || day, xmin::text FROM intermediate.int_dsp_daily WHERE day < '2015-11-01'"))
    with db.connect() as conn:  # kept to name the columns that differ, should a checksum not match
        conn.execute("DROP TABLE IF EXISTS public.incr_officer_features")
        conn.execute("CREATE TABLE public.incr_officer_features AS SELECT * FROM features.officer_features")
    return {"cut_rows": cut_rows, "first": first.load_id, "second": second.load_id, "lines": lines,
            "old": old, "kept": kept, "sums": incremental.checksums()}


def test_an_appending_drop_appends_rows_and_updates_the_running_totals_of_the_new_days_only(appended, small_drop):
    manifest = json.loads((small_drop / "_drop.json").read_text())["tables"]
    log = _log(appended["second"])
    for t in EVENT_TABLES:
        added = manifest[t] - appended["cut_rows"][t]
        assert added > 0, t
        assert log[t] == ("loaded", "append", added, 0), t
    for t in WHOLE:
        if t in manifest:
            assert log[t][0] == "unchanged", t
    # old rows keep the load that brought them; only the new ones carry the second load's id
    assert dict(_q("SELECT _load_id, count(*) FROM raw.dispatches GROUP BY 1")) == {
        appended["first"]: appended["cut_rows"]["dispatches"],
        appended["second"]: manifest["dispatches"] - appended["cut_rows"]["dispatches"]}
    running = [x for x in appended["lines"] if x.startswith("running totals:")]
    assert running == [f"running totals: {len(incremental.SOURCES)} model(s) updated with the rows appended "
                       f"after load {appended['first']}"], appended["lines"]
    assert len(appended["old"]) > 1000 and appended["kept"] == appended["old"]
    for model in incremental.SOURCES:
        assert incremental.built_through(model)[:2] == (True, appended["second"]), model


def test_the_incremental_build_equals_a_full_rebuild(appended):
    sums = appended["sums"]
    assert {f"intermediate.{m}" for m in incremental.SOURCES} <= set(sums)
    assert {"features.officer_features", "features.officer_cohort", "labels.officer_labels"} <= set(sums)
    assert _q("SELECT DISTINCT as_of_date FROM features.officer_features") == [(D,)]
    _build([D], full_refresh=True)
    rebuilt = incremental.checksums()
    assert rebuilt == sums, ([k for k in sums if rebuilt.get(k) != sums[k]], _feature_diff())


def _feature_diff() -> list:
    cols = [c for (c,) in _q("SELECT column_name FROM information_schema.columns WHERE table_schema = 'features' "
                             "AND table_name = 'officer_features' AND column_name NOT IN ('officer_id', 'as_of_date')")]
    out = []
    for c in cols:
        (n, d), = _q(f'SELECT count(*), max(abs(x."{c}"::float8 - y."{c}"::float8)) FROM public.incr_officer_features '
                     f'x JOIN features.officer_features y USING (officer_id, as_of_date) WHERE x."{c}" IS DISTINCT FROM y."{c}"')
        if n:
            out.append((c, n, d))
    return out


def test_a_drop_that_rewrites_history_is_detected_and_rebuilds_what_it_feeds(appended, small_drop, tmp_path):
    drop = tmp_path / "rewrite"
    shutil.copytree(small_drop, drop)
    path = drop / "ia_cases.csv"
    rows = list(csv.reader(path.open(newline="")))
    col = rows[0].index("disposition")
    changed = next(r for r in rows[1:] if r[col] == "SUSTAINED")
    changed[col] = "NOT_SUSTAINED"
    with path.open("w", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)
    third = load_drop(drop, progress=None).load_id
    log = _log(third)
    assert log["ia_cases"] == ("loaded", "replace", len(rows) - 1, 1)
    assert all(log[t][0] == "unchanged" for t in EVENT_TABLES if t != "ia_cases")
    lines = _build([D])
    running = [x for x in lines if x.startswith("running totals:")]
    assert running == [
        f"running totals: int_ia_daily rebuilt in full: raw.ia_cases was replaced by load {third} (1 row(s) of "
        f"earlier loads changed or deleted); {len(incremental.SOURCES) - 1} model(s) updated with the rows "
        f"appended after load {appended['second']}"], lines
    assert _q("SELECT count(*) FROM raw.ia_cases WHERE case_id = %s AND disposition = 'NOT_SUSTAINED'",
              (changed[0],)) == [(1,)]
    sums = incremental.checksums()
    assert sums["intermediate.int_ia_daily"] != appended["sums"]["intermediate.int_ia_daily"]
    _build([D], full_refresh=True)
    assert incremental.checksums() == sums


def test_a_write_outside_the_loader_is_detected_too(appended):
    """An UPDATE by hand (not a load) of a table a running total reads: the write log names it."""
    with db.connect() as conn:
        conn.execute("UPDATE raw.eis_flags SET flagged_on = flagged_on WHERE flag_id = "
                     "(SELECT min(flag_id) FROM raw.eis_flags)")
    line = incremental.summary_line(incremental.plan())
    assert line.startswith("running totals: int_flg_daily rebuilt in full: raw.eis_flags was written outside "
                           "the loader (UPDATE); "), line


def test_the_sources_of_each_running_total_are_dbts_lineage(appended):
    nodes = json.loads((target_dir() / "manifest.json").read_text())
    parents = {**nodes["nodes"], **nodes["sources"]}

    def raw_tables(uid: str) -> set[str]:
        node = parents[uid]
        if node["resource_type"] == "source":
            return {node["name"]}
        return set().union(*[raw_tables(p) for p in node.get("depends_on", {}).get("nodes", [])] or [set()])

    for model, tables in incremental.SOURCES.items():
        assert raw_tables(f"model.eis.{model}") == set(tables), model
