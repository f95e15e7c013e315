"""Calendar durations of the configuration files (``3 months``, ``90 days``, ``all``).

Part of :mod:`eis_core.config` (which re-exports :class:`Duration` and :func:`times`): the as-of grid,
feature windows, legacy rules, label windows and the temporal config all spell lengths this way.
"""

from __future__ import annotations

import re
from typing import Any

from dateutil.relativedelta import relativedelta
from pydantic import BaseModel, ConfigDict

_DURATION = re.compile(r"^\s*(\d+)\s*(day|days|week|weeks|month|months|year|years)\s*$")
_SHORT = {"day": "d", "week": "w", "month": "m", "year": "y"}


class Duration(BaseModel):
    """A calendar duration such as ``3 months`` or ``90 days``; ``all`` means all history."""

    model_config = ConfigDict(frozen=True)
    text: str
    n: int | None = None
    unit: str | None = None

    @classmethod
    def parse(cls, value: Any) -> Duration:
        if isinstance(value, Duration):
            return value
        s = str(value).strip().lower()
        if s in ("all", "all history"):
            return cls(text="all")
        m = _DURATION.match(s)
        if not m or int(m.group(1)) <= 0:
            raise ValueError(f"bad duration {value!r}: use e.g. '90 days', '3 months', '1 year' or 'all'")
        n, unit = int(m.group(1)), m.group(2).rstrip("s")
        return cls(text=f"{n} {unit}{'s' if n > 1 else ''}", n=n, unit=unit)

    @property
    def is_all(self) -> bool:
        return self.n is None

    def parts(self) -> tuple[int, str]:
        """(n, unit) of a duration with a length; ValueError for 'all'."""
        if self.n is None or self.unit is None:
            raise ValueError("'all' has no length")
        return self.n, self.unit

    @property
    def name(self) -> str:
        """Short suffix for column names: 1m, 3m, 1y, 90d, all."""
        if self.is_all:
            return "all"
        n, unit = self.parts()
        return f"{n}{_SHORT[unit]}"

    @property
    def pg_interval(self) -> str | None:
        return None if self.is_all else self.text

    def delta(self) -> relativedelta:
        return times(self, 1)

    def __str__(self) -> str:
        return self.text


def durations(v: Any) -> list[Duration]:
    return [Duration.parse(x) for x in v]


def times(d: Duration, k: int) -> relativedelta:
    """*k* times *d* as a relativedelta (ValueError for 'all')."""
    n, unit = d.parts()
    steps = n * k
    if unit == "day":
        return relativedelta(days=steps)
    if unit == "week":
        return relativedelta(weeks=steps)
    if unit == "month":
        return relativedelta(months=steps)
    return relativedelta(years=steps)
