"""The ``actor_lookup`` table: every attempt to resolve an actor's pseudonym for incident response
(who asked, about which pseudonym, for which investigation, why, the outcome) — never the
identity found nor the candidates checked; and the state of the investigation asked about
(whether it is still open for incident response)."""

from __future__ import annotations

from dataclasses import astuple, dataclass
from datetime import datetime
from typing import Any, TypedDict, cast

from shipwise.store.duckdb_store import Store


@dataclass(frozen=True)
class Lookup:
    """One row to append (the columns in table order)."""

    looked_up_at: datetime
    token_id: str | None
    reader: str | None
    role: str
    interface: str
    investigation_id: str
    pseudonym: str
    reason: str | None
    outcome: str
    detail: str | None
    candidates: int


class ResponseState(TypedDict):
    """What decides whether an investigation is still open for incident response."""

    created_at: datetime
    verdict: str | None
    incidents: int
    open_incidents: int


def append(store: Store, row: Lookup) -> None:
    with store.transaction() as con:
        con.execute("INSERT INTO actor_lookup (looked_up_at, token_id, reader, role, interface, "
                    "investigation_id, pseudonym, reason, outcome, detail, candidates) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", list(astuple(row)))


def read(store: Store, *, limit: int = 100, investigation_id: str | None = None
         ) -> list[dict[str, Any]]:
    """The newest ``limit`` lookups, newest first (of one investigation with
    ``investigation_id``)."""
    where, params = ("WHERE investigation_id = ? ", [investigation_id]) if investigation_id \
        else ("", [])
    return store.query(
        "SELECT looked_up_at, token_id, reader, role, interface, investigation_id, pseudonym, reason, "
        f"outcome, detail, candidates FROM actor_lookup {where}ORDER BY looked_up_at DESC LIMIT ?",
        [*params, limit])


def response_state(store: Store, inv_id: str) -> ResponseState | None:
    """When investigation ``inv_id`` was stored, its verdict, and how many imported incidents of
    its service cover its alarm (an hour before opening to resolution, six hours after opening
    while unresolved) and how many of those are unresolved; None: no such investigation."""
    rows = store.query("""
        SELECT i.created_at, v.verdict,
               count(n.id) AS incidents,
               count(n.id) FILTER (WHERE n.resolved_at IS NULL) AS open_incidents
        FROM investigation i
        LEFT JOIN investigation_verdict v ON v.investigation_id = i.id
        LEFT JOIN incident n ON n.service = i.entity
             AND i.alarm_at::TIMESTAMP BETWEEN n.opened_at - INTERVAL 1 HOUR
                 AND coalesce(n.resolved_at, n.opened_at + INTERVAL 6 HOUR)
        WHERE i.id = ?
        GROUP BY i.created_at, v.verdict""", [inv_id])
    return cast(ResponseState, rows[0]) if rows else None
