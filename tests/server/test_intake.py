"""The intake service without HTTP: ids, dedupe, storage of what was rejected, the hand-off."""

from __future__ import annotations

import hashlib
import json

import pytest

import shipwise.investigate.alarms as parsers
from shipwise.app.alarms import (
    get_alarm,
    intake_id,
    list_alarms,
    pending_alarm_ids,
    receive_alarm,
    start_investigations,
)
from shipwise.config import Settings
from shipwise.errors import InputError, NotFoundError
from tests.server.conftest import FakeEngine, fixture_bytes


def test_ids_derive_from_alert_keys(settings: Settings) -> None:
    raw = fixture_bytes("alertmanager_firing.json")
    res = receive_alarm(settings, raw, None, received_at=1795342600.0)
    rows = {r["id"]: r for r in list_alarms(settings)}
    assert set(rows) == set(res["ids"])
    for row in rows.values():
        assert row["id"] == intake_id(row["alarm_key"]) and row["id"].startswith("alm-")
        assert row["payload_sha256"] == hashlib.sha256(raw).hexdigest()
        assert row["received_at"].startswith("2026-11-22T10:16:40")
    keys = sorted(r["alarm_key"] for r in rows.values())
    assert keys[0].startswith("alertmanager:0e1f2a3b4c5d6e7f@") and keys[0].endswith(":resolved")
    assert keys[1].startswith("alertmanager:5f0a7e3c9b1d2e44@1795342500.123")


def test_a_firing_alert_and_its_resolution_are_two_rows(settings: Settings) -> None:
    firing = receive_alarm(settings, fixture_bytes("alertmanager_firing.json"), "alertmanager")
    resolved = receive_alarm(settings, fixture_bytes("alertmanager_resolved.json"), "alertmanager")
    # cart's resolution was in both bodies; gateway's and checkout's are new
    assert resolved["duplicate"] is False and len(resolved["duplicates"]) == 1
    assert not set(firing["accepted"]) & set(resolved["ids"])
    assert len(list_alarms(settings)) == 5
    assert [r["status"] for r in list_alarms(settings, status="resolved")] == ["resolved"] * 3


def test_a_parser_crash_keeps_the_body_then_raises(settings: Settings,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(data: object, received_at: float) -> object:
        raise ZeroDivisionError("bug")

    monkeypatch.setitem(parsers._PARSERS, "generic", broken)
    with pytest.raises(ZeroDivisionError):
        receive_alarm(settings, b'{"entity": "a"}', "generic")
    (row,) = list_alarms(settings)
    assert row["status"] == "rejected" and "internal error" in row["error"]
    assert get_alarm(settings, row["id"])["payload"] == '{"entity": "a"}'


def test_unknown_kind_and_status_are_input_errors(settings: Settings) -> None:
    with pytest.raises(InputError, match="unknown alarm kind"):
        receive_alarm(settings, b"{}", "nagios")
    with pytest.raises(InputError, match="unknown intake status"):
        list_alarms(settings, status="done")
    with pytest.raises(NotFoundError):
        get_alarm(settings, "alm-0000000000000000")


def test_non_utf8_body_is_kept_escaped(settings: Settings) -> None:
    res = receive_alarm(settings, b'{"entity": "\xff"}', None)
    assert "not UTF-8" in res["rejected"]
    assert get_alarm(settings, res["ids"][0])["payload"] == '{"entity": "\\xff"}'


def test_start_investigations_records_outcomes_and_skips_done_rows(
        settings: Settings, fake_engine: FakeEngine) -> None:
    body = json.dumps([{"id": "a", "entity": "x", "time": 1795342500},
                       {"id": "b", "entity": "y", "time": 1795342500}]).encode()
    ids = receive_alarm(settings, body, "generic")["accepted"]
    assert pending_alarm_ids(settings) == sorted(ids)
    out = start_investigations(settings, ids)
    assert [o["status"] for o in out] == ["investigated", "investigated"]
    assert [o["investigation_id"] for o in out] == ["inv-1", "inv-2"]
    again = start_investigations(settings, [*ids, "alm-missing"])
    assert [o.get("skipped") for o in again] == [True, True, True]
    assert again[-1]["status"] == "missing" and len(fake_engine.calls) == 2
    assert pending_alarm_ids(settings) == []


def test_an_engine_answer_without_an_id_is_a_failure(settings: Settings,
                                                     fake_engine: FakeEngine,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import shipwise.app.investigate as engine

    monkeypatch.setattr(engine, "investigate_alarm", lambda *a, **kw: {"status": "done"}, raising=False)
    ids = receive_alarm(settings, b'{"entity": "x"}', "generic")["accepted"]
    (out,) = start_investigations(settings, ids)
    assert out["status"] == "failed" and "returned no investigation id" in out["error"]


def test_the_same_alarm_twice_in_one_body_is_one_row(settings: Settings) -> None:
    res = receive_alarm(settings, b'[{"entity": "x"}, {"entity": "x"}]', "generic")
    assert len(res["accepted"]) == 1 and res["ids"] == res["accepted"]
    assert len(list_alarms(settings)) == 1


def test_an_alarm_storm_shares_one_investigation(settings, monkeypatch) -> None:
    import json as _json
    from datetime import UTC, datetime

    from shipwise.app import investigate as engine
    from shipwise.app.alarms import receive_alarm, start_investigations

    calls: list[str] = []

    def fake(settings_, alarm, alarm_id, *, session):  # writes one as the engine does: through
        calls.append(alarm_id)                            # the store the caller lends
        with session() as store, store.transaction() as con:
            con.execute("INSERT INTO investigation (id, created_at, entity, metric, alarm_at, status, "
                        "record) VALUES (?, ?, ?, ?, ?, 'root_cause_found', '{}')",
                        [f"inv-{len(calls)}", datetime.now(UTC), alarm.entity, alarm.metric,
                         datetime.fromtimestamp(alarm.time, tz=UTC)])
        return {"id": f"inv-{len(calls)}"}

    monkeypatch.setattr(engine, "investigate_alarm", fake, raising=False)
    t0 = 1_790_000_000
    bodies = [{"entity": "cart", "metric": "error_rate", "time": t0 + 15 * i, "id": f"a{i}"}
              for i in range(5)]
    bodies.append({"entity": "cart", "metric": "error_rate", "time": t0 + 3600, "id": "later"})
    ids = [receive_alarm(settings, _json.dumps(b).encode(), "generic")["accepted"][0] for b in bodies]
    out = start_investigations(settings, ids)
    assert calls == [ids[0], ids[-1]]  # one investigation for the storm, one an hour later
    assert [o["investigation_id"] for o in out] == ["inv-1"] * 5 + ["inv-2"]
    assert all(o.get("coalesced") for o in out[1:5])
