"""Imported incidents (``incident``, with ``incident_label`` and ``incident_link``) as responders
read them: the service's team, how long each lasted, the deployment that caused it (the incident's
own ``caused_by``, else the derived ``incident_link``) and the investigations that cover it — an
investigation of the same service whose alarm fell between an hour before the incident opened and
its resolution (six hours after it opened while it is unresolved), the rule
:mod:`shipwise.store.prevention` uses.

A member or lead sees the incidents of their team's services: ``team`` narrows to them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shipwise.store.duckdb_store import Store

_SELECT = """
SELECT n.id, n.service, s.team, n.severity, n.opened_at, n.resolved_at,
       date_diff('second', n.opened_at, n.resolved_at) AS duration_seconds,
       coalesce(n.caused_by, l.deployment_id) AS caused_by,
       CASE WHEN n.caused_by IS NOT NULL THEN 'explicit' ELSE l.basis END AS caused_by_basis,
       n.source, n.human_actioned,
       (SELECT list(x.label ORDER BY x.label) FROM incident_label x
         WHERE x.incident_id = n.id) AS labels,
       (SELECT list(i.id ORDER BY i.alarm_at, i.id) FROM investigation i
         WHERE i.entity = n.service
           AND i.alarm_at::TIMESTAMP BETWEEN n.opened_at - INTERVAL 1 HOUR
               AND coalesce(n.resolved_at, n.opened_at + INTERVAL 6 HOUR)) AS investigations
FROM incident n
LEFT JOIN service s ON s.id = n.service
LEFT JOIN (SELECT incident_id, any_value(deployment_id) AS deployment_id, any_value(basis) AS basis
           FROM incident_link GROUP BY incident_id) l ON l.incident_id = n.id
"""


def _clean(row: dict[str, Any]) -> dict[str, Any]:
    row["labels"] = list(row.get("labels") or [])
    row["investigations"] = list(row.get("investigations") or [])
    return row


def listing(store: Store, *, team: str | None = None, service: str | None = None,
            severity: str | None = None, since: datetime | None = None,
            until: datetime | None = None, open_only: bool = False,
            limit: int = 200) -> tuple[int, list[dict[str, Any]]]:
    """(how many match, the newest ``limit`` of them, newest first). ``since``/``until`` bound
    the opening instant (naive UTC); ``open_only``: not resolved yet."""
    where = ["TRUE"]
    params: list[Any] = []
    for column, value in (("s.team", team), ("n.service", service), ("n.severity", severity)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    if since is not None:
        where.append("n.opened_at >= ?")
        params.append(since)
    if until is not None:
        where.append("n.opened_at < ?")
        params.append(until)
    if open_only:
        where.append("n.resolved_at IS NULL")
    cond = " AND ".join(where)
    total_row = store.con.execute(
        f"SELECT count(*) FROM incident n LEFT JOIN service s ON s.id = n.service WHERE {cond}",
        params).fetchone()
    rows = store.query(f"{_SELECT} WHERE {cond} ORDER BY n.opened_at DESC, n.id LIMIT ?",
                       [*params, limit])
    return int(total_row[0]) if total_row else 0, [_clean(r) for r in rows]


def get(store: Store, incident_id: str) -> dict[str, Any] | None:
    """One incident as :func:`listing` shows it, or None."""
    rows = store.query(f"{_SELECT} WHERE n.id = ?", [incident_id])
    return _clean(rows[0]) if rows else None


def service_of(store: Store, incident_id: str) -> str | None:
    row = store.con.execute("SELECT service FROM incident WHERE id = ?", [incident_id]).fetchone()
    return None if row is None else str(row[0])


def facets(store: Store, *, team: str | None = None) -> dict[str, list[str]]:
    """The values a filter can take: severities and services (of ``team``'s services with
    ``team``), and the teams that have incidents."""
    of_team, params = ("WHERE s.team = ?", [team]) if team is not None else ("", [])
    rows = store.con.execute(
        "SELECT list(DISTINCT n.severity ORDER BY n.severity), "
        "list(DISTINCT n.service ORDER BY n.service), "
        "list(DISTINCT s.team ORDER BY s.team) FILTER (WHERE s.team IS NOT NULL) "
        f"FROM incident n LEFT JOIN service s ON s.id = n.service {of_team}", params).fetchone()
    sev, svc, teams = rows if rows else ([], [], [])
    return {"severities": list(sev or []), "services": list(svc or []), "teams": list(teams or [])}
