"""The Chart.js configurations of the pages (plain dicts, serialised into the page as JSON): the palette,
two builders (:func:`line_chart`, :func:`xy_chart`) and one function per page's charts."""

from __future__ import annotations

from typing import Any

PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f",
           "#bcbd22"]

#: an interval's edges (forecast bands): neutral grey, the band lightly shaded
BAND = "#8a94a6"
BAND_FILL = "rgba(138, 148, 166, 0.18)"


def line_chart(labels: list, datasets: list[dict], *, y_title: str = "", x_title: str = "", y_reverse: bool = False,
               kind: str = "line", y_min: float | None = None, y_max: float | None = None) -> dict:
    for i, ds in enumerate(datasets):
        ds.setdefault("borderColor", PALETTE[i % len(PALETTE)])
        ds.setdefault("backgroundColor", PALETTE[i % len(PALETTE)])
        if kind == "line":
            ds.setdefault("pointRadius", 2)
            ds.setdefault("tension", 0)
            ds.setdefault("fill", False)
    y: dict[str, Any] = {"title": {"display": bool(y_title), "text": y_title}, "reverse": y_reverse}
    if y_min is not None:
        y["min"] = y_min
    if y_max is not None:
        y["max"] = y_max
    return {"type": kind, "data": {"labels": labels, "datasets": datasets},
            "options": {"animation": False, "responsive": True, "maintainAspectRatio": False,
                        "scales": {"x": {"title": {"display": bool(x_title), "text": x_title}}, "y": y},
                        "plugins": {"legend": {"display": len(datasets) > 1}}}}


def xy_chart(series: list[tuple[str, list, list]], *, x_title: str, y_title: str, diagonal: bool = False) -> dict:
    datasets = [{"label": name, "data": [{"x": a, "y": b} for a, b in zip(xs, ys)], "showLine": True,
                 "pointRadius": 0, "borderColor": PALETTE[i % len(PALETTE)], "borderWidth": 2}
                for i, (name, xs, ys) in enumerate(series)]
    if diagonal:
        datasets.append({"label": "random", "data": [{"x": 0, "y": 0}, {"x": 1, "y": 1}], "showLine": True,
                         "pointRadius": 0, "borderColor": "#999", "borderDash": [4, 4], "borderWidth": 1})
    return {"type": "scatter", "data": {"datasets": datasets},
            "options": {"animation": False, "responsive": True, "maintainAspectRatio": False,
                        "scales": {"x": {"min": 0, "max": 1, "title": {"display": True, "text": x_title}},
                                   "y": {"min": 0, "max": 1, "title": {"display": True, "text": y_title}}}}}


def officer_history_chart(hist: list[dict]) -> dict:
    """Score (left axis) and rank (right axis, 1 at the top) over the officer's scored dates."""
    return {
        "type": "line",
        "data": {"labels": [h["as_of_date"].isoformat() for h in hist],
                 "datasets": [{"label": "score", "data": [round(h["score"], 4) for h in hist], "yAxisID": "y",
                               "borderColor": PALETTE[1], "backgroundColor": PALETTE[1], "pointRadius": 2},
                              {"label": "rank (1 = highest risk)", "data": [h["rank_abs"] for h in hist],
                               "yAxisID": "y1", "borderColor": PALETTE[0], "backgroundColor": PALETTE[0],
                               "pointRadius": 2}]},
        "options": {"animation": False, "responsive": True, "maintainAspectRatio": False,
                    "scales": {"y": {"position": "left", "title": {"display": True, "text": "score"}},
                               "y1": {"position": "right", "reverse": True, "grid": {"drawOnChartArea": False},
                                      "title": {"display": True, "text": "rank"}}}}}


def model_charts(ctx: dict, lb: dict) -> None:
    """The models page's charts into *ctx*: the metric over the splits (the leaderboard *lb*), PR, ROC and
    threshold curves, importances, risk-score curves, score distribution, train vs test features."""
    top = [r for r in lb["rows"] if not r["is_baseline"]][:6] + [r for r in lb["rows"] if r["is_baseline"]][:4]
    ctx["chart_metric"] = line_chart(
        lb["splits"], [{"label": r["name"][:60] + (" [baseline]" if r["is_baseline"] else ""),
                        "data": [r["per_split"].get(s) for s in lb["splits"]],
                        "borderDash": [5, 4] if r["is_baseline"] else []} for r in top],
        y_title=lb["metric"], x_title="temporal split (test as-of date order)")
    cv = ctx.get("curves")
    if cv:
        ctx["chart_pr"] = xy_chart([("precision–recall", cv["recall"], cv["precision"])], x_title="recall",
                                   y_title="precision")
        ctx["chart_roc"] = xy_chart([("ROC", cv["fpr"], cv["tpr"])], x_title="false positive rate",
                                    y_title="true positive rate", diagonal=True)
        ctx["chart_threshold"] = xy_chart([("precision", cv["share"], cv["precision"]),
                                           ("recall", cv["share"], cv["recall"])],
                                          x_title="share of officers flagged (top k %)", y_title="value")
    imp = ctx.get("importances") or []
    if imp:
        ctx["chart_importance"] = line_chart([i["feature"] for i in imp],
                                             [{"label": "importance", "data": [i["importance"] for i in imp]}],
                                             kind="bar")
        ctx["chart_importance"]["options"]["indexAxis"] = "y"
        # every bar its label (Chart.js skips every second one when they do not fit): no auto-skip, and
        # the chart grows with the number of bars
        ctx["chart_importance"]["options"]["scales"]["y"]["ticks"] = {"autoSkip": False, "font": {"size": 11}}
        ctx["importance_height"] = next((h for h in (360, 480, 640, 800) if h >= 16 * len(imp) + 60), 800)
    rc = ctx.get("risk_curves") or []
    charts = []
    for feat in list(dict.fromkeys(r["feature"] for r in rc))[:6]:
        pts = [r for r in rc if r["feature"] == feat]
        charts.append((feat, line_chart([f"{p['bin_low']:.3g}–{p['bin_high']:.3g}" if p["bin_low"] is not None
                                         else str(p["bin"]) for p in pts],
                                        [{"label": "mean score", "data": [p["mean_score"] for p in pts]}],
                                        y_title="mean score", x_title=feat)))
    ctx["risk_curve_charts"] = charts
    sd = ctx.get("score_dist")
    if sd:
        ctx["chart_scores"] = line_chart(
            sd["labels"], [{"label": f"no adverse incident (label 0, n = {sd['n'][0]})", "data": sd["share"][0],
                            "borderColor": PALETTE[0], "backgroundColor": PALETTE[0]},
                           {"label": f"adverse incident (label 1, n = {sd['n'][1]})", "data": sd["share"][1],
                            "borderColor": PALETTE[3], "backgroundColor": PALETTE[3]}],
            kind="bar", y_title="share of the label's officers", x_title="score")
    fd = ctx.get("feature_dist") or {}
    ctx["feature_charts"] = [
        (f, line_chart(f["labels"], [{"label": "train", "data": f["train"]["share"], "borderColor": PALETTE[0],
                                      "backgroundColor": PALETTE[0]},
                                     {"label": "test", "data": f["test"]["share"], "borderColor": PALETTE[4],
                                      "backgroundColor": PALETTE[4]}],
                       kind="bar", y_title="share of rows", x_title=f["feature"]))
        for f in fd.get("features") or []]


def units_chart(units: list[dict]) -> dict:
    labels = [f"{u['division']} / {u['unit']}" for u in units]
    chart = line_chart(labels, [{"label": "mean score", "data": [round(u["mean_score"], 4) for u in units]},
                                {"label": "officers in the top 5 %", "data": [u["top5_count"] for u in units],
                                 "yAxisID": "y1"}], kind="bar")
    chart["options"]["scales"]["y1"] = {"position": "right", "grid": {"drawOnChartArea": False},
                                        "title": {"display": True, "text": "officers in the top 5 %"}}
    chart["options"]["scales"]["y"]["title"] = {"display": True, "text": "mean score"}
    return chart


def stops_chart(s: list[dict]) -> dict:
    """The stops forecast with its 80 % interval."""
    return line_chart([r["day"].isoformat() for r in s],
                      # the band's two edges are one thing (the 80 % interval): one neutral colour,
                      # shaded between them, never a red/green pair that reads as bad/good
                      [{"label": f"forecast ({s[0]['series']})", "data": [r["yhat"] for r in s],
                        "borderColor": PALETTE[0], "backgroundColor": PALETTE[0]},
                       {"label": "80 % interval (lower edge)", "data": [r["lo_80"] for r in s],
                        "borderDash": [3, 3], "borderColor": BAND, "backgroundColor": BAND_FILL,
                        "pointRadius": 0},
                       {"label": "80 % interval (upper edge)", "data": [r["hi_80"] for r in s],
                        "borderDash": [3, 3], "borderColor": BAND, "backgroundColor": BAND_FILL,
                        "pointRadius": 0, "fill": "-1"}],
                      y_title="stops per day")


def monitoring_chart(monitoring_daily: list[dict]) -> dict:
    """The severity model's daily macro F1 and accuracy."""
    m = sorted(monitoring_daily, key=lambda r: r["day"])
    return line_chart([r["day"].isoformat() for r in m],
                      [{"label": "macro F1", "data": [r["macro_f1"] for r in m]},
                       {"label": "accuracy", "data": [r["accuracy"] for r in m]}], y_min=0, y_max=1)
