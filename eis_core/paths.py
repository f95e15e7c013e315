"""Where the project keeps its files.

``EIS_HOME`` (default: ``<repo>/var``) holds everything a run creates and git ignores: the embedded
database's data folder, Great Expectations' runtime context and Data Docs, Airflow's home, drops.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def eis_home() -> Path:
    home = Path(os.environ.get("EIS_HOME", REPO_ROOT / "var")).resolve()
    home.mkdir(parents=True, exist_ok=True)
    return home


def pgdata_dir() -> Path:
    return eis_home() / "pgdata"


def gx_dir() -> Path:
    return eis_home() / "gx"


def airflow_home() -> Path:
    return eis_home() / "airflow"


def dbt_project_dir() -> Path:
    return REPO_ROOT / "dbt_project"


def expectations_dir() -> Path:
    return REPO_ROOT / "expectations"


def dags_dir() -> Path:
    return REPO_ROOT / "dags"
