"""The ``calendar`` table: every UTC day shipwise cuts metrics into periods by."""

from __future__ import annotations

from datetime import date

from shipwise.store.duckdb_store import Store


def span(store: Store) -> tuple[date, date]:
    """The first and last day of the calendar."""
    row = store.con.execute("SELECT min(day), max(day) FROM calendar").fetchone()
    assert row is not None and row[0] is not None  # the first migration fills it
    return row[0], row[1]


def periods(store: Store, first: date, last: date) -> set[str]:
    """Every ``grain:period`` (``week:2025-W07``, ``month:2025-02``, ``quarter:2025-Q1``) with
    a day in [first, last]."""
    rows = store.con.execute(
        "SELECT DISTINCT week, month, quarter FROM calendar WHERE day BETWEEN ? AND ?",
        [first, last]).fetchall()
    return {f"{g}:{p}" for w, m, q in rows for g, p in (("week", w), ("month", m), ("quarter", q))}
