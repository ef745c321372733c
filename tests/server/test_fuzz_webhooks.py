"""Fuzzing the webhook parsers with hypothesis: any body gets 2xx or 4xx (never 5xx, which
senders retry forever), is stored, and no stored body can break a read."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shipwise.app.alarms import list_alarms
from shipwise.app.tokens import create_token
from shipwise.config import Settings
from shipwise.errors import InputError
from shipwise.investigate.alarms import parse_alarm_batch
from tests.server.conftest import FakeEngine, Live, serve

pytestmark = pytest.mark.fuzz

FUZZ = settings(max_examples=120, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])

TEXT = st.text(st.characters(codec=None), max_size=12)  # lone surrogates included
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=True, allow_infinity=True), TEXT,
    st.sampled_from(["2026-11-22T10:15:00Z", "2026-11-22T10:15:00+25:00", "NaN", "inf", "1e309",
                     "firing", "resolved", "ALARM", "OK", "OPEN", "CLOSED", "Notification",
                     "SubscriptionConfirmation", "checkout", "", "-1", "99999999999999"]),
)
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(TEXT, inner, max_size=3)), max_leaves=12)


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@st.composite
def shaped(draw: st.DrawFn) -> Any:
    """Payloads shaped like the supported kinds, with fuzzed values."""
    v = lambda: draw(VALUES)  # noqa: E731
    kind = draw(st.sampled_from(["alertmanager", "dynatrace", "sns", "cloudwatch", "generic",
                                 "list"]))
    if kind == "alertmanager":
        return {"version": draw(st.sampled_from(["4", "1", v()])), "status": v(),
                "alerts": draw(st.lists(st.fixed_dictionaries(
                    {"status": st.sampled_from(["firing", "resolved"]) | VALUES,
                     "labels": st.dictionaries(st.sampled_from(["alertname", "service", "entity",
                                                                "severity", "threshold"]) | TEXT,
                                               VALUES, max_size=4),
                     "startsAt": VALUES, "annotations": VALUES}), max_size=3))}
    if kind == "dynatrace":
        return {"PID": v(), "ProblemID": v(), "ProblemTitle": v(), "State": v(),
                "ImpactedEntities": draw(VALUES | st.just('[{"name": "x"}]')),
                "ProblemStartTime": v(), "ProblemDetailsJSON": v(), "Tags": v()}
    if kind in ("sns", "cloudwatch"):
        alarm = {"AlarmName": v(), "NewStateValue": draw(st.sampled_from(["ALARM", "OK"]) | VALUES),
                 "StateChangeTime": v(), "Trigger": {"MetricName": v(), "Threshold": v(),
                                                     "Dimensions": v(), "Metrics": v()}}
        if kind == "cloudwatch":
            return alarm
        message = draw(st.sampled_from([json.dumps(alarm), json.dumps(alarm, allow_nan=True),
                                        "not json", nested(200)]) | TEXT)
        return {"Type": draw(st.sampled_from(["Notification", "SubscriptionConfirmation"]) | VALUES),
                "TopicArn": v(), "MessageId": v(), "Message": message, "SubscribeURL": v()}
    item = {"entity": draw(st.sampled_from(["checkout", ""]) | VALUES), "metric": v(),
            "time": v(), "status": v(), "threshold": v(), "source": v(), "id": v()}
    return [item, item] if kind == "list" else item


BODIES = st.one_of(
    st.binary(max_size=300),
    VALUES.map(lambda x: json.dumps(x).encode()),
    shaped().map(lambda x: json.dumps(x).encode()),
    st.integers(1, 3000).map(lambda n: nested(n).encode()),
    st.integers(1, 1500).map(lambda n: ('{"entity": "a", "x": ' + nested(n) + "}").encode()),
)
PATHS = st.sampled_from(["/webhooks/alarm", "/webhooks/generic", "/webhooks/alertmanager",
                         "/webhooks/dynatrace", "/webhooks/cloudwatch"])


@settings(FUZZ, max_examples=600)
@given(body=BODIES, kind=st.sampled_from([None, "generic", "alertmanager", "dynatrace",
                                          "cloudwatch"]))
def test_the_parsers_raise_nothing_but_input_errors(body: bytes, kind: str | None) -> None:
    try:
        batch = parse_alarm_batch(body, kind, received_at=1_700_000_000.0)
    except InputError as exc:
        assert str(exc)
        return
    for alarm in batch.alarms:  # what is accepted can be stored as JSON and read back
        json.loads(json.dumps({"time": alarm.time, "source": alarm.source}, allow_nan=False))


@pytest.fixture
def server(secured: Settings, fake_engine: FakeEngine) -> Iterator[tuple[Live, str]]:
    with serve(secured) as live:
        with live.state.store.session() as store:
            token = create_token(store, "ops", "admin")["token"]
        yield live, token


@FUZZ
@given(body=BODIES, path=PATHS)
def test_any_body_is_answered_2xx_or_4xx_and_stored(server: tuple[Live, str], body: bytes,
                                                   path: str) -> None:
    live, token = server
    res = live.post(path, body)
    assert res.status_code in (200, 202, 400), (res.status_code, res.text, body[:200])
    answer = res.json()
    ids = answer.get("ids") or [answer["id"]]
    stored = {r["id"] for r in list_alarms(live.settings, limit=10_000,
                                           session=live.state.store.session)}
    assert set(ids) <= stored
    if res.status_code == 400:
        assert answer["error"] and answer["stored"] is True
    listed = httpx.get(live.url + "/api/v1/alarms", params={"limit": 10_000}, timeout=30,
                       headers={"Authorization": f"Bearer {token}"})
    assert listed.status_code == 200, listed.text
