"""The store's engine gives the same values by column as by row (the DORA shaping reads columns)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shipwise.metrics.engines import DuckDBEngine
from shipwise.store.duckdb_store import Store

COLUMNS = (
    ("i", "INTEGER", st.integers(-(2**31), 2**31 - 1)),
    ("b", "BIGINT", st.integers(-(2**63), 2**63 - 1)),
    ("f", "DOUBLE", st.floats(allow_nan=False)),
    ("s", "VARCHAR", st.text(max_size=8)),
    ("ok", "BOOLEAN", st.booleans()),
    ("d", "DATE", st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31))),
    ("t", "TIMESTAMP", st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 1, 1))),
    ("m", "DECIMAL(12,2)", st.decimals(min_value=-(10**9), max_value=10**9, places=2)),
)


def _typed(values: list[Any]) -> list[tuple[type, Any]]:
    return [(type(v), v) for v in values]


#: read by column through NumPy; the others are fetched by row
COLUMNAR = ("i", "b", "f", "s", "ok", "d")


@given(rows=st.lists(st.tuples(*[st.none() | s for _, _, s in COLUMNS]), min_size=1, max_size=30),
       picked=st.lists(st.sampled_from(COLUMNAR), min_size=1, max_size=6, unique=True),
       by_row=st.lists(st.sampled_from(("t", "m")), max_size=2, unique=True))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_columns_hold_the_same_values_and_types_as_rows(tmp_path: Path, rows: list[tuple[Any, ...]],
                                                        picked: list[str], by_row: list[str]
                                                        ) -> None:
    picked = picked + by_row
    store = Store.open(tmp_path / "e.duckdb", create=True)
    try:
        store.con.execute("CREATE OR REPLACE TABLE x ("
                          + ", ".join(f"{n} {t}" for n, t, _ in COLUMNS) + ")")
        if rows:
            store.con.executemany(f"INSERT INTO x VALUES ({', '.join('?' * len(COLUMNS))})", rows)
        engine = DuckDBEngine(store)
        sql = f"SELECT {', '.join(picked)} FROM x ORDER BY rowid"
        names, rows_out = engine.rows(sql)
        names2, by_column = engine.columns(sql)
        assert names2 == names == picked
        assert len(by_column) == len(picked)
        for k, values in enumerate(by_column):
            assert _typed(values) == _typed([r[k] for r in rows_out])
    finally:
        store.close()


def test_a_sum_of_integers_keeps_its_exact_value(tmp_path: Path) -> None:
    """DuckDB sums integers as HUGEINT, which NumPy would turn into a float: fetched by row."""
    store = Store.open(tmp_path / "e.duckdb", create=True)
    try:
        engine = DuckDBEngine(store)
        sql = "SELECT sum(x) AS n FROM (VALUES (9007199254740993), (0)) v(x)"
        assert engine.columns(sql) == (["n"], [[9007199254740993]])
        assert engine.columns("SELECT 1 AS a, 2 AS a") == (["a", "a"], [[1], [2]])
        assert engine.columns("SELECT DECIMAL '1.50' AS m WHERE false") == (["m"], [[]])
        assert engine.columns("SELECT DECIMAL '1.50' AS m") == (["m"], [[Decimal("1.50")]])
    finally:
        store.close()
