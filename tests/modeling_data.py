"""The warehouse state the matrix and modeling-DAG tests share: the small synthetic department (seed 42)
loaded into the session's real PostgreSQL, and the feature marts built for a tiny modeling config.

Loading and dbt cost about a minute, so the state is prepared once per test session (cached here) and
prepared again only if another test module loaded another drop in between (``raw.load_log`` moved).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import yaml

from eis_core.config import DEFAULT_LABELS_CONFIG, DEFAULT_OFFICER_CONFIG

#: the as-of dates the fixture builds; the splits also need 2014-07-01, which the tests leave to
#: ensure_features (the "marts lack a date" path)
PREBUILT = [date(2013, 1, 1), date(2013, 7, 1), date(2014, 1, 1)]
ALL_DATES = PREBUILT + [date(2014, 7, 1)]

_cache: dict = {}


def write_config(folder: Path, project: Path, **override) -> Path:
    """A tiny modeling config: 2 splits (2014-01-01, 2014-07-01), 2 feature windows, DecisionTree + Prior."""
    cfg = yaml.safe_load(Path(DEFAULT_OFFICER_CONFIG).read_text())
    cfg["project_path"] = str(project)
    cfg["as_of_dates"] = {"start": "2013-01-01", "end": "2014-07-01", "frequency": "6 months"}
    cfg["feature_windows"] = ["1 year", "all"]
    cfg["temporal_config"].update({"label_start_time": "2013-01-01", "label_end_time": "2014-07-01",
                                   "max_training_history": "2 years"})
    cfg["model_grid"] = {"sklearn.tree.DecisionTreeClassifier": {"max_depth": [3], "min_samples_leaf": [10]}}
    cfg["baselines"] = {"eis_core.modeling.baselines.PriorBaseline": {}}
    cfg["evaluation"] = {"top_k_absolute": [10, 25], "top_k_percent": [10], "tie_orderings": 3}
    cfg.update(override)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "officer_config.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def _latest_load(conn) -> int | None:
    try:
        return conn.execute("SELECT max(load_id) FROM raw.load_log").fetchone()[0]
    except Exception:  # noqa: BLE001 - no raw schema yet
        conn.rollback()
        return None


#: the incremental marts, one row set per as-of date
MART_TABLES = (("features", "officer_cohort"), ("features", "officer_features"), ("features", "officer_protected"),
               ("labels", "officer_labels"), ("labels", "pending_cases_by_as_of"))


def _prune_to_prebuilt() -> None:
    """Drop the as-of dates other modules added to the marts since the state was prepared (the scoring
    and modeling tests build more dates), so every module starts from the marts of PREBUILT only —
    whatever order the modules run in (pytest-xdist distributes them)."""
    from psycopg import sql

    from eis_core import db

    with db.connect() as conn:
        for schema, table in MART_TABLES:
            if conn.execute("SELECT to_regclass(%s)", (f"{schema}.{table}",)).fetchone()[0] is None:
                continue
            conn.execute(sql.SQL("DELETE FROM {} WHERE NOT (as_of_date = ANY(%s))").format(
                sql.Identifier(schema, table)), (PREBUILT,))


def prepared(small_drop: Path, root: Path) -> dict:
    """{config, labels, project, load_id}: data loaded and marts built for PREBUILT (see module doc)."""
    from eis_core import db

    with db.connect() as conn:
        latest = _latest_load(conn)
    if _cache and _cache["load_id"] == latest:
        _prune_to_prebuilt()
        return _cache
    from eis_core.features import build_features
    from eis_core.load.loader import load_drop

    root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o755)
    project = root / "project"
    config = write_config(root, project)
    from conftest import reset_raw

    reset_raw(db)
    report = load_drop(small_drop, progress=lambda _: None)
    report.raise_for_status()
    build_features(config, DEFAULT_LABELS_CONFIG, as_of_dates=PREBUILT, full_refresh=True, progress=None)
    with db.connect() as conn:  # a full refresh replaced the marts: only PREBUILT is in them now
        latest = _latest_load(conn)
    _cache.clear()
    _cache.update({"config": config, "labels": Path(DEFAULT_LABELS_CONFIG), "project": project, "load_id": latest,
                   "root": root})
    return _cache
