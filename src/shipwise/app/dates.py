"""The dates a view may be asked for: within shipwise's calendar, and in order."""

from __future__ import annotations

from datetime import date

from shipwise.errors import InputError
from shipwise.store import calendar
from shipwise.store.duckdb_store import Store


def calendar_span(store: Store) -> tuple[date, date]:
    """The first and last day of the store's calendar (the periods every metric is cut into)."""
    return calendar.span(store)


def check_day(store: Store, name: str, day: date | None) -> None:
    """A clear :class:`InputError` (400 in the API, one line in the CLI) for a day outside the
    calendar, instead of an overflow deeper down."""
    if day is None:
        return
    first, last = calendar_span(store)
    if not first <= day <= last:
        raise InputError(f"{name} {day.isoformat()} is outside shipwise's calendar",
                         hint=f"use days from {first.isoformat()} to {last.isoformat()}")


def check_window(store: Store, since: date | None, until: date | None) -> None:
    """``since`` and ``until`` within the calendar, and in order."""
    check_day(store, "since", since)
    check_day(store, "until", until)
    if since is not None and until is not None and since > until:
        raise InputError(f"since {since.isoformat()} is after until {until.isoformat()}")
