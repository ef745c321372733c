"""Table tests of the pure ServiceNow mapping: values as the Table API gives them with
``sysparm_display_value=false`` and ``sysparm_exclude_reference_link=true``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from shipwise.connectors.servicenow import mapping as m

RULES = m.Rules(name="snow", service_field="business_service",
                services={"aa11": "payments-api", "checkout web": "checkout-web"},
                known_services={"payments-api", "checkout-web", "search"},
                severity_field="priority",
                severity={"1": "sev1", "2": "sev2", "3": "sev3", "4": "sev4", "5": "sev5"},
                automation_users={"bot1"})


def inc(**kw: Any) -> dict[str, Any]:
    base = {"sys_id": "i1", "number": "INC0012345", "sys_updated_on": "2026-01-02 10:00:00",
            "opened_at": "2026-01-02 09:00:00", "resolved_at": "", "closed_at": "",
            "priority": "2", "business_service": "aa11", "business_service.name": "Payments API",
            "category": "", "subcategory": "", "caused_by": "", "resolved_by": "",
            "closed_by": "", "assigned_to": ""}
    return {**base, **kw}


@pytest.mark.parametrize(("kw", "want"), [
    ({}, "payments-api"),                                               # by sys_id
    ({"business_service": "zz", "business_service.name": "Checkout Web"}, "checkout-web"),
    ({"business_service": "zz", "business_service.name": "search"}, "search"),  # org name
    ({"business_service": "zz", "business_service.name": "Legacy"}, "Legacy"),  # quarantined
    ({"business_service": "zz", "business_service.name": ""}, "zz"),
    ({"business_service": "", "business_service.name": ""}, None),
    ({"business_service": {"link": "https://x/api/now/table/cmdb_ci/aa11", "value": "aa11"}},
     "payments-api"),                                                  # a link left in
])
def test_service(kw: dict[str, Any], want: str | None) -> None:
    assert m.service(inc(**kw), RULES) == want


@pytest.mark.parametrize(("value", "want"), [("1", "sev1"), ("5", "sev5"), ("7", "priority 7"),
                                              ("", None)])
def test_severity(value: str, want: str | None) -> None:
    assert m.severity(inc(priority=value), RULES) == want


@pytest.mark.parametrize(("kw", "want"), [
    ({"resolved_by": "u1"}, True),
    ({"resolved_by": "bot1", "assigned_to": "u1"}, False),
    ({"closed_by": "u2"}, True),
    ({"assigned_to": "u3"}, True),
    ({}, False),
])
def test_human_actioned(kw: dict[str, Any], want: bool) -> None:
    assert m.human_actioned(inc(**kw), RULES) is want


def test_instants_are_utc_and_unreadable_ones_are_missing() -> None:
    assert m.instant("2026-03-29 01:30:00") == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert m.instant("") is None and m.instant("29/03/2026") is None and m.instant(None) is None
    assert m.glide(datetime(2026, 3, 29, 3, 30, tzinfo=UTC)) == "2026-03-29 03:30:00"


def test_an_incident_row_with_its_cause() -> None:
    changes = {"c1": m.Change("CHG0030001", "dep-9"), "c2": m.Change("CHG0030002")}
    row = m.incident_row(inc(caused_by="c1", category="network", subcategory="dns",
                             resolved_at="", closed_at="2026-01-03 00:00:00", resolved_by="u1"),
                         RULES, changes, {"dep-9"})
    assert row == {
        "id": "snow:INC0012345", "service": "payments-api", "severity": "sev2",
        "opened_at": datetime(2026, 1, 2, 9, tzinfo=UTC),
        "resolved_at": datetime(2026, 1, 3, tzinfo=UTC), "caused_by": "dep-9",
        "human_actioned": True,
        "labels": ["category:network", "subcategory:dns", "change:CHG0030001", "deploy:dep-9"],
        "source": "servicenow:snow incident INC0012345"}
    # the deployment is not in the store: no caused_by (the importer would refuse the incident)
    assert m.incident_row(inc(caused_by="c1"), RULES, changes, set())["caused_by"] is None
    # a change naming no deployment stays a label
    row = m.incident_row(inc(caused_by="c2"), RULES, changes, {"dep-9"})
    assert row["caused_by"] is None and row["labels"] == ["change:CHG0030002"]
    assert m.table([row]).num_rows == 1
