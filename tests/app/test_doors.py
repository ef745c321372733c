"""The doors of shipwise.app on the sample organisation: what each role gets, and what it is
refused (tests/app/test_guard.py covers the guard itself)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shipwise.app import admin, catalog, delivery, humane, incidents, org, oversight, reliability
from shipwise.app.cost import CostRequest
from shipwise.app.metrics import DoraRequest
from shipwise.config import Settings
from shipwise.errors import ForbiddenError, InputError, NotFoundError
from shipwise.governance.access import Principal
from shipwise.metrics.registry import REGISTRY
from shipwise.store import org as org_table
from tests.conftest import SampleOrg

from .conftest import caller_of

EXEC = Principal("exec", None, "tok-e", "cfo")


def member_of(team: str) -> Principal:
    return Principal("member", team, "tok-m", f"{team} bot")


def test_org_and_catalog(sample_settings: Settings) -> None:
    with caller_of(sample_settings, member_of("payments")) as c:
        teams = org.teams(c)
        overview = org.overview(c)
        entries = catalog.catalog(c)
        with pytest.raises(NotFoundError, match="unknown metric"):
            catalog.metric(c, "dora.nope")
        entry = catalog.charter_entry(c, "flow.cycle_time")
    assert {t.team for t in teams} >= {"payments", "search"}
    assert overview.services == sum(t.services for t in teams)
    assert sum(overview.dora_levels.values()) > 0 and overview.investigations is not None
    assert [e.id for e in entries] == list(REGISTRY)
    assert entry.id == "flow.cycle_time" and entry.docs == "docs/metrics/flow.cycle_time.md"


def test_dora_rows_of_services_are_authorised_by_their_team(sample_settings: Settings) -> None:
    with caller_of(sample_settings) as c:
        service = org_table.services(c.store)[0]
    with caller_of(sample_settings, member_of(service["team"])) as c:
        res = delivery.dora(c, DoraRequest(grain="quarter", service=(service["service"],)))
        assert {r.service for r in res.rows} == {service["service"]}
    other = next(t for t in ("payments", "search") if t != service["team"])
    with caller_of(sample_settings, member_of(other)) as c, pytest.raises(ForbiddenError):
        delivery.dora(c, DoraRequest(grain="quarter", service=(service["service"],)))


def test_a_member_gets_their_team_and_appetite_an_exec_gets_the_organisations_cost(
        sample_settings: Settings) -> None:
    with caller_of(sample_settings, member_of("payments")) as c:
        dora = delivery.dora(c, DoraRequest(grain="quarter"))
        assert {r.team for r in dora.rows} == {"payments"}
        assert set(dora.release_appetite) == {"payments"}
        assert dora.release_appetite["payments"].sentence
        mine = delivery.cost(c, CostRequest(team=("payments",)))
        assert {r.team for r in mine.rows} == {"payments"}
        with pytest.raises(ForbiddenError):
            delivery.cost(c, CostRequest())
    with caller_of(sample_settings, EXEC) as c:
        whole = delivery.cost(c, CostRequest())
        assert {r.team for r in whole.rows} > {"payments"} and whole.organisation
        assert whole.charter  # the entries of the ids in the result
        with pytest.raises(ForbiddenError):
            delivery.dora(c, DoraRequest(team=("payments",)))
        assert delivery.initiatives(c).model_dump()["initiatives"] is not None


def test_flow_and_strain_are_suppressed_people_derived_reads(sample_settings: Settings) -> None:
    with caller_of(sample_settings, member_of("payments")) as c:
        flow = humane.team_diagnostics(c, "flow", grain="month")
        assert {r.team for r in flow.rows} == {"payments"}
        assert flow.min_group_size == sample_settings.privacy.min_group_size
        with pytest.raises(ForbiddenError):
            humane.org_diagnostics(c, "strain")
    with caller_of(sample_settings, EXEC) as c:
        strain = humane.diagnostics(c, "strain")  # an exec: the org units, never a team
        assert strain.level == "org_unit" and strain.rows
        hidden = [r for r in strain.rows if r.suppressed]
        assert all(r.metrics[k] is None for r in hidden for k in r.suppressed if k in r.metrics)
        with pytest.raises(ForbiddenError):
            humane.team_diagnostics(c, "flow", ("payments",))


def test_slo_and_fairness(sample_settings: Settings) -> None:
    with caller_of(sample_settings, member_of("payments")) as c:
        slo = reliability.slo(c)  # no team named: the member's own
        assert slo.team == "payments" and slo.history is not None
        with pytest.raises(ForbiddenError):
            oversight.fairness(c)
    with caller_of(sample_settings, EXEC) as c:
        with pytest.raises(ForbiddenError):
            reliability.slo(c)  # an exec sees no team's SLOs
        audit = oversight.fairness(c)
        assert audit.findings and audit.method


def test_incidents_are_scoped_to_the_team_of_the_service(sample_org: SampleOrg,
                                                         sample_settings: Settings) -> None:
    with caller_of(sample_settings) as c:
        everything = incidents.investigations(c)
        record = incidents.investigation(c, sample_org.investigation_id)
        alarms = incidents.alarms(c)
        owner = org_table.service_team(c.store, record.model_dump()["alarm"]["entity"])
    assert sample_org.investigation_id in {i.id for i in everything}
    assert sample_org.alarm_id in {a.id for a in alarms}
    with caller_of(sample_settings, EXEC) as c, pytest.raises(ForbiddenError):
        incidents.investigations(c)
    outsider = next(t for t in sample_org.teams if t != owner)
    with caller_of(sample_settings, member_of(outsider)) as c:
        assert sample_org.investigation_id not in {i.id for i in incidents.investigations(c)}
        if owner is not None:
            with pytest.raises(ForbiddenError):
                incidents.investigation(c, sample_org.investigation_id)
        with pytest.raises(NotFoundError):
            incidents.start_investigation(c, "no-such-service", datetime.now(UTC),
                                          receive=lambda body, kind: {})


def test_admin_doors(sample_settings: Settings) -> None:
    with caller_of(sample_settings, interface="cli") as c:
        made = admin.create_token(c, "dash", "member", "payments")
        assert made.token.startswith(f"sw_{made.id}_")
        assert made.id in {t.id for t in admin.tokens(c)}
        assert admin.revoke_token(c, made.id).revoked
        with pytest.raises(InputError):
            admin.create_token(c, "no team", "lead")
        dry = admin.retention_apply(c, dry_run=True)
        assert dry.dry_run and dry.charter_version
        reads = admin.access_log(c, limit=5)
        assert reads and reads[0].interface == "cli"
    with caller_of(sample_settings, member_of("payments")) as c:
        for door in (admin.tokens, admin.access_log, admin.retention_runs):
            with pytest.raises(ForbiddenError):
                door(c)
