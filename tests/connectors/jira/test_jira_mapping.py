"""Table tests of the Jira connector's pure mapping (payload shapes as Jira's REST API gives
them) and of the ``kind: jira`` settings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from shipwise.config import JiraFieldMap, JiraSource, JiraStatuses, load_settings
from shipwise.connectors.jira import mapping as m
from shipwise.errors import ConfigError

CFG = JiraStatuses(blocked=["Blocked", "waiting for security"],
                   categories={"Ready for QA": "todo"},
                   blocked_on={"Waiting for Security": "security"})
INDEX = m.status_index([
    {"id": "1", "name": "To Do", "statusCategory": {"key": "new"}},
    {"id": "3", "name": "In Progress", "statusCategory": {"key": "indeterminate"}},
    {"id": "5", "name": "Ready for QA", "statusCategory": {"key": "indeterminate"}},
    {"id": "6", "name": "Blocked", "statusCategory": {"key": "indeterminate"}},
    {"id": "7", "name": "Waiting for Security", "statusCategory": {"key": "indeterminate"}},
    {"id": "9", "name": "Done", "statusCategory": {"key": "done"}},
])


@pytest.mark.parametrize(("text", "expected"), [
    ("2024-01-02T03:04:05.000+0000", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
    ("2024-01-02T05:04:05.123+0200", datetime(2024, 1, 2, 3, 4, 5, 123000, tzinfo=UTC)),
    ("2024-01-01T22:04:05.000-0500", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
    ("2024-01-02T03:04:05Z", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
    ("2024-01-02T03:04:05", None),  # no zone: never guessed
    ("yesterday", None), (None, None), ("", None),
])
def test_instants(text: Any, expected: datetime | None) -> None:
    assert m.instant(text) == expected


def test_jql_dates_are_in_the_users_zone_and_minute_resolution() -> None:
    at = datetime(2025, 1, 6, 14, 7, 59, tzinfo=UTC)
    assert m.jql_date(at, ZoneInfo("America/New_York")) == '"2025-01-06 09:07"'
    assert m.jql_date(at, UTC) == '"2025-01-06 14:07"'
    assert m.lower_bound(at, timedelta(minutes=5), ZoneInfo("Europe/Lisbon")) == \
        'updated >= "2025-01-06 14:02"'
    # 01:30 happens twice in New York on 2 November 2025: the bound goes back an hour
    back = datetime(2025, 11, 2, 5, 35, tzinfo=UTC)  # 01:35 EDT, the first of the two
    assert m.lower_bound(back, timedelta(minutes=5), ZoneInfo("America/New_York")) == \
        'updated >= "2025-11-02 00:30"'


@pytest.mark.parametrize(("name", "jira", "expected"), [
    ("To Do", "new", "todo"), ("In Progress", "indeterminate", "in_progress"),
    ("Done", "done", "done"), ("blocked", "indeterminate", "blocked"),  # names without case
    ("Waiting for Security", "indeterminate", "blocked"),
    ("Ready for QA", "indeterminate", "todo"),  # an explicit category beats Jira's
    ("Mystery", None, None),  # unknown: quarantined as a missing category
])
def test_categories(name: str, jira: str | None, expected: str | None) -> None:
    assert m.category(name, jira, CFG) == expected


def history(at: str, *items: dict[str, Any]) -> dict[str, Any]:
    return {"id": "1", "author": {"accountId": "x", "emailAddress": "ana@acme.example",
                                  "displayName": "Ana"}, "created": at, "items": list(items)}


def status_item(frm: tuple[str, str], to: tuple[str, str]) -> dict[str, Any]:
    return {"field": "status", "fieldtype": "jira", "fieldId": "status", "from": frm[0],
            "fromString": frm[1], "to": to[0], "toString": to[1]}


def issue(**fields: Any) -> dict[str, Any]:
    base = {"created": "2025-01-06T09:00:00.000+0000", "updated": "2025-01-09T09:00:00.000+0000",
            "status": {"id": "9", "name": "Done", "statusCategory": {"key": "done"}},
            "project": {"key": "PAY"}, "components": [], "labels": []}
    return {"id": "10001", "key": "PAY-7", "fields": {**base, **fields}}


def test_ticket_rows_start_at_creation_and_follow_the_changelog() -> None:
    histories = [
        history("2025-01-06T10:00:00.000+0000",
                {"field": "assignee", "from": None, "to": "x", "toString": "Ana"},
                status_item(("1", "To Do"), ("3", "In Progress"))),
        history("2025-01-07T10:00:00.000+0000", status_item(("3", "In Progress"),
                                                            ("7", "Waiting for Security"))),
        history("2025-01-08T10:00:00.000+0000", {"field": "labels", "toString": "x"}),
        history("2025-01-09T09:00:00.000+0000", status_item(("7", "Waiting for Security"),
                                                            ("9", "Done"))),
    ]
    rows = m.ticket_rows(issue(), list(reversed(histories)), "payments", CFG, INDEX)
    assert [(r["at"].day, r["status"], r["category"], r["blocked_on"]) for r in rows] == [
        (6, "To Do", "todo", None), (6, "In Progress", "in_progress", None),
        (7, "Waiting for Security", "blocked", "security"), (9, "Done", "done", None)]
    assert rows[0]["at"] == datetime(2025, 1, 6, 9, tzinfo=UTC)
    assert {r["team"] for r in rows} == {"payments"} and {r["ticket"] for r in rows} == {"PAY-7"}
    assert "ana" not in str(rows).lower()


def test_a_ticket_without_status_changes_is_in_its_status_since_creation() -> None:
    rows = m.ticket_rows(issue(status={"id": "42", "name": "Triage",
                                       "statusCategory": {"key": "new"}}), [], "t", CFG, INDEX)
    assert [(r["status"], r["category"]) for r in rows] == [("Triage", "todo")]


def test_a_transition_at_the_creation_instant_keeps_the_last_status() -> None:
    rows = m.ticket_rows(issue(), [history("2025-01-06T09:00:00.000+0000",
                                           status_item(("1", "To Do"), ("9", "Done")))],
                         "t", CFG, INDEX)
    assert [(r["status"], r["category"]) for r in rows] == [("Done", "done")]


@pytest.mark.parametrize(("fm", "fields", "expected"), [
    ({"from": "project", "map": {"pay": "payments"}}, {}, "payments"),
    ({"from": "project"}, {}, "PAY"),  # unmapped: the value itself (quarantined if unknown)
    ({"from": "project", "map": {"X": "x"}, "default": "platform"}, {}, "platform"),
    ({"from": "component", "map": {"Search API": "search"}},
     {"components": [{"name": "Web"}, {"name": "Search API"}]}, "search"),
    ({"from": "component"}, {"components": []}, None),
    ({"from": "label", "map": {"team-pay": "payments"}}, {"labels": ["x", "team-pay"]},
     "payments"),
    ({"from": "customfield_10001", "map": {"Payments": "payments"}},
     {"customfield_10001": {"id": "1", "value": "Payments"}}, "payments"),
    ({"from": "customfield_10002"}, {"customfield_10002": [{"name": "Core"}]}, "Core"),
    ({"from": "customfield_10003"}, {"customfield_10003": None}, None),
])
def test_team_and_service_resolution(fm: dict[str, Any], fields: dict[str, Any],
                                     expected: str | None) -> None:
    assert m.resolve(issue(**fields), JiraFieldMap.model_validate(fm)) == expected


@pytest.mark.parametrize(("priority", "overrides", "expected"), [
    ("Highest", {}, "sev1"), ("High", {}, "sev2"), ("Medium", {}, "sev3"), ("Low", {}, "sev4"),
    ("Lowest", {}, "sev5"), ("Blocker", {}, "sev1"), ("Critical", {}, "sev2"),
    ("Trivial", {}, "sev5"), ("P1", {}, "sev1"), ("critical", {"Critical": "sev1"}, "sev1"),
    ("Whatever", {}, None),
])
def test_severity_from_priority(priority: str, overrides: dict[str, str],
                                expected: str | None) -> None:
    assert m.severity({"name": priority, "id": "1"}, overrides) == expected


def test_incident_row_and_its_cause() -> None:
    links = [{"id": "1", "type": {"name": "Relates", "inward": "relates to",
                                  "outward": "relates to"}, "outwardIssue": {"key": "PAY-1"}},
             {"id": "2", "type": {"name": "Causes", "inward": "is caused by",
                                  "outward": "causes"}, "inwardIssue": {"key": "CHG-12"}}]
    raw = issue(priority={"name": "High"}, resolutiondate="2025-01-06T11:30:00.000+0100",
                issuelinks=links, customfield_10070="pay-api/deployment/9")
    row = m.incident_row(raw, "pay-api", {}, None, "Is Caused By")
    assert row == {"id": "PAY-7", "service": "pay-api", "severity": "sev2",
                   "opened_at": datetime(2025, 1, 6, 9, tzinfo=UTC),
                   "resolved_at": datetime(2025, 1, 6, 10, 30, tzinfo=UTC), "caused_by": "CHG-12",
                   "labels": None, "source": None}
    labelled = m.incident_row(issue(labels=["deploy:pay-9", "outage", "deploy:pay-9"]), "s", {},
                              None, None, "jira:main")
    assert labelled["labels"] == ["deploy:pay-9", "outage"]
    assert labelled["source"] == "jira:main incident PAY-7"
    assert m.incident_row(raw, "s", {}, "customfield_10070", None)["caused_by"] == \
        "pay-api/deployment/9"
    assert m.incident_row(raw, "s", {}, None, "causes")["caused_by"] is None  # other direction
    assert m.incident_row(issue(resolutiondate=None), "s", {}, None, None)["resolved_at"] is None


# -- settings --------------------------------------------------------------------------------------

def load(tmp_path: Any, source: dict[str, Any]) -> JiraSource:
    path = tmp_path / "shipwise.yaml"
    path.write_text(yaml.safe_dump({"sources": [source]}))
    loaded = load_settings(db=tmp_path / "x.duckdb", config_file=path).sources[0]
    assert isinstance(loaded, JiraSource)
    return loaded


def test_settings_and_edition(tmp_path: Any) -> None:
    src = load(tmp_path, {"kind": "jira", "base_url": "https://acme.atlassian.net",
                          "email": "a@acme.example",
                          "queries": [{"name": "work", "jql": "project = PAY"},
                                      {"name": "ops", "jql": "project = OPS", "as": "incidents",
                                       "service": {"from": "component"}}]})
    assert src.cloud and src.id == "jira" and src.token_env == "JIRA_TOKEN"
    assert [(q.name, q.as_) for q in src.queries] == [("work", "tickets"), ("ops", "incidents")]
    assert src.scope_keys == ["work", "ops"]
    dc = load(tmp_path, {"kind": "jira", "base_url": "https://jira.acme.internal"})
    assert not dc.cloud
    assert load(tmp_path, {"kind": "jira", "base_url": "https://jira.acme.internal",
                           "edition": "cloud"}).cloud


@pytest.mark.parametrize(("bad", "where"), [
    ({"queries": [{"name": "w", "jql": "project = PAY ORDER BY created"}]}, "queries"),
    ({"queries": [{"name": "w", "jql": "a"}, {"name": "w", "jql": "b"}]}, "queries"),
    ({"queries": [{"name": "w", "jql": "a", "as": "bugs"}]}, "as"),
    ({"statuses": {"categories": {"Review": "reviewing"}}}, "statuses"),
    ({"severity": {"P1": "critical"}}, "severity"),
    ({"edition": "server"}, "edition"),
])
def test_bad_settings_name_the_setting(tmp_path: Any, bad: dict[str, Any], where: str) -> None:
    with pytest.raises(ConfigError, match=rf"sources\.0\.jira\..*{where}"):
        load(tmp_path, {"kind": "jira", "base_url": "https://acme.atlassian.net", **bad})
