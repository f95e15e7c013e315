"""Call-priority prediction and the weekday/weekend priority analysis.

Target: the priority *band* of a call - contract priority 1-3 ``high``, 4-6 ``medium``, 7-9 ``low``.

Features, all known when the call is received: call type, source, division, beat, hour, weekday,
weekend flag, and the division's call volume in the hour before the call (calls received in
``[t - 1 h, t)``: strictly earlier calls only, so the call itself and anything after it never count).

Models: a scikit-learn Pipeline (ColumnTransformer: ordinal-encoded categoricals + numeric columns ->
HistGradientBoostingClassifier with native categorical splits and balanced class weights), against a
majority-class baseline and a call-type lookup (most common band of the call type in the training
period).  Time split: train on the calls before ``split_at``, score on the calls after it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

BANDS = ("high", "medium", "low")
CATEGORICAL = ["call_type", "source", "division", "beat"]
NUMERIC = ["hour", "weekday", "weekend", "prev_hour_division_calls"]


def band(priority) -> np.ndarray:
    p = np.asarray(priority)
    return np.where(p <= 3, "high", np.where(p <= 6, "medium", "low"))


def read_calls(since: str | None = None) -> pd.DataFrame:
    from eis_core import db
    from eis_core.forecast.data import _relation

    with db.connect() as conn:
        rel = _relation(conn, "calls_for_service")
        rows = conn.execute(f"SELECT call_id, received_at, call_type, priority, source, division, beat FROM {rel}"
                            + (" WHERE received_at >= %s" if since else ""), (since,) if since else None).fetchall()
    return pd.DataFrame(rows, columns=["call_id", "received_at", "call_type", "priority", "source", "division", "beat"])


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
    df["weekday"] = df["received_at"].dt.dayofweek
    df["weekend"] = (df["weekday"] >= 5).astype(int)
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
    clf = HistGradientBoostingClassifier(categorical_features=list(range(len(CATEGORICAL))), max_iter=150,
                                         learning_rate=0.1, class_weight="balanced", random_state=seed)
    return Pipeline([("features", pre), ("model", clf)])


def _scores(name, y, pred, n_train, split_at) -> dict:
    from sklearn.metrics import accuracy_score, f1_score

    return {"model": name, "accuracy": float(accuracy_score(y, pred)),
            "macro_f1": float(f1_score(y, pred, average="macro", labels=list(BANDS), zero_division=0)),
            "n_train": int(n_train), "n_test": int(len(y)), "split_at": split_at}


def train_and_evaluate(df: pd.DataFrame, *, test_days: int = 90, train_days: int = 365, max_train: int = 200_000,
                       seed: int = 0, progress: Callable[[str], object] = print) -> dict:
    """Time split (test = the last *test_days*, train = the *train_days* before), three models scored."""
    end = df["received_at"].max()
    split_at = (end - pd.Timedelta(days=test_days)).normalize()
    train = df[(df["received_at"] < split_at) & (df["received_at"] >= split_at - pd.Timedelta(days=train_days))]
    test = df[df["received_at"] >= split_at]
    if len(train) > max_train:
        train = train.iloc[-max_train:]  # the most recent calls
    if train.empty or test.empty:
        raise ValueError("not enough calls for a time split")
    progress(f"priority: train {len(train):,} calls {train['received_at'].min()} .. {split_at}, "
             f"test {len(test):,} calls from {split_at}")
    rows = []
    majority = train["band"].mode().iloc[0]
    rows.append(_scores("majority", test["band"], np.full(len(test), majority), len(train), split_at))
    lookup = train.groupby("call_type")["band"].agg(lambda s: s.mode().iloc[0])
    rows.append(_scores("call_type_lookup", test["band"], test["call_type"].map(lookup).fillna(majority).to_numpy(),
                        len(train), split_at))
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):  # see eis_core.forecast.run: no OpenMP spin-waiting on busy cores
        pipe = make_pipeline(seed).fit(train[CATEGORICAL + NUMERIC], train["band"])
    pred = pipe.predict(test[CATEGORICAL + NUMERIC])
    rows.append(_scores("hgb_pipeline", test["band"], pred, len(train), split_at))
    scores = pd.DataFrame(rows)
    best = scores.sort_values("macro_f1", ascending=False).iloc[0]["model"]
    scores["chosen"] = scores["model"] == best
    return {"scores": scores, "pipeline": pipe, "split_at": split_at}


def weekday_weekend(df: pd.DataFrame, out_dir: str | Path | None = None) -> dict:
    """Priority-band distribution by weekday/weekend and by hour, chi-square tests, plots (PNG)."""
    from scipy.stats import chi2_contingency

    day = np.where(df["weekend"] == 1, "weekend", "weekday")
    ct_day = pd.crosstab(day, df["band"]).reindex(columns=list(BANDS), fill_value=0)
    ct_hour = pd.crosstab(df["hour"], df["band"]).reindex(columns=list(BANDS), fill_value=0)
    chi_day = chi2_contingency(ct_day.to_numpy())
    chi_hour = chi2_contingency(ct_hour.to_numpy())
    out = {"by_daytype": ct_day, "share_by_daytype": ct_day.div(ct_day.sum(axis=1), axis=0),
           "by_hour_share": ct_hour.div(ct_hour.sum(axis=1), axis=0),
           "chi2_daytype": {"chi2": float(chi_day.statistic), "dof": int(chi_day.dof), "p": float(chi_day.pvalue)},
           "chi2_hour": {"chi2": float(chi_hour.statistic), "dof": int(chi_hour.dof), "p": float(chi_hour.pvalue)},
           "plots": []}
    if out_dir is not None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
        out["share_by_daytype"].plot.bar(stacked=True, ax=axes[0], rot=0, title="Priority band share")
        out["by_hour_share"].plot(ax=axes[1], title="Priority band share by hour of day")
        axes[1].set_xlabel("hour")
        fig.tight_layout()
        p = out_dir / "priority_weekday_weekend.png"
        fig.savefig(p, dpi=110)
        plt.close(fig)
        out["plots"].append(p)
    return out


def run_priority(*, test_days: int = 90, train_days: int = 365, store: bool = True, out_dir: str | Path | None = None,
                 calls: pd.DataFrame | None = None, progress: Callable[[str], object] = print) -> dict:
    import time

    t0 = time.perf_counter()
    if calls is None:
        progress("reading calls_for_service from the warehouse ...")
        calls = read_calls()
    df = features(calls)
    res = train_and_evaluate(df, test_days=test_days, train_days=train_days, progress=progress)
    if out_dir is None:
        from eis_core.paths import eis_home

        out_dir = eis_home() / "forecast"
    res["weekday_weekend"] = weekday_weekend(df, out_dir)
    res["run_id"] = None
    if store:
        from eis_core.forecast import store as st

        run_id = st.new_run("priority", {"test_days": test_days, "train_days": train_days},
                            df["received_at"].min().to_pydatetime(), df["received_at"].max().to_pydatetime())
        st.write_priority(run_id, res["scores"])
        st.finish_run(run_id, time.perf_counter() - t0)
        res["run_id"] = run_id
    return res


def format_priority(res: dict) -> str:
    lines = [f"{'model':<18}{'accuracy':>9}{'macro-F1':>10}"]
    for r in res["scores"].itertuples(index=False):
        lines.append(f"{r.model:<18}{r.accuracy:>9.3f}{r.macro_f1:>10.3f}{'  <- chosen' if r.chosen else ''}")
    ww = res.get("weekday_weekend")
    if ww:
        s = ww["share_by_daytype"]
        lines.append("band share      " + "  ".join(f"{b:>7}" for b in s.columns))
        for k, row in s.iterrows():
            lines.append(f"{k:<16}" + "  ".join(f"{v:>7.3f}" for v in row))
        c = ww["chi2_daytype"]
        lines.append(f"chi-square weekday vs weekend: {c['chi2']:.1f} (dof {c['dof']}), p = {c['p']:.3g}; "
                     f"by hour: {ww['chi2_hour']['chi2']:.1f} (dof {ww['chi2_hour']['dof']}), p = {ww['chi2_hour']['p']:.3g}")
        for p in ww["plots"]:
            lines.append(f"plot: {p}")
    return "\n".join(lines)
