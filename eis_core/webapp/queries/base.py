"""The helpers every read uses and the bias flag rule shared by the units and models pages."""

from __future__ import annotations




WINDOW_PREFERENCE = ("1y", "6m", "5y", "3m", "1m", "all")


def rows(conn, query: str, params: tuple | list = ()) -> list[dict]:
    cur = conn.execute(query, params)
    cols = [d.name for d in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]


def one(conn, query: str, params: tuple | list = ()) -> dict | None:
    out = rows(conn, query, params)
    return out[0] if out else None


def table_exists(conn, qualified: str) -> bool:
    """*qualified* is a constant of this module ('schema.table'), never request input."""
    return conn.execute("SELECT to_regclass(%s) IS NOT NULL", (qualified,)).fetchone()[0]


def populated(conn, qualified: str) -> bool:
    """*qualified* (a constant 'schema.table' of this package) exists and has a row: the job that writes it
    has run in this warehouse.  (The migrations create every fixed table up front, so existence alone no
    longer says that.)"""
    from psycopg import sql

    if not table_exists(conn, qualified):
        return False
    schema, table = qualified.split(".", 1)
    return conn.execute(sql.SQL("SELECT EXISTS (SELECT 1 FROM {})").format(sql.Identifier(schema, table))).fetchone()[0]


def schema_exists(conn, schema: str) -> bool:
    return conn.execute("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = %s)", (schema,)).fetchone()[0]


# ----------------------------------------------------------------------------------------- the bias flag rule

def bias_rule() -> dict:
    """The production rule (``configs/officer_config.yaml`` ``production.audit_*``, used by
    ``eis_core.production.scoring.flag_rate_audit`` and ``insights.group_metrics``)."""
    from eis_core.config import load_officer_config

    pc = load_officer_config().production
    lo, hi = pc.audit_ratio_range
    return {"lo": float(lo), "hi": float(hi), "min_size": int(pc.audit_min_group_size)}


BIAS_RATIOS = (("flag_rate_ratio", "flag rate"), ("tpr_ratio", "true-positive rate"), ("fpr_ratio", "false-positive rate"))


def explain_bias(rows_: list[dict], rule: dict, ratios: tuple[str, ...]) -> None:
    """Add to each audit row ``why`` (plain words for its flag) and ``out_cells`` (the ratios outside the
    range), by the same rule production applied: a ratio to the reference (largest) group outside
    [lo, hi], for groups of at least min_size officers (*ratios*: which ratios the audit checks)."""
    words = dict(BIAS_RATIOS)
    for r in rows_:
        out = [c for c in ratios if r.get(c) is not None and not (rule["lo"] <= r[c] <= rule["hi"])]
        small = (r.get("group_size") or 0) < rule["min_size"]
        r["out_cells"] = set() if small else set(out)
        if r["group_value"] == r["reference_group"]:
            why = "the reference group (the largest): the others are compared with it"
        elif small:
            why = (f"not flagged: only {r['group_size']} officers (fewer than {rule['min_size']}), too few to judge"
                   + (f" — the {', '.join(words[c] for c in out)} ratio would be outside the range" if out else ""))
        elif out:
            why = "flagged: " + "; ".join(f"{words[c]} {r[c]:.3f} × the reference group's, outside "
                                         f"{rule['lo']:g}–{rule['hi']:g}" for c in out)
        elif all(r.get(c) is None for c in ratios):
            why = "not flagged: no ratio (the reference group's rate is zero or unknown)"
        else:
            why = f"not flagged: within {rule['lo']:g}–{rule['hi']:g} of the reference group"
        r["rule_flag"] = bool(out) and not small
        if bool(r.get("out_of_range")) != r["rule_flag"]:
            why += " (stored flag differs: the audit ran under another rule; re-run it)"
        r["why"] = why
