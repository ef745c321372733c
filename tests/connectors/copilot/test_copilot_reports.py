"""The GitHub Copilot connector on the usage metrics reports (the current API) against the
fake reports API (real HTTP on 127.0.0.1): per-person NDJSON behind signed links is joined with the
user-teams report and summed per shipwise team at the door; nothing per person is stored; a
second sync re-reads only the overlap and counts nothing twice, a corrected day replaces the
stored one; an expired link makes the connector ask for the report again; 5xx/429 are retried."""

from __future__ import annotations

import json
import random
import struct
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from tests.conftest import cli_env, org, write_jsonl
from tests.fakes.copilot import REPORTS_API_VERSION, TOKEN, FakeCopilotReports, person_row

from shipwise.app.caller import local_caller
from shipwise.app.owner import import_paths
from shipwise.app.sync import sync_sources
from shipwise.config import CopilotSource, Settings
from shipwise.connectors.base import Cursor
from shipwise.connectors.copilot import connector as copilot
from shipwise.connectors.copilot import reports

TODAY = date(2026, 11, 30)
DAYS = [TODAY - timedelta(days=k) for k in range(5, 0, -1)]
U101, U102, U103, U104, U105, U106, U107 = (7301000000 + k for k in range(101, 108))
#: GitHub logins of the fake organisation: (user_id, login, GitHub team slugs)
PEOPLE = [(U101, "octo-ana", ["pay-devs"]), (U102, "octo-bo", ["pay-devs"]),
          (U103, "octo-cy", ["pay-devs", "search-devs"]),  # on two teams
          (U104, "octo-di", ["search-devs"]), (U105, "octo-ed", ["search-devs", "search-oncall"]),
          (U106, "octo-fay", [])]  # on no team
TEAMS = {"pay-devs": "payments", "search-devs": "search", "search-oncall": "search"}


def world(seed: int = 5) -> tuple[dict[date, list[dict[str, Any]]],
                                  dict[date, list[dict[str, Any]]]]:
    rng = random.Random(seed)
    users = {d: [person_row(rng, d, uid, login) for uid, login, _ in PEOPLE] for d in DAYS}
    ids = {"pay-devs": 11, "search-devs": 12, "search-oncall": 13}
    teams = {d: [{"user_id": uid, "user_login": login, "day": d.isoformat(),
                  "organization_id": "4242", "team_id": ids[slug], "slug": slug}
                 for uid, login, slugs in PEOPLE for slug in slugs] for d in DAYS}
    return users, teams


def expected(users: list[dict[str, Any]], team_members: set[int]) -> tuple[Any, ...]:
    mine = [u for u in users if u["user_id"] in team_members]

    def feature(u: dict[str, Any], name: str, key: str) -> int:
        return sum(f[key] for f in u["totals_by_feature"] if f["feature"] == name)

    engaged = sum(1 for u in mine if u["code_acceptance_activity_count"] > 0
                  or u["user_initiated_interaction_count"] > 0 or u["used_agent"]
                  or u["used_chat"])
    return (len(mine), engaged,
            sum(feature(u, "code_completion", "code_generation_activity_count") for u in mine),
            sum(feature(u, "code_completion", "code_acceptance_activity_count") for u in mine),
            sum(u["loc_suggested_to_add_sum"] for u in mine),
            sum(u["loc_added_sum"] for u in mine),
            sum(u["user_initiated_interaction_count"] for u in mine),
            sum(feature(u, "chat_panel_agent_mode", "user_initiated_interaction_count")
                for u in mine))


@pytest.fixture
def with_teams(settings: Settings, tmp_path: Path) -> Settings:
    import_paths(settings, [write_jsonl(tmp_path / "org.jsonl",
                                        org((("payments", "pay-api"), ("search", "search-api"))))])
    return settings


def settings_with(settings: Settings, url: str, tmp_path: Path, **kw: Any) -> Settings:
    key = tmp_path / "gh-token"
    key.write_text(TOKEN)
    kw.setdefault("teams", TEAMS)
    src = CopilotSource(base_url=url, token_file=key, token_env=None, org="acme",
                        backfill_days=5, max_attempts=3, **kw)
    return settings.model_copy(update={"sources": [src]})


def sync(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Any:
    now = datetime.combine(TODAY, datetime.min.time(), tzinfo=UTC) + timedelta(hours=9)
    monkeypatch.setattr(copilot, "_now", lambda: now)
    monkeypatch.setattr("shipwise.connectors.retry.time.sleep", lambda s: None)
    with local_caller(settings) as caller:
        return sync_sources(caller)


def rows(settings: Settings, sql: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(settings.db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


USAGE = ("SELECT day, active_users, engaged_users, suggestions_shown, suggestions_accepted, "
         "lines_suggested, lines_accepted, chat_sessions, agent_sessions FROM ai_usage "
         "WHERE team = '{team}' ORDER BY day")


def test_a_sync_sums_each_days_people_into_their_teams_and_stores_no_person(
        with_teams: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    users, teams = world()
    with FakeCopilotReports("acme", users, teams, TODAY) as fake:
        s = settings_with(with_teams, fake.url, tmp_path)
        report = sync(s, monkeypatch)
        api = [hd for path, hd in fake.headers if path.startswith("/orgs/")]
        storage = [hd for path, hd in fake.headers if path.startswith("/storage/")]
        assert api and all(hd["authorization"] == f"Bearer {TOKEN}" for hd in api)
        assert all(hd["x-github-api-version"] == REPORTS_API_VERSION for hd in api)
        # the signed links are fetched without the token (the fake's storage refuses it)
        assert storage and all("authorization" not in hd for hd in storage)
        assert fake.count("/reports/users-1-day") == len(DAYS)
        assert fake.count("/storage/") == 2 * 2 * len(DAYS)  # two reports of two files a day
    assert report.failed == []
    pay = rows(s, USAGE.format(team="payments"))
    search = rows(s, USAGE.format(team="search"))
    assert [r[0] for r in pay] == DAYS and [r[0] for r in search] == DAYS
    for day, got_pay, got_search in zip(DAYS, pay, search, strict=True):
        assert got_pay[1:] == expected(users[day], {U101, U102, U103})
        # octo-ed is on two GitHub teams mapped to search: counted once; octo-cy in both teams
        assert got_search[1:] == expected(users[day], {U103, U104, U105})
    assert rows(s, "SELECT DISTINCT tool, source FROM ai_usage") == [
        ("copilot", "github-copilot:acme reports")]
    # the person on no mapped team is counted in the sync report and state, not stored
    (scope,) = report.scopes
    assert scope.notes == [
        "up to 1 of 6 people a day in GitHub's reports were on no mapped GitHub team (5 day(s) "
        "read): their usage is in no team; map their teams under `teams:` (or set `org_team:`)"]
    state = rows(s, "SELECT cursor FROM sync_state WHERE scope = '(reports)'")[0][0]
    assert '"on_no_mapped_team":1' in state and '"people":6' in state
    # no login or GitHub user id anywhere in the database file
    blob = Path(s.db).read_bytes()
    assert b"github-copilot:acme reports" in blob  # the scan sees the strings that are stored
    for uid, login, _ in PEOPLE:
        assert login.encode() not in blob
        assert str(uid).encode() not in blob and struct.pack("<q", uid) not in blob


def test_a_second_sync_rereads_the_overlap_counts_nothing_twice_and_takes_corrections(
        with_teams: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    users, teams = world()
    with FakeCopilotReports("acme", users, teams, TODAY) as fake:
        s = settings_with(with_teams, fake.url, tmp_path)
        sync(s, monkeypatch)
        before = rows(s, "SELECT id, row_hash FROM ai_usage ORDER BY id")
        fake.requests.clear()
        sync(s, monkeypatch)
        asked = sorted({q for path, q in fake.requests if path.endswith("users-1-day")})
        assert asked == [f"day={d.isoformat()}" for d in DAYS[-3:]]  # yesterday - 2 days
        assert rows(s, "SELECT id, row_hash FROM ai_usage ORDER BY id") == before
        # GitHub corrects yesterday: one more person on pay-devs, and more counts
        last = DAYS[-1]
        users[last] = [*users[last], person_row(random.Random(9), last, U107, "octo-gus")]
        teams[last] = [*teams[last], {"user_id": U107, "user_login": "octo-gus",
                                      "day": last.isoformat(), "organization_id": "4242",
                                      "team_id": 11, "slug": "pay-devs"}]
        sync(s, monkeypatch)
    pay = rows(s, USAGE.format(team="payments"))
    assert len(pay) == len(DAYS)
    assert pay[-1][1:] == expected(users[last], {U101, U102, U103, U107})
    assert pay[-1][1] == 4
    assert rows(s, "SELECT count(*) FROM ai_usage") == [(2 * len(DAYS),)]


def test_an_expired_link_makes_the_connector_ask_for_the_report_again(
        with_teams: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    users, teams = world()
    with FakeCopilotReports("acme", users, teams, TODAY) as fake:
        fake.expire_next = 1  # the first report's links are already expired
        s = settings_with(with_teams, fake.url, tmp_path)
        report = sync(s, monkeypatch)
        first = f"day={DAYS[0].isoformat()}"
        assert [q for p, q in fake.requests if p.endswith("users-1-day")].count(first) == 2
    assert report.failed == []
    assert rows(s, "SELECT count(*) FROM ai_usage") == [(2 * len(DAYS),)]


def test_rate_limits_and_5xx_are_retried_on_the_api_and_on_the_storage(
        with_teams: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    users, teams = world()
    with FakeCopilotReports("acme", users, teams, TODAY) as fake:
        fake.fail("/reports/user-teams-1-day", 502)
        fake.fail("/storage/users-1-day", 429, headers={"Retry-After": "1"})
        fake.fail("/storage/user-teams-1-day", 503)
        s = settings_with(with_teams, fake.url, tmp_path)
        report = sync(s, monkeypatch)
    assert report.failed == []
    assert rows(s, "SELECT count(*) FROM ai_usage") == [(2 * len(DAYS),)]


def test_a_day_without_a_report_is_skipped_and_read_once_github_has_it(
        with_teams: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    users, teams = world()
    late = DAYS[-1]
    held = users.pop(late)  # GitHub has not produced yesterday's report yet: 404
    with FakeCopilotReports("acme", users, teams, TODAY) as fake:
        s = settings_with(with_teams, fake.url, tmp_path)
        report = sync(s, monkeypatch)
        assert report.failed == []
        assert [r[0] for r in rows(s, USAGE.format(team="payments"))] == DAYS[:-1]
        users[late] = held
        sync(s, monkeypatch)
    assert [r[0] for r in rows(s, USAGE.format(team="payments"))] == DAYS


def test_a_report_that_is_not_ndjson_fails_the_sync_without_showing_its_rows(
        with_teams: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    users, teams = world()
    with FakeCopilotReports("acme", users, teams, TODAY) as fake:
        fake.fail("/storage/users-1-day", 200, times=1,
                  body=b'{"user_id": "octo-leak", "user_login": "octo-ana"\n')
        s = settings_with(with_teams, fake.url, tmp_path)
        report = sync(s, monkeypatch)
    (failed,) = report.failed
    assert failed.status == "terminal" and "not the NDJSON" in (failed.error or "")
    assert "octo-ana" not in (failed.error or "") and "octo-leak" not in (failed.error or "")
    assert rows(s, "SELECT count(*) FROM ai_usage") == [(0,)]


def test_a_bad_token_fails_the_sync_with_githubs_answer(
        with_teams: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    users, teams = world()
    with FakeCopilotReports("acme", users, teams, TODAY) as fake:
        s = settings_with(with_teams, fake.url, tmp_path)
        (tmp_path / "gh-token").write_text("ghp_wrong")
        report = sync(s, monkeypatch)
    assert len(report.failed) == 1 and "401" in (report.failed[0].error or "")
    assert rows(s, "SELECT count(*) FROM ai_usage") == [(0,)]


def test_org_team_gets_everyone_including_people_on_no_team() -> None:
    users, teams = world()
    day = DAYS[0]
    got = reports.aggregate(reports.read_ndjson([_nd(users[day])], reports.USERS),
                            reports.read_ndjson([_nd(teams[day])], reports.USER_TEAMS),
                            {"pay-devs": "payments"}, day, "x", org_team="engineering")
    by_team = {r["team"]: r for r in got.table.to_pylist()}
    assert by_team["engineering"]["active_users"] == len(PEOPLE)
    assert by_team["payments"]["active_users"] == 3
    assert got.unmapped == 0 and got.people == len(PEOPLE)


def test_a_mapped_team_nobody_of_used_copilot_that_day_has_a_row_of_zero() -> None:
    day = DAYS[0]
    got = reports.aggregate(reports.read_ndjson([b""], reports.USERS),
                            reports.read_ndjson([], reports.USER_TEAMS),
                            {"pay-devs": "payments", "search-devs": "search"}, day, "x")
    assert [(r["team"], r["active_users"], r["engaged_users"], r["chat_sessions"])
            for r in got.table.to_pylist()] == [("payments", 0, 0, None), ("search", 0, 0, None)]


def test_counts_the_report_lacks_stay_empty_not_zero() -> None:
    day = DAYS[0]
    got = reports.aggregate(
        reports.read_ndjson([b'{"user_id": 1, "user_login": "x", "day": "2026-11-25"}\n'],
                            reports.USERS),
        reports.read_ndjson([b'{"user_id": 1, "slug": "pay-devs", "team_id": 3}\n'],
                            reports.USER_TEAMS), {"pay-devs": "payments"}, day, "x")
    (row,) = got.table.to_pylist()
    assert (row["active_users"], row["engaged_users"]) == (1, 0)
    assert (row["suggestions_shown"], row["chat_sessions"], row["agent_sessions"]) == (
        None, None, None)


def test_first_sync_reads_backfill_days_never_before_githubs_first_report() -> None:
    src = CopilotSource(org="acme", token_env=None, teams=TEAMS, backfill_days=365)
    conn = copilot.CopilotConnector(
        src, clock=lambda: datetime(2026, 3, 1, 9, tzinfo=UTC))
    days = conn.report_days(Cursor())
    assert days[0] == date(2025, 10, 10) and days[-1] == date(2026, 2, 28)
    again = conn.report_days(Cursor({"until": "2026-02-27"}))
    assert again == [date(2026, 2, 25), date(2026, 2, 26), date(2026, 2, 27), date(2026, 2, 28)]


def _nd(records: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in records).encode()


def test_shipwise_sync_names_the_people_on_no_mapped_team(tmp_path: Path) -> None:
    today = datetime.now(UTC).date()  # the command runs on the real clock
    rng = random.Random(3)
    days = [today - timedelta(days=k) for k in range(2, 0, -1)]
    users = {d: [person_row(rng, d, uid, login) for uid, login, _ in PEOPLE] for d in days}
    teams = {d: [{"user_id": uid, "user_login": login, "day": d.isoformat(), "team_id": 11,
                  "slug": slug} for uid, login, slugs in PEOPLE for slug in slugs] for d in days}
    env = cli_env(SHIPWISE_TEST_GH_TOKEN=TOKEN)
    assert subprocess.run([sys.executable, "-m", "shipwise", "init"], cwd=tmp_path, env=env,
                          capture_output=True, timeout=120).returncode == 0
    write_jsonl(tmp_path / "org.jsonl", org((("payments", "pay-api"), ("search", "search-api"))))
    with FakeCopilotReports("acme", users, teams, today) as fake:
        (tmp_path / "shipwise.yaml").write_text(
            "sources:\n  - kind: github-copilot\n    name: copilot\n    org: acme\n"
            f"    base_url: {fake.url}\n    token_env: SHIPWISE_TEST_GH_TOKEN\n"
            "    backfill_days: 2\n    teams:\n      pay-devs: payments\n"
            "      search-devs: search\n")
        for args in (["import", "org.jsonl"], ["sync", "copilot"]):
            res = subprocess.run([sys.executable, "-m", "shipwise", *args], cwd=tmp_path,
                                 env=env, capture_output=True, text=True, timeout=120)
            assert res.returncode == 0, res.stderr
    assert "copilot (reports): up to 1 of 6 people a day" in res.stderr
