"""Daily monitoring of the severity model: F1 and accuracy on newly resolved reports, drift of every
feature (population stability index against the training window), per-division F1, and alerts.

PSI of one feature: with the training window's share ``e_i`` and the current share ``a_i`` of each bin
(numeric features: bins cut at the training window's deciles; categorical and 0/1 features: one bin per
value seen in training plus one for anything new), ``PSI = sum_i (a_i - e_i) * ln(a_i / e_i)``, each
share floored at ``EPS`` = 1e-4 so an empty bin counts as very rare rather than impossible.  Rule of
thumb: < 0.1 stable, 0.1-0.25 moderate shift, > 0.25 large shift; the default alert threshold is 0.2.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

import numpy as np
import pandas as pd

from eis_core.severity.features import CATEGORICAL, DEFAULT_ASSESSMENT_LAG_DAYS, FLAGS, known_at

EPS = 1e-4
BINNED = ["victim_count", "hour", "weekday", "beat_reports_30d"]
AS_CATEGORY = CATEGORICAL + FLAGS
OTHER = "__other__"
#: per-feature alert thresholds that replace the general one.  The beat history is nearly constant per
#: beat within a month, so a month of reports puts it on ~20 point masses; against the multi-year
#: training window its PSI ran at 0.5-2.0 on the synthetic department without any change in the data.
FEATURE_THRESHOLDS = {"beat_reports_30d": 2.5}
log = logging.getLogger(__name__)


def reference_distributions(train: pd.DataFrame) -> dict:
    """Per feature, the bins and the training window's share in each (JSON-serialisable)."""
    ref: dict[str, dict] = {}
    for c in BINNED:
        x = train[c].to_numpy(float)
        edges = np.unique(np.quantile(x, np.linspace(0.1, 0.9, 9))) if x.size else np.array([])
        counts = np.bincount(np.searchsorted(edges, x, side="right"), minlength=edges.size + 1)
        ref[c] = {"kind": "numeric", "edges": edges.tolist(), "share": (counts / max(x.size, 1)).tolist()}
    for c in AS_CATEGORY:
        vc = train[c].astype(str).value_counts(normalize=True).sort_index()
        ref[c] = {"kind": "categorical", "values": vc.index.tolist(), "share": vc.to_numpy(float).tolist()}
    return ref


def shares(ref: dict, values) -> np.ndarray:
    """The current shares of *values* in the bins of *ref* (categorical: the last bin is 'new value')."""
    if ref["kind"] == "numeric":
        x = np.asarray(values, float)
        edges = np.asarray(ref["edges"], float)
        counts = np.bincount(np.searchsorted(edges, x, side="right"), minlength=edges.size + 1)
    else:
        idx = {v: i for i, v in enumerate(ref["values"])}
        pos = [idx.get(str(v), len(idx)) for v in values]
        counts = np.bincount(np.asarray(pos, dtype=np.int64), minlength=len(idx) + 1)
    n = counts.sum()
    return counts / n if n else counts.astype(float)


def psi(expected, actual, eps: float = EPS) -> float:
    """Population stability index of two share vectors of equal length (shares floored at *eps*)."""
    e = np.maximum(np.asarray(expected, float), eps)
    a = np.maximum(np.asarray(actual, float), eps)
    if e.shape != a.shape:
        raise ValueError(f"expected and actual need the same bins ({e.shape} vs {a.shape})")
    return float(np.sum((a - e) * np.log(a / e)))


def feature_psi(reference: dict, frame: pd.DataFrame) -> dict[str, float]:
    out = {}
    for c, ref in reference.items():
        e = np.asarray(ref["share"], float)
        if ref["kind"] == "categorical":
            e = np.append(e, 0.0)
        out[c] = psi(e, shares(ref, frame[c].to_numpy()))
    return out


def _macro_f1(y, p) -> float | None:
    from eis_core.severity.model import scores

    return scores(y, p)["macro_f1"]


def run_monitoring(
    day=None,
    *,
    frame: pd.DataFrame | None = None,
    model_version: str | None = None,
    drift_days: int = 30,
    psi_threshold: float = 0.2,
    feature_thresholds: dict | None = None,
    f1_drop: float = 0.05,
    min_resolved: int = 20,
    division_gap: float = 0.15,
    assessment_lag_days: int = DEFAULT_ASSESSMENT_LAG_DAYS,
    source=None,
    progress: Callable[[str], object] | None = None,
) -> dict:
    """Monitor *model_version* (default: the champion) for one *day* and store the results.

    * newly resolved = reports whose severity became known on *day*: macro-F1 and accuracy
      (``monitoring_daily``), per division (``division_f1``);
    * drift = PSI of every feature, reports filed in the *drift_days* days up to *day* vs the training
      window (``drift``); the alert threshold is *psi_threshold*, or *feature_thresholds* [feature]
      (default ``FEATURE_THRESHOLDS``);
    * alerts (``alerts`` + a log warning): macro-F1 more than *f1_drop* below the model's test macro-F1
      (only with at least *min_resolved* resolved reports), a PSI above *psi_threshold*, a division's
      macro-F1 more than *division_gap* below the day's overall (divisions with >= *min_resolved*).
    """
    from eis_core import db
    from eis_core.severity.features import FEATURES, load_frame
    from eis_core.severity.registry import load_model
    from eis_core.severity.store import ensure_severity_schema, raise_alert

    say = progress or (lambda m: None)
    thresholds = FEATURE_THRESHOLDS if feature_thresholds is None else feature_thresholds
    if frame is None:
        frame = load_frame(source)
    with db.connect() as conn:
        ensure_severity_schema(conn)
        model = load_model(model_version, conn=conn)
    if day is None:  # the latest day the data knows of
        from eis_core.severity.features import data_end

        day = data_end(frame).date()
    day = pd.Timestamp(day).date()
    k = known_at(frame, assessment_lag_days)
    resolved = frame[k.notna() & (k.dt.date == day)]
    filed = frame[
        (frame["reported_at"].dt.date > day - dt.timedelta(days=drift_days)) & (frame["reported_at"].dt.date <= day)
    ]
    result = {"day": day, "model_version": model.version, "n_resolved": int(len(resolved)), "alerts": []}
    if len(resolved):
        from eis_core.severity.model import single_thread

        with single_thread():
            pred = model.pipeline.predict(resolved[FEATURES])
        y = resolved["severity"].to_numpy(str)
        result["macro_f1"] = _macro_f1(y, pred)
        result["accuracy"] = float(np.mean(pred == y))
        result["divisions"] = {
            str(d): {"n": int(m.sum()), "macro_f1": _macro_f1(y[m], pred[m])}
            for d in sorted(resolved["division"].unique())
            for m in [resolved["division"].to_numpy() == d]
        }
    else:
        result.update({"macro_f1": None, "accuracy": None, "divisions": {}})
    result["psi"] = feature_psi(model.metadata["reference"], filed) if len(filed) else {}
    ref_f1 = model.metadata["metrics"]["model"]["macro_f1"]
    with db.connect() as conn:
        conn.execute(
            "INSERT INTO severity.monitoring_daily (day, model_version, n_resolved, macro_f1, accuracy) "
            "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (day, model_version) DO UPDATE SET "
            "n_resolved = EXCLUDED.n_resolved, macro_f1 = EXCLUDED.macro_f1, accuracy = EXCLUDED.accuracy",
            (day, model.version, result["n_resolved"], result["macro_f1"], result["accuracy"]),
        )
        for d, v in result["divisions"].items():
            conn.execute(
                "INSERT INTO severity.division_f1 (day, model_version, division, n, macro_f1) "
                "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (day, model_version, division) DO UPDATE SET "
                "n = EXCLUDED.n, macro_f1 = EXCLUDED.macro_f1",
                (day, model.version, d, v["n"], v["macro_f1"]),
            )
        for feat, value in result["psi"].items():
            limit = float(thresholds.get(feat, psi_threshold))
            alert = bool(value > limit)
            conn.execute(
                "INSERT INTO severity.drift (day, model_version, feature, psi, threshold, alert) "
                "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (day, model_version, feature) DO UPDATE SET "
                "psi = EXCLUDED.psi, threshold = EXCLUDED.threshold, alert = EXCLUDED.alert",
                (day, model.version, feat, value, limit, alert),
            )
            if alert:
                result["alerts"].append(
                    (
                        "drift",
                        f"feature {feat}: PSI {value:.3f} > {limit:g} "
                        f"(reports filed in the {drift_days} days to {day})",
                    )
                )
        f1 = result["macro_f1"]
        if f1 is not None and result["n_resolved"] >= min_resolved and f1 < ref_f1 - f1_drop:
            result["alerts"].append(
                (
                    "f1_drop",
                    f"macro-F1 {f1:.3f} on {result['n_resolved']} reports resolved "
                    f"on {day} is more than {f1_drop} below the test macro-F1 {ref_f1:.3f}",
                )
            )
        for d, v in result["divisions"].items():
            if f1 is not None and v["n"] >= min_resolved and v["macro_f1"] < f1 - division_gap:
                result["alerts"].append(
                    (
                        "division_f1",
                        f"division {d}: macro-F1 {v['macro_f1']:.3f} on {v['n']} "
                        f"reports is more than {division_gap} below the overall {f1:.3f}",
                    )
                )
        for kind, msg in result["alerts"]:
            raise_alert(conn, day, kind, msg, model.version)
    say(
        f"monitoring {day} ({model.version}): {result['n_resolved']} resolved, macro-F1 "
        f"{'-' if f1 is None else f'{f1:.3f}'}, max PSI "
        f"{max(result['psi'].values()) if result['psi'] else float('nan'):.3f}, {len(result['alerts'])} alert(s)"
    )
    return result
