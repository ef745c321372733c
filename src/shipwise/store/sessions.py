"""The ``web_session`` table: one row per web session, keyed by the SHA-256 of its id."""

from __future__ import annotations

from datetime import datetime
from typing import TypedDict, cast

from shipwise.store.duckdb_store import Store


class SessionRow(TypedDict):
    ended_at: datetime | None
    expires_at: datetime


def create(store: Store, *, id_sha256: str, token_id: str, created_at: datetime,
           expires_at: datetime, forget_before: datetime) -> None:
    """A new live session; sessions that ended or expired before ``forget_before`` are deleted
    in the same transaction (they have nothing left to refuse)."""
    with store.transaction() as con:
        con.execute("DELETE FROM web_session WHERE coalesce(ended_at, expires_at) < ?",
                    [forget_before])
        con.execute("INSERT INTO web_session (id_sha256, token_id, created_at, expires_at) "
                    "VALUES (?, ?, ?, ?)", [id_sha256, token_id, created_at, expires_at])


def find(store: Store, *, id_sha256: str, token_id: str) -> SessionRow | None:
    """The session of ``token_id`` with this id hash (ended ones too), or None."""
    rows = store.query("SELECT ended_at, expires_at FROM web_session WHERE id_sha256 = ? "
                       "AND token_id = ?", [id_sha256, token_id])
    return cast(SessionRow, rows[0]) if rows else None


def end(store: Store, *, id_sha256: str, token_id: str, at: datetime, why: str) -> bool:
    """End one live session; False when it was not live (unknown or ended already)."""
    with store.transaction() as con:
        ended = con.execute(
            "UPDATE web_session SET ended_at = ?, ended_why = ? WHERE id_sha256 = ? AND "
            "token_id = ? AND ended_at IS NULL RETURNING 1",
            [at, why, id_sha256, token_id]).fetchall()
    return bool(ended)


def end_all(store: Store, *, at: datetime, why: str) -> int:
    """End every session live at ``at``; how many there were."""
    with store.transaction() as con:
        rows = con.execute("UPDATE web_session SET ended_at = ?, ended_why = ? "
                           "WHERE ended_at IS NULL AND expires_at > ? RETURNING 1",
                           [at, why, at]).fetchall()
    return len(rows)
