"""Where the project keeps its files.

``EIS_HOME`` (default: ``<repo>/var``) holds everything a run creates and git ignores.  What belongs to
the installation (:func:`platform_home`): the embedded database's data folder, Airflow's home, the web
app's session key.  What belongs to a department (:func:`eis_home`): Great Expectations' runtime context
and Data Docs, dbt's target, drops, rejected rows, artifacts, reports -- ``$EIS_HOME`` itself for the
``default`` department, ``$EIS_HOME/departments/NAME`` for any other (:mod:`eis_core.departments`).
"""

from __future__ import annotations

import os
from pathlib import Path

from eis_core.departments import DEFAULT, current

REPO_ROOT = Path(__file__).resolve().parent.parent


def platform_home() -> Path:
    """``$EIS_HOME``: the installation's folder, shared by its departments."""
    home = Path(os.environ.get("EIS_HOME", REPO_ROOT / "var")).resolve()
    home.mkdir(parents=True, exist_ok=True)
    return home


def department_home(name: str) -> Path:
    """The folder of department *name* (not created)."""
    return platform_home() if name == DEFAULT else platform_home() / "departments" / name


def eis_home() -> Path:
    """The current department's folder (``$EIS_HOME`` itself for ``default``), created when missing."""
    home = department_home(current())
    home.mkdir(parents=True, exist_ok=True)
    return home


def pgdata_dir() -> Path:
    return platform_home() / "pgdata"


def gx_dir() -> Path:
    return eis_home() / "gx"


def airflow_home() -> Path:
    return platform_home() / "airflow"


def dbt_project_dir() -> Path:
    return REPO_ROOT / "dbt_project"


def expectations_dir() -> Path:
    return REPO_ROOT / "expectations"


def dags_dir() -> Path:
    return REPO_ROOT / "dags"


def department_config(path: Path | str, shipped_default: Path) -> Path:
    """The config file to read for *path*: the current department's own copy
    (``$EIS_HOME/departments/NAME/<file name>``, written by ``eis department add``) when *path* is the
    shipped default and the department is not ``default``; else *path* itself."""
    path = Path(path)
    if current() != DEFAULT and path.resolve() == shipped_default.resolve():
        own = department_home(current()) / shipped_default.name
        if own.exists():
            return own
    return path
