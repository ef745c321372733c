"""The store: one DuckDB file, numbered migrations, and the engine capabilities metrics ask for."""

from shipwise.store.duckdb_store import Store

__all__ = ["Store"]
