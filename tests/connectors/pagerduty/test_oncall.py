"""On-call rota shifts from the fake PagerDuty's ``/oncalls`` (real HTTP on 127.0.0.1; the fake
clips entries to the query range like PagerDuty): a first sync stores every first-level shift of
the mapped schedules whole — across 30-day range boundaries and a daylight-saving change —,
syncs as time goes by never store a fragment or a shift twice, an override in the overlap
updates the stored rota, a killed sync resumes, rate limits and 5xx are retried, an unknown team
is quarantined with its reason, and ``check()`` names schedules left unmapped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.connectors.pagerduty.test_pagerduty import NOW, Clock, connector, rows, run
from tests.fakes.pagerduty import FakePagerDuty, OnCall, World

from shipwise.config import Settings
from shipwise.connectors.pagerduty.oncall import entry

SCHEDULES = {"PSCH001": "payments", "Checkout primary": "checkout"}  # by id and by name
TEAMS = {"PSCH001": "payments", "PSCH002": "checkout"}


def oncall_connector(fake: FakePagerDuty, settings: Settings, tmp_path: Path,
                     clock: Clock | None = None, **kw: Any) -> Any:
    kw.setdefault("schedules", SCHEDULES)
    return connector(fake, settings, tmp_path, clock, **kw)


def truth(world: World, until: datetime | None = None) -> dict[str, tuple[Any, ...]]:
    """The world's first-level shifts of mapped schedules (ending at ``until`` at the latest)."""
    out = {}
    for o in world.oncalls:
        if o.level != 1 or o.schedule is None or o.schedule.id not in TEAMS:
            continue
        if until is not None and o.start >= until:
            continue
        end = o.end if until is None else min(o.end, until)
        out[f"pagerduty:{o.schedule.id}:{o.start.strftime('%Y-%m-%dT%H:%M:%SZ')}"] = (
            TEAMS[o.schedule.id], o.start.replace(tzinfo=None), end.replace(tzinfo=None))
    return out


def stored(settings: Settings) -> dict[str, tuple[Any, ...]]:
    return {r[0]: tuple(r[1:]) for r in rows(
        settings, "SELECT id, team, starts_at, ends_at FROM oncall_shift")}


def only_oncalls(c: Any) -> Any:
    c.scopes = lambda: [s for s in type(c).scopes(c) if s.key == "oncalls"]
    return c


def test_a_first_sync_stores_every_shift_whole(org: Settings, fake: FakePagerDuty, world: World,
                                               tmp_path: Path) -> None:
    run(org, only_oncalls(oncall_connector(fake, org, tmp_path)))
    want = truth(world)
    # the rota crosses range boundaries (31 March, 30 April) and the clocks going forward
    assert any(s < datetime(2025, 3, 31) < e for _, s, e in want.values())
    assert any(s < datetime(2025, 4, 30) < e for _, s, e in want.values())
    assert stored(org) == want
    # Monday 09:00 in Paris: 08:00 UTC in winter, 07:00 UTC in summer
    starts = sorted(s for k, (_, s, _) in want.items() if ":PSCH001:" in k)
    assert starts[0] == datetime(2025, 3, 3, 8) and starts[-1].hour == 7
    people = {r[0] for r in rows(org, "SELECT person FROM oncall_shift")}
    assert len(people) == 6 and not any("@" in p or p.startswith("PUSR") for p in people)
    # only the mapped schedules are asked for
    assert all("PSCH003" not in q and "PSCH004" not in q
               for p, q in fake.requests if p == "/oncalls")
    assert rows(org, "SELECT count(*) FROM quarantine") == [(0,)]


def test_syncs_as_time_goes_by_store_no_fragment(org: Settings, fake: FakePagerDuty,
                                                world: World, tmp_path: Path) -> None:
    clock = Clock(datetime(2025, 3, 20, 13, 30, tzinfo=UTC))
    while clock.at < NOW:
        run(org, only_oncalls(oncall_connector(fake, org, tmp_path, clock)))
        horizon = datetime(clock.at.year, clock.at.month, clock.at.day, tzinfo=UTC) + \
            timedelta(days=2)
        assert stored(org) == truth(world, horizon)  # planned shifts clipped at the horizon
        clock.at += timedelta(days=3, hours=7)
    assert stored(org) == truth(world)


def test_an_override_in_the_overlap_updates_the_rota(org: Settings, fake: FakePagerDuty,
                                                    world: World, tmp_path: Path) -> None:
    clock = Clock(datetime(2025, 4, 20, tzinfo=UTC))
    run(org, only_oncalls(oncall_connector(fake, org, tmp_path, clock)))
    # someone else takes the second half of the payments shift going on five days ago
    shift = next(o for o in world.oncalls if o.schedule and o.schedule.id == "PSCH001"
                 and o.start <= clock.at - timedelta(days=5) < o.end)
    middle = shift.start + (shift.end - shift.start) / 2
    other = next(u for u in world.users[0:3] if u != shift.user)
    world.oncalls.append(OnCall(other, shift.schedule, 1, middle, shift.end))
    shift.end = middle
    clock.at += timedelta(hours=6)
    run(org, only_oncalls(oncall_connector(fake, org, tmp_path, clock)))
    assert stored(org) == truth(world, datetime(2025, 4, 22, tzinfo=UTC))


def test_a_killed_sync_resumes_and_faults_are_retried(org: Settings, fake: FakePagerDuty,
                                                     world: World, tmp_path: Path) -> None:
    with pytest.raises(KeyboardInterrupt):
        run(org, only_oncalls(oncall_connector(fake, org, tmp_path)), kill_after=1)
    assert 0 < len(stored(org)) < len(truth(world))
    fake.fail(r"^/oncalls$", status=429, headers={"ratelimit-reset": "2"})
    fake.fail(r"^/oncalls$", status=503)
    sleeps: list[float] = []
    run(org, only_oncalls(connector(fake, org, tmp_path, sleeps=sleeps, schedules=SCHEDULES)))
    assert stored(org) == truth(world)
    assert len(sleeps) == 2 and sleeps[0] >= 2


def test_a_schedule_of_an_unknown_team_is_quarantined(org: Settings, fake: FakePagerDuty,
                                                      world: World, tmp_path: Path) -> None:
    c = oncall_connector(fake, org, tmp_path, schedules={**SCHEDULES, "Legacy rota": "legacy"})
    run(org, only_oncalls(c))
    assert stored(org) == truth(world)
    legacy = [o for o in world.oncalls if o.schedule and o.schedule.id == "PSCH003"]
    assert sorted(r for (r,) in rows(org, "SELECT reason FROM quarantine")) == \
        ["unknown team (team)"] * len(legacy)


def test_check_names_unmapped_schedules_and_unknown_teams(org: Settings, fake: FakePagerDuty,
                                                          tmp_path: Path) -> None:
    problems = oncall_connector(fake, org, tmp_path, schedules={
        "PSCH001": "payments", "Checkout primary": "nosuchteam", "Nightly": "checkout"}).check()
    assert any("schedules maps to nosuchteam" in p for p in problems)
    assert any("PagerDuty has no schedule Nightly" in p for p in problems)
    assert any("Legacy rota (PSCH003)" in p and "Managers (PSCH004)" in p for p in problems)
    assert not any("Payments primary" in p for p in problems)


@pytest.mark.parametrize(("raw", "kept"), [
    ({"escalation_level": 1, "schedule": {"id": "S"}, "user": {"id": "U"},
      "start": "2025-03-03T09:00:00+01:00", "end": "2025-03-04T09:00:00+01:00"}, True),
    ({"escalation_level": 2, "schedule": {"id": "S"}, "user": {"id": "U"},
      "start": "2025-03-03T09:00:00+01:00", "end": "2025-03-04T09:00:00+01:00"}, False),
    ({"escalation_level": 1, "schedule": None, "user": {"id": "U"},
      "start": "2025-03-03T09:00:00+01:00", "end": "2025-03-04T09:00:00+01:00"}, False),
])
def test_only_first_level_shifts_of_a_schedule(raw: dict[str, Any], kept: bool) -> None:
    e = entry(raw)
    assert (e is not None) == kept
    if e is not None:
        assert e.start == datetime(2025, 3, 3, 8, tzinfo=UTC)
