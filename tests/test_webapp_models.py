"""The analyst's model pages (issue 16): score distribution by label, train vs test feature
distributions from the Parquet matrices, rank overlap of the top k across models and over time, the
predictions with their labels, per-model comments; the bias flag rule explained and consistent with
production's audit; severity monitoring and forecast bands in words and neutral colours.  In-process
(Starlette's TestClient over the real app) against a real PostgreSQL database (tests/webapp_data.py)."""

from __future__ import annotations

import html
import json
import re

import numpy as np
import pytest

import webapp_data as wd

USERS = {"admin": ("admin", None), "ana": ("analyst", None), "supnorth": ("supervisor", "NORTH")}
MODEL_PAGE = f"/models?experiment={wd.EXPERIMENT_ID}&group=wa_group_rf&model=wa_model_rf_3"


@pytest.fixture(scope="module")
def env(warehouse):
    cleanup = wd.isolated_database("eis_webapp_models")
    try:
        seeded = wd.seed_all(n_officers=60, n_divisions=3)
        from eis_core.webapp import store
        from eis_core.webapp.app import create_app
        from eis_core.webapp.security import Settings

        passwords = {u: store.add_user(u, role, div) for u, (role, div) in USERS.items()}
        app = create_app(Settings(secret="m" * 40, session_hours=1))
        yield {"app": app, "passwords": passwords, "officers": seeded["officers"]}
    finally:
        cleanup()


def login(env, user: str):
    from starlette.testclient import TestClient

    c = TestClient(env["app"], follow_redirects=False, client=("10.3.0.1", 50000))
    token = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").text).group(1)
    r = c.post("/login", data={"username": user, "password": env["passwords"][user], "csrf_token": token})
    assert r.status_code == 303
    return c


def csrf_of(c, path: str = "/risk") -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', c.get(path).text).group(1)


def chart(page: str, chart_id: str) -> dict:
    m = re.search(rf'<script type="application/json" id="{chart_id}-data">(.*?)</script>', page, re.S)
    assert m, chart_id
    return json.loads(m.group(1))


def section(page: str, sid: str) -> str:
    start = page.index(f'id="{sid}"')
    end = page.find("<section", start + 1)
    return page[start:end if end > 0 else None]


def db_rows(query: str, params=()):
    from eis_core import db

    with db.connect() as conn:
        return conn.execute(query, params).fetchall()


def test_score_distribution_overlap_and_predictions_match_the_stored_predictions(env):
    c = login(env, "ana")
    r = c.get(MODEL_PAGE + "&k=15")
    assert r.status_code == 200
    page = r.text
    # score distribution by label: per label the shares sum to 1, counts are the stored ones
    scores = chart(page, "scores")
    n = dict(db_rows("SELECT label, count(*) FROM results.predictions WHERE model_id = 'wa_model_rf_3' GROUP BY 1"))
    assert [d["label"] for d in scores["data"]["datasets"]] == [
        f"no adverse incident (label 0, n = {n[0]})", f"adverse incident (label 1, n = {n[1]})"]
    for ds in scores["data"]["datasets"]:
        assert abs(sum(ds["data"]) - 1) < 1e-3
    # the label-1 officers score higher (the seed adds the group's level to their score): the histogram shows it
    centres = np.arange(len(scores["data"]["labels"]))
    mean_bin = [float(np.dot(centres, ds["data"])) for ds in scores["data"]["datasets"]]
    assert mean_bin[1] > mean_bin[0]
    # overlap of the top 15 across the models of split 3, against sets computed here from the table
    top = {}
    for mid, oid in db_rows("SELECT model_id, officer_id FROM results.predictions WHERE model_id LIKE 'wa_model_%%_3' "
                            "AND rank_abs_no_ties <= 15"):
        top.setdefault(mid, set()).add(oid)
    a, b = top["wa_model_rf_3"], top["wa_model_lr_3"]
    expected = f"{len(a & b)} · {len(a & b) / len(a | b):.2f}"
    table = section(page, "rank-overlap")
    assert "Overlap of the top 15" in table and expected in table
    assert table.count("15 · 1.00") == 4  # each of the four models against itself
    # over time: split 1 -> 2 -> 3 of the group
    t1 = {o for (o,) in db_rows("SELECT officer_id FROM results.predictions WHERE model_id = 'wa_model_rf_1' "
                                "AND rank_abs_no_ties <= 15")}
    t2 = {o for (o,) in db_rows("SELECT officer_id FROM results.predictions WHERE model_id = 'wa_model_rf_2' "
                                "AND rank_abs_no_ties <= 15")}
    over = re.search(r'id="overlap-time">(.*?)</table>', page, re.S).group(1)
    assert over.count("<tr><td>split_") == 2
    assert f'<td class="num">{len(t1 & t2)}</td>' in over.split("</tr>")[1]
    # predictions with labels: filter and pages
    pos = c.get(MODEL_PAGE + "&label=1").text
    rows = re.findall(r"<tr><td class=\"num\">\d+</td><td class=\"mono\">(OF\d+)</td>.*?<td>(adverse incident|none)</td>",
                      section(pos, "predictions"))
    assert len(rows) == n[1] and {lab for _, lab in rows} == {"adverse incident"}
    all1 = section(c.get(MODEL_PAGE).text, "predictions")
    assert f"{n[0] + n[1]} rows, page 1 of 3" in all1 and "next →" in all1
    p3 = section(c.get(MODEL_PAGE + "&page=3").text, "predictions")
    assert p3.count('<td class="mono">OF') == 150 - 100 and "← previous" in p3
    for bad in ("&k=abc", "&k=0", "&label=2", "&page=-1"):
        assert c.get(MODEL_PAGE + bad).status_code == 400, bad
    # audited, and refused to supervisors (and that refusal audited too)
    assert db_rows("SELECT count(*) FROM webapp.access_audit WHERE username = 'ana' AND action = 'view_model' "
                   "AND target = 'wa_model_rf_3'")[0][0] >= 4
    sup = login(env, "supnorth")
    assert sup.get(MODEL_PAGE).status_code == 403
    assert db_rows("SELECT count(*) FROM webapp.access_audit WHERE username = 'supnorth' AND action = 'denied'")[0][0] >= 1


def write_matrix(project, mid: str, frame, features: list[str]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    d = project / "matrices"
    d.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), d / f"{mid}.parquet")
    (d / f"{mid}.json").write_text(json.dumps({"matrix_id": mid, "feature_columns": features,
                                               "columns": ["officer_id", "as_of_date", *features, "label"],
                                               "n_rows": len(frame)}))


def test_feature_distributions_train_vs_test_come_from_the_parquet_matrices(env, tmp_path):
    import pandas as pd
    from datetime import date

    rng = np.random.default_rng(3)
    feats = ["ia_closed_sustained_5y", "ia_closed_sustained_1y", "dsp_night_share_1y"]
    project = tmp_path / "proj"

    def frame(n, shift, as_of):
        return pd.DataFrame({"officer_id": [f"OF{i:05d}" for i in range(n)], "as_of_date": [as_of] * n,
                             "ia_closed_sustained_5y": rng.poisson(1 + shift, n).astype(float),
                             "ia_closed_sustained_1y": np.where(np.arange(n) % 4 == 0, np.nan, 1.0),
                             "dsp_night_share_1y": rng.uniform(0, 0.5, n), "label": (np.arange(n) % 8 == 0).astype("int8")})

    train, test = frame(400, 0, date(2013, 1, 1)), frame(150, 3, date(2014, 7, 1))
    write_matrix(project, "wa_train_3", train, feats)
    write_matrix(project, "wa_test_split_2014-07-01", test, feats)
    before = {p.name: p.read_bytes() for p in (project / "matrices").iterdir()}
    from eis_core import db

    with db.connect() as conn:
        conn.execute("INSERT INTO results.matrices (matrix_id, kind, split_id, n_rows, path) VALUES "
                     "('wa_train_3', 'train', 'split_2014-07-01', 400, %s)",
                     (str(project / "matrices" / "wa_train_3.parquet"),))
        conn.execute("UPDATE results.models SET train_matrix_id = 'wa_train_3' WHERE model_id = 'wa_model_rf_3'")
    try:
        c = login(env, "ana")
        page = c.get(MODEL_PAGE).text
        fd = section(page, "feature-distribution")
        # the model's most important features first (results.feature_importances ranks them so)
        assert [h for h in re.findall(r"<h4>([^<]+)</h4>", fd)] == feats
        first = chart(page, "fd1")
        assert [d["label"] for d in first["data"]["datasets"]] == ["train", "test"]
        tr, te = (d["data"] for d in first["data"]["datasets"])
        assert abs(sum(tr) - 1) < 1e-3 and abs(sum(te) - 1) < 1e-3
        assert f"mean train {train['ia_closed_sustained_5y'].mean():.2f} · test {test['ia_closed_sustained_5y'].mean():.2f}" in fd
        assert "missing train 25.0 % · test 25.3 %" in fd  # every fourth row of the second feature
        assert {p.name: p.read_bytes() for p in (project / "matrices").iterdir()} == before  # read-only
        # a missing file is an empty state, not a 500
        (project / "matrices" / "wa_train_3.parquet").unlink()
        r = c.get(MODEL_PAGE)
        assert r.status_code == 200 and "cannot be read" in section(r.text, "feature-distribution")
        # a model whose matrices are not recorded says so
        other = c.get(f"/models?experiment={wd.EXPERIMENT_ID}&group=wa_group_rf&model=wa_model_rf_2").text
        assert "matrices are not recorded" in section(other, "feature-distribution")
    finally:
        with db.connect() as conn:
            conn.execute("UPDATE results.models SET train_matrix_id = NULL WHERE model_id = 'wa_model_rf_3'")
            conn.execute("DELETE FROM results.matrices WHERE matrix_id = 'wa_train_3'")


def test_model_comments_are_escaped_audited_and_for_analysts_and_admins_only(env):
    ana = login(env, "ana")
    token = csrf_of(ana, MODEL_PAGE)
    body = "Recall drops on the 2014 split <script>alert(1)</script> — check the new IA codes"
    r = ana.post("/models/wa_model_rf_3/comments", data={"csrf_token": token, "body": body})
    assert r.status_code == 303 and "model=wa_model_rf_3" in r.headers["location"]
    assert r.headers["location"].endswith("#comments") and "group=wa_group_rf" in r.headers["location"]
    page = section(ana.get(MODEL_PAGE).text, "comments")
    assert html.escape(body, quote=False) in page and "<script>alert(1)" not in page and "ana ·" in page
    # another model does not show it
    assert "Recall drops" not in section(ana.get(f"/models?experiment={wd.EXPERIMENT_ID}&group=wa_group_rf"
                                                 "&model=wa_model_rf_2").text, "comments")
    adm = login(env, "admin")
    assert adm.post("/models/wa_model_rf_3/comments", data={"csrf_token": csrf_of(adm, MODEL_PAGE),
                                                            "body": "agreed"}).status_code == 303
    assert db_rows("SELECT username, body FROM webapp.model_comments WHERE model_id = 'wa_model_rf_3' "
                   "ORDER BY comment_id") == [("ana", body), ("admin", "agreed")]
    audit = db_rows("SELECT username, target, detail FROM webapp.access_audit WHERE action = 'model_comment' "
                    "ORDER BY audit_id")
    assert [(u, t) for u, t, _ in audit] == [("ana", "wa_model_rf_3"), ("admin", "wa_model_rf_3")]
    assert audit[0][2]["length"] == len(body)
    # refused: wrong token, empty or too long, unknown model, a supervisor
    assert ana.post("/models/wa_model_rf_3/comments", data={"csrf_token": "x", "body": "a"}).status_code == 403
    assert ana.post("/models/wa_model_rf_3/comments", data={"csrf_token": token, "body": "   "}).status_code == 400
    assert ana.post("/models/wa_model_rf_3/comments", data={"csrf_token": token, "body": "x" * 2001}).status_code == 400
    assert ana.post("/models/nope/comments", data={"csrf_token": token, "body": "hello"}).status_code == 404
    sup = login(env, "supnorth")
    r = sup.post("/models/wa_model_rf_3/comments", data={"csrf_token": csrf_of(sup), "body": "I should not"})
    assert r.status_code == 403
    assert db_rows("SELECT count(*) FROM webapp.model_comments")[0][0] == 2


def test_bias_flag_rule_is_explained_and_is_the_one_production_applies(env):
    """The rows are computed by production's own audit function on a hand-made case: a group just below
    the range (ratio 0.8 - a little), one too small to be flagged though its ratio is far out, one whose
    flag rate is fine but whose false-positive rate is not; the page must say each in words, agree
    with production's flag, and not show 0.799 as 0.80."""
    import pandas as pd

    from eis_core.production import insights

    insights.ensure_insight_tables()
    # 100 A (ref), 100 B, 5 C; flagged: A 20 %, B ~16 % (ratio 0.79..), C 3 of 5
    groups = pd.Series(["A"] * 100 + ["B"] * 100 + ["C"] * 5)
    flagged = np.zeros(205, dtype=int)
    labels = np.zeros(205, dtype=int)
    flagged[:20] = 1                      # A: 20 flagged, 10 of them positive
    labels[:10] = 1
    labels[20:30] = 1                     # A: 10 positives not flagged
    flagged[100:116] = 1                  # B: 16 flagged (rate 0.16 -> ratio 0.8 exactly? no: 16/20 = 0.8)
    flagged[116] = 0
    labels[100:108] = 1
    labels[116:126] = 1
    flagged[200:203] = 1                  # C: 3 of 5
    rows = insights.group_metrics(flagged, labels, groups, (0.8, 1.25), 10)
    by = {r["group_value"]: r for r in rows}
    assert by["C"]["out_of_range"] is False and by["C"]["flag_rate_ratio"] > 1.25  # too small
    from eis_core import db

    with db.connect() as conn:
        conn.execute("DELETE FROM results.bias_audit WHERE scope = 'test_split'")
        for r in rows:
            conn.execute("INSERT INTO results.bias_audit (model_id, split_id, as_of_date, threshold, attribute, "
                         "group_value, reference_group, group_size, flagged, flag_rate, precision, tpr, fpr, fnr, "
                         "flag_rate_ratio, tpr_ratio, fpr_ratio, out_of_range) VALUES ('wa_model_rf_3', "
                         "'split_2014-07-01', '2014-07-01', 'top10%%', 'race', %(group_value)s, %(reference_group)s, "
                         "%(group_size)s, %(flagged)s, %(flag_rate)s, %(precision)s, %(tpr)s, %(fpr)s, %(fnr)s, "
                         "%(flag_rate_ratio)s, %(tpr_ratio)s, %(fpr_ratio)s, %(out_of_range)s)", r)
        # a borderline group written by hand: flag-rate ratio 0.799, as production would flag it
        conn.execute("INSERT INTO results.bias_audit (model_id, split_id, as_of_date, threshold, attribute, group_value, "
                     "reference_group, group_size, flagged, flag_rate, flag_rate_ratio, tpr_ratio, fpr_ratio, "
                     "out_of_range) VALUES ('wa_model_rf_3', 'split_2014-07-01', '2014-07-01', 'top10%%', 'sex', 'F', "
                     "'M', 40, 6, 0.15, 0.799, 1.0, 1.0, true)")
    page = login(env, "ana").get(MODEL_PAGE).text
    assert "largest group" in page and "<strong>0.8</strong>" in page and "<strong>1.25</strong>" in page
    assert "at least <strong>10</strong> officers" in page and "not a finding of bias" in page
    table = re.search(r'<table class="data" id="bias">(.*?)</table>', page, re.S).group(1)
    shown = {}
    for tr in re.findall(r"<tr class=\"[a-z]*\">(.*?)</tr>", table, re.S):
        cells = re.findall(r"<td[^>]*>(.*?)</td>", tr, re.S)
        shown[cells[3]] = {"flagged": cells[15], "why": cells[16], "flag_ratio": cells[12]}
    for g, r in by.items():
        assert shown[g]["flagged"] == ("yes" if r["out_of_range"] else "no"), g
    assert "reference group" in shown["A"]["why"]
    assert "fewer than 10" in shown["C"]["why"] and "flag rate" in shown["C"]["why"]
    assert shown["F"]["flagged"] == "yes" and "0.799" in shown["F"]["flag_ratio"] and "⚠" in shown["F"]["flag_ratio"]
    assert shown["F"]["why"].startswith("flagged: flag rate 0.799")
    assert "another rule" not in table  # every stored flag agrees with the rule
    # the units page: production's flag-rate audit, the same words and flags as the day's rows (scored_day)
    units = login(env, "ana").get("/units").text
    assert "flag rate (the share of its officers flagged)" in units
    audit = db_rows("SELECT group_value, attribute, out_of_range, group_size FROM results.bias_audit "
                    "WHERE scope = 'scored_day' AND as_of_date = %s ORDER BY threshold, attribute, group_value", (wd.LATEST,))
    cells = re.findall(r"<tr class=\"[a-z]*\"><td>[^<]*</td><td>([^<]*)</td><td>([^<]*)</td>.*?"
                       r"<td>(yes|no)</td><td class=\"small\">([^<]*)</td></tr>",
                       re.search(r'id="flag-rate-audit">(.*?)</table>', units, re.S).group(1), re.S)
    assert [(g, a, f == "yes") for a, g, f, _ in cells] == [(g, a, o) for g, a, o, _ in audit]
    for (_, _, f, why), (_, _, o, size) in zip(cells, audit):
        assert why.startswith("flagged:") == o and "another rule" not in why
        if size < 10:
            assert f == "no"


def test_severity_monitoring_reads_in_words_without_json_or_paths(env):
    from eis_core import db
    from eis_core.severity.store import ensure_severity_schema

    ensure_severity_schema()
    with db.connect() as conn:
        conn.execute("INSERT INTO severity.models (version, train_start, train_end, data_hash, library_versions, "
                     "metrics, artifact_path, status, artifact_sha256, n_train) VALUES ('sev-2024-05-01-ab12', "
                     "'2023-01-01', '2024-05-01', 'h', %s, %s, '/srv/eis/secret/severity/model.joblib', 'champion', "
                     "'0123456789abcdef0123', 9000)",
                     (json.dumps({"scikit-learn": "1.5.2", "numpy": "2.0"}),
                      json.dumps({"model": {"macro_f1": 0.6123}, "offense_rule": {"macro_f1": 0.41}, "n_test": 1200})))
    try:
        c = login(env, "ana")
        page = c.get("/severity").text
        models = section(page, "sev-models")
        for text in ("sev-2024-05-01-ab12", "champion", "0.612", "0.410", "1.5.2", "0123456789ab", "9000", "1200"):
            assert text in models, text
        assert "/srv/eis" not in page and "model.joblib" not in page and "{&#34;" not in page and '{"' not in page
        assert "macro_f1" not in page and "library_versions" not in page
        # empty tables say what fills them, never a table name
        assert "No daily scores yet" in section(page, "sev-monitoring_daily")
        assert "eis severity monitor" in page
        assert not re.search(r"severity\.[a-z_]+", page)
        assert login(env, "supnorth").get("/severity").status_code == 403
    finally:
        with db.connect() as conn:
            conn.execute("TRUNCATE severity.models CASCADE")


def test_forecast_interval_edges_share_one_neutral_colour(env):
    from datetime import date, timedelta

    from eis_core import db
    from eis_core.forecast.store import ensure_schema

    ensure_schema()
    with db.connect() as conn:
        run = conn.execute("INSERT INTO forecast.runs (kind) VALUES ('stops') RETURNING run_id").fetchone()[0]
        for i in range(5):
            conn.execute("INSERT INTO forecast.stops_daily (run_id, series, day, model, yhat, lo_80, hi_80, chosen) "
                         "VALUES (%s, 'all', %s, 'ets', %s, %s, %s, true)",
                         (run, date(2024, 6, 1) + timedelta(days=i), 50 + i, 40 + i, 60 + i))
    try:
        page = login(env, "ana").get("/forecasts").text
        cfg = chart(page, "stops")
        fc, lo, hi = cfg["data"]["datasets"]
        assert lo["data"] == [40, 41, 42, 43, 44] and hi["data"] == [60, 61, 62, 63, 64]
        assert lo["borderColor"] == hi["borderColor"] != fc["borderColor"]
        assert hi["fill"] == "-1" and "interval" in lo["label"] and "interval" in hi["label"]
        reds_greens = {"#d62728", "#2ca02c", "#b42318", "#067647"}
        assert not {lo["borderColor"], hi["borderColor"], lo["backgroundColor"]} & reds_greens
    finally:
        with db.connect() as conn:
            conn.execute("TRUNCATE forecast.runs CASCADE")
