"""The analysts' model pages: experiments, model groups, metrics over the splits, Table 3, curves,\nimportances, bias, predictions, comments; the explanation plots; the admins' model-group selection."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from eis_core import db
from eis_core.webapp import queries as q
from eis_core.webapp import store
from eis_core.webapp.charts import model_charts
from eis_core.webapp.common import check_csrf, int_param, render, require_role
from eis_core.webapp.security import client_of

router = APIRouter()


@router.get("/models", response_class=HTMLResponse)
def models_page(request: Request, experiment: str | None = None, metric: str | None = None,
                group: str | None = None, model: str | None = None, k: str | None = None,
                label: str | None = None, page: str | None = None):
    user = require_role(request, "admin", "analyst")
    top_k = int_param(k, "k", 1, 100000)
    pred_page = int_param(page, "page", 1, 100000) or 1
    if label not in (None, "", "0", "1"):
        raise HTTPException(400, "label: 0, 1 or empty")
    pred_label = int(label) if label in ("0", "1") else None
    from eis_core.modeling import selection as sel

    with db.connect() as conn:
        exps = q.experiments(conn)
    exp_ids = [e["experiment_id"] for e in exps]
    if experiment and experiment not in exp_ids:
        raise HTTPException(404, f"experiment: no experiment {experiment!r}")
    experiment = experiment or (exp_ids[0] if exp_ids else None)
    ctx: dict[str, Any] = {"experiments": exps, "experiment": experiment, "lb": None, "is_admin": user.is_admin}
    if experiment is None:
        return render(request, "models.html", ctx)
    with db.connect() as conn:
        metrics = q.metric_choices(conn, experiment)
    if metric and metric not in metrics:
        raise HTTPException(400, f"metric: not evaluated in this experiment: {metric[:40]!r}")
    lb = sel.leaderboard(experiment, metric)
    with db.connect() as conn:
        chosen = q.chosen_selection(conn, experiment)
        ctx.update(metrics=metrics, metric=lb["metric"], lb=lb, chosen=chosen,
                   selections=q.selections(conn, experiment))
        groups = [r["model_group_id"] for r in lb["rows"]]
        if group and group not in groups:
            raise HTTPException(404, f"group: no model group {group[:40]!r} in this experiment")
        group = group or (chosen["model_group_id"] if chosen and chosen["model_group_id"] in groups else None) \
            or lb["winners"].get("best_average") or (groups[0] if groups else None)
        ctx["group"] = group
        ctx["group_name"] = next((r["name"] for r in lb["rows"] if r["model_group_id"] == group), group)
        mlist = q.group_models(conn, experiment, group) if group else []
        ids = [m["model_id"] for m in mlist]
        if model and model not in ids:
            raise HTTPException(404, f"model: no model {model[:40]!r} in this model group")
        model = model or (ids[-1] if ids else None)
        ctx.update(models=mlist, model=model)
        if model:
            ctx["curves"] = q.curves(conn, model)
            ctx["importances"] = q.feature_importances(conn, model)
            ctx["risk_curves"] = q.risk_curves(conn, model)
            ctx["direction"] = q.risk_curve_direction(conn, model)
            ctx["permutation"] = q.permutation_importances(conn, model)
            folder = q.explain_dir(conn, model)
            ctx["plots"] = [n for n in q.EXPLAIN_PLOTS if folder is not None and (folder / n).is_file()]
            ctx["bias"] = q.results_bias(conn, model)
            rule = q.bias_rule()
            ctx["bias_rule"] = rule
            if ctx["bias"]:
                q.explain_bias(ctx["bias"], rule, ("flag_rate_ratio", "tpr_ratio", "fpr_ratio"))
            # the analyst's pages: score distribution by label, train vs test features, rank overlap,
            # the predictions with their labels, comments
            ctx["score_dist"] = q.score_distribution(conn, model)
            current = next(m for m in mlist if m["model_id"] == model)
            n_test = ctx["curves"]["n"] if ctx.get("curves") else 0
            top_k = top_k or max(1, -(-n_test // 10))  # default: the top 10 % of the test rows
            ctx["top_k"] = top_k
            names = {r["model_group_id"]: r["name"] for r in lb["rows"]}
            ctx["group_names"] = names
            ctx["overlap_models"] = q.top_k_across_models(conn, experiment, current["split_id"], top_k)
            ctx["overlap_time"] = q.top_k_over_time(conn, mlist, top_k)
            per = 50
            total, preds = q.model_predictions(conn, model, pred_label, (pred_page - 1) * per, per)
            ctx["predictions"] = {"total": total, "rows": preds, "page": pred_page, "label": pred_label,
                                  "pages": max(1, -(-total // per)), "per": per}
            mats = q.model_matrices(conn, model)
            ctx["comments"] = store.model_comments(conn, model)
            ctx["model_qs"] = urlencode({"experiment": experiment, "metric": lb["metric"], "group": group,
                                         "model": model, "k": top_k})
            store.audit(user.username, "view_model", model,
                        {"experiment_id": experiment, "group": group, "k": top_k, "label": pred_label,
                         "page": pred_page}, client_of(request), conn)
        else:
            mats = None
    if mats is not None:
        feats = [i["feature"] for i in ctx.get("importances") or []]
        if not feats:
            from eis_core.modeling.matrices import MatrixError, read_meta

            try:
                feats = list(read_meta(mats["train"], mats["project"])["feature_columns"])
            except (MatrixError, OSError, KeyError, ValueError):
                feats = []
        ctx["feature_dist"] = q.feature_distributions(mats, feats)
    else:
        ctx["feature_dist"] = None
    t3 = sel.table3(experiment, group) if group else []
    ctx["table3"] = t3
    if t3:
        from eis_core.modeling.evaluate import relative_change

        tot = sel.table3_total(t3)
        ctx["table3_total"] = tot
        ctx["table3_change"] = {k: relative_change(tot[k], tot["legacy_" + k]) for k in ("tp", "fp", "tn", "fn")}
    model_charts(ctx, lb)
    return render(request, "models.html", ctx)

@router.post("/models/{model_id}/comments")
async def model_comment(request: Request, model_id: str):
    """An analyst's or admin's note on one model (kept in webapp.model_comments, audited)."""
    form = await request.form()
    check_csrf(request, form)
    user = require_role(request, "admin", "analyst")
    body = str(form.get("body") or "")

    def work():
        with db.connect() as conn:
            if not q.model_exists(conn, model_id):
                raise HTTPException(404, f"model: no model {model_id[:40]!r}")
            try:
                cid = store.add_model_comment(conn, model_id, user.username, body)
            except store.UserError as e:
                raise HTTPException(400, str(e)) from None
            store.audit(user.username, "model_comment", model_id, {"comment_id": cid, "length": len(body.strip())},
                        client_of(request), conn)
            return q.model_context(conn, model_id)

    where = await run_in_threadpool(work)
    params = {"model": model_id}
    if where:
        params.update(experiment=where["experiment_id"], group=where["model_group_id"])
    return RedirectResponse("/models?" + urlencode(params) + "#comments", status_code=303)

@router.get("/models/plots/{model_id}/{name}")
def model_plot(request: Request, model_id: str, name: str):
    """A PNG written by the production explanations (risk-score curves, directionality, permutation
    importance); only those file names, only under the model's own folder."""
    require_role(request, "admin", "analyst")
    from fastapi.responses import FileResponse

    if name not in q.EXPLAIN_PLOTS:
        raise HTTPException(404, f"name: not a model plot ({', '.join(q.EXPLAIN_PLOTS)})")
    with db.connect() as conn:
        folder = q.explain_dir(conn, model_id)
    if folder is None:
        raise HTTPException(404, f"model: no model {model_id[:40]!r} with an experiment")
    path = (folder / name).resolve()
    if path.parent != folder.resolve() or not path.is_file():
        raise HTTPException(404, f"{name} has not been drawn for this model")
    return FileResponse(path, media_type="image/png")

@router.post("/models/select")
async def models_select(request: Request):
    form = await request.form()
    check_csrf(request, form)
    user = require_role(request, "admin")
    experiment = str(form.get("experiment") or "")
    group = str(form.get("model_group_id") or "")
    metric = str(form.get("metric") or "")[:60]
    reason = str(form.get("reason") or "").strip()
    if len(reason) < 5 or len(reason) > 500:
        # production scores with the newest chosen group: the switch needs a deliberate, stated reason
        raise HTTPException(400, "reason: say why this model group should score production "
                                 "(5 to 500 characters); it is kept in the audit")

    def work():
        with db.connect() as conn:
            if not q.group_exists(conn, experiment, group):
                raise HTTPException(400, "model_group_id: not a model group of this experiment")
            previous = q.chosen_selection(conn, experiment)
            sid = q.insert_manual_selection(conn, experiment, metric or "manual", group, user.username)
            store.audit(user.username, "select_model_group", group,
                        {"experiment_id": experiment, "selection_id": sid, "reason": reason,
                         "previous_group": previous["model_group_id"] if previous else None},
                        client_of(request), conn)

    await run_in_threadpool(work)
    return RedirectResponse("/models?" + urlencode({"experiment": experiment, "group": group}), status_code=303)
