"""Webhooks over real HTTP: each payload kind, malformed bodies, duplicates, auth, hand-off."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading

import httpx
import pytest
from pydantic import SecretStr

import shipwise.app.investigate as engine
from shipwise.config import Settings, WebhookSettings
from tests.server.conftest import SECRET, FakeEngine, Live, fixture_bytes, serve


def test_alertmanager_firing_alerts_are_accepted_and_investigated(live: Live,
                                                                  fake_engine: FakeEngine) -> None:
    res = live.post("/webhooks/alertmanager", fixture_bytes("alertmanager_firing.json"))
    assert res.status_code == 202, res.text
    body = res.json()
    assert body["kind"] == "alertmanager" and len(body["accepted"]) == 2
    assert body["resolved"] == 1 and body["duplicate"] is False
    rows = {r["id"]: r for r in live.settled()}
    assert len(rows) == 3
    statuses = sorted(r["status"] for r in rows.values())
    assert statuses == ["investigated", "investigated", "resolved"]
    for alarm_id in body["accepted"]:
        row = rows[alarm_id]
        assert row["investigation_id"].startswith("inv-") and row["source_kind"] == "alertmanager"
        assert row["alarm"]["source"]["payload"]["status"] == "firing"
    called = {alarm_id: alarm for alarm, alarm_id in fake_engine.calls}
    assert set(called) == set(body["accepted"])
    assert sorted((a.entity, a.metric) for a in called.values()) == [
        ("checkout", "GatewayErrorRate"), ("gateway", "error_rate")]


def test_the_same_body_twice_is_not_double_counted(live: Live, fake_engine: FakeEngine) -> None:
    raw = fixture_bytes("alertmanager_firing.json")
    first = live.post("/webhooks/alertmanager", raw).json()
    live.settled()
    again = live.post("/webhooks/alertmanager", raw)  # an Alertmanager retry
    assert again.status_code == 202
    body = again.json()
    assert body["duplicate"] is True and body["accepted"] == []
    assert sorted(body["duplicates"]) == sorted(first["ids"]) and body["ids"] == first["ids"]
    rows = live.settled()
    assert len(rows) == 3 and {r["deliveries"] for r in rows} == {2}
    assert len(fake_engine.calls) == 2  # investigated once each
    # a later notification repeating one of the alerts (another group body) is no new alarm either
    repeat = json.loads(raw)
    repeat["alerts"] = repeat["alerts"][:1]
    repeat["truncatedAlerts"] = 2
    body = live.post("/webhooks/alarm", json.dumps(repeat)).json()
    assert body["accepted"] == [] and body["duplicates"] == [first["accepted"][0]]
    assert len(live.settled()) == 3


def test_resolved_alerts_create_no_investigation(live: Live, fake_engine: FakeEngine) -> None:
    res = live.post("/webhooks/alertmanager", fixture_bytes("alertmanager_resolved.json"))
    assert res.status_code == 202
    assert res.json()["accepted"] == [] and res.json()["resolved"] == 3
    rows = live.settled()
    assert [r["status"] for r in rows] == ["resolved"] * 3
    res = live.post("/webhooks/cloudwatch", fixture_bytes("cloudwatch_sns_ok.json"))
    assert res.json()["resolved"] == 1
    res = live.post("/webhooks/dynatrace", fixture_bytes("dynatrace_resolved.json"))
    assert res.json()["resolved"] == 1
    live.settled()
    assert fake_engine.calls == []


@pytest.mark.parametrize(("path", "name", "entity"), [
    ("/webhooks/dynatrace", "dynatrace_open.json", "checkout"),
    ("/webhooks/cloudwatch", "cloudwatch_sns_alarm.json", "checkout"),
    ("/webhooks/cloudwatch", "cloudwatch_raw_metric_math.json", "orders"),
    ("/webhooks/generic", "generic_alarm.json", "gateway"),
    ("/webhooks/alarm", "dynatrace_open_no_time.json", "cart"),
    ("/webhooks/alarm", "cloudwatch_sns_alarm.json", "checkout"),
    ("/webhooks/alarm", "grafana_firing.json", "cart"),
])
def test_each_kind_is_accepted(live: Live, fake_engine: FakeEngine, path: str, name: str,
                               entity: str) -> None:
    res = live.post(path, fixture_bytes(name))
    assert res.status_code == 202, res.text
    (alarm_id,) = res.json()["accepted"]
    row = next(r for r in live.settled() if r["id"] == alarm_id)
    assert row["status"] == "investigated" and row["alarm"]["entity"] == entity
    assert [a.entity for a, _ in fake_engine.calls] == [entity]


def test_generic_list_accepts_firing_and_reports_resolved(live: Live) -> None:
    res = live.post("/webhooks/generic", fixture_bytes("generic_list.json"))
    assert res.status_code == 202
    assert len(res.json()["accepted"]) == 1 and res.json()["resolved"] == 1


def test_sns_subscription_is_stored_and_answered_with_the_url(live: Live,
                                                              fake_engine: FakeEngine) -> None:
    raw = fixture_bytes("cloudwatch_sns_subscription.json")
    # SNS cannot set headers: the secret comes in the query string
    res = live.post("/webhooks/cloudwatch", raw, secret=None, params={"token": SECRET},
                    headers={"Content-Type": "text/plain; charset=UTF-8",
                             "x-amz-sns-message-type": "SubscriptionConfirmation"})
    assert res.status_code == 200, res.text
    body = res.json()
    assert body["subscription"]["subscribe_url"] == json.loads(raw)["SubscribeURL"]
    assert "confirm-subscription" in body["note"]
    (row,) = live.settled()
    assert row["status"] == "subscription" and row["id"] == body["id"]
    assert fake_engine.calls == []


def test_malformed_payload_is_400_and_kept_with_its_reason(live: Live) -> None:
    raw = b'{"version": "4", "status": "firing", "alerts": [{"status": "firing", ' \
          b'"labels": {"alertname": "DiskFull"}, "startsAt": "2026-11-22T10:00:00Z"}]}'
    res = live.post("/webhooks/alertmanager", raw)
    assert res.status_code == 400
    body = res.json()
    assert "has no label naming the entity" in body["error"]
    assert "entity, service, job, instance" in body["hint"] and body["stored"] is True
    (row,) = live.rows()
    assert row["id"] == body["id"] and row["status"] == "rejected"
    assert row["error"] == body["error"] and row["source_kind"] == "alertmanager"
    from shipwise.app.alarms import get_alarm

    stored = get_alarm(live.settings, body["id"], session=live.state.store.session)
    assert stored["payload"] == raw.decode()  # the raw body, byte for byte
    again = live.post("/webhooks/alertmanager", raw)
    assert again.status_code == 400 and again.json()["duplicate"] is True
    assert len(live.rows()) == 1 and live.rows()[0]["deliveries"] == 2


@pytest.mark.parametrize(("path", "raw", "says"), [
    ("/webhooks/alarm", b"this is not json", "not JSON"),
    ("/webhooks/alarm", b"", "empty body"),
    ("/webhooks/alarm", b'{"hello": "world"}', "cannot tell which kind"),
    ("/webhooks/dynatrace", fixture_bytes("alertmanager_firing.json"), "looks like kind 'alertmanager'"),
])
def test_more_malformed_payloads(live: Live, path: str, raw: bytes, says: str) -> None:
    res = live.post(path, raw)
    assert res.status_code == 400 and says in res.json()["error"]
    assert [r["status"] for r in live.rows()] == ["rejected"]


def test_missing_or_wrong_secret_is_refused_and_nothing_is_stored(live: Live) -> None:
    raw = fixture_bytes("generic_alarm.json")
    res = live.post("/webhooks/generic", raw, secret=None)
    assert res.status_code == 401 and "Bearer" in res.json()["hint"]
    assert res.headers["www-authenticate"].startswith("Basic")
    assert live.post("/webhooks/generic", raw, secret="wrong-secret-0123456789").status_code == 403
    res = live.post("/webhooks/generic", raw, secret=None, params={"token": "nope"})
    assert res.status_code == 403 and res.json()["error"] == "wrong webhook secret"
    res = live.post("/webhooks/generic", raw, secret=None, headers={"Authorization": "Token abc"})
    assert res.status_code == 401
    assert live.rows() == []
    # HTTP Basic with the secret as password (SNS: https://shipwise:<secret>@host/...)
    basic = base64.b64encode(f"shipwise:{SECRET}".encode()).decode()
    res = live.post("/webhooks/generic", raw, secret=None, headers={"Authorization": f"Basic {basic}"})
    assert res.status_code == 202


def test_without_a_secret_webhooks_are_refused_unless_insecure(settings: Settings,
                                                               fake_engine: FakeEngine) -> None:
    raw = fixture_bytes("generic_alarm.json")
    with serve(settings) as server:
        res = server.post("/webhooks/generic", raw, secret=None)
        assert res.status_code == 503
        assert "SHIPWISE_WEBHOOK_SECRET" in res.json()["hint"]
        assert "--insecure-webhooks" in res.json()["hint"]
        assert httpx.get(server.url + "/readyz").json()["webhooks"] == "disabled"
    with serve(settings, insecure=True) as server:
        assert server.post("/webhooks/generic", raw, secret=None).status_code == 202
        assert httpx.get(server.url + "/readyz").json()["webhooks"] == "insecure"


def test_investigation_that_raises_leaves_the_row_failed_with_the_reason(
        live: Live, fake_engine: FakeEngine) -> None:
    fake_engine.fail = RuntimeError("prometheus at http://prom:9090 unreachable")
    res = live.post("/webhooks/generic", fixture_bytes("generic_alarm.json"))
    (alarm_id,) = res.json()["accepted"]
    (row,) = live.settled()
    assert row["id"] == alarm_id
    assert row["status"] == "failed" and row["investigation_id"] is None
    assert row["error"] == "RuntimeError: prometheus at http://prom:9090 unreachable"


def test_missing_investigation_engine_leaves_the_row_failed(live: Live,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(engine, "investigate_alarm", raising=False)
    live.post("/webhooks/generic", fixture_bytes("generic_alarm.json"))
    (row,) = live.settled()
    assert row["status"] == "failed"
    assert row["error"].startswith("investigation engine unavailable:")


def test_an_oversized_body_is_413_and_not_stored(settings: Settings, fake_engine: FakeEngine) -> None:
    small = settings.model_copy(update={"webhooks": WebhookSettings(secret=SecretStr(SECRET),
                                                                    max_body_bytes=1024)})
    with serve(small) as server:
        res = server.post("/webhooks/generic", json.dumps({"entity": "a", "pad": "x" * 2000}))
        assert res.status_code == 413 and "max_body_bytes" in res.json()["hint"]
        assert server.rows() == []


def test_concurrent_webhooks_share_one_connection(live: Live, fake_engine: FakeEngine) -> None:
    results: list[int] = []

    def send(i: int) -> None:
        body = json.dumps({"id": f"a{i}", "entity": f"svc{i % 3}", "metric": "error_rate",
                           "time": 1795342500 + i})
        results.append(live.post("/webhooks/generic", body).status_code)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [202] * 12
    rows = live.settled()
    assert len(rows) == 12 and {r["status"] for r in rows} == {"investigated"}
    assert len(fake_engine.calls) == 12


def test_errors_are_json(live: Live) -> None:
    res = httpx.get(live.url + "/nope")
    assert res.status_code == 404 and res.json() == {"error": "Not Found"}
    res = httpx.get(live.url + "/webhooks/alertmanager")
    assert res.status_code == 405 and "error" in res.json()


@pytest.mark.parametrize(("path", "name", "kind", "entity"), [
    ("/webhooks/datadog", "datadog_triggered.json", "datadog", "checkout"),
    ("/webhooks/alarm", "datadog_triggered.json", "datadog", "checkout"),
    ("/webhooks/grafana", "grafana_firing.json", "grafana", "cart"),
])
def test_datadog_and_grafana_alarms_are_investigated(live: Live, fake_engine: FakeEngine,
                                                      path: str, name: str, kind: str,
                                                      entity: str) -> None:
    res = live.post(path, fixture_bytes(name))
    assert res.status_code == 202 and res.json()["kind"] == kind, res.text
    (alarm_id,) = res.json()["accepted"]
    assert live.post(path, fixture_bytes(name)).json()["duplicate"]  # a retry: nothing new
    row = next(r for r in live.settled() if r["id"] == alarm_id)
    assert row["status"] == "investigated" and row["alarm"]["entity"] == entity
    assert [a.entity for a, _ in fake_engine.calls] == [entity]
    recovered = live.post("/webhooks/datadog", fixture_bytes("datadog_recovered.json"))
    assert recovered.status_code == 202 and recovered.json()["resolved"] == 1


HMAC_SECRET = "hmac-secret-for-tests-0123456789"


def signed(body: bytes, secret: str = HMAC_SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Shipwise-Signature": f"sha256={digest}"}


def test_a_signed_generic_webhook(secured: Settings, fake_engine: FakeEngine) -> None:
    secured.webhooks.hmac_secret = SecretStr(HMAC_SECRET)
    body = fixture_bytes("generic_alarm.json")
    with serve(secured) as live:
        ok = live.post("/webhooks/generic", body, secret=None, headers=signed(body))
        assert ok.status_code == 202, ok.text
        for headers, says in (
                ({}, "signature missing"),
                ({"X-Shipwise-Signature": "md5=abc"}, "malformed"),
                (signed(body, "another-secret-0123456789"), "does not match"),
                (signed(body + b" "), "does not match")):
            res = live.post("/webhooks/generic", body.replace(b"gateway", b"cart"), secret=SECRET,
                            headers=headers)  # the shared secret does not stand in for it
            assert res.status_code == 401 and says in res.json()["error"], res.text
            assert "X-Shipwise-Signature" in res.json()["hint"]
        assert [r["alarm"]["entity"] for r in live.settled()] == ["gateway"]  # nothing else kept
        # the other webhooks still take the shared secret
        other = live.post("/webhooks/alarm", fixture_bytes("dynatrace_open.json"))
        assert other.status_code == 202
