"""The ``calendar`` table: every UTC day shipwise cuts metrics into periods by."""

from __future__ import annotations

from datetime import date

from shipwise.store.duckdb_store import Store


def span(store: Store) -> tuple[date, date]:
    """The first and last day of the calendar."""
    row = store.con.execute("SELECT min(day), max(day) FROM calendar").fetchone()
    assert row is not None and row[0] is not None  # the first migration fills it
    return row[0], row[1]
