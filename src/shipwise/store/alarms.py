"""The ``alarm_intake`` table: one row per alarm a webhook delivered (and per resolved notice,
rejected body or SNS handshake), with the raw body always kept."""

from __future__ import annotations

from typing import Any

from shipwise.store.duckdb_store import Store

#: the columns an intake row is written with, in the order of :func:`insert` 's tuples
#: (``received_at`` in epoch seconds, ``alarm`` as JSON text)
INTAKE_COLUMNS = ("id", "received_at", "source_kind", "status", "error", "payload",
                  "payload_sha256", "alarm", "alarm_key")

#: what a listing shows of a row (without the raw payload; ``alarm`` as JSON text)
_COLUMNS = ("id, received_at, source_kind, status, error, alarm_key, deliveries, payload_sha256, "
            "investigation_id, CAST(alarm AS VARCHAR) AS alarm")


def existing_ids(store: Store, ids: list[str]) -> set[str]:
    """Which of ``ids`` are rows already."""
    return {str(r[0]) for r in store.con.execute(
        "SELECT id FROM alarm_intake WHERE id IN (SELECT unnest(?))", [ids]).fetchall()}


def insert(store: Store, rows: list[tuple[Any, ...]]) -> None:
    """Insert new rows (tuples in :data:`INTAKE_COLUMNS` order) with one statement: each column
    a plain list parameter, unnested. Measured against an Arrow table per batch and a multi-row
    ``VALUES`` (bench/bench_intake_path.py --store): within a millisecond of the best of them
    from 1 to 512 rows (``VALUES`` slows down past a few dozen rows, Arrow costs about a
    millisecond more at the few rows a commit usually holds)."""
    if not rows:
        return
    with store.transaction() as con:
        con.execute(_INSERT, [list(col) for col in zip(*rows, strict=True)])


_INSERT = (f"INSERT INTO alarm_intake ({', '.join(INTAKE_COLUMNS)}) SELECT id, "
           "to_timestamp(received_at), source_kind, status, error, payload, payload_sha256, "
           "CAST(alarm AS JSON), alarm_key FROM (SELECT "
           + ", ".join(f"unnest(?::{'DOUBLE' if c == 'received_at' else 'VARCHAR'}[]) AS {c}"
                       for c in INTAKE_COLUMNS) + ")")


def add_deliveries(store: Store, repeats: dict[str, int]) -> None:
    """Count ``n`` more deliveries on each row id of ``repeats``."""
    if not repeats:
        return
    with store.transaction() as con:
        con.execute("UPDATE alarm_intake SET deliveries = deliveries + r.n FROM "
                    "(SELECT unnest(?) AS id, unnest(?) AS n) r WHERE alarm_intake.id = r.id",
                    [list(repeats), list(repeats.values())])


def latest(store: Store, *, status: str | None = None, team: str | None = None,
           limit: int = 50) -> list[dict[str, Any]]:
    """The latest ``limit`` rows, newest first, without the raw payload; with ``status``, only
    rows in it; with ``team``, only alarms on that team's services."""
    conds: list[str] = []
    params: list[Any] = []
    if status is not None:
        conds.append("status = ?")
        params.append(status)
    if team is not None:
        conds.append("json_extract_string(alarm, '$.entity') IN "
                     "(SELECT id FROM service WHERE team = ?)")
        params.append(team)
    where = ("WHERE " + " AND ".join(conds)) if conds else ""
    return store.query(
        f"SELECT {_COLUMNS} FROM alarm_intake {where} ORDER BY received_at DESC, id LIMIT ?",
        [*params, limit])


def get(store: Store, alarm_id: str) -> dict[str, Any] | None:
    """One row with its raw payload, or None."""
    rows = store.query(f"SELECT {_COLUMNS}, payload FROM alarm_intake WHERE id = ?", [alarm_id])
    return rows[0] if rows else None


def ids_in(store: Store, statuses: tuple[str, ...]) -> list[str]:
    """Ids of the rows in any of ``statuses``, oldest first."""
    return [str(r[0]) for r in store.con.execute(
        "SELECT id FROM alarm_intake WHERE list_contains(?, status) ORDER BY received_at, id",
        [list(statuses)]).fetchall()]


def statuses(store: Store, ids: list[str]) -> dict[str, tuple[str, str | None]]:
    """id -> (status, alarm as JSON text) of those of ``ids`` that are rows."""
    return {str(i): (str(st), None if a is None else str(a)) for i, st, a in store.con.execute(
        "SELECT id, status, CAST(alarm AS VARCHAR) FROM alarm_intake WHERE id IN "
        "(SELECT unnest(?))", [ids]).fetchall()}


def set_status(store: Store, alarm_id: str, status: str, *, investigation_id: str | None = None,
               error: str | None = None) -> None:
    """Set a row's status, its investigation and its error (None clears them)."""
    with store.transaction() as con:
        con.execute("UPDATE alarm_intake SET status = ?, investigation_id = ?, error = ? "
                    "WHERE id = ?", [status, investigation_id, error, alarm_id])


def mark_investigating(store: Store, alarm_id: str) -> None:
    """The row is being investigated (its investigation, if any, is kept)."""
    with store.transaction() as con:
        con.execute("UPDATE alarm_intake SET status = 'investigating', error = NULL WHERE id = ?",
                    [alarm_id])


def link_investigations(store: Store, links: list[tuple[str, str]]) -> None:
    """Mark rows investigated by an existing investigation: (alarm id, investigation id) pairs."""
    if not links:
        return
    with store.transaction() as con:
        con.execute("UPDATE alarm_intake SET status = 'investigated', investigation_id = j.inv, "
                    "error = NULL FROM (SELECT unnest(?) AS id, unnest(?) AS inv) j "
                    "WHERE alarm_intake.id = j.id",
                    [[a for a, _ in links], [b for _, b in links]])
