"""The GitHub Copilot metrics connector on the legacy API (``api: legacy``) against the fake
Copilot API (real HTTP on 127.0.0.1): a sync stores each mapped GitHub team's days as
``ai_usage`` of its shipwise team, with the counts summed from GitHub's nested payload; it sends the token and the API version, follows the
``Link`` pages, reads only GitHub's 28-day window; a second sync re-reads only the overlap and
counts nothing twice; a team mapped to an unknown shipwise team is quarantined with its reason."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from tests.conftest import org, write_jsonl
from tests.fakes.copilot import API_VERSION, TOKEN, FakeCopilot, day_payload

from shipwise.app.caller import local_caller
from shipwise.app.owner import import_paths
from shipwise.app.sync import sync_sources
from shipwise.config import CopilotSource, Settings
from shipwise.connectors.copilot import connector as copilot
from shipwise.connectors.copilot import mapping

TODAY = date(2026, 11, 30)


def world() -> dict[str | None, list[dict[str, Any]]]:
    rng = random.Random(5)
    days = [TODAY - timedelta(days=k) for k in range(40, 0, -1)]
    return {slug: [day_payload(rng, d, 12) for d in days]
            for slug in (None, "pay-devs", "ghosts")}


def settings_with(settings: Settings, url: str, tmp_path: Path, **kw: Any) -> Settings:
    key = tmp_path / "gh-token"
    key.write_text(TOKEN)
    kw.setdefault("api", "legacy")  # the metrics API GitHub closed on github.com (GHES still)
    src = CopilotSource(base_url=url, token_file=key, token_env=None, org="acme", **kw)
    return settings.model_copy(update={"sources": [src]})


def sync(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Any:
    now = datetime.combine(TODAY, datetime.min.time(), tzinfo=UTC) + timedelta(hours=9)
    monkeypatch.setattr(copilot, "_now", lambda: now)
    with local_caller(settings) as caller:
        return sync_sources(caller)


def rows(settings: Settings, sql: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(settings.db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.fixture
def with_team(settings: Settings, tmp_path: Path) -> Settings:
    import_paths(settings, [write_jsonl(tmp_path / "org.jsonl", org())])
    return settings


def test_sync_stores_each_teams_days_summed_from_githubs_payload(
        with_team: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(copilot, "PER_PAGE", 10)  # 28 days: three pages
    data = world()
    with FakeCopilot("acme", data, TODAY) as fake:
        s = settings_with(with_team, fake.url, tmp_path, teams={"pay-devs": "payments"})
        report = sync(s, monkeypatch)
        assert all(h["authorization"] == f"Bearer {TOKEN}" for h in fake.headers)
        assert all(h["x-github-api-version"] == API_VERSION for h in fake.headers)
        assert all(h["accept"] == "application/vnd.github+json" for h in fake.headers)
        assert fake.count("/orgs/acme/team/pay-devs/copilot/metrics") == 3
    assert report.failed == []
    got = rows(s, "SELECT day, active_users, engaged_users, suggestions_shown, "
                  "suggestions_accepted, lines_suggested, lines_accepted, chat_sessions, "
                  "agent_sessions, cost, source FROM ai_usage WHERE team = 'payments' "
                  "AND tool = 'copilot' ORDER BY day")
    assert len(got) == 28  # GitHub keeps 28 days; the 12 older ones are not served
    assert got[0][0] == TODAY - timedelta(days=28) and got[-1][0] == TODAY - timedelta(days=1)
    last = data["pay-devs"][-1]
    langs = [lang for e in last["copilot_ide_code_completions"]["editors"]
             for mdl in e["models"] for lang in mdl["languages"]]
    chats = (sum(mdl["total_chats"] for e in last["copilot_ide_chat"]["editors"]
                 for mdl in e["models"])
             + sum(mdl["total_chats"] for mdl in last["copilot_dotcom_chat"]["models"]))
    assert got[-1][1:] == (
        last["total_active_users"], last["total_engaged_users"],
        sum(x["total_code_suggestions"] for x in langs),
        sum(x["total_code_acceptances"] for x in langs),
        sum(x["total_code_lines_suggested"] for x in langs),
        sum(x["total_code_lines_accepted"] for x in langs),
        chats, None, None, "github-copilot:acme team pay-devs")


def test_second_sync_rereads_only_the_overlap_and_counts_nothing_twice(
        with_team: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeCopilot("acme", world(), TODAY) as fake:
        s = settings_with(with_team, fake.url, tmp_path, teams={"pay-devs": "payments"})
        sync(s, monkeypatch)
        before = rows(s, "SELECT id, row_hash FROM ai_usage ORDER BY id")
        fake.requests.clear()
        sync(s, monkeypatch)
        sinces = [q for path, q in fake.requests]
        assert all(f"since={(TODAY - timedelta(days=3)).isoformat()}" in q for q in sinces)
    assert rows(s, "SELECT id, row_hash FROM ai_usage ORDER BY id") == before


def test_a_github_team_mapped_to_an_unknown_team_is_quarantined_with_its_reason(
        with_team: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeCopilot("acme", world(), TODAY) as fake:
        s = settings_with(with_team, fake.url, tmp_path, teams={"ghosts": "no-such-team"})
        sync(s, monkeypatch)
    assert rows(s, "SELECT count(*) FROM ai_usage") == [(0,)]
    assert rows(s, "SELECT DISTINCT type, reason FROM quarantine") == [
        ("ai_usage", "unknown team (team)")]


def test_an_unknown_github_team_fails_its_scope_with_githubs_answer(
        with_team: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeCopilot("acme", world(), TODAY) as fake:
        s = settings_with(with_team, fake.url, tmp_path, teams={"nope": "payments"})
        report = sync(s, monkeypatch)
    assert (len(report.failed) == 1 and "404" in (report.failed[0].error or "")) or \
        "Not Found" in (report.failed[0].error or "")


def test_mapping_leaves_absent_features_empty_not_zero() -> None:
    row = mapping.usage_row({"date": "2026-11-02", "total_active_users": 3,
                             "total_engaged_users": 2}, "payments", "x")
    assert row is not None
    assert (row["suggestions_shown"], row["chat_sessions"], row["active_users"]) == (None, None, 3)
    assert mapping.usage_row({"date": "yesterday"}, "payments", "x") is None


def test_check_names_what_to_fix_before_any_request(tmp_path: Path) -> None:
    src = CopilotSource(org="acme", token_env="SHIPWISE_NO_SUCH_VAR", teams={"devs": "payments"},
                        org_team="payments")
    problems = copilot.CopilotConnector(src).check()
    assert any("org_team: payments" in p for p in problems)
    assert any("SHIPWISE_NO_SUCH_VAR" in p for p in problems)
    assert "map GitHub teams" in copilot.CopilotConnector(
        CopilotSource(org="acme", token_env="SHIPWISE_NO_SUCH_VAR")).check()[0]
