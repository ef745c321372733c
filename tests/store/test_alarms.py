from __future__ import annotations

import json

import duckdb
import pytest

from shipwise.store import alarms
from shipwise.store.duckdb_store import Store
from tests.store.conftest import NOW

T0 = NOW.timestamp()


def _row(i: str, t: float, status: str = "accepted", entity: str | None = "pay-api",
         kind: str | None = "generic") -> tuple[object, ...]:
    alarm = None if entity is None else json.dumps({"entity": entity, "metric": "error_rate"})
    return (i, t, kind, status, None, f"body {i}", f"sha {i}", alarm, f"generic:{i}")


def test_insert_and_read_back(store: Store) -> None:
    alarms.insert(store, [_row("a1", T0), _row("a2", T0 + 60, entity="search-api"),
                          _row("a3", T0 + 30, status="rejected", entity=None, kind=None)])
    alarms.insert(store, [])
    assert alarms.existing_ids(store, ["a1", "a3", "zz"]) == {"a1", "a3"}
    latest = alarms.latest(store)
    assert [r["id"] for r in latest] == ["a2", "a3", "a1"]
    assert "payload" not in latest[0] and latest[0]["deliveries"] == 1
    assert json.loads(latest[0]["alarm"])["entity"] == "search-api"
    assert latest[0]["received_at"].timestamp() == T0 + 60
    got = alarms.get(store, "a3")
    assert got is not None and got["payload"] == "body a3" and got["alarm"] is None
    assert alarms.get(store, "zz") is None


def test_filters_status_team_and_limit(store: Store) -> None:
    alarms.insert(store, [_row("a1", T0), _row("a2", T0 + 1, entity="ledger"),
                          _row("a3", T0 + 2, entity="search-api"),
                          _row("a4", T0 + 3, status="resolved")])
    assert [r["id"] for r in alarms.latest(store, status="accepted")] == ["a3", "a2", "a1"]
    assert [r["id"] for r in alarms.latest(store, team="payments")] == ["a4", "a2", "a1"]
    assert [r["id"] for r in alarms.latest(store, team="payments", status="resolved")] == ["a4"]
    assert [r["id"] for r in alarms.latest(store, limit=1)] == ["a4"]


def test_deliveries_statuses_and_outcomes(store: Store) -> None:
    alarms.insert(store, [_row("a1", T0), _row("a2", T0 + 1), _row("a3", T0 + 2)])
    alarms.add_deliveries(store, {"a1": 2, "a3": 1})
    alarms.add_deliveries(store, {})
    assert {r["id"]: r["deliveries"] for r in alarms.latest(store)} == {"a1": 3, "a2": 1, "a3": 2}
    alarms.mark_investigating(store, "a1")
    assert alarms.ids_in(store, ("accepted", "investigating")) == ["a1", "a2", "a3"]
    alarms.set_status(store, "a1", "investigated", investigation_id="inv-1")
    alarms.set_status(store, "a2", "failed", error="boom")
    alarms.link_investigations(store, [("a3", "inv-1")])
    alarms.link_investigations(store, [])
    st = alarms.statuses(store, ["a1", "a2", "a3", "zz"])
    assert {k: v[0] for k, v in st.items()} == {"a1": "investigated", "a2": "failed",
                                                "a3": "investigated"}
    assert json.loads(str(st["a1"][1]))["entity"] == "pay-api"
    rows = {r["id"]: r for r in alarms.latest(store)}
    assert (rows["a3"]["investigation_id"], rows["a2"]["error"]) == ("inv-1", "boom")
    assert alarms.ids_in(store, ("accepted", "investigating")) == []


def test_a_batch_of_any_size_is_stored_exactly_and_a_clash_stores_none(store: Store) -> None:
    for n in (1, 2, 37, 512):
        rows = [_row(f"b{n}-{i}", T0 + i, entity=None if i % 3 else "pay-api") for i in range(n)]
        alarms.insert(store, rows)
        got = store.con.execute(
            "SELECT id, epoch(received_at), source_kind, status, error, payload, payload_sha256, "
            "CAST(alarm AS VARCHAR), alarm_key FROM alarm_intake WHERE id LIKE ? ORDER BY "
            "received_at", [f"b{n}-%"]).fetchall()
        assert [(*r[:1], float(r[1]), *r[2:]) for r in got] == [
            (*r[:1], float(r[1]), *r[2:]) for r in rows]  # type: ignore[misc]
    before = store.count("alarm_intake")
    with pytest.raises(duckdb.ConstraintException):  # one id stored already: none is
        alarms.insert(store, [_row("fresh", T0), _row("b2-0", T0)])
    assert store.count("alarm_intake") == before
