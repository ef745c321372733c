"""The PagerDuty connector against the fake PagerDuty (real HTTP on 127.0.0.1): a first sync
stores the world's incidents and pages as mapped, a second with nothing new adds nothing, an
incident resolved later gets its resolution, an unmapped service is quarantined with its reason,
rate limits, 5xx and a cut-off page are retried, a window too large for PagerDuty's offset cap is
split, a sync killed mid-way resumes without counting twice, and ``check()``'s sentences."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml
from tests.fakes.pagerduty import TOKEN, FakePagerDuty, World, add_incident, generate_world

from shipwise.app.context import pseudonymiser_for
from shipwise.app.ingest import import_tables_into
from shipwise.config import PagerDutySource, Settings
from shipwise.connectors.base import Batch, Cursor, Scope
from shipwise.connectors.pagerduty import PagerDutyConnector
from shipwise.connectors.sync import sync_scope
from shipwise.domain.services import ServiceMap
from shipwise.errors import TerminalError, UnauthorizedError
from shipwise.ingest.loader import ImportReport
from shipwise.store import sync_state
from shipwise.store.duckdb_store import Store
from shipwise.store.org import service_map

NOW = datetime(2025, 6, 1, tzinfo=UTC)
SERVICES = {"PSVC001": "payments-api", "Checkout Web": "checkout-web"}  # by id and by name
OWNERS = {"payments-api": "payments", "checkout-web": "checkout"}
SEVERITY = {"P1": "sev1", "P2": "sev2", "P3": "sev3"}


class Clock:
    def __init__(self, at: datetime = NOW) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def source(url: str, tmp_path: Path, **kw: Any) -> PagerDutySource:
    key = tmp_path / "pd-key"
    key.write_text(TOKEN)
    return PagerDutySource(base_url=url, token_file=key, services=SERVICES, since=date0(), **kw)


def date0() -> Any:
    return datetime(2025, 3, 1).date()


def connector(fake: FakePagerDuty, settings: Settings, tmp_path: Path, clock: Clock | None = None,
              sleeps: list[float] | None = None, **kw: Any) -> PagerDutyConnector:
    with Store.open(settings.db, read_only=True) as store:
        services = service_map(store)
    return PagerDutyConnector(source(fake.url, tmp_path, **kw), services,
                              sleep=(sleeps if sleeps is not None else []).append,
                              clock=clock or Clock())


def run(settings: Settings, c: PagerDutyConnector, kill_after: int | None = None
        ) -> list[ImportReport]:
    """Every scope through ``sync_scope`` into the store; ``kill_after`` batches, then a kill."""
    reports: list[ImportReport] = []
    with Store.open(settings.db) as store:
        pseudo = pseudonymiser_for(store, settings)

        def commit(batch: Batch) -> ImportReport:
            if kill_after is not None and len(reports) >= kill_after:
                raise KeyboardInterrupt("killed")
            reports.append(import_tables_into(store, pseudo, batch.records, "pagerduty",
                                              kind="sync", refresh=False))
            return reports[-1]

        for scope in c.scopes():
            sync_scope(store, c, scope, commit)
    return reports


def rows(settings: Settings, sql: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(settings.db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def truth_incidents(world: World) -> dict[str, tuple[Any, ...]]:
    """The world's incidents of mapped services as the store should hold them."""
    out = {}
    for i in world.incidents:
        service = SERVICES.get(i.service.id) or SERVICES.get(i.service.name)
        if service is None:
            continue
        severity = SEVERITY.get(i.priority or "") or {"high": "sev2", "low": "sev4"}[i.urgency]
        human = (i.acknowledged_by is not None and i.resolved is None) or (
            i.resolved is not None and i.resolved_by_user)
        out[f"pagerduty:{i.id}"] = (service, severity, i.created.replace(tzinfo=None),
                                    i.resolved.replace(tzinfo=None) if i.resolved else None,
                                    human)
    return out


def stored_incidents(settings: Settings) -> dict[str, tuple[Any, ...]]:
    return {r[0]: tuple(r[1:]) for r in rows(
        settings, "SELECT id, service, severity, opened_at, resolved_at, human_actioned "
                  "FROM incident")}


def truth_pages(world: World) -> dict[str, tuple[Any, ...]]:
    out = {}
    for i in world.incidents:
        service = SERVICES.get(i.service.id) or SERVICES.get(i.service.name)
        if service is None:
            continue
        for n in i.notifications:
            out[f"pagerduty:{n.id}"] = (OWNERS[service], n.at.replace(tzinfo=None), i.urgency)
    return out


# -- tests --------------------------------------------------------------------------------------

def test_a_first_sync_stores_the_incidents_and_pages_as_mapped(
        org: Settings, fake: FakePagerDuty, world: World, tmp_path: Path) -> None:
    run(org, connector(fake, org, tmp_path))
    assert stored_incidents(org) == truth_incidents(world)
    pages = {r[0]: tuple(r[1:]) for r in rows(org, 'SELECT id, team, "at", urgency FROM page')}
    assert pages == truth_pages(world)
    # people are pseudonymised: no e-mail address or PagerDuty user id is stored
    people = {r[0] for r in rows(org, "SELECT person FROM page")}
    assert people and not any("@" in p or p.startswith("PUSR") for p in people)
    assert len(people) == len({n.user.id for i in world.incidents for n in i.notifications
                               if i.service.id != "PSVC003"})
    # the third service is mapped to nothing: its incidents and pages are kept with a reason
    kept = rows(org, "SELECT type, reason, raw FROM quarantine")
    unmapped = [i for i in world.incidents if i.service.id == "PSVC003"]
    assert unmapped
    assert sorted(r for t, r, _ in kept if t == "incident") == \
        ["unknown service (service)"] * len(unmapped)
    assert all("Legacy Batch" in raw for t, _, raw in kept)
    assert sorted(r for t, r, _ in kept if t == "page") == \
        ["unknown team (team)"] * sum(len(i.notifications) for i in unmapped)


def test_a_second_sync_with_nothing_new_adds_nothing(
        org: Settings, fake: FakePagerDuty, tmp_path: Path) -> None:
    clock = Clock()
    run(org, connector(fake, org, tmp_path, clock))
    before = rows(org, "SELECT (SELECT count(*) FROM incident), (SELECT count(*) FROM page), "
                       "(SELECT count(*) FROM quarantine)")
    clock.at = NOW + timedelta(hours=1)
    reports = run(org, connector(fake, org, tmp_path, clock))
    assert sum(c.inserted for r in reports for c in r.counts.values()) == 0
    assert rows(org, "SELECT (SELECT count(*) FROM incident), (SELECT count(*) FROM page), "
                     "(SELECT count(*) FROM quarantine)") == before
    with Store.open(org.db, read_only=True) as store:
        states = {s.scope: s for s in sync_state.list_states(store, "pagerduty")}
    assert set(states) == {"incidents", "pages"}
    assert all(s.last_status == "ok" for s in states.values())


def test_an_incident_resolved_after_a_sync_gets_its_resolution(
        org: Settings, fake: FakePagerDuty, world: World, tmp_path: Path) -> None:
    clock = Clock()
    rng = random.Random(9)
    late = add_incident(world, rng, NOW - timedelta(hours=2), resolved=False)
    late.service = world.services[0]
    run(org, connector(fake, org, tmp_path, clock))
    assert stored_incidents(org)[f"pagerduty:{late.id}"][3] is None
    late.resolved = NOW + timedelta(minutes=30)
    fresh = add_incident(world, rng, NOW + timedelta(minutes=10), resolved=True)
    fresh.service = world.services[1]
    clock.at = NOW + timedelta(hours=1)
    run(org, connector(fake, org, tmp_path, clock))
    got = stored_incidents(org)
    assert got[f"pagerduty:{late.id}"][3] == late.resolved.replace(tzinfo=None)
    assert f"pagerduty:{fresh.id}" in got
    assert got == truth_incidents(world)


def test_rate_limits_server_errors_and_a_cut_page_are_retried(
        org: Settings, fake: FakePagerDuty, world: World, tmp_path: Path) -> None:
    fake.fail(r"^/incidents$", status=429, headers={"ratelimit-reset": "7"})
    fake.fail(r"^/log_entries$", status=503, times=2)
    fake.fail(r"^/users$", status=200, truncate=40)
    sleeps: list[float] = []
    run(org, connector(fake, org, tmp_path, sleeps=sleeps))
    assert 7.0 in sleeps  # PagerDuty's reset header counts seconds from now
    assert len(sleeps) >= 4
    assert stored_incidents(org) == truth_incidents(world)


def test_a_bad_key_is_terminal_and_recorded(org: Settings, fake: FakePagerDuty,
                                            tmp_path: Path) -> None:
    c = connector(fake, org, tmp_path)
    (tmp_path / "pd-key").write_text("wrong")
    c.close()
    with pytest.raises(UnauthorizedError, match="refused the token"):
        run(org, c)
    with Store.open(org.db, read_only=True) as store:
        state = sync_state.get(store, "pagerduty", "incidents")
    assert state is not None and state.last_status == "terminal"


def test_a_window_past_the_offset_cap_is_split(settings: Settings, tmp_path: Path) -> None:
    """10,050 incidents in one 30-day window: PagerDuty serves at most 10,000 of one query."""
    world = generate_world(seed=5, incidents=10_050, start=NOW - timedelta(days=20), days=10,
                           notifications=0)
    with FakePagerDuty(world) as pd:
        c = PagerDutyConnector(source(pd.url, tmp_path), ServiceMap(), sleep=lambda s: None,
                               clock=Clock())
        ids: set[str] = set()
        for batch in c.sync(c.scopes()[0], Cursor()):
            if "incident" in batch.records:
                ids |= set(batch.records["incident"].column("id").to_pylist())
        assert len(ids) == 10_050
        assert pd.count(r"^/incidents$") > 101  # halves, each paged


def test_a_sync_killed_mid_way_resumes_without_counting_twice(
        org: Settings, fake: FakePagerDuty, world: World, tmp_path: Path) -> None:
    with pytest.raises(KeyboardInterrupt):
        run(org, connector(fake, org, tmp_path), kill_after=2)
    run(org, connector(fake, org, tmp_path))
    assert stored_incidents(org) == truth_incidents(world)
    pages = {r[0] for r in rows(org, "SELECT id FROM page")}
    assert pages == set(truth_pages(world))


def test_check_says_what_to_fix(org: Settings, fake: FakePagerDuty, tmp_path: Path) -> None:
    c = connector(fake, org, tmp_path)
    assert c.check() == []
    with Store.open(org.db, read_only=True) as store:
        services = service_map(store)
    wrong = PagerDutyConnector(
        source(fake.url, tmp_path).model_copy(update={"services": {"PNOPE": "payments-api",
                                                                    "PSVC001": "nope"}}),
        services, clock=Clock())
    problems = wrong.check()
    assert any("PagerDuty has no service PNOPE" in p for p in problems)
    assert any("nope" in p and "organisation does not have" in p for p in problems)
    none = PagerDutyConnector(PagerDutySource(base_url=fake.url, token_env="PD_UNSET_VAR"),
                              services, clock=Clock())
    assert "no PagerDuty API key found in PD_UNSET_VAR" in none.check()[0]
    bad = connector(fake, org, tmp_path)
    (tmp_path / "pd-key").write_text("wrong")
    assert any("refused the token (HTTP 401)" in p for p in bad.check())


def test_an_unknown_scope_is_refused(org: Settings, fake: FakePagerDuty, tmp_path: Path) -> None:
    with pytest.raises(TerminalError, match="no scope 'oncall'"):
        list(connector(fake, org, tmp_path).sync(Scope("oncall"), Cursor()))



def _cli(settings: Settings, *args: str, token: str = TOKEN) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SW_TEST_PD": token}
    return subprocess.run([sys.executable, "-m", "shipwise", "--db", str(settings.db), "--config",
                           str(settings.db.parent / "shipwise.yaml"), *args],
                          capture_output=True, text=True, timeout=120, env=env)


def test_shipwise_sync_and_doctor_from_the_command_line_and_a_restart_after_mapping(
        org: Settings, fake: FakePagerDuty, world: World) -> None:
    config = org.db.parent / "shipwise.yaml"
    pd: dict[str, Any] = {"kind": "pagerduty", "base_url": fake.url, "token_env": "SW_TEST_PD",
                          "services": SERVICES, "since": "2025-03-01"}
    config.write_text(yaml.safe_dump({"sources": [pd]}))
    doctor = _cli(org, "doctor")
    assert "pagerduty" in doctor.stdout and "PagerDuty has no service" not in doctor.stdout
    first = _cli(org, "sync", "pagerduty", "--format", "json")
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    assert {s["scope"]: s["status"] for s in report["scopes"]} == {"incidents": "ok",
                                                                    "pages": "ok"}
    assert stored_incidents(org) == truth_incidents(world)
    legacy = [i for i in world.incidents if i.service.id == "PSVC003"]
    again = _cli(org, "sync", "pagerduty", "--format", "json")
    assert again.returncode == 0, again.stderr + again.stdout[:2000]
    assert sum(s.get("inserted", 0) for s in json.loads(again.stdout)["scopes"]) == 0
    # the operator maps the third service; a restart reads everything again and brings its
    # incidents in, counting nothing twice
    config.write_text(yaml.safe_dump({"sources": [
        {**pd, "services": {**SERVICES, "Legacy Batch": "payments-api"}}]}))
    restarted = _cli(org, "sync", "pagerduty", "--restart", "--format", "json")
    assert restarted.returncode == 0, restarted.stderr
    got = stored_incidents(org)
    assert len(got) == len(truth_incidents(world)) + len(legacy)
    assert {f"pagerduty:{i.id}" for i in legacy} <= set(got)
    wrong = _cli(org, "sync", "pagerduty", token="wrong")
    assert wrong.returncode == 1 and "refused the token (HTTP 401)" in wrong.stderr
    assert TOKEN not in wrong.stderr + wrong.stdout
