"""The dispatch dataset as the models see it: its counts, the default time split and the paper's sample
(every positive dispatch plus a deterministic hash sample of negatives).  Part of the dispatch-level
training of :mod:`eis_core.dispatch.model`, which re-exports these names.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
from psycopg import sql

from eis_core.dispatch.features import dataset_columns


class DispatchError(RuntimeError):
    """The dispatch dataset is missing or too small for the requested training."""


def select_columns() -> sql.Composable:
    return sql.SQL(", ").join(sql.Identifier(c) for c in dataset_columns())


def dataset_counts(conn) -> dict:
    if not conn.execute("SELECT to_regclass('dispatch.dispatch_dataset')").fetchone()[0]:
        raise DispatchError("table dispatch.dispatch_dataset does not exist: run `eis dispatch build` first")
    n, pos, lo, hi = conn.execute(
        "SELECT count(*), coalesce(sum(label), 0), min(dispatch_date), max(dispatch_date) "
        "FROM dispatch.dispatch_dataset"
    ).fetchone()
    return {"rows": int(n), "positives": int(pos), "first_date": lo, "last_date": hi}


def default_split_date(conn, share: float = 2 / 3) -> date:
    """The first of the month after which about (1 - share) of the positives happen."""
    d = conn.execute(
        "SELECT percentile_disc(%s) WITHIN GROUP (ORDER BY dispatch_date) FROM dispatch.dispatch_dataset "
        "WHERE label = 1",
        (share,),
    ).fetchone()[0]
    if d is None:
        raise DispatchError("dispatch.dispatch_dataset has no positive dispatch (no adverse IA case names a call)")
    return date(d.year + (d.month == 12), d.month % 12 + 1, 1)


def sample(conn, negative_ratio: float, seed: int) -> pd.DataFrame:
    """All positives plus a deterministic hash sample of negatives (about negative_ratio per positive)."""
    counts = dataset_counts(conn)
    n_neg = counts["rows"] - counts["positives"]
    p = min(1.0, negative_ratio * counts["positives"] / max(n_neg, 1))
    cutoff = int(p * 2147483647)
    q = sql.SQL(
        "SELECT {} FROM dispatch.dispatch_dataset WHERE label = 1 OR "
        "(hashtext(call_id || '|' || officer_id || '|' || %s) & 2147483647) < %s"
    ).format(select_columns())
    cur = conn.execute(q, (str(seed), cutoff))
    return pd.DataFrame(cur.fetchall(), columns=[c.name for c in cur.description])
