"""Helpers for the application layer's tests, which run on a private copy of the session's sample
organisation (``sample_settings``, see tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from shipwise.app.caller import LOCAL_ADMIN, Caller, Interface, Principal, Store
from shipwise.config import Settings


@contextmanager
def caller_of(settings: Settings, principal: Principal = LOCAL_ADMIN,
              interface: Interface = "api") -> Iterator[Caller]:
    """A caller over its own connection to the store (closed after)."""
    store = Store.open(settings.db)
    try:
        yield Caller(store, principal, settings, interface)
    finally:
        store.close()


def log_rows(settings: Settings) -> list[dict[str, Any]]:
    """The access log, oldest first."""
    with Store.open(settings.db) as store:
        return store.query("SELECT role, interface, action, subject, allowed, people_derived "
                           "FROM access_log ORDER BY read_at, rowid")
