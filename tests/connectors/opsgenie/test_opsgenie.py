"""The Opsgenie connector against the fake Opsgenie (real HTTP on 127.0.0.1): a first sync stores
the world's alerts as incidents, their recipients' notifications as pages and the schedules'
periods as on-call shifts, as mapped; a second with nothing new adds nothing and asks little; an
alert closed later gets its resolution; an unmapped team is quarantined with its reason; rate
limits, 5xx and a cut page are retried; a page malformed on every attempt is quarantined with its
reason; a window too large for Opsgenie's offset cap is split; a sync killed mid-way resumes
without counting twice; ``check()``'s sentences; and ``shipwise sync`` / ``doctor`` end to end."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import SecretStr
from tests.conftest import cli_env
from tests.connectors.pagerduty.test_pagerduty import Clock, rows, run, stored_incidents
from tests.fakes.opsgenie import TOKEN, FakeOpsgenie, World, generate_world

from shipwise.app.caller import local_caller
from shipwise.app.sync import sync_sources
from shipwise.config import OpsgenieSource, Settings, load_settings
from shipwise.connectors.base import Cursor, Scope
from shipwise.connectors.opsgenie import OpsgenieConnector
from shipwise.connectors.opsgenie.client import MAX_OFFSET, OpsgenieClient
from shipwise.errors import TerminalError, UnauthorizedError
from shipwise.store import sync_state
from shipwise.store.duckdb_store import Store
from shipwise.store.org import service_map

NOW = datetime(2025, 6, 1, tzinfo=UTC)
SINCE = date(2025, 3, 1)
SERVICES = {"payments": "payments-api", "Checkout Team": "checkout-web"}  # by tag, by team
OWNERS = {"payments-api": "payments", "checkout-web": "checkout"}
TEAMS = {"t-chk-0002": "checkout"}  # by Opsgenie team id
SCHEDULES = {"Payments rota": "payments", "s-0002": "checkout"}  # by name, by id
SEVERITY = {f"P{k}": f"sev{k}" for k in range(1, 6)}


@pytest.fixture
def world() -> World:
    return generate_world(seed=3, alerts=40)


@pytest.fixture
def fake(world: World) -> Iterator[FakeOpsgenie]:
    with FakeOpsgenie(world) as og:
        yield og


def source(url: str, tmp_path: Path, **kw: Any) -> OpsgenieSource:
    key = tmp_path / "og-key"
    if not key.exists():
        key.write_text(TOKEN)
    fields: dict[str, Any] = {"base_url": url, "token_file": key, "services": SERVICES,
                              "teams": TEAMS, "schedules": SCHEDULES, "since": SINCE, **kw}
    return OpsgenieSource(**fields)


def connector(fake: FakeOpsgenie, settings: Settings, tmp_path: Path, clock: Clock | None = None,
              sleeps: list[float] | None = None, **kw: Any) -> OpsgenieConnector:
    with Store.open(settings.db, read_only=True) as store:
        services = service_map(store)
    return OpsgenieConnector(source(fake.url, tmp_path, **kw), services,
                             sleep=(sleeps if sleeps is not None else []).append,
                             clock=clock or Clock(NOW))


def _service(world: World, team_id: str) -> str | None:
    return {"t-pay-0001": "payments-api", "t-chk-0002": "checkout-web"}.get(team_id)


def truth_incidents(world: World) -> dict[str, tuple[Any, ...]]:
    users = {u.username for u in world.users}
    out = {}
    for a in world.alerts:
        service = _service(world, a.team.id)
        if service is None:
            continue
        closed = a.closed
        human = a.acknowledged_by in users or a.closed_by in users
        out[f"opsgenie:{a.id}"] = (service, SEVERITY[a.priority], a.created.replace(tzinfo=None),
                                   closed.replace(tzinfo=None) if closed else None, human)
    return out


def truth_pages(world: World) -> dict[str, tuple[Any, ...]]:
    out = {}
    for a in world.alerts:
        service = _service(world, a.team.id)
        if service is None:
            continue
        for r in a.recipients:
            if r.state != "notactive":
                out[f"opsgenie:{a.id}:{r.user.id}"] = (
                    OWNERS[service], r.at.replace(tzinfo=None),
                    "high" if a.priority in ("P1", "P2") else "low")
    return out


def truth_shifts(world: World, until: datetime = NOW) -> dict[str, tuple[Any, ...]]:
    out = {}
    teams = {"s-0001": "payments", "s-0002": "checkout"}
    start = datetime.combine(SINCE, datetime.min.time(), UTC)
    for s in world.schedules:
        if s.id not in teams:
            continue
        for p in s.periods:
            if p.user is not None and p.start >= start and p.end <= until:
                key = f"opsgenie:{s.id}:{s.rotation_id}:{p.start:%Y-%m-%dT%H:%M:%SZ}"
                out[key] = (teams[s.id], p.start.replace(tzinfo=None),
                            p.end.replace(tzinfo=None), s.name)
    return out


def stored_shifts(settings: Settings) -> dict[str, tuple[Any, ...]]:
    return {r[0]: tuple(r[1:]) for r in rows(
        settings, "SELECT id, team, starts_at, ends_at, schedule FROM oncall_shift")}


# -- tests --------------------------------------------------------------------------------------

def test_a_first_sync_stores_incidents_pages_and_shifts_as_mapped(
        org: Settings, fake: FakeOpsgenie, world: World, tmp_path: Path) -> None:
    run(org, connector(fake, org, tmp_path))
    assert stored_incidents(org) == truth_incidents(world)
    pages = {r[0]: tuple(r[1:]) for r in rows(org, 'SELECT id, team, "at", urgency FROM page')}
    assert pages == truth_pages(world)
    shifts = stored_shifts(org)
    assert shifts == truth_shifts(world)
    assert len(shifts) > 150  # weekly and twelve-hourly shifts from March to June
    # tags are labels, and every incident says where it came from
    paying = next(a for a in world.alerts if a.team.id == "t-pay-0001")
    labels = rows(org, f"SELECT label FROM incident_label WHERE incident_id = 'opsgenie:{paying.id}'")
    assert sorted(r[0] for r in labels) == ["env:prod", "payments"]
    sources = {r[0] for r in rows(org, "SELECT source FROM incident")}
    assert all(s.startswith("opsgenie:opsgenie alert ") for s in sources)
    # people are pseudonymised: no username or Opsgenie user id is stored
    people = {r[0] for r in rows(org, "SELECT person FROM page UNION SELECT person "
                                      "FROM oncall_shift")}
    assert people and not any("@" in p or p.startswith("00000002") for p in people)
    # the third team is mapped to nothing: its alerts and pages are kept with a reason
    kept = rows(org, "SELECT type, reason, raw FROM quarantine")
    unmapped = [a for a in world.alerts if a.team.id == "t-old-0003"]
    assert unmapped
    assert sorted(r for t, r, _ in kept if t == "incident") == \
        ["unknown service (service)"] * len(unmapped)
    assert all("Legacy Ops" in raw for t, _, raw in kept)
    assert sorted(r for t, r, _ in kept if t == "page") == \
        ["unknown team (team)"] * sum(1 for a in unmapped for r in a.recipients
                                      if r.state != "notactive")


def test_a_second_sync_with_nothing_new_adds_nothing_and_asks_little(
        org: Settings, fake: FakeOpsgenie, tmp_path: Path) -> None:
    clock = Clock(NOW)
    run(org, connector(fake, org, tmp_path, clock))
    count = ("SELECT (SELECT count(*) FROM incident), (SELECT count(*) FROM page), "
             "(SELECT count(*) FROM oncall_shift), (SELECT count(*) FROM quarantine)")
    before = rows(org, count)
    first = fake.count()
    clock.at = NOW + timedelta(hours=1)
    reports = run(org, connector(fake, org, tmp_path, clock))
    assert sum(c.inserted for r in reports for c in r.counts.values()) == 0
    assert rows(org, count) == before
    # teams, users, one count and one page of alerts, schedules, one timeline per schedule
    assert fake.count() - first <= 8
    with Store.open(org.db, read_only=True) as store:
        states = {s.scope: s for s in sync_state.list_states(store, "opsgenie")}
    assert set(states) == {"alerts", "oncall"}
    assert all(s.last_status == "ok" for s in states.values())


def test_an_alert_closed_after_a_sync_gets_its_resolution_and_new_shifts_come(
        org: Settings, fake: FakeOpsgenie, world: World, tmp_path: Path) -> None:
    clock = Clock(NOW)
    rng = random.Random(9)
    late = world.add_alert(rng, NOW - timedelta(hours=2), team=0, closed=False)
    run(org, connector(fake, org, tmp_path, clock))
    assert stored_incidents(org)[f"opsgenie:{late.id}"][3] is None
    world.close(late, NOW + timedelta(minutes=30), world.users[2].username)
    fresh = world.add_alert(rng, NOW + timedelta(minutes=10), team=1, closed=True)
    clock.at = NOW + timedelta(days=3)
    run(org, connector(fake, org, tmp_path, clock))
    got = stored_incidents(org)
    assert got[f"opsgenie:{late.id}"][3:] == (late.closed.replace(tzinfo=None), True)
    assert f"opsgenie:{fresh.id}" in got
    assert got == truth_incidents(world)
    # shifts that were under way at the first sync are read whole once they are over
    assert stored_shifts(org) == truth_shifts(world, clock.at)


def test_rate_limits_server_errors_and_a_cut_page_are_retried(
        org: Settings, fake: FakeOpsgenie, world: World, tmp_path: Path) -> None:
    fake.fail(r"^/v2/alerts$", status=429, headers={"Retry-After": "7",
                                                    "X-RateLimit-State": "THROTTLED"})
    fake.fail(r"/recipients$", status=503, times=2)
    fake.fail(r"^/v2/users$", status=200, truncate=40)
    fake.fail(r"/timeline$", status=502)
    sleeps: list[float] = []
    run(org, connector(fake, org, tmp_path, sleeps=sleeps))
    assert 7.0 in sleeps  # Opsgenie's Retry-After
    assert len(sleeps) >= 5
    assert stored_incidents(org) == truth_incidents(world)
    assert stored_shifts(org) == truth_shifts(world)


def test_a_page_malformed_on_every_attempt_is_quarantined_with_its_reason(
        org: Settings, fake: FakeOpsgenie, world: World, tmp_path: Path) -> None:
    config = tmp_path / "shipwise.yaml"
    src = {"kind": "opsgenie", "base_url": fake.url, "token_file": str(tmp_path / "og-key"),
           "services": SERVICES, "since": str(SINCE), "max_attempts": 2}
    (tmp_path / "og-key").write_text(TOKEN)
    config.write_text(yaml.safe_dump({"sources": [src]}))
    s = load_settings(db=org.db, config_file=config)
    fake.fail(r"^/v2/alerts$", status=200, truncate=50, times=2)
    with local_caller(s) as caller:
        (broken,) = sync_sources(caller).scopes
    assert (broken.status, broken.quarantined) == ("terminal", 1)
    kept = rows(org, "SELECT type, reason, source, raw FROM quarantine")
    assert [(t, "malformed page" in r, "/v2/alerts" in src_) for t, r, src_, _ in kept] == [
        ("page", True, True)]
    assert kept[0][3].startswith('{"data"')
    # valid JSON of another shape (a proxy's answer) is quarantined the same way, unretried
    fake.fail(r"^/v2/alerts$", status=200, body=b'["<html>login</html>"]')
    with local_caller(s) as caller:
        (other,) = sync_sources(caller).scopes
    assert (other.status, other.quarantined) == ("terminal", 1)
    assert rows(org, "SELECT count(*) FROM quarantine WHERE reason LIKE "
                     "'malformed page: %without the `data` list%'") == [(1,)]
    with local_caller(s) as caller:
        (fixed,) = sync_sources(caller).scopes
    assert fixed.status == "ok"
    assert stored_incidents(org) == truth_incidents(world)


def test_a_window_past_the_offset_cap_is_split() -> None:
    """20,050 alerts updated in one 30-day window: Opsgenie serves 20,000 of one query."""
    world = generate_world(seed=5, alerts=MAX_OFFSET + 50, start=NOW - timedelta(days=20),
                           days=10, recipients=0)
    with FakeOpsgenie(world) as og:
        client = OpsgenieClient(og.url, SecretStr(TOKEN), sleep=lambda s: None)
        ids = [a["id"] for page in client.alerts(NOW - timedelta(days=30), NOW) for a in page]
        assert len(ids) == len(set(ids)) == MAX_OFFSET + 50
        assert og.count(r"^/v2/alerts/count$") >= 3  # the window, then its halves
        assert og.count(r"^/v2/alerts$") > (MAX_OFFSET + 50) // 100


def test_a_sync_killed_mid_way_resumes_without_counting_twice(
        org: Settings, fake: FakeOpsgenie, world: World, tmp_path: Path) -> None:
    with pytest.raises(KeyboardInterrupt):
        run(org, connector(fake, org, tmp_path), kill_after=2)
    reports = run(org, connector(fake, org, tmp_path))
    assert stored_incidents(org) == truth_incidents(world)
    assert {r[0] for r in rows(org, "SELECT id FROM page")} == set(truth_pages(world))
    assert stored_shifts(org) == truth_shifts(world)
    inserted = sum(c.inserted for r in reports for c in r.counts.values())
    assert inserted < len(truth_incidents(world)) + len(truth_pages(world)) + \
        len(truth_shifts(world))  # what the killed run committed was not inserted again


def test_check_says_what_to_fix(org: Settings, fake: FakeOpsgenie, tmp_path: Path) -> None:
    assert connector(fake, org, tmp_path).check() == []
    wrong = connector(fake, org, tmp_path, services={"payments": "nope"},
                      teams={"No Such Team": "payments"}, schedules={"Nightly": "payments"})
    problems = wrong.check()
    assert any("nope" in p and "organisation does not have" in p for p in problems)
    assert any("Opsgenie has no team No Such Team" in p for p in problems)
    assert any("Opsgenie has no schedule Nightly" in p for p in problems)
    with Store.open(org.db, read_only=True) as store:
        services = service_map(store)
    none = OpsgenieConnector(OpsgenieSource(base_url=fake.url, token_env="OG_UNSET_VAR"),
                             services)
    assert "no Opsgenie API key found in OG_UNSET_VAR" in none.check()[0]
    bad = connector(fake, org, tmp_path)
    (tmp_path / "og-key").write_text("wrong")
    assert any("Opsgenie refused the token (HTTP 401)" in p for p in bad.check())


def test_a_bad_key_is_terminal_and_an_unknown_scope_refused(
        org: Settings, fake: FakeOpsgenie, tmp_path: Path) -> None:
    c = connector(fake, org, tmp_path)
    (tmp_path / "og-key").write_text("wrong")
    with pytest.raises(UnauthorizedError, match="refused the token"):
        run(org, c)
    with Store.open(org.db, read_only=True) as store:
        state = sync_state.get(store, "opsgenie", "alerts")
    assert state is not None and state.last_status == "terminal"
    with pytest.raises(TerminalError, match="no scope 'incidents'"):
        list(c.sync(Scope("incidents"), Cursor()))


def _cli(settings: Settings, *args: str, token: str = TOKEN) -> subprocess.CompletedProcess[str]:
    env = cli_env(SW_TEST_OG=token)
    return subprocess.run([sys.executable, "-m", "shipwise", "--db", str(settings.db), "--config",
                           str(settings.db.parent / "shipwise.yaml"), *args],
                          capture_output=True, text=True, timeout=180, env=env)


def test_shipwise_sync_and_doctor_from_the_command_line(
        org: Settings, fake: FakeOpsgenie, world: World) -> None:
    config = org.db.parent / "shipwise.yaml"
    og: dict[str, Any] = {"kind": "opsgenie", "name": "ops", "base_url": fake.url,
                          "token_env": "SW_TEST_OG", "services": SERVICES, "teams": TEAMS,
                          "schedules": SCHEDULES, "since": str(SINCE)}
    config.write_text(yaml.safe_dump({"sources": [og]}))
    doctor_run = _cli(org, "doctor")
    assert "ops" in doctor_run.stdout and "Opsgenie has no" not in doctor_run.stdout
    first = _cli(org, "sync", "ops", "--format", "json")
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    assert {s["scope"]: s["status"] for s in report["scopes"]} == {"alerts": "ok",
                                                                    "oncall": "ok"}
    got = stored_incidents(org)
    assert {k.replace("ops:", "opsgenie:", 1): v for k, v in got.items()} == \
        truth_incidents(world)
    again = _cli(org, "sync", "ops", "--format", "json")
    assert again.returncode == 0, again.stderr
    assert sum(s.get("inserted", 0) for s in json.loads(again.stdout)["scopes"]) == 0
    # a mapping to a schedule Opsgenie does not have: doctor says so, sync fails that scope
    config.write_text(yaml.safe_dump({"sources": [{**og, "schedules": {"Nightly": "payments"}}]}))
    assert "Opsgenie has no schedule Nightly" in _cli(org, "doctor").stdout
    wrong = _cli(org, "sync", "ops", token="wrong")
    assert wrong.returncode == 1 and "refused the token (HTTP 401)" in wrong.stderr
    assert TOKEN not in wrong.stderr + wrong.stdout
