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
#: (column names, one list of values per column): the same values as :data:`Rows`, by column
Columns = tuple[list[str], list[list[Any]]]

#: DuckDB types whose NumPy form turns back into the very Python values a row fetch gives
#: (NULL as None; a DATE arrives as a midnight datetime); a result with any other type
#: (instants, decimals, HUGEINT…) is fetched by row.
_NUMPY_EXACT = frozenset({"BOOLEAN", "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "DOUBLE",
                          "VARCHAR", "DATE"})


def _as_dates(values: list[Any]) -> list[Any]:
    return [None if v is None else v.date() for v in values]


class Engine(Protocol):
    """Runs canonical SQL (``?`` parameters) and returns (column names, rows), or the same
    values by column (faster to shape into many records)."""

    name: str

    def rows(self, sql: str, params: Sequence[object] = ()) -> Rows: ...

    def columns(self, sql: str, params: Sequence[object] = ()) -> Columns: ...


class DuckDBEngine:
    """The store's own engine: the canonical spelling is DuckDB's, so nothing is rewritten."""

    name = portable.DUCKDB

    def __init__(self, store: Store) -> None:
        self.store = store

    def rows(self, sql: str, params: Sequence[object] = ()) -> Rows:
        cur = self.store.con.execute(portable.render(sql, self.name), list(params))
        cols = [d[0] for d in cur.description or []]
        return cols, [tuple(r) for r in cur.fetchall()]

    def columns(self, sql: str, params: Sequence[object] = ()) -> Columns:
        cur = self.store.con.execute(portable.render(sql, self.name), list(params))
        description = cur.description or []
        cols = [d[0] for d in description]
        types = [str(d[1]) for d in description]
        if len(set(cols)) == len(cols) and all(t in _NUMPY_EXACT for t in types):
            # columnar: about half the time of building a tuple per row on large results
            arrays = cur.fetchnumpy()
            return cols, [_as_dates(arrays[c].tolist()) if t == "DATE" else arrays[c].tolist()
                          for c, t in zip(cols, types, strict=True)]
        rows = cur.fetchall()
        return cols, [list(c) for c in zip(*rows, strict=True)] if rows else [[] for _ in cols]


def scalar_row(engine: Engine, sql: str, params: Sequence[object] = ()) -> tuple[Any, ...] | None:
    """The first row of a query, or None."""
    _, rows = engine.rows(sql, params)
    return rows[0] if rows else None
