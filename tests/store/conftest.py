"""A real store file (the ``settings`` fixture's) with a small organisation: two teams in two org
units, three services."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from shipwise.config import Settings
from shipwise.store.duckdb_store import Store

NOW = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    with Store.open(settings.db) as s:
        s.con.execute(
            "INSERT INTO team (id, name, org_unit, delivery_unit, attributes, row_hash, ingested_at) "
            "VALUES ('payments', 'Payments', 'money', 'deployments', '{\"tz\": \"UTC\"}', 'h', now()), "
            "('search', 'Search', 'discovery', 'releases', NULL, 'h', now())")
        s.con.execute(
            "INSERT INTO service (id, name, team, row_hash, ingested_at) VALUES "
            "('pay-api', 'Pay API', 'payments', 'h', now()), "
            "('ledger', 'Ledger', 'payments', 'h', now()), "
            "('search-api', 'Search API', 'search', 'h', now())")
        yield s
