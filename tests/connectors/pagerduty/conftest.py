"""Fixtures of the PagerDuty connector's tests: the fake's world, the fake itself, and a store
holding the organisation the world's services map to."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.fakes.pagerduty import FakePagerDuty, World, generate_world

from shipwise.app.context import pseudonymiser_for
from shipwise.app.ingest import import_paths_into
from shipwise.config import Settings
from shipwise.store.duckdb_store import Store

OWNERS = {"payments-api": "payments", "checkout-web": "checkout"}


@pytest.fixture
def world() -> World:
    return generate_world(seed=3, incidents=40)


@pytest.fixture
def fake(world: World) -> Iterator[FakePagerDuty]:
    with FakePagerDuty(world) as pd:
        yield pd


@pytest.fixture
def org(settings: Settings, tmp_path: Path) -> Settings:
    records: list[dict[str, Any]] = [{"type": "org_unit", "id": "eng", "name": "Engineering"}]
    for team in sorted(set(OWNERS.values())):
        records.append({"type": "team", "id": team, "name": team.title(), "org_unit": "eng",
                        "delivery_unit": "deployments"})
    for service, team in OWNERS.items():
        records.append({"type": "service", "id": service, "name": service, "team": team})
    path = tmp_path / "org.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    with Store.open(settings.db) as store:
        import_paths_into(store, pseudonymiser_for(store, settings), [path])
    return settings
