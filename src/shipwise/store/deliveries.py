"""The ``webhook_delivery`` table: GitHub/GitLab webhook deliveries, for replay protection and
so that a delivery accepted before a crash is synced after the restart. All its SQL is here."""

from __future__ import annotations

from datetime import UTC, datetime

from shipwise.store.duckdb_store import Store


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def record(store: Store, provider: str, delivery_id: str, *, event: str | None,
           source: str | None, scope: str | None, status: str, reason: str | None = None) -> bool:
    """Keep a delivery; False when this (provider, delivery id) was seen before (a replay or a
    redelivery), in which case nothing changes."""
    with store.transaction():
        seen = store.con.execute(
            "SELECT count(*) FROM webhook_delivery WHERE provider = ? AND delivery_id = ?",
            [provider, delivery_id]).fetchone()
        if seen and seen[0]:
            return False
        store.con.execute(
            "INSERT INTO webhook_delivery (provider, delivery_id, event, source, scope, status, "
            "reason, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [provider, delivery_id, event, source, scope, status, reason, _now()])
    return True


def pending(store: Store) -> list[tuple[str, str]]:
    """(source, scope) of deliveries accepted but not synced yet, distinct."""
    rows = store.con.execute(
        "SELECT DISTINCT source, scope FROM webhook_delivery WHERE status = 'queued' "
        "ORDER BY source, scope").fetchall()
    return [(str(a), str(b)) for a, b in rows]


def finish(store: Store, source: str, scope: str, *, error: str | None = None) -> int:
    """Mark the queued deliveries of (source, scope) synced (or failed with ``error``)."""
    with store.transaction():
        n = store.con.execute(
            "UPDATE webhook_delivery SET status = ?, reason = ?, processed_at = ? "
            "WHERE status = 'queued' AND source = ? AND scope = ? RETURNING 1",
            ["failed" if error else "synced", error, _now(), source, scope]).fetchall()
    return len(n)


def counts(store: Store) -> dict[str, int]:
    """status -> number of deliveries."""
    return {str(s): int(n) for s, n in store.con.execute(
        "SELECT status, count(*) FROM webhook_delivery GROUP BY status").fetchall()}
