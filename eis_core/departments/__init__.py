"""Departments: one installation serves several, each in its own PostgreSQL database.

A department is a short lower-case name (``chicago``, ``metro_north``).  The one that single-department
installations have always used is ``default``: its database is the warehouse (``eis`` on the embedded
server, the database of ``EIS_DATABASE_URL`` otherwise) and its files are ``$EIS_HOME`` itself, so
nothing changes for them.  Any other department ``NAME`` has

* the database ``eis_NAME`` on the same server (``<db>_NAME`` beside an external ``<db>``), with the
  same schemas as the warehouse (``raw``, ``staging``, ``features``, ``labels``, ``results``,
  ``production``, ``webapp`` ...): a connection to one department cannot read another's rows, and every
  query, dbt model and migration of the platform works unchanged;
* the folder ``$EIS_HOME/departments/NAME`` for its files: Great Expectations context and Data Docs,
  dbt's target, drops, rejected rows, model artifacts, reports, and its configs
  (``officer_config.yaml``, ``labels_config.yaml``, copied there by ``eis department add``).

The current department is, in this order: the innermost :func:`use` block (the web app sets it per
request, pooled training per department it reads), ``EIS_DEPARTMENT`` (``eis --department NAME`` sets
it for the command and what it starts), else ``default``.  This module imports nothing heavy: paths
and the database module ask it for the name.  The registry of departments is
:mod:`eis_core.departments.registry`; why a database per department (not a schema or a key with
row-level security) is in docs/departments.md.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import click

DEFAULT = "default"
ENV = "EIS_DEPARTMENT"
NAME_RE = re.compile(r"^[a-z][a-z0-9_]{1,30}$")

_current: ContextVar[str | None] = ContextVar("eis_department", default=None)


class DepartmentError(click.ClickException):
    """A department name that is malformed, unknown or already taken (one line, exit code 2)."""

    exit_code = 2


def check_name(name: str | None) -> str:
    """*name* when it is a valid department name, else :class:`DepartmentError` saying the rule."""
    name = (name or "").strip()
    if not NAME_RE.match(name):
        raise DepartmentError(
            f"department name {name[:40]!r}: 2-31 characters, lower-case letters, digits and '_', starting with a letter"
        )
    return name


def current() -> str:
    """The department this code works for now (see the module docstring for the order)."""
    name = _current.get() or os.environ.get(ENV) or DEFAULT
    return check_name(name)


def is_default(name: str | None = None) -> bool:
    return (name or current()) == DEFAULT


@contextmanager
def use(name: str) -> Iterator[str]:
    """Work for department *name* inside the block (this thread or task only: a context variable)."""
    token = _current.set(check_name(name))
    try:
        yield name
    finally:
        _current.reset(token)


def database_suffix(name: str | None = None) -> str:
    """What the department's database name adds to the warehouse's (empty for ``default``)."""
    name = name or current()
    return "" if name == DEFAULT else f"_{name}"


__all__ = ["DEFAULT", "ENV", "DepartmentError", "check_name", "current", "database_suffix", "is_default", "use"]
