"""Call-priority prediction and the weekday/weekend/holiday priority analysis.

Target: the priority *band* of a call, following the City of San Diego's own priority levels (the export's
0-4 and 9; the importer stores SD priority p as contract priority p + 1 and 9 as 9):

* ``emergency`` - SD 0 ("E"), contract 1: an imminent threat to life;
* ``urgent`` - SD 1-2, contract 2-3: crimes in progress or other calls that need a unit promptly;
* ``non_urgent`` - SD 3-4, contract 4-8: minor crimes and requests for service (contract 6-8 never come
  from San Diego; another department's 6-8 fall here);
* ``report`` - SD 9, contract 9: report-only calls (in the real sample every priority-9 call is a report
  type: 487R, 488R, 10852R, LOST, ...).

Features, all known when the call is received: call type, source, division, beat, hour, weekday, weekend
and US-federal-holiday flags, and the division's call volume in the hour before the call (calls received
in ``[t - 1 h, t)``: strictly earlier calls only, so the call itself and anything after it never count).

Models: a scikit-learn Pipeline (ColumnTransformer: ordinal-encoded categoricals + numeric columns ->
HistGradientBoostingClassifier with native categorical splits and balanced class weights), against a
majority-class baseline and a call-type lookup (most common band of the call type in the training
period).  Time split: the test window is the last *test_days* calendar days exactly; training is the
*train_days* before it; the model is **chosen on a validation window** (the last fifth of the training
days), every model is then refitted on the whole training period and scored once on the test window.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

BANDS = ("emergency", "urgent", "non_urgent", "report")
URGENCY = {"emergency": 3, "urgent": 2, "non_urgent": 1, "report": 0}  # ordinal level for effect sizes
CATEGORICAL = ["call_type", "source", "division", "beat"]
NUMERIC = ["hour", "weekday", "weekend", "holiday", "prev_hour_division_calls"]
MIN_TRAIN_DAYS = 7
MIN_TRAIN_CALLS = 100


def band(priority) -> np.ndarray:
    """Contract priority (1-9) -> San Diego band (see the module docstring)."""
    p = np.asarray(priority).astype(int)
    return np.select([p <= 1, p <= 3, p <= 8], ["emergency", "urgent", "non_urgent"], "report")


def read_calls(since: str | None = None, drop_dir: str | Path | None = None) -> pd.DataFrame:
    """The calls (the columns the model uses) from the warehouse, or from ``<drop>/calls_for_service.csv``."""
    cols = ["call_id", "received_at", "call_type", "priority", "source", "division", "beat"]
    if drop_dir is not None:
        path = Path(drop_dir) / "calls_for_service.csv"
        if not path.is_file():
            raise ValueError(f"{path} not found: the drop has no calls_for_service")
        try:
            df = pd.read_csv(path, usecols=cols, dtype={c: str for c in cols if c not in ("priority",)})
        except ValueError as e:
            raise ValueError(f"{path}: needs the columns {', '.join(cols)} ({str(e).splitlines()[0][:100]})") from None
        df["received_at"] = pd.to_datetime(df["received_at"], errors="coerce")
        return df.dropna(subset=["received_at", "priority"])
    from eis_core import db
    from eis_core.forecast.data import relation_name

    with db.connect() as conn:
        rel = relation_name(conn, "calls_for_service")
        rows = conn.execute(
            f"SELECT {', '.join(cols)} FROM {rel}" + (" WHERE received_at >= %s" if since else ""),
            (since,) if since else None,
        ).fetchall()
    return pd.DataFrame(rows, columns=cols)


def features(calls: pd.DataFrame) -> pd.DataFrame:
    """The model frame: one row per call, features known at receipt time, plus ``band``."""
    df = calls.copy()
    df["received_at"] = pd.to_datetime(df["received_at"])
    df = df.sort_values(["received_at", "call_id"], kind="stable").reset_index(drop=True)
    t = df["received_at"].to_numpy("datetime64[s]").astype(np.int64)
    prev = np.zeros(len(df), np.int64)
    for _, ix in df.groupby("division", sort=False).indices.items():
        tt = t[ix]  # sorted within the division (df is sorted by time)
        prev[ix] = np.searchsorted(tt, tt, "left") - np.searchsorted(tt, tt - 3600, "left")
    df["prev_hour_division_calls"] = prev
    df["hour"] = df["received_at"].dt.hour
    df["weekday"] = df["received_at"].dt.day_of_week
    df["weekend"] = (df["weekday"] >= 5).astype(int)
    from eis_core.forecast.data import us_holidays

    day = df["received_at"].to_numpy("datetime64[D]")
    df["holiday"] = (
        np.isin(day, us_holidays(df["received_at"].min(), df["received_at"].max())) if len(df) else np.zeros(0, bool)
    ).astype(int)
    for c in CATEGORICAL:
        df[c] = df[c].astype(str)
    df["band"] = band(df["priority"])
    return df


def make_pipeline(seed: int = 0):
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OrdinalEncoder

    enc = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan, max_categories=250)
    pre = ColumnTransformer([("cat", enc, CATEGORICAL), ("num", "passthrough", NUMERIC)])
    clf = HistGradientBoostingClassifier(
        categorical_features=list(range(len(CATEGORICAL))),
        max_iter=150,
        learning_rate=0.1,
        class_weight="balanced",
        random_state=seed,
    )
    return Pipeline([("features", pre), ("model", clf)])


def _scores(name, y, pred, n_train, split_at) -> dict:
    from sklearn.metrics import accuracy_score, f1_score

    return {
        "model": name,
        "accuracy": float(accuracy_score(y, pred)),
        "macro_f1": float(f1_score(y, pred, average="macro", labels=list(BANDS), zero_division=0)),
        "n_train": int(n_train),
        "n_test": int(len(y)),
        "split_at": split_at,
    }


def split_window(df: pd.DataFrame, test_days: int | None = None, train_days: int = 365) -> dict:
    """The time split: test = the last *test_days* calendar days exactly (default: a fifth of the days with
    data, at most 90), train = the *train_days* before it, validation = the last fifth of the training days."""
    if df.empty:
        raise ValueError("no calls: calls_for_service has no rows")
    end = df["received_at"].max().normalize() + pd.Timedelta(days=1)  # the end of the last day with calls
    span = (end - df["received_at"].min().normalize()).days
    if test_days is None:
        test_days = min(90, max(1, span // 5))
    have = span - test_days
    if have < MIN_TRAIN_DAYS:
        raise ValueError(
            f"not enough calls history for --test-days {test_days}: need at least "
            f"{test_days + MIN_TRAIN_DAYS} days of calls ({MIN_TRAIN_DAYS} to train), the data has {span}"
        )
    split_at = end - pd.Timedelta(days=test_days)
    train_from = max(split_at - pd.Timedelta(days=train_days), df["received_at"].min().normalize())
    train_span = (split_at - train_from).days
    val_days = max(1, train_span // 5)
    return {
        "test_days": test_days,
        "split_at": split_at,
        "end": end,
        "train_from": train_from,
        "val_at": split_at - pd.Timedelta(days=val_days),
        "val_days": val_days,
        "train_days": train_span,
    }


def _fit_predict(train: pd.DataFrame, test: pd.DataFrame, seed: int) -> dict[str, np.ndarray]:
    """Predictions of the three models fitted on *train* for *test*."""
    majority = train["band"].mode().iloc[0]
    lookup = train.groupby("call_type")["band"].agg(lambda s: s.mode().iloc[0])
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):  # one thread: see eis_core.forecast.run (no OpenMP spin-waiting on busy cores)
        pipe = make_pipeline(seed).fit(train[CATEGORICAL + NUMERIC], train["band"])
        hgb = pipe.predict(test[CATEGORICAL + NUMERIC])
    return {
        "majority": np.full(len(test), majority),
        "call_type_lookup": test["call_type"].map(lookup).fillna(majority).to_numpy(),
        "hgb_pipeline": hgb,
        "_pipeline": pipe,
    }


def train_and_evaluate(
    df: pd.DataFrame,
    *,
    test_days: int | None = None,
    train_days: int = 365,
    max_train: int = 200_000,
    seed: int = 0,
    progress: Callable[[str], object] = print,
) -> dict:
    """Choose among the majority class, the call-type lookup and the pipeline on a validation window inside
    training; refit on the whole training period; score every model once on the test window."""
    w = split_window(df, test_days, train_days)
    t = df["received_at"]
    train = df[(t >= w["train_from"]) & (t < w["split_at"])]
    test = df[(t >= w["split_at"]) & (t < w["end"])]
    if len(train) > max_train:
        train = train.iloc[-max_train:]  # the most recent calls
    fit, val = train[train["received_at"] < w["val_at"]], train[train["received_at"] >= w["val_at"]]
    if len(fit) < MIN_TRAIN_CALLS or val.empty or test.empty or fit["band"].nunique() < 2:
        raise ValueError(
            f"not enough calls for a time split: {len(fit):,} to fit (need {MIN_TRAIN_CALLS} with at "
            f"least 2 bands), {len(val):,} to validate, {len(test):,} to test (need at least 1 each)"
        )
    progress(
        f"priority: train {len(train):,} calls {w['train_from']:%Y-%m-%d} .. {w['split_at']:%Y-%m-%d} "
        f"(validation: the last {w['val_days']} day(s), {len(val):,} calls), "
        f"test {len(test):,} calls in the {w['test_days']} day(s) from {w['split_at']:%Y-%m-%d}"
    )
    val_pred = _fit_predict(fit, val, seed)
    val_f1 = {
        m: _scores(m, val["band"], p, len(fit), w["split_at"])["macro_f1"]
        for m, p in val_pred.items()
        if not m.startswith("_")
    }
    best = sorted(val_f1, key=lambda m: (-val_f1[m], m))[0]
    test_pred = _fit_predict(train, test, seed)
    rows = [
        {**_scores(m, test["band"], test_pred[m], len(train), w["split_at"]), "val_macro_f1": val_f1[m]}
        for m in ("majority", "call_type_lookup", "hgb_pipeline")
    ]
    scores = pd.DataFrame(rows)
    scores["chosen"] = scores["model"] == best
    return {"scores": scores, "pipeline": test_pred["_pipeline"], "split_at": w["split_at"], "window": w}


def day_type(received_at: pd.Series) -> np.ndarray:
    """``holiday`` (US federal holiday), else ``weekend`` (Sat/Sun), else ``weekday``."""
    from eis_core.forecast.data import us_holidays

    ts = pd.to_datetime(received_at)
    hol = np.isin(ts.to_numpy("datetime64[D]"), us_holidays(ts.min(), ts.max()))
    return np.where(hol, "holiday", np.where(ts.dt.day_of_week >= 5, "weekend", "weekday"))


def cliffs_delta(a_counts, b_counts) -> float:
    """Cliff's delta of two samples given as counts over the same ordered levels (low to high):
    P(A > B) - P(A < B); 0 = no difference, +-1 = complete separation."""
    a, b = np.asarray(a_counts, float), np.asarray(b_counts, float)
    na, nb = a.sum(), b.sum()
    if na == 0 or nb == 0:
        return float("nan")
    below = np.concatenate([[0], np.cumsum(b)[:-1]])  # b strictly below each level
    above = nb - np.cumsum(b)  # b strictly above
    return float((a * below).sum() - (a * above).sum()) / (na * nb)


def cramers_v(table: np.ndarray, chi2: float) -> float:
    n, r, c = table.sum(), *table.shape
    k = min(r, c) - 1
    return float(np.sqrt(chi2 / (n * k))) if n and k > 0 else float("nan")


def weekday_weekend(df: pd.DataFrame, out_dir: str | Path | None = None) -> dict:
    """Priority-band distribution by day type (weekday / weekend / US federal holiday) and by hour:
    chi-square tests with Cramér's V, and Cliff's delta of the urgency level (emergency > urgent >
    non_urgent > report) of weekend and holiday calls against weekday calls; plots (PNG)."""
    from scipy.stats import chi2_contingency

    day = day_type(df["received_at"])
    ct_day = pd.crosstab(day, df["band"]).reindex(columns=list(BANDS), fill_value=0)
    ct_day = ct_day.loc[[d for d in ("weekday", "weekend", "holiday") if d in ct_day.index]]
    ct_hour = pd.crosstab(df["hour"], df["band"]).reindex(columns=list(BANDS), fill_value=0)

    def chi(ct: pd.DataFrame) -> dict:
        t = ct.loc[:, ct.sum(axis=0) > 0].to_numpy()
        if t.shape[0] < 2 or t.shape[1] < 2:
            return {"chi2": float("nan"), "dof": 0, "p": float("nan"), "cramers_v": float("nan")}
        r = chi2_contingency(t)
        return {
            "chi2": float(r.statistic),
            "dof": int(r.dof),
            "p": float(r.pvalue),
            "cramers_v": cramers_v(t, r.statistic),
        }

    levels = sorted(BANDS, key=lambda b: URGENCY[b])  # low to high urgency
    ordered = ct_day.reindex(columns=levels, fill_value=0)
    deltas = {
        f"{g}_vs_weekday": cliffs_delta(ordered.loc[g], ordered.loc["weekday"])
        for g in ("weekend", "holiday")
        if g in ordered.index and "weekday" in ordered.index
    }
    out = {
        "by_daytype": ct_day,
        "share_by_daytype": ct_day.div(ct_day.sum(axis=1), axis=0),
        "by_hour_share": ct_hour.div(ct_hour.sum(axis=1), axis=0),
        "chi2_daytype": chi(ct_day),
        "chi2_hour": chi(ct_hour),
        "cliffs_delta": deltas,
        "plots": [],
    }
    if out_dir is not None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
        out["share_by_daytype"].plot.bar(stacked=True, ax=axes[0], rot=0, title="Priority band share by day type")
        out["by_hour_share"].plot(ax=axes[1], title="Priority band share by hour of day")
        axes[1].set_xlabel("hour")
        fig.tight_layout()
        p = out_dir / "priority_weekday_weekend.png"
        fig.savefig(p, dpi=110)
        plt.close(fig)
        out["plots"].append(p)
    return out


def run_priority(
    *,
    test_days: int | None = None,
    train_days: int = 365,
    store: bool = True,
    out_dir: str | Path | None = None,
    calls: pd.DataFrame | None = None,
    drop_dir: str | Path | None = None,
    progress: Callable[[str], object] = print,
) -> dict:
    """Read the calls, fit and score the priority models, run the day-type analysis, store the scores.
    *test_days* None: a fifth of the days with data, at most 90."""
    import time

    t0 = time.perf_counter()
    if calls is None:
        progress(f"reading calls_for_service from {'drop ' + str(drop_dir) if drop_dir else 'the warehouse'} ...")
        calls = read_calls(drop_dir=drop_dir)
    df = features(calls)
    res = train_and_evaluate(df, test_days=test_days, train_days=train_days, progress=progress)
    if out_dir is None:
        from eis_core.paths import eis_home

        out_dir = eis_home() / "forecast"
    res["weekday_weekend"] = weekday_weekend(df, out_dir)
    res["run_id"] = None
    if store:
        from eis_core.forecast import store as st

        w = res["window"]
        run_id = st.new_run(
            "priority",
            {
                "test_days": w["test_days"],
                "train_days": train_days,
                "train_days_used": w["train_days"],
                "validation_days": w["val_days"],
            },
            df["received_at"].min().to_pydatetime(),
            df["received_at"].max().to_pydatetime(),
        )
        st.write_priority(run_id, res["scores"])
        st.finish_run(run_id, time.perf_counter() - t0)
        res["run_id"] = run_id
    return res


def format_priority(res: dict) -> str:
    w = res.get("window")
    lines = []
    if w:
        lines.append(
            f"test window: {w['test_days']} day(s) {w['split_at']:%Y-%m-%d} .. {w['end'] - pd.Timedelta(days=1):%Y-%m-%d}; "
            f"training {w['train_days']} day(s), model chosen on its last {w['val_days']} day(s)"
        )
    lines.append(f"{'model':<18}{'accuracy':>9}{'macro-F1':>10}{'val. macro-F1':>15}")
    for r in res["scores"].itertuples(index=False):
        lines.append(
            f"{r.model:<18}{r.accuracy:>9.3f}{r.macro_f1:>10.3f}{getattr(r, 'val_macro_f1', float('nan')):>15.3f}"
            f"{'  <- chosen (validation)' if r.chosen else ''}"
        )
    ww = res.get("weekday_weekend")
    if ww:
        s = ww["share_by_daytype"]
        n = ww["by_daytype"].sum(axis=1)
        lines.append(f"{'band share':<16}" + "  ".join(f"{b:>10}" for b in s.columns) + f"{'calls':>9}")
        for k, row in s.iterrows():
            lines.append(f"{k:<16}" + "  ".join(f"{v:>10.3f}" for v in row) + f"{n[k]:>9,}")
        c, hr = ww["chi2_daytype"], ww["chi2_hour"]
        lines.append(
            f"chi-square by day type: {c['chi2']:.1f} (dof {c['dof']}), p = {c['p']:.3g}, Cramér's V = "
            f"{c['cramers_v']:.3f}; by hour: {hr['chi2']:.1f} (dof {hr['dof']}), p = {hr['p']:.3g}, "
            f"V = {hr['cramers_v']:.3f}"
        )
        if ww["cliffs_delta"]:
            lines.append(
                "Cliff's delta of urgency (> 0: more urgent than weekday calls; |d| < 0.147 negligible): "
                + ", ".join(f"{k.replace('_', ' ')} {v:+.3f}" for k, v in ww["cliffs_delta"].items())
            )
        for p in ww["plots"]:
            lines.append(f"plot: {p}")
    return "\n".join(lines)
