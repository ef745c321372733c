"""Table tests of the pure Opsgenie mapping: alerts as incidents, recipients as pages, timeline
periods as on-call shifts — and the shared offset paging and window splitting."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shipwise.connectors.incidents import Routing
from shipwise.connectors.opsgenie.mapping import Rules, incident_row, page_rows, shift_rows
from shipwise.connectors.paging import OffsetPage, offset_pages, split_window
from shipwise.domain.services import ServiceMap

ORG = ServiceMap(services=frozenset({"payments-api", "checkout-web"}),
                 owners=(("payments-api", "payments"), ("checkout-web", "checkout")))
RULES = Rules.of("og", Routing({"Payments": "payments-api", "Checkout Team": "checkout-web"},
                               {"t2": "web-oncall"}, ORG),
                 {"P1": "sev1", "P2": "sev2", "P3": "sev3", "P4": "sev4", "P5": "sev5"},
                 ["p1", "P2"])
TEAMS = {"t1": "Payments Team", "t2": "Checkout Team", "t3": "Legacy Ops"}
USERS = {"ann@acme.example", "bob@acme.example"}
T = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)


def alert(**kw: Any) -> dict[str, Any]:
    return {"id": "a-1", "tinyId": "17", "status": "open", "tags": ["payments", "env:prod"],
            "createdAt": "2025-05-01T12:00:00.000Z", "updatedAt": "2025-05-01T12:05:00.000Z",
            "priority": "P2", "responders": [{"type": "team", "id": "t1"}], "report": {}, **kw}


@pytest.mark.parametrize(("raw", "expected"), [
    # a tag maps the service; open; acknowledged by nobody
    (alert(), {"service": "payments-api", "severity": "sev2", "resolved_at": None,
               "human_actioned": False}),
    # closed: created + closeTime milliseconds; closed by a user: human
    (alert(status="closed", report={"closeTime": 90_000, "closedBy": "ann@acme.example"}),
     {"resolved_at": T + timedelta(seconds=90), "human_actioned": True}),
    # acknowledged by an integration and closed by the system: not human
    (alert(status="closed", report={"ackTime": 1, "acknowledgedBy": "Datadog", "closeTime": 5,
                                    "closedBy": "System"}),
     {"human_actioned": False, "resolved_at": T + timedelta(milliseconds=5)}),
    # acknowledged by a user (case aside)
    (alert(report={"acknowledgedBy": "Bob@Acme.example"}), {"human_actioned": True}),
    # closed without closeTime: its last update
    (alert(status="closed"), {"resolved_at": T + timedelta(minutes=5)}),
    # no mapped tag: the team routes it (by name)
    (alert(tags=["web"], responders=[{"type": "team", "id": "t2"}]),
     {"service": "checkout-web", "labels": ["web"]}),
    # nothing maps: the Opsgenie team's name, for the quarantine reason
    (alert(tags=["batch"], responders=[{"type": "team", "id": "t3"}], priority="P5"),
     {"service": "Legacy Ops", "severity": "sev5"}),
    # no createdAt or id: left missing for the importer to quarantine
    (alert(createdAt=None), {"opened_at": None}),
    (alert(id=None), {"id": None}),
    # a priority outside the mapping: missing severity (quarantined), not a guess
    (alert(priority="P9"), {"severity": None}),
])
def test_alerts_become_incidents(raw: dict[str, Any], expected: dict[str, Any]) -> None:
    row = incident_row(raw, RULES, TEAMS, USERS)
    assert {k: row[k] for k in expected} == expected
    if raw.get("id"):
        assert row["id"] == "og:a-1" and row["source"] == "opsgenie:og alert a-1 (#17)"


def test_recipients_notified_or_acting_become_pages() -> None:
    recipients = [
        {"user": {"id": "u1", "username": "ann@acme.example"}, "state": "action",
         "method": "Acknowledge", "createdAt": "2025-05-01T12:00:30.000Z"},
        {"user": {"id": "u2", "username": "bob@acme.example"}, "state": "notified",
         "method": "SMS", "createdAt": "2025-05-01T12:01:30.000Z"},
        {"user": {"id": "u3", "username": "cy@acme.example"}, "state": "notactive",
         "method": "", "createdAt": "2025-05-01T12:00:30.000Z"},
        {"user": {"id": "u4"}, "state": "notified", "createdAt": None},
    ]
    pays = list(page_rows(alert(), recipients, RULES, TEAMS))
    assert [(p["id"], p["team"], p["person"], p["urgency"]) for p in pays] == [
        ("og:a-1:u1", "payments", "ann@acme.example", "high"),
        ("og:a-1:u2", "payments", "bob@acme.example", "high"),
        ("og:a-1:u4", "payments", "opsgenie:u4", "high")]
    assert pays[2]["at"] is None  # quarantined by the importer as missing
    # the Opsgenie team's own mapping wins over the service's owner; P4 is low urgency
    web = list(page_rows(alert(tags=[], priority="P4", responders=[{"type": "team", "id": "t2"}]),
                         recipients[:1], RULES, TEAMS))
    assert [(p["team"], p["urgency"]) for p in web] == [("web-oncall", "low")]
    # unmapped: the Opsgenie team's name (quarantined as an unknown team)
    old = list(page_rows(alert(tags=[], responders=[{"type": "team", "id": "t3"}]),
                         recipients[:1], RULES, TEAMS))
    assert old[0]["team"] == "Legacy Ops"


def test_only_whole_periods_held_by_a_user_become_shifts() -> None:
    def period(a: str, b: str, **recipient: Any) -> dict[str, Any]:
        return {"startDate": a, "endDate": b, "type": "default",
                "recipient": recipient or {"type": "user", "name": "ann@acme.example"}}

    timeline = {"finalTimeline": {"rotations": [{"id": "r1", "name": "Rota", "periods": [
        period("2025-05-01T00:00:00Z", "2025-05-01T09:00:00Z"),   # cut by the window's start
        period("2025-05-01T09:00:00Z", "2025-05-01T21:00:00Z"),
        period("2025-05-01T21:00:00Z", "2025-05-02T09:00:00Z", type="none"),
        period("2025-05-02T09:00:00Z", "2025-05-02T21:00:00Z", type="team", name="Ops"),
        period("2025-05-02T21:00:00Z", "2025-05-03T00:00:00Z"),   # cut by the window's end
    ]}]}}
    window = (datetime(2025, 5, 1, tzinfo=UTC), datetime(2025, 5, 2, 22, tzinfo=UTC))
    shifts = list(shift_rows(timeline, source="og", schedule_id="s1", schedule="Pay rota",
                             team="payments", window=window))
    assert shifts == [{"id": "og:s1:r1:2025-05-01T09:00:00Z", "team": "payments",
                       "person": "ann@acme.example",
                       "starts_at": datetime(2025, 5, 1, 9, tzinfo=UTC),
                       "ends_at": datetime(2025, 5, 1, 21, tzinfo=UTC), "schedule": "Pay rota",
                       "source": "opsgenie:og schedule Pay rota 2025-05-01T09:00:00Z"}]


def test_offset_pages_stop_at_the_end_or_before_the_cap() -> None:
    asked: list[int] = []

    def fetch(offset: int) -> OffsetPage[dict[str, Any]]:
        asked.append(offset)
        # the service always has more
        return OffsetPage([{"n": offset + k} for k in range(10)], True)

    assert sum(len(p) for p in offset_pages(fetch, limit=10, max_offset=50)) == 50
    assert asked == [0, 10, 20, 30, 40]
    ends = list(offset_pages(lambda o: OffsetPage([{"n": o}] * 10, o < 20), limit=10,
                             max_offset=1000))
    assert len(ends) == 3


def test_a_window_is_halved_until_each_half_fits() -> None:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    items = [start + timedelta(hours=h) for h in range(100)]

    def count(a: datetime, b: datetime) -> int:
        return sum(1 for t in items if a <= t < b)

    def read(a: datetime, b: datetime) -> Iterator[list[datetime]]:
        yield [t for t in items if a <= t < b]

    pages = list(split_window(start, start + timedelta(hours=100), count=count, read=read,
                              fits=30))
    assert all(len(p) <= 30 for p in pages) and len(pages) == 4
    assert [t for p in pages for t in p] == items  # oldest first, nothing lost or repeated
