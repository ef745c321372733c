"""What the incident and on-call connectors (PagerDuty, Opsgenie) share: the Arrow columns of the
records they emit, reading the instants their APIs write, where a sync starts from its cursor,
and :class:`Routing` — how the on-call system's services and teams (by id or by name) become
shipwise's services and teams, and so which team a page goes to.

A record whose service or team no setting maps is emitted with the on-call system's own name for
it: the importer quarantines it with the reason (``unknown service`` / ``unknown team``), and
once the mapping exists, a sync with ``--restart`` brings it in without counting anything twice.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pyarrow as pa

from shipwise.connectors.base import Batch, Cursor
from shipwise.domain.services import ServiceMap

INSTANT = pa.timestamp("us", tz="UTC")
SCHEMAS: dict[str, pa.Schema] = {
    "incident": pa.schema([
        ("id", pa.string()), ("service", pa.string()), ("severity", pa.string()),
        ("opened_at", INSTANT), ("resolved_at", INSTANT), ("human_actioned", pa.bool_()),
        ("labels", pa.list_(pa.string())), ("source", pa.string()),
    ]),
    "page": pa.schema([
        ("id", pa.string()), ("team", pa.string()), ("person", pa.string()),
        ("at", INSTANT), ("urgency", pa.string()),
    ]),
    "oncall_shift": pa.schema([
        ("id", pa.string()), ("team", pa.string()), ("person", pa.string()),
        ("starts_at", INSTANT), ("ends_at", INSTANT), ("schedule", pa.string()),
        ("source", pa.string()),
    ]),
}


def instant(value: Any) -> datetime | None:
    """An ISO 8601 instant as the APIs write it (``…Z`` or with an offset), or ``None``."""
    if not isinstance(value, str) or not value:
        return None
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def batch(rows: Mapping[str, Sequence[Mapping[str, Any]]], state: Mapping[str, Any]) -> Batch:
    """A batch of the rows of each record type (types without rows left out) and its cursor."""
    records = {kind: pa.Table.from_pylist(list(r), schema=SCHEMAS[kind])
               for kind, r in rows.items() if r}
    return Batch(records, Cursor(dict(state)))


def start_from(cursor: Cursor, key: str, *, since: date | None, first_days: int,
               now: datetime, overlap: timedelta) -> datetime:
    """Where a sync reads from: the cursor's instant ``key`` minus ``overlap`` (so a change
    written just before the last sync ended is not missed), else ``since``, else ``first_days``
    before ``now``."""
    mark = instant(cursor.state.get(key))
    if mark is not None:
        return mark - overlap
    if since is not None:
        return datetime.combine(since, datetime.min.time(), UTC)
    return now - timedelta(days=first_days)


def _lower(mapping: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in mapping.items()}


class Routing:
    """Which shipwise service and team an on-call system's objects belong to.

    ``services`` maps the system's names for a service (an id, a name, a tag — any key the
    connector offers, case-insensitive) to a shipwise service; a key that is itself a shipwise
    service maps to it. ``teams`` maps the system's team or service keys to the shipwise team
    that gets the pages; without one, a page goes to the team owning the mapped service.
    """

    def __init__(self, services: Mapping[str, str], teams: Mapping[str, str],
                 org: ServiceMap) -> None:
        self.org = org
        self._services = _lower(services)
        self._teams = _lower(teams)

    def service(self, keys: Sequence[str]) -> str | None:
        """The shipwise service of the first key mapped, or ``None``."""
        for k in keys:
            mapped = self._services.get(k.lower()) if k else None
            if mapped:
                return mapped
        return next((k for k in keys if k and k in self.org.services), None)

    def team(self, keys: Sequence[str], service: str | None) -> str | None:
        """The shipwise team of the first key ``teams`` maps, else the owner of ``service``."""
        for k in keys:
            mapped = self._teams.get(k.lower()) if k else None
            if mapped:
                return mapped
        return self.org.owner(service) if service else None


def page_row(source: str, raw_id: str, *, team: str, person: str | None,
             at: datetime | None, urgency: str) -> dict[str, Any]:
    """One canonical ``page``: ``source``'s notification ``raw_id`` to ``person`` of ``team``
    (a missing person or instant is left missing, for the importer to quarantine)."""
    return {"id": f"{source}:{raw_id}", "team": team, "person": person or None, "at": at,
            "urgency": urgency if urgency in ("high", "low") else "high"}


def cached(load: Callable[[], dict[str, str]]) -> Callable[[str], str | None]:
    """A lookup that calls ``load`` once, on first use (users by id, read once per sync)."""
    table: dict[str, str] | None = None

    def get(key: str) -> str | None:
        nonlocal table
        if table is None:
            table = load()
        return table.get(key)

    return get
