"""The data of one scored as-of date D and the rows scoring writes for it: the cohort's matrix, its side
data (division, unit, the legacy EIS's flag), the feature dictionary, and the prediction, risk-factor and
bias-audit rows.  Part of :func:`eis_core.production.scoring.score_day`, which re-exports
:func:`plain_label`.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from psycopg import sql

from eis_core.config import LabelsConfig, OfficerConfig, ProductionConfig
from eis_core.modeling.bias import audit_groups, flag_sets
from eis_core.production.request import Progress, quiet


def cohort_matrix(
    d: date,
    features: list[str],
    officer_cfg: OfficerConfig,
    labels_cfg: LabelsConfig,
    project: Path,
    progress: Progress,
):
    """(X, index) of the cohort on *d* with the model's feature columns (marts brought up to *d* first)."""
    from eis_core.modeling.matrices import build_matrix, ensure_features, load_matrix, make_spec

    ensure_features([d], officer_cfg, labels_cfg, progress=quiet(progress))
    spec = make_spec([d], officer_cfg, labels_cfg, feature_columns=features)
    meta = build_matrix(spec, project, progress=None)
    X, _, _, index = load_matrix(meta["matrix_id"], project)
    return X, index


def side_data(conn, d: date) -> pd.DataFrame:
    """Division, unit and the legacy EIS's flag of every cohort officer on *d*."""
    cohort = pd.DataFrame(
        conn.execute(
            "SELECT officer_id, division, unit FROM features.officer_cohort WHERE as_of_date = %s", (d,)
        ).fetchall(),
        columns=["officer_id", "division", "unit"],
    )
    flag_cols = [
        r[0]
        for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'features' "
            "AND table_name = 'officer_features' AND column_name LIKE 'leg\\_%%\\_flag' ORDER BY 1"
        )
    ]
    if flag_cols:
        q = sql.SQL("SELECT officer_id, ({}) AS legacy FROM features.officer_features WHERE as_of_date = %s").format(
            sql.SQL(" OR ").join(sql.SQL("coalesce({} > 0, false)").format(sql.Identifier(c)) for c in flag_cols)
        )
        leg = pd.DataFrame(conn.execute(q, (d,)).fetchall(), columns=["officer_id", "legacy"])
        cohort = cohort.merge(leg, on="officer_id", how="left")
    else:
        cohort["legacy"] = False
    cohort["legacy"] = cohort["legacy"].fillna(False).astype(bool)
    return cohort


def feature_dictionary(conn) -> dict[str, tuple[str | None, str | None]]:
    """feature -> (block, description) of ``features.feature_dictionary`` (empty before the first build)."""
    if conn.execute("SELECT to_regclass('features.feature_dictionary')").fetchone()[0] is None:
        return {}
    return {
        f: (b, desc)
        for f, b, desc in conn.execute(
            "SELECT feature, block, description FROM features.feature_dictionary WHERE feature IS NOT NULL"
        )
    }


def plain_label(feature: str, description: str | None, value: float | None, direction: str) -> str:
    """'Use-of-force cases in the last year: 3 (raises the risk)'."""
    what = (description or feature.replace("_", " ")).strip().rstrip(".")
    if value is None or (isinstance(value, float) and np.isnan(value)):
        shown = "missing"
    elif float(value).is_integer():
        shown = f"{int(value):,}"
    else:
        shown = f"{value:,.3g}"
    return f"{what}: {shown} ({direction} the risk)"


def prediction_rows(d: date, frame: pd.DataFrame, model_id: str) -> list[tuple]:
    """Rows of ``production.predictions`` from the ranked *frame* (officer_id, score, ranks, division, unit)."""
    return [
        (d, r.officer_id, model_id, float(r.score), int(r.rank_abs), float(r.rank_pct), r.division, r.unit)
        for r in frame.itertuples(index=False)
    ]


def factor_rows(
    d: date,
    officers,
    X: pd.DataFrame,
    idx: np.ndarray,
    contrib: np.ndarray,
    expl,
    dictionary: dict[str, tuple[str | None, str | None]],
) -> list[tuple]:
    """Rows of ``production.risk_factors``: each officer's top factors (*idx*, *contrib* of
    :func:`eis_core.production.explain.top_factors`) with value, direction and plain-language label."""
    Xv = X.to_numpy(dtype=np.float64)
    rows = []
    for i, off in enumerate(officers):
        for pos in range(idx.shape[1]):
            j = int(idx[i, pos])
            feat = expl.features[j]
            c = float(contrib[i, pos])
            value = float(Xv[i, j])
            direction = "raises" if c > 0 else "lowers"
            block, desc = dictionary.get(feat, (None, None))
            rows.append(
                (
                    d,
                    off,
                    pos + 1,
                    feat,
                    block,
                    None if np.isnan(value) else value,
                    c,
                    direction,
                    plain_label(feat, desc, value, direction),
                    expl.method_of(i),
                )
            )
    return rows


def audit_rows(
    d: date, model_id: str, frame: pd.DataFrame, index: pd.DataFrame, flag_count: int, pc: ProductionConfig
) -> list[tuple]:
    """The day's flag-rate bias audit (:func:`eis_core.modeling.bias.audit_groups`) per flag set and
    protected attribute, as rows of ``results.bias_audit`` (without scope and split)."""
    rows = []
    ranks = frame["rank_abs"].to_numpy()
    prot = index.set_index(index["officer_id"].astype(str))
    for threshold, flagged in flag_sets(ranks, flag_count, pc.audit_top_percent).items():
        for attr in ("race", "sex"):
            col = f"_protected_{attr}"
            if col not in prot.columns:
                continue
            groups = prot.loc[frame["officer_id"], col].reset_index(drop=True)
            for r in audit_groups(flagged, None, groups, pc.audit_ratio_range, pc.audit_min_group_size):
                rows.append(
                    (
                        d,
                        model_id,
                        threshold,
                        attr,
                        r["group_value"],
                        r["reference_group"],
                        r["group_size"],
                        r["flagged"],
                        r["flag_rate"],
                        r["flag_rate_ratio"],
                        r["out_of_range"],
                    )
                )
    return rows
