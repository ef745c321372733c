"""Webhook payloads → alarms: table tests over realistic payloads (tests/fixtures/alarms/)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from shipwise.errors import InputError
from shipwise.investigate.alarms import (
    alarm_from_dict,
    alarm_to_dict,
    detect_kind,
    parse_alarm_batch,
    parse_alarm_payload,
)
from shipwise.investigate.case import parse_time

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "alarms"
RECEIVED = parse_time("2026-11-22T10:16:40Z")


def fixture(name: str) -> dict[str, Any]:
    data = json.loads((FIXTURES / name).read_text())
    assert isinstance(data, dict | list)
    return data  # type: ignore[return-value]


def at(iso: str) -> float:
    return parse_time(iso)


# (fixture, kind, [(entity, metric, time)], resolved count)
CASES = [
    ("alertmanager_firing.json", "alertmanager",
     [("gateway", "error_rate", at("2026-11-22T10:15:00.123456Z")),
      ("checkout", "GatewayErrorRate", at("2026-11-22T10:16:30Z"))], 1),
    ("alertmanager_resolved.json", "alertmanager", [], 3),
    ("grafana_firing.json", "grafana",
     [("cart", "High memory usage", at("2026-11-22T09:12:03.157076Z"))], 0),
    ("dynatrace_open.json", "dynatrace",
     [("checkout", "Failure rate increase", 1795342500.0)], 0),
    ("dynatrace_open_no_time.json", "dynatrace",
     [("cart", "Response time degradation", RECEIVED)], 0),
    ("dynatrace_resolved.json", "dynatrace", [], 1),
    ("cloudwatch_sns_alarm.json", "cloudwatch",
     [("checkout", "HTTPCode_Target_5XX_Count", at("2026-11-22T10:15:00.123Z"))], 0),
    ("cloudwatch_raw_metric_math.json", "cloudwatch",
     [("orders", "throttle_ratio", at("2026-11-22T10:15:30Z"))], 0),
    ("cloudwatch_sns_ok.json", "cloudwatch", [], 1),
    ("cloudwatch_sns_subscription.json", "cloudwatch", [], 0),
    ("datadog_triggered.json", "datadog",
     [("checkout", "trace.http.request.errors", 1795342500.0)], 0),
    ("datadog_recovered.json", "datadog", [], 1),
    ("generic_alarm.json", "generic", [("gateway", "error_rate", at("2026-11-22T10:15:00Z"))], 0),
    ("generic_list.json", "generic", [("checkout", "latency_p95_ms", 1795342500.0)], 1),
]


@pytest.mark.parametrize(("name", "kind", "expected", "resolved"), CASES,
                         ids=[c[0].removesuffix(".json") for c in CASES])
def test_each_payload_shape_gives_its_firing_alarms(name: str, kind: str,
                                                    expected: list[tuple[str, str, float]],
                                                    resolved: int) -> None:
    raw = (FIXTURES / name).read_bytes()
    for given in (kind, None):  # explicit kind, and detected from the shape
        batch = parse_alarm_batch(raw, given, received_at=RECEIVED)
        assert batch.kind == kind
        got = [(a.entity, a.metric, a.time) for a in batch.alarms]
        assert [(e, m) for e, m, _ in got] == [(e, m) for e, m, _ in expected]
        assert [t for *_, t in got] == pytest.approx([t for *_, t in expected], abs=1e-6)
        assert len(batch.resolved) == resolved
        for a in batch.alarms:
            assert a.source["kind"] == kind and a.source["key"].startswith(f"{kind}:")
            assert isinstance(a.source["payload"], dict)
    # bytes, text and the parsed value give the same alarms
    assert parse_alarm_payload(raw.decode(), kind, received_at=RECEIVED) == \
        parse_alarm_payload(json.loads(raw), kind, received_at=RECEIVED) == list(batch.alarms)


def test_alertmanager_alarm_keeps_the_alert_and_its_useful_fields() -> None:
    batch = parse_alarm_batch(fixture("alertmanager_firing.json"), "alertmanager")
    gateway, checkout = batch.alarms
    assert gateway.source["alertname"] == "GatewayErrorRate"
    assert gateway.source["severity"] == "page"
    assert gateway.source["threshold"] == 0.05
    assert gateway.source["summary"] == "gateway 5xx ratio above 5% for 5 minutes"
    assert gateway.source["fingerprint"] == "5f0a7e3c9b1d2e44"
    assert gateway.source["payload"]["labels"]["instance"] == "10.0.3.17:9102"
    assert gateway.source["receiver"] == "shipwise"
    # entity label order: entity, service, job, instance
    assert checkout.entity == "checkout"  # from job (no service label)
    assert gateway.source["key"] != checkout.source["key"]
    (notice,) = batch.resolved
    assert (notice.entity, notice.name, notice.state) == ("cart", "GatewayErrorRate", "resolved")


def test_the_same_alert_has_the_same_key_in_another_notification() -> None:
    first = parse_alarm_batch(fixture("alertmanager_firing.json"), "alertmanager")
    repeat = fixture("alertmanager_firing.json")
    repeat["alerts"] = repeat["alerts"][:1]
    repeat["groupKey"] = "something else"
    again = parse_alarm_batch(repeat, "alertmanager")
    assert again.alarms[0].source["key"] == first.alarms[0].source["key"]
    # a new episode of the same alert (new startsAt) is a new alarm
    repeat["alerts"][0]["startsAt"] = "2026-11-22T14:00:00Z"
    later = parse_alarm_batch(repeat, "alertmanager")
    assert later.alarms[0].source["key"] != first.alarms[0].source["key"]


def test_grafana_alarm_keeps_grafana_fields() -> None:
    (alarm,) = parse_alarm_batch(fixture("grafana_firing.json")).alarms
    assert alarm.source["key"] == "grafana:c6eadffa33fcdf37@" + f"{alarm.time:.3f}"
    assert alarm.source["values"] == {"B": 1610612736, "C": 1}
    assert alarm.source["silence_url"].startswith("https://grafana.example.com/alerting/silence")
    assert alarm.source["org_id"] == 1 and alarm.source["summary"] == "cart memory above 1.5 GiB"
    assert "dashboard_url" not in alarm.source  # empty in the payload
    resolved = fixture("grafana_firing.json")
    resolved["alerts"][0]["status"] = resolved["status"] = "resolved"
    (notice,) = parse_alarm_batch(resolved).resolved
    assert notice.key.startswith("grafana:c6eadffa33fcdf37@") and notice.entity == "cart"


def test_datadog_alarm_fields_and_its_entity() -> None:
    (alarm,) = parse_alarm_batch(fixture("datadog_triggered.json")).alarms
    assert alarm.source["key"] == "datadog:123456789:7153371465458127836"
    assert alarm.source["alertname"] == "checkout error rate above 5%"
    assert alarm.source["severity"] == "P2" and alarm.source["transition"] == "Triggered"
    assert alarm.source["monitor_id"] == "123456789"
    # re-triggered in the same cycle: the same alarm (a retry or a renotification)
    again = fixture("datadog_triggered.json") | {"alert_transition": "Re-Triggered",
                                                 "date": "1795342800000"}
    assert parse_alarm_batch(again).alarms[0].source["key"] == alarm.source["key"]
    # no service in the scope: the tags, then the host; unfilled variables count as missing
    host = fixture("datadog_triggered.json") | {"alert_scope": "$ALERT_SCOPE", "tags": "env:prod",
                                                "hostname": "web-7"}
    assert parse_alarm_batch(host).alarms[0].entity == "web-7"
    upper = {"ALERT_ID": "9", "ALERT_CYCLE_KEY": "c1", "ALERT_TRANSITION": "Warn",
             "ALERT_SCOPE": "kube_deployment:cart", "ALERT_METRIC": "kubernetes.cpu.usage",
             "DATE": 1795342500000}
    (warn,) = parse_alarm_batch(upper).alarms
    assert (warn.entity, warn.metric, warn.time) == ("cart", "kubernetes.cpu.usage", 1795342500.0)
    with pytest.raises(InputError, match="nothing names the entity") as err:
        parse_alarm_batch(fixture("datadog_triggered.json") | {"alert_scope": "", "tags": ""},
                          "datadog")
    assert "$ALERT_SCOPE" in (err.value.hint or "")


def test_dynatrace_time_comes_from_start_time_fields_else_the_receipt() -> None:
    data = fixture("dynatrace_open.json")
    (a,) = parse_alarm_payload(data, "dynatrace", received_at=RECEIVED)
    assert a.source["time_from"] == "ProblemDetailsJSON.startTime"
    assert a.source["impacted_entities"] == ["checkout", "gateway"]
    assert a.source["severity"] == "ERROR" and a.source["tags"] == ["team:payments", "env:prod"]
    assert a.source["url"].startswith("https://abc12345.live.dynatrace.com/")
    data["ProblemStartTime"] = "2026-11-22T10:10:00Z"
    (a,) = parse_alarm_payload(data, "dynatrace", received_at=RECEIVED)
    assert (a.time, a.source["time_from"]) == (at("2026-11-22T10:10:00Z"), "ProblemStartTime")
    data["ProblemStartTime"] = 1795342200000  # epoch milliseconds, as Dynatrace writes them
    (a,) = parse_alarm_payload(data, "dynatrace", received_at=RECEIVED)
    assert a.time == 1795342200.0
    (a,) = parse_alarm_payload(fixture("dynatrace_open_no_time.json"), received_at=RECEIVED)
    assert (a.time, a.source["time_from"]) == (RECEIVED, "received_at")


def test_dynatrace_entity_from_names_when_the_list_is_missing() -> None:
    data = fixture("dynatrace_open_no_time.json")
    del data["ImpactedEntities"]
    assert parse_alarm_payload(data, received_at=RECEIVED)[0].entity == "cart"  # ImpactedEntity
    data["ImpactedEntity"] = "3 impacted entities"
    data["ImpactedEntityNames"] = "cart, checkout, gateway"
    assert parse_alarm_payload(data, received_at=RECEIVED)[0].entity == "cart"
    data["ImpactedEntities"] = json.dumps([{"type": "SERVICE", "name": "search"}])  # quoted
    assert parse_alarm_payload(data, received_at=RECEIVED)[0].entity == "search"


def test_cloudwatch_alarm_fields_and_sns_envelope() -> None:
    (a,) = parse_alarm_payload(fixture("cloudwatch_sns_alarm.json"))
    assert a.source["alertname"] == "checkout-5xx-rate"
    assert a.source["threshold"] == 5.0
    assert a.source["namespace"] == "AWS/ApplicationELB"
    assert a.source["dimensions"] == {"LoadBalancer": "app/shop-alb/50dc6c495c0c9188",
                                      "ServiceName": "checkout"}
    assert a.source["sns"]["message_id"] == "1f4f6a4e-7b8c-5d2a-9e3f-0a1b2c3d4e5f"
    assert a.source["payload"]["AlarmName"] == "checkout-5xx-rate"  # the alarm, not the envelope
    assert a.source["key"] == ("cloudwatch:arn:aws:cloudwatch:eu-west-1:123456789012:alarm:"
                               f"checkout-5xx-rate@{a.time:.3f}")


def test_cloudwatch_entity_falls_back_to_the_first_dimension() -> None:
    data = fixture("cloudwatch_sns_alarm.json")
    message = json.loads(data["Message"])
    message["Trigger"]["Dimensions"] = [{"name": "Stage", "value": "prod"}]
    data["Message"] = json.dumps(message)
    assert parse_alarm_payload(data)[0].entity == "prod"


def test_sns_subscription_confirmation_is_not_an_alarm() -> None:
    batch = parse_alarm_batch(fixture("cloudwatch_sns_subscription.json"))
    assert batch.alarms == () and batch.resolved == ()
    assert batch.subscription is not None
    assert batch.subscription.type == "SubscriptionConfirmation"
    assert batch.subscription.subscribe_url is not None
    assert batch.subscription.subscribe_url.startswith(
        "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription")


def test_generic_alarm_keeps_its_source_and_defaults_time_to_the_receipt() -> None:
    (a,) = parse_alarm_payload(fixture("generic_alarm.json"))
    assert a.source["alertname"] == "GatewayErrorRate" and a.source["threshold"] == 0.05
    assert a.source["upstream_kind"] == "alertmanager" and a.source["kind"] == "generic"
    (b,) = parse_alarm_payload({"entity": "cart"}, received_at=RECEIVED)
    assert (b.entity, b.metric, b.time, b.source["time_from"]) == ("cart", "", RECEIVED, "received_at")
    # no id: the key is the content's hash, so a retry of the same body is the same alarm
    (c,) = parse_alarm_payload({"entity": "cart"}, received_at=RECEIVED + 60)
    assert b.source["key"] == c.source["key"]
    (d,) = parse_alarm_payload(fixture("generic_list.json"))
    assert d.source["key"] == "generic:pd-4711" and d.source["severity"] == "critical"


def test_alarm_round_trips_through_the_case_format() -> None:
    for a in parse_alarm_payload(fixture("alertmanager_firing.json")):
        d = alarm_to_dict(a)
        assert d["time"].endswith("Z")
        assert alarm_from_dict(json.loads(json.dumps(d))) == a


# (payload, kind, what the message must say)
MALFORMED: list[tuple[Any, str | None, list[str]]] = [
    (b"", None, ["empty body"]),
    (b"\xff\xfe{", None, ["not UTF-8"]),
    (b'{"alerts": [', None, ["not JSON", "line 1"]),
    (b"42", None, ["cannot tell which kind"]),
    ({"foo": 1}, None, ["cannot tell which kind", "foo"]),
    ({"foo": 1}, "nagios", ["unknown alarm kind 'nagios'"]),
    ({"version": "4", "alerts": []}, "alertmanager", ["'alerts' is empty"]),
    ({"version": "3", "alerts": [{}]}, "alertmanager", ["version '3'"]),
    ({"version": "4", "alerts": [{"status": "firing", "labels": {"alertname": "DiskFull"},
                                  "startsAt": "2026-11-22T10:00:00Z"}]},
     "alertmanager", ["alerts[0] (DiskFull) has no label naming the entity", "labels: alertname"]),
    ({"version": "4", "alerts": [{"status": "firing", "labels": {"alertname": "X", "job": "a"}}]},
     "alertmanager", ["alerts[0] (X) has no startsAt"]),
    ({"version": "4", "alerts": [{"status": "firing", "labels": {"alertname": "X", "job": "a"},
                                  "startsAt": "yesterday"}]},
     "alertmanager", ["alerts[0] (X).startsAt", "not a time: 'yesterday'"]),
    ({"version": "4", "alerts": [{"status": "pending", "labels": {"alertname": "X", "job": "a"},
                                  "startsAt": "2026-11-22T10:00:00Z"}]},
     "alertmanager", ["status 'pending'"]),
    ({"ProblemTitle": "CPU saturation", "State": "OPEN"}, "dynatrace", ["no PID or ProblemID"]),
    ({"PID": "1", "ProblemTitle": "CPU saturation", "State": "OPEN",
      "ImpactedEntity": "4 impacted entities"}, "dynatrace", ["names no impacted entity"]),
    ({"PID": "1", "ProblemTitle": "CPU", "State": "{State}", "ImpactedEntity": "a"}, "dynatrace",
     ["State '{State}'"]),
    ({"Type": "Notification", "TopicArn": "arn:x", "Message": "hello"}, "cloudwatch",
     ["SNS Message is not JSON"]),
    ({"Type": "Notification", "TopicArn": "arn:x", "Message": "{\"a\": 1}"}, "cloudwatch",
     ["not a CloudWatch alarm"]),
    ({"Type": "SubscriptionConfirmation", "TopicArn": "arn:x"}, "cloudwatch", ["without SubscribeURL"]),
    ({"AlarmName": "c", "NewStateValue": "ALARM", "StateChangeTime": "2026-11-22T10:00:00Z",
      "AlarmRule": "ALARM(a) OR ALARM(b)"}, "cloudwatch",
     ["alarm 'c' has no metric dimension naming the entity"]),
    ({"AlarmName": "c", "NewStateValue": "ALARM"}, "cloudwatch", ["has no StateChangeTime"]),
    ([], "generic", ["the list is empty"]),
    ([{"entity": "a"}, {"metric": "x"}], "generic", ["generic alarm[1] has no entity"]),
    ({"entity": "a", "time": "2026-11-22T10:00:00"}, "generic", ["without an offset"]),
    ({"entity": "a", "time": 1795342500000}, "generic", ["too large for epoch seconds"]),
    ({"entity": "a", "status": "maybe"}, "generic", ["status 'maybe'"]),
]


@pytest.mark.parametrize(("payload", "kind", "says"), MALFORMED)
def test_malformed_payload_says_what_is_wrong(payload: Any, kind: str | None,
                                               says: list[str]) -> None:
    with pytest.raises(InputError) as err:
        parse_alarm_payload(payload, kind, received_at=RECEIVED)
    for part in says:
        assert part in str(err.value)
    assert err.value.hint  # and what a correct payload needs


def test_wrong_kind_says_which_kind_it_looks_like() -> None:
    with pytest.raises(InputError) as err:
        parse_alarm_payload(fixture("alertmanager_firing.json"), "dynatrace")
    assert "looks like kind 'alertmanager'" in str(err.value)
    assert "/webhooks/alertmanager" in (err.value.hint or "")


def test_detect_kind() -> None:
    assert detect_kind(fixture("alertmanager_firing.json")) == "alertmanager"
    assert detect_kind(fixture("dynatrace_resolved.json")) == "dynatrace"
    assert detect_kind(fixture("cloudwatch_sns_subscription.json")) == "cloudwatch"
    assert detect_kind(fixture("cloudwatch_raw_metric_math.json")) == "cloudwatch"
    assert detect_kind(fixture("generic_list.json")) == "generic"
    assert detect_kind(fixture("grafana_firing.json")) == "grafana"
    assert detect_kind(fixture("datadog_recovered.json")) == "datadog"
    default = {"id": "1", "title": "t", "body": "b", "date": "1795342500000",
               "last_updated": "1795342500000", "event_type": "metric_alert_monitor",
               "org": {"id": "1", "name": "Acme"}}
    assert detect_kind(default) == "datadog"  # Datadog's default payload
