"""Reading the ``cloud_cost`` table (written by :mod:`shipwise.ingest.cloud_cost`): spend per
team and month with credits, refunds, discounts and adjustments beside it (never netted), the
unmapped spend per account and tag value, and which file each month came from."""

from __future__ import annotations

from typing import Any

from shipwise.store.duckdb_store import Store

_FIGURES = """sum(CASE WHEN kind = 'spend' THEN amount ELSE 0 END) AS spend,
       sum(CASE WHEN kind = 'credit' THEN amount ELSE 0 END) AS credits,
       sum(CASE WHEN kind = 'refund' THEN amount ELSE 0 END) AS refunds,
       sum(CASE WHEN kind = 'discount' THEN amount ELSE 0 END) AS discounts,
       sum(CASE WHEN kind = 'adjustment' THEN amount ELSE 0 END) AS adjustments,
       sum(line_items) AS line_items"""


def report(store: Store, basis: str, since: str | None = None,
           until: str | None = None, teams: tuple[str, ...] = ()) -> dict[str, Any]:
    """Cloud cost on ``basis`` for the months ``since``..``until`` (``YYYY-MM``, inclusive)."""
    where = ["basis = ?"]
    params: list[object] = [basis]
    if since:
        where.append("month >= ?")
        params.append(since)
    if until:
        where.append("month <= ?")
        params.append(until)
    cond = " AND ".join(where)
    team_cond = f" AND team IN ({', '.join('?' for _ in teams)})" if teams else ""
    by_team = store.query(
        f"SELECT team, month, currency, {_FIGURES} FROM cloud_cost "
        f"WHERE {cond} AND team IS NOT NULL{team_cond} GROUP BY ALL ORDER BY team, month, currency",
        [*params, *teams])
    unmapped = store.query(
        f"SELECT month, account, tag_value, currency, {_FIGURES} FROM cloud_cost "
        f"WHERE {cond} AND team IS NULL GROUP BY ALL "
        "ORDER BY month, spend DESC, account, tag_value NULLS FIRST", params)
    totals = store.query(
        f"SELECT month, currency, {_FIGURES}, "
        "sum(CASE WHEN team IS NULL AND kind = 'spend' THEN amount ELSE 0 END) AS unmapped_spend "
        f"FROM cloud_cost WHERE {cond} GROUP BY ALL ORDER BY month, currency", params)
    fwhere = [w for w in ("month >= ?" if since else "", "month <= ?" if until else "") if w]
    files = store.query(
        "SELECT billing_account, month, file, format, line_items, quarantined, imported_at "
        f"FROM cloud_cost_file {'WHERE ' + ' AND '.join(fwhere) if fwhere else ''} "
        "ORDER BY month, billing_account", [p for p in (since, until) if p])
    return {"basis": basis, "teams": by_team, "unmapped": unmapped, "totals": totals,
            "files": files}
