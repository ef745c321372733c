"""The ``webhook_delivery`` table: GitHub/GitLab webhook deliveries, for replay protection and
so that a delivery accepted before a crash is synced after the restart. All its SQL is here."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa

from shipwise.store.duckdb_store import Store


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


#: the columns of a delivery row as the application hands it over
ROW = ("provider", "delivery_id", "event", "source", "scope", "status", "reason")


def record_many(store: Store, rows: list[tuple[object, ...] | None]) -> list[bool]:
    """Keep many deliveries with two statements; per row, whether it was new (``False``: its
    (provider, delivery id) was seen before — a redelivery or a replay — or earlier in the same
    list; nothing changes for it). ``None`` rows are skipped (``False``)."""
    ids = [str(r[1]) for r in rows if r is not None]
    seen = {(str(p), str(d)) for p, d in store.con.execute(
        "SELECT provider, delivery_id FROM webhook_delivery WHERE delivery_id IN "
        "(SELECT unnest(?))", [ids]).fetchall()} if ids else set()
    fresh: list[bool] = []
    new: list[tuple[object, ...]] = []
    for row in rows:
        key = (str(row[0]), str(row[1])) if row is not None else None
        if key is None or key in seen:
            fresh.append(False)
            continue
        seen.add(key)
        new.append(row)  # type: ignore[arg-type]
        fresh.append(True)
    if new:
        table = pa.table({name: pa.array([r[i] for r in new], pa.string())
                          for i, name in enumerate(ROW)})
        store.con.register("_deliveries", table)
        try:
            store.con.execute(f"INSERT INTO webhook_delivery ({', '.join(ROW)}, received_at) "
                              f"SELECT {', '.join(ROW)}, ? FROM _deliveries", [_now()])
        finally:
            store.con.unregister("_deliveries")
    return fresh


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
