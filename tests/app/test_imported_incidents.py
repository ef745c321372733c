"""Imported incidents as responders read them (``shipwise incidents``, GET /api/v1/imported-incidents, the
Incidents page): their team, duration, the deployment that caused them, the investigations that
cover them; filters; and the roles of investigations (a member sees their team's only, an exec
none)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from shipwise.app import incidents
from shipwise.app.owner import import_paths
from shipwise.config import Settings
from shipwise.errors import ForbiddenError, InputError, NotFoundError
from shipwise.governance.access import Principal
from shipwise.store import investigations as table
from shipwise.store.duckdb_store import Store
from tests.conftest import org, write_jsonl

from .conftest import caller_of

MEMBER = Principal("member", "payments", "t-m", "pay member")


@pytest.fixture
def imported(settings: Settings, tmp_path: Path) -> Settings:
    import_paths(settings, [write_jsonl(tmp_path / "e.jsonl", [
        *org((("payments", "pay-api"), ("search", "search-api"))),
        {"type": "deployment", "id": "dep-1", "service": "pay-api", "environment": "production",
         "status": "success", "started_at": "2026-09-01T09:50:00Z",
         "finished_at": "2026-09-01T10:00:00Z", "version": "1.4.0"},
        {"type": "incident", "id": "INC-1", "service": "pay-api", "severity": "sev1",
         "opened_at": "2026-09-01T10:30:00Z", "resolved_at": "2026-09-01T12:45:00Z",
         "caused_by": "dep-1", "labels": ["customer-facing"],
         "source": "pagerduty:main incident Q1ABC"},
        {"type": "incident", "id": "INC-2", "service": "pay-api", "severity": "sev3",
         "opened_at": "2026-10-02T08:00:00Z"},
        {"type": "incident", "id": "INC-3", "service": "search-api", "severity": "sev2",
         "opened_at": "2026-09-15T08:00:00Z", "resolved_at": "2026-09-15T08:40:00Z"}])])
    with Store.open(settings.db) as store:  # an investigation of the alarm that INC-1 paged for
        at = datetime(2026, 9, 1, 10, 25, tzinfo=UTC)
        table.save(store, {"id": "inv-1", "created_at": at, "alarm_id": None,
                           "entity": "pay-api", "metric": "errors", "alarm_at": at,
                           "status": "root_cause_found", "root_cause_entity": "pay-api",
                           "root_cause_kind": "bad_deploy", "confidence": 0.9,
                           "summary": "the 1.4.0 deploy", "seconds": 1.0,
                           "record": json.dumps({"id": "inv-1"})})
    return settings


def test_incidents_with_duration_cause_source_and_investigations(imported: Settings) -> None:
    with caller_of(imported) as c:
        res = incidents.incident_list(c)
    assert res.total == 3 and [i.id for i in res.incidents] == ["INC-2", "INC-3", "INC-1"]
    one = res.incidents[2]
    assert (one.team, one.severity, one.duration_seconds, one.caused_by, one.caused_by_basis,
            one.source, one.labels, one.investigations) == (
        "payments", "sev1", 8100.0, "dep-1", "explicit", "pagerduty:main incident Q1ABC",
        ["customer-facing"], ["inv-1"])
    still_open = res.incidents[0]
    assert still_open.resolved_at is None and still_open.duration_seconds is None
    assert res.severities == ["sev1", "sev2", "sev3"] and res.teams == ["payments", "search"]


def test_filters_by_team_service_severity_and_period(imported: Settings) -> None:
    with caller_of(imported) as c:
        def ids(**kw: object) -> list[str]:
            return [i.id for i in incidents.incident_list(c, **kw).incidents]  # type: ignore[arg-type]

        assert ids(team="search") == ["INC-3"]
        assert ids(service="pay-api") == ["INC-2", "INC-1"]
        assert ids(severity="sev1") == ["INC-1"]
        assert ids(since="2026-09-10", until="2026-10-01") == ["INC-3"]
        assert ids(since="2026-09-01T11:00:00Z") == ["INC-2", "INC-3"]
        assert ids(open_only=True) == ["INC-2"]
        with pytest.raises(InputError, match="not before"):
            incidents.incident_list(c, since="2026-10-01", until="2026-09-01")
        with pytest.raises(InputError, match="not a day or an instant"):
            incidents.incident_list(c, since="last tuesday")
        with pytest.raises(NotFoundError):
            incidents.incident_list(c, team="nope")


def test_a_member_sees_their_teams_incidents_and_an_exec_none(imported: Settings) -> None:
    with caller_of(imported, MEMBER) as c:
        assert [i.id for i in incidents.incident_list(c).incidents] == ["INC-2", "INC-1"]
        assert incidents.incident_detail(c, "INC-1").incident.investigations == ["inv-1"]
        with pytest.raises(ForbiddenError, match="team search"):
            incidents.incident_list(c, team="search")
        with pytest.raises(ForbiddenError, match="team search"):
            incidents.incident_detail(c, "INC-3")
    with caller_of(imported, Principal("exec", None, "t-e", "cfo")) as c, \
            pytest.raises(ForbiddenError):
        incidents.incident_list(c)


def test_detail_explains_the_link(imported: Settings) -> None:
    with caller_of(imported) as c:
        d = incidents.incident_detail(c, "INC-1")
        with pytest.raises(NotFoundError, match="no incident"):
            incidents.incident_detail(c, "INC-404")
    assert d.explanation.link is not None and d.explanation.link.deployment_id == "dep-1"
    assert d.explanation.reasons


def test_cli_lists_and_shows(imported: Settings) -> None:
    from shipwise.cli.main import cli

    runner = CliRunner()
    res = runner.invoke(cli, ["--db", str(imported.db), "incidents", "list", "--severity", "sev1"])
    assert res.exit_code == 0, res.output
    assert "INC-1" in res.output and "2 h 15 min" in res.output and "inv-1" in res.output
    res = runner.invoke(cli, ["--db", str(imported.db), "incidents", "show", "INC-2"])
    assert res.exit_code == 0, res.output
    assert "still open" in res.output and "no deployment" in res.output
