"""The ``investigation`` table: one row per stored investigation record.

A member or lead sees the investigations of their team's services: ``team`` narrows a listing or
a count to the entities that are services of that team (through ``service.team``).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, TypedDict, cast

from shipwise.store.duckdb_store import Store


class InvestigationSummary(TypedDict):
    id: str
    created_at: datetime
    alarm_id: str | None
    entity: str | None
    metric: str | None
    alarm_at: datetime | None
    status: str
    root_cause_entity: str | None
    root_cause_kind: str | None
    confidence: float | None
    summary: str | None
    seconds: float | None


class Investigation(InvestigationSummary):
    """A row to save: the summary columns and the whole record as JSON."""

    record: str


_COLUMNS = ("id", "created_at", "alarm_id", "entity", "metric", "alarm_at", "status",
            "root_cause_entity", "root_cause_kind", "confidence", "summary", "seconds", "record")


_OF_TEAM = "entity IN (SELECT id FROM service WHERE team = ?)"


def save(store: Store, row: Investigation) -> None:
    """Insert or replace the investigation with ``row["id"]`` (the same alarm investigated again
    replaces its record)."""
    with store.transaction() as con:
        con.execute("DELETE FROM investigation WHERE id = ?", [row["id"]])
        con.execute(f"INSERT INTO investigation ({', '.join(_COLUMNS)}) "
                    f"VALUES ({', '.join('?' * len(_COLUMNS))})",
                    [dict(row)[c] for c in _COLUMNS])


def recent(store: Store, *, team: str | None = None, limit: int = 50) -> list[InvestigationSummary]:
    """The latest ``limit`` investigations (newest alarm first), without their records; with
    ``team``, only those of that team's services."""
    where, params = (f"WHERE {_OF_TEAM} ", [team]) if team is not None else ("", [])
    return cast(list[InvestigationSummary], store.query(
        "SELECT id, created_at, alarm_id, entity, metric, alarm_at, status, root_cause_entity, "
        f"root_cause_kind, confidence, summary, seconds FROM investigation {where}"
        "ORDER BY alarm_at DESC, id LIMIT ?", [*params, limit]))


def entity_of(store: Store, inv_id: str) -> str | None:
    """The entity investigation ``inv_id`` is about (None: no such investigation, or none)."""
    row = store.con.execute("SELECT entity FROM investigation WHERE id = ?", [inv_id]).fetchone()
    return None if row is None or row[0] is None else str(row[0])


def exists(store: Store, inv_id: str) -> bool:
    row = store.con.execute("SELECT count(*) FROM investigation WHERE id = ?", [inv_id]).fetchone()
    return bool(row and row[0])


def record(store: Store, inv_id: str) -> dict[str, Any] | None:
    """The stored record of investigation ``inv_id``, or None."""
    row = store.con.execute("SELECT record FROM investigation WHERE id = ?", [inv_id]).fetchone()
    if row is None:
        return None
    rec = row[0]
    return dict(json.loads(rec) if isinstance(rec, str) else rec)


def count(store: Store, *, team: str | None = None) -> int:
    """How many investigations are stored (with ``team``: of that team's services)."""
    row = store.con.execute("SELECT count(*) FROM investigation"
                            + (f" WHERE {_OF_TEAM}" if team else ""),
                            [team] if team else []).fetchone()
    return int(row[0]) if row else 0


def alarm_times(store: Store, entities: list[str]) -> list[tuple[str, str, str, float]]:
    """(id, entity, metric or '', alarm instant in epoch seconds) of the investigations of
    ``entities``: what an alarm storm on the same entity and metric can join."""
    return [(str(i), str(e), str(m), float(t)) for i, e, m, t in store.con.execute(
        "SELECT id, entity, coalesce(metric, ''), epoch(alarm_at) FROM investigation "
        "WHERE entity IN (SELECT unnest(?)) AND alarm_at IS NOT NULL", [entities]).fetchall()]


def add_verification(store: Store, inv_id: str, verification: dict[str, Any]) -> bool:
    """Append ``verification`` to the ``verifications`` of investigation ``inv_id``'s record
    (False: no such investigation). The summary columns are left as they were."""
    rec = record(store, inv_id)
    if rec is None:
        return False
    rec.setdefault("verifications", []).append(verification)
    with store.transaction() as con:
        con.execute("UPDATE investigation SET record = ? WHERE id = ?",
                    [json.dumps(rec, default=str), inv_id])
    return True
