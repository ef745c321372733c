"""Hostile webhook bodies over real HTTP: each is stored and answered 400 with the reason, and no
stored body can break a read."""

from __future__ import annotations

import json

import httpx
import pytest

from shipwise.app.alarms import get_alarm, list_alarms
from shipwise.app.tokens import create_token
from tests.server.conftest import Live

DEEP = b'{"entity": "cart", "metric": "m", "x": ' + b"[" * 1000 + b"]" * 1000 + b"}"


@pytest.mark.parametrize(("body", "reason"), [
    (b'{"entity": "cart", "metric": "errors", "time": NaN}', "NaN, which is not a JSON number"),
    (b'{"entity": "cart", "metric": "errors", "time": 1e309}', "1e309, which is not a JSON number"),
    (b'{"entity": "cart", "metric": "errors", "time": "NaN"}', "not a time"),
    (b'{"entity": "\\ud800", "metric": "errors"}', "lone UTF-16 surrogate"),
    (b'{"entity": "cart", "metric": "errors", "x": {"\\udfff": 1}}', "lone UTF-16 surrogate"),
    (DEEP, "deeper than 64 levels"),
    (b'{"entity": "cart", "x": ' + b'{"a": ' * 900 + b"1" + b"}" * 900 + b"}", "deeper than 64"),
    (b"\xff\xfe{}", "not UTF-8"),
], ids=["nan", "1e309", "nan-text", "surrogate", "surrogate-key", "1000-deep", "900-deep",
        "not-utf8"])
def test_a_hostile_body_is_stored_and_answered_400(live: Live, body: bytes, reason: str) -> None:
    res = live.post("/webhooks/generic", body)
    assert res.status_code == 400, res.text
    answer = res.json()
    assert reason in answer["error"] and answer["stored"] is True
    row = live.row(answer["id"])
    assert row["status"] == "rejected" and reason in row["error"]
    stored = get_alarm(live.settings, answer["id"], session=live.state.store.session)
    assert stored["payload"] == body.decode("utf-8", "backslashreplace")


def test_a_non_finite_threshold_is_kept_as_text(live: Live) -> None:
    res = live.post("/webhooks/generic", json.dumps(
        {"entity": "cart", "metric": "errors", "time": "2026-11-22T10:00:00Z", "threshold": "nan"}))
    assert res.status_code == 202, res.text
    (alarm_id,) = res.json()["accepted"]
    assert live.row(alarm_id)["alarm"]["source"]["threshold"] == "nan"


def test_a_deep_body_stored_earlier_does_not_break_the_alarm_list(live: Live) -> None:
    # A row written before intake limited nesting: a 900-deep payload inside the stored alarm.
    deep = {"entity": "cart", "metric": "m", "time": "2026-11-22T10:00:00Z",
            "source": {"payload": json.loads("[" * 900 + "]" * 900)}}
    with live.state.store.session() as store, store.transaction() as con:
        con.execute("INSERT INTO alarm_intake (id, received_at, source_kind, status, payload, "
                    "payload_sha256, alarm, alarm_key) VALUES ('alm-deep', now(), 'generic', "
                    "'resolved', '{}', 'x', CAST(? AS JSON), 'k')", [json.dumps(deep)])
        token = create_token(store, "ops", "admin")["token"]
    fine = live.post("/webhooks/generic", json.dumps(
        {"entity": "cart", "metric": "errors", "time": "2026-11-22T10:00:00Z"}))
    assert fine.status_code == 202
    res = httpx.get(live.url + "/api/v1/alarms", headers={"Authorization": f"Bearer {token}"},
                    timeout=30)
    assert res.status_code == 200, res.text
    listed = {r["id"]: r for r in res.json()}
    assert listed["alm-deep"]["alarm"] is None and "cannot be shown" in listed["alm-deep"]["unreadable"]
    assert listed[fine.json()["accepted"][0]]["alarm"]["entity"] == "cart"
    assert len(list_alarms(live.settings, session=live.state.store.session)) == 2
