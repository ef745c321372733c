"""The ``investigation_verdict`` table: responders' verdicts on stored investigations' root
causes (right, partly, wrong), and the accuracy they measure.

Accuracy is over verdict-marked investigations: ``right / marked`` (strict) and
``(right + partly / 2) / marked`` (partial credit), overall, by fault kind
(``investigation.root_cause_kind``) and by service (the alarm's entity). ``team`` narrows to the
investigations of that team's services, as :mod:`shipwise.store.investigations` does.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shipwise.store.duckdb_store import Store

VERDICTS = ("right", "partly", "wrong")


def mark(store: Store, inv_id: str, verdict: str, comment: str | None, at: datetime,
         marked_by: str) -> None:
    """Set (or replace) the verdict on investigation ``inv_id``."""
    with store.transaction() as con:
        con.execute("DELETE FROM investigation_verdict WHERE investigation_id = ?", [inv_id])
        con.execute("INSERT INTO investigation_verdict VALUES (?, ?, ?, ?, ?)",
                    [inv_id, verdict, comment, at, marked_by])


def of(store: Store, inv_id: str) -> dict[str, Any] | None:
    rows = store.query("SELECT investigation_id, verdict, comment, marked_at, marked_by "
                       "FROM investigation_verdict WHERE investigation_id = ?", [inv_id])
    return rows[0] if rows else None


def accuracy(store: Store, *, team: str | None = None) -> list[dict[str, Any]]:
    """One row per grouping: ``dimension`` (overall, kind, service), ``value``, marked, right,
    partly, wrong; plus ``investigations``: how many there are in scope (marked or not)."""
    of_team = "AND i.entity IN (SELECT id FROM service WHERE team = ?)" if team else ""
    params = [team] if team else []
    return store.query(f"""
        WITH j AS (
          SELECT coalesce(i.root_cause_kind, 'none') AS kind, i.entity AS service, v.verdict
          FROM investigation i JOIN investigation_verdict v ON v.investigation_id = i.id
          WHERE TRUE {of_team})
        SELECT CASE WHEN grouping(kind) = 0 THEN 'kind'
                    WHEN grouping(service) = 0 THEN 'service' ELSE 'overall' END AS dimension,
               CASE WHEN grouping(kind) = 0 THEN kind
                    WHEN grouping(service) = 0 THEN service END AS value,
               count(*)::INTEGER AS marked,
               count(*) FILTER (WHERE verdict = 'right')::INTEGER AS "right",
               count(*) FILTER (WHERE verdict = 'partly')::INTEGER AS partly,
               count(*) FILTER (WHERE verdict = 'wrong')::INTEGER AS wrong
        FROM j GROUP BY GROUPING SETS ((), (kind), (service))
        ORDER BY dimension, marked DESC, value""", params)


def in_scope(store: Store, *, team: str | None = None) -> int:
    """How many investigations there are (of ``team``'s services)."""
    of_team = " WHERE entity IN (SELECT id FROM service WHERE team = ?)" if team else ""
    row = store.con.execute(f"SELECT count(*) FROM investigation{of_team}",
                            [team] if team else []).fetchone()
    return int(row[0]) if row else 0
