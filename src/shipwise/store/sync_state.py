"""The connectors' cursor table, ``sync_state``: one row per (source, scope).

``source`` is a connector's name (the ``connector`` column: ``git``, ``github``) and ``scope``
the key of what it syncs (a repository id). A row holds the cursor JSON of the last committed
batch (``updated_at``: when it was committed) and the outcome of the last attempt
(``last_status``, ``last_error``, ``last_attempt_at``). A failure never moves the cursor.

All SQL on the table is here. Cursors are JSON text in and out: what is inside belongs to the
connector (:class:`shipwise.connectors.base.Cursor` reads and writes it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from shipwise.store.duckdb_store import Store

Status = Literal["ok", "transient", "terminal", "failed"]

_STATUSES: dict[str, Status] = {"ok": "ok", "transient": "transient", "terminal": "terminal",
                               "failed": "failed"}

#: The cursor of a scope that has never committed anything.
EMPTY_CURSOR = "{}"

_COLUMNS = "connector, scope, cursor, updated_at, last_status, last_error, last_attempt_at"


@dataclass(frozen=True)
class SyncState:
    source: str
    scope: str
    #: JSON text of the last committed cursor (``"{}"``: nothing committed yet)
    cursor: str
    #: when the cursor was last committed (UTC), ``None`` if never
    updated_at: datetime | None
    last_status: Status | None
    last_error: str | None
    last_attempt_at: datetime | None


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _utc(at: datetime | None) -> datetime:
    if at is None:
        return _now()
    return at.astimezone(UTC).replace(tzinfo=None) if at.tzinfo else at


def _row(row: tuple[object, ...]) -> SyncState:
    source, scope, cursor, updated_at, status, error, attempted = row
    return SyncState(
        source=str(source), scope=str(scope), cursor=str(cursor),
        updated_at=updated_at if isinstance(updated_at, datetime) else None,
        last_status=None if status is None else _STATUSES.get(str(status)),
        last_error=None if error is None else str(error),
        last_attempt_at=attempted if isinstance(attempted, datetime) else None,
    )


def get(store: Store, source: str, scope: str) -> SyncState | None:
    """The state of ``scope`` of ``source``, or ``None`` if it was never synced or attempted."""
    row = store.con.execute(
        f"SELECT {_COLUMNS} FROM sync_state WHERE connector = ? AND scope = ?", [source, scope]
    ).fetchone()
    return _row(row) if row else None


def list_states(store: Store, source: str | None = None) -> list[SyncState]:
    """Every row (of ``source`` only, if given), by source then scope."""
    where, params = ("WHERE connector = ?", [source]) if source is not None else ("", [])
    rows = store.con.execute(
        f"SELECT {_COLUMNS} FROM sync_state {where} ORDER BY connector, scope", params
    ).fetchall()
    return [_row(r) for r in rows]


def put(store: Store, source: str, scope: str, cursor: str, *, at: datetime | None = None) -> None:
    """Commit ``cursor`` (JSON text of an object) for the scope: the last attempt succeeded.

    Call it once the records read up to ``cursor`` are committed, never before.
    """
    if not isinstance(json.loads(cursor), dict):
        raise ValueError(f"a cursor is a JSON object, not {cursor[:80]!r}")
    when = _utc(at)
    with store.transaction():
        store.con.execute(
            f"INSERT INTO sync_state ({_COLUMNS}) VALUES (?, ?, ?, ?, 'ok', NULL, ?) "
            "ON CONFLICT (connector, scope) DO UPDATE SET cursor = excluded.cursor, "
            "updated_at = excluded.updated_at, last_status = 'ok', last_error = NULL, "
            "last_attempt_at = excluded.last_attempt_at",
            [source, scope, cursor, when, when],
        )


def record_failure(
    store: Store, source: str, scope: str, status: Status, error: str,
    *, at: datetime | None = None,
) -> None:
    """Record a failed attempt; the cursor and ``updated_at`` stay as they were (a scope never
    synced gets the empty cursor)."""
    if status == "ok":
        raise ValueError("a failure's status is transient, terminal or failed")
    when = _utc(at)
    with store.transaction():
        store.con.execute(
            f"INSERT INTO sync_state ({_COLUMNS}) VALUES (?, ?, ?, NULL, ?, ?, ?) "
            "ON CONFLICT (connector, scope) DO UPDATE SET last_status = excluded.last_status, "
            "last_error = excluded.last_error, last_attempt_at = excluded.last_attempt_at",
            [source, scope, EMPTY_CURSOR, status, error, when],
        )


def forget(store: Store, source: str, scope: str) -> None:
    """Drop the scope's cursor and status: its next sync reads from the beginning (``since``);
    the importer's upserts make re-reading what is stored harmless."""
    with store.transaction():
        store.con.execute("DELETE FROM sync_state WHERE connector = ? AND scope = ?",
                          [source, scope])
