"""Where a metric definition runs: an engine takes the canonical SQL of a definition
(:mod:`shipwise.metrics.portable`), renders it in its own dialect and returns the rows.

The embedded store (DuckDB) is one engine; Spark over canonical Parquet files
(:mod:`shipwise.metrics.spark`) is another. The application layer shapes rows the same way
whichever engine computed them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from shipwise.metrics import portable
from shipwise.store.duckdb_store import Store

Rows = tuple[list[str], list[tuple[Any, ...]]]


class Engine(Protocol):
    """Runs canonical SQL (``?`` parameters) and returns (column names, rows)."""

    name: str

    def rows(self, sql: str, params: Sequence[object] = ()) -> Rows: ...


class DuckDBEngine:
    """The store's own engine: the canonical spelling is DuckDB's, so nothing is rewritten."""

    name = portable.DUCKDB

    def __init__(self, store: Store) -> None:
        self.store = store

    def rows(self, sql: str, params: Sequence[object] = ()) -> Rows:
        cur = self.store.con.execute(portable.render(sql, self.name), list(params))
        cols = [d[0] for d in cur.description or []]
        return cols, [tuple(r) for r in cur.fetchall()]


def scalar_row(engine: Engine, sql: str, params: Sequence[object] = ()) -> tuple[Any, ...] | None:
    """The first row of a query, or None."""
    _, rows = engine.rows(sql, params)
    return rows[0] if rows else None
