from __future__ import annotations

from datetime import date

from shipwise.store import calendar
from shipwise.store.duckdb_store import Store


def test_the_calendar_spans_2000_to_2040(store: Store) -> None:
    assert calendar.span(store) == (date(2000, 1, 1), date(2040, 12, 31))
