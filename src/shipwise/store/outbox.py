"""The ``outbox`` table: notifications written in the same transaction as what they tell of, and
delivered later (docs/notifications.md).

A row moves ``pending`` → ``delivered`` (only after the receiver answered 2xx) or, after the last
attempt, ``failed`` (kept; :func:`requeue` makes it pending again). A deliverer *claims* a row
(``claimed_until``) before sending it, and every later change is conditional on that claim, so
two deliverers never both send a row while a claim holds.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any, TypedDict

from shipwise.store.duckdb_store import Store


class OutboxRow(TypedDict):
    id: str
    channel: str
    kind: str
    event: str
    subject: str
    thread: str | None
    target: str | None
    payload: dict[str, Any]


_COLUMNS = "id, seq, channel, kind, event, subject, thread, target, payload, status, attempts, " \
           "created_at, next_at, claimed_until, delivered_at, last_status, last_error, response"


def add(store: Store, rows: list[OutboxRow], now: datetime) -> int:
    """Insert ``rows`` (pending, due now) inside the caller's transaction; a row whose id is
    already there (the same notification written again) is left as it is. Returns how many were
    new."""
    if not rows:
        return 0
    ids = [r["id"] for r in rows]
    have = {str(x[0]) for x in store.con.execute(
        "SELECT id FROM outbox WHERE id IN (SELECT unnest(?))", [ids]).fetchall()}
    new = [r for r in rows if r["id"] not in have]
    seen: set[str] = set()
    for r in new:
        if r["id"] in seen:
            continue
        seen.add(r["id"])
        store.con.execute(
            "INSERT INTO outbox (id, seq, channel, kind, event, subject, thread, target, payload, "
            "status, attempts, created_at, next_at) VALUES (?, nextval('outbox_seq'), ?, ?, ?, ?, "
            "?, ?, ?, 'pending', 0, ?, ?)",
            [r["id"], r["channel"], r["kind"], r["event"], r["subject"], r["thread"], r["target"],
             json.dumps(r["payload"], default=str), now, now])
    return len(seen)


def has_thread(store: Store, channel: str, thread: str) -> bool:
    """Has ``channel`` a row of ``thread`` already (its first message is written)?"""
    row = store.con.execute("SELECT count(*) FROM outbox WHERE channel = ? AND thread = ?",
                            [channel, thread]).fetchone()
    return bool(row and row[0])


def due(store: Store, now: datetime, limit: int) -> list[dict[str, Any]]:
    """Pending rows due at ``now`` and not claimed, oldest first."""
    rows = store.query(
        f"SELECT {_COLUMNS} FROM outbox WHERE status = 'pending' AND next_at <= ? "
        "AND (claimed_until IS NULL OR claimed_until < ?) ORDER BY seq LIMIT ?", [now, now, limit])
    for r in rows:
        r["payload"] = json.loads(r["payload"])
    return rows


def claim(store: Store, row_id: str, now: datetime, until: datetime) -> bool:
    """Claim pending row ``row_id`` until ``until`` (False: delivered, failed or claimed by
    another deliverer meanwhile)."""
    got = store.con.execute(
        "UPDATE outbox SET claimed_until = ? WHERE id = ? AND status = 'pending' "
        "AND (claimed_until IS NULL OR claimed_until < ?) RETURNING id",
        [until, row_id, now]).fetchall()
    return bool(got)


def release(store: Store, row_id: str, until: datetime) -> None:
    """Give up a claim without an attempt (the row waits on its thread's first message)."""
    store.con.execute("UPDATE outbox SET claimed_until = NULL WHERE id = ? AND claimed_until = ?",
                      [row_id, until])


def mark_delivered(store: Store, row_id: str, until: datetime, now: datetime, status: int,
                   response: dict[str, Any] | None) -> bool:
    """One statement: delivered, if the claim ``until`` still holds (False: it did not)."""
    got = store.con.execute(
        "UPDATE outbox SET status = 'delivered', delivered_at = ?, attempts = attempts + 1, "
        "last_status = ?, last_error = NULL, claimed_until = NULL, response = ? "
        "WHERE id = ? AND status = 'pending' AND claimed_until = ? RETURNING id",
        [now, status, json.dumps(response) if response is not None else None, row_id,
         until]).fetchall()
    return bool(got)


def mark_attempt(store: Store, row_id: str, until: datetime, *, next_at: datetime,
                 status: int | None, error: str, give_up: bool) -> None:
    """A failed attempt: due again at ``next_at``, or ``failed`` when ``give_up``."""
    store.con.execute(
        "UPDATE outbox SET attempts = attempts + 1, next_at = ?, last_status = ?, last_error = ?, "
        "claimed_until = NULL, status = CASE WHEN ? THEN 'failed' ELSE status END "
        "WHERE id = ? AND status = 'pending' AND claimed_until = ?",
        [next_at, status, error[:2000], give_up, row_id, until])


def thread_parent(store: Store, channel: str, thread: str) -> dict[str, Any] | None:
    """The first row of ``thread`` on ``channel``: its id, status and receiver's response."""
    rows = store.query("SELECT id, status, response FROM outbox WHERE channel = ? AND thread = ? "
                       "ORDER BY seq LIMIT 1", [channel, thread])
    if not rows:
        return None
    r = rows[0]
    r["response"] = json.loads(r["response"]) if r["response"] else None
    return r


def counts(store: Store) -> list[dict[str, Any]]:
    """Rows per channel and status."""
    return store.query("SELECT channel, kind, status, count(*) AS n FROM outbox "
                       "GROUP BY ALL ORDER BY channel, status")


def last_errors(store: Store, limit: int = 10) -> list[dict[str, Any]]:
    """The latest errors of rows not delivered, newest first."""
    return store.query(
        "SELECT id, channel, event, subject, status, attempts, next_at, last_status, last_error "
        "FROM outbox WHERE status <> 'delivered' AND last_error IS NOT NULL "
        "ORDER BY next_at DESC, seq DESC LIMIT ?", [limit])


def rows_of(store: Store, subject: str | None = None) -> list[dict[str, Any]]:
    """Every row (of ``subject``), oldest first, with its payload."""
    where, params = ("WHERE subject = ? ", [subject]) if subject else ("", [])
    rows = store.query(f"SELECT {_COLUMNS} FROM outbox {where}ORDER BY seq", params)
    for r in rows:
        r["payload"] = json.loads(r["payload"])
        r["response"] = json.loads(r["response"]) if r["response"] else None
    return rows


def requeue(store: Store, now: datetime, channel: str | None = None) -> int:
    """Failed rows (of ``channel``) pending again, due now, attempts from zero."""
    where, params = ("AND channel = ? ", [channel]) if channel else ("", [])
    got = store.con.execute(
        "UPDATE outbox SET status = 'pending', attempts = 0, next_at = ?, claimed_until = NULL "
        f"WHERE status = 'failed' {where}RETURNING id", [now, *params]).fetchall()
    return len(got)


def incidents_at(store: Store, service: str, at: datetime, *, before: timedelta,
                 after: timedelta) -> list[dict[str, Any]]:
    """The incidents of ``service`` open at ``at``: opened at most ``after`` after it (an
    incident is often opened by the page the alarm caused) and not resolved more than
    ``before`` before it; with the ``source`` their connector recorded."""
    return store.query(
        "SELECT id, source, opened_at, (SELECT list(label ORDER BY label) FROM incident_label l "
        "WHERE l.incident_id = i.id) AS labels FROM incident i WHERE service = ? AND opened_at <= ? "
        "AND (resolved_at IS NULL OR resolved_at >= ?) ORDER BY opened_at DESC, id",
        [service, at + after, at - before])
