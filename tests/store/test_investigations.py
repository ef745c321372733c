from __future__ import annotations

import json
from datetime import timedelta

from shipwise.store import investigations
from shipwise.store.duckdb_store import Store
from shipwise.store.investigations import Investigation
from tests.store.conftest import NOW


def _inv(inv_id: str, entity: str | None, minutes: int, *, metric: str | None = "error_rate",
         summary: str = "a bad deploy") -> Investigation:
    return Investigation(id=inv_id, created_at=NOW, alarm_id=None, entity=entity, metric=metric,
                         alarm_at=NOW + timedelta(minutes=minutes), status="root_cause_found",
                         root_cause_entity=entity, root_cause_kind="deployment", confidence=0.9,
                         summary=summary, seconds=1.5,
                         record=json.dumps({"id": inv_id, "summary": summary}))


def test_save_replaces_and_recent_is_newest_alarm_first(store: Store) -> None:
    for row in (_inv("i1", "pay-api", 0), _inv("i2", "search-api", 2), _inv("i3", "gateway", 1)):
        investigations.save(store, row)
    investigations.save(store, _inv("i1", "pay-api", 3, summary="again"))
    recent = investigations.recent(store)
    assert [r["id"] for r in recent] == ["i1", "i2", "i3"]
    assert recent[0]["summary"] == "again" and "record" not in recent[0]
    assert [r["id"] for r in investigations.recent(store, limit=1)] == ["i1"]
    assert investigations.record(store, "i1") == {"id": "i1", "summary": "again"}
    assert investigations.record(store, "nope") is None


def test_a_team_sees_its_services_only(store: Store) -> None:
    for row in (_inv("i1", "pay-api", 0), _inv("i2", "ledger", 1), _inv("i3", "search-api", 2),
                _inv("i4", "gateway", 3)):
        investigations.save(store, row)
    assert [r["id"] for r in investigations.recent(store, team="payments")] == ["i2", "i1"]
    assert investigations.recent(store, team="nobody") == []
    assert investigations.count(store) == 4
    assert investigations.count(store, team="payments") == 2
    assert investigations.count(store, team="search") == 1


def test_entity_exists_and_alarm_times(store: Store) -> None:
    investigations.save(store, _inv("i1", "pay-api", 0, metric=None))
    investigations.save(store, _inv("i2", None, 1))
    assert investigations.entity_of(store, "i1") == "pay-api"
    assert investigations.entity_of(store, "i2") is None
    assert investigations.entity_of(store, "nope") is None
    assert investigations.exists(store, "i2") and not investigations.exists(store, "nope")
    assert investigations.alarm_times(store, ["pay-api", "ledger"]) == [
        ("i1", "pay-api", "", NOW.timestamp())]
    assert investigations.alarm_times(store, []) == []
