"""The weekly team digest (docs/notifications.md): one team against its own past weeks, never
other teams or people, small groups suppressed as the doors suppress them; sent to Slack once
per team and week."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from shipwise.app.caller import Caller
from shipwise.app.humane import team_diagnostics
from shipwise.app.notify import digest
from shipwise.app.results import dump
from shipwise.config import Settings
from shipwise.errors import ConfigError, ForbiddenError
from shipwise.governance.access import LOCAL_ADMIN, Principal
from shipwise.notify.settings import NotifySettings
from shipwise.store.duckdb_store import Store
from tests.conftest import cli_env
from tests.fakes import notify as fake

WEEK = "2026-W38"


@pytest.fixture
def receivers() -> Iterator[fake.Receivers]:
    with fake.Receivers() as r:
        yield r


def caller(settings: Settings, principal: Principal = LOCAL_ADMIN) -> Caller:
    return Caller(Store.open(settings.db), principal, settings)


def test_the_team_against_its_own_past_with_small_groups_hidden(
        sample_settings: Settings) -> None:
    c = caller(sample_settings)
    try:
        d = digest(c, "payments", week=WEEK)
        flow_rows = dump(team_diagnostics(c, "flow", ("payments",), grain="week"))["rows"]
        teams = [str(r[0]) for r in c.store.con.execute("SELECT id FROM team").fetchall()]
    finally:
        c.store.close()
    assert d.team == "payments" and d.week == WEEK
    assert [s.family for s in d.sections] == ["dora", "flow", "strain"]
    text = d.text + json.dumps(d.blocks)
    assert "Payments" in text
    assert not [t for t in teams if t != "payments" and t in text]  # no other team, no ranking
    (week_row,) = [r for r in flow_rows if r["period"] == WEEK]
    flow = next(s for s in d.sections if s.family == "flow")
    for line in flow.lines:
        if line.metric in (week_row.get("suppressed") or {}):
            assert line.hidden and line.value is None and line.shown is None
            assert f"{line.label}: hidden" in d.text
        else:
            assert line.hidden is None
    assert any(line.hidden for s in d.sections for line in s.lines), "the sample hides some"
    dora = next(s for s in d.sections if s.family == "dora")
    assert any(line.usual is not None for line in dora.lines)


def test_sent_once_per_team_and_week(sample_settings: Settings, receivers: fake.Receivers,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_WEBHOOK_URL", receivers.url + fake.SLACK_HOOK)
    s = sample_settings.model_copy(update={"notify": NotifySettings.model_validate(
        {"channels": [{"kind": "slack_webhook"}], "digest": {"channel": "slack_webhook"}})})
    c = caller(s)
    try:
        first = digest(c, "payments", week=WEEK, send=True)
        again = digest(c, "payments", week=WEEK, send=True)
    finally:
        c.store.close()
    assert first.queued and first.delivered
    assert not again.queued
    (post,) = receivers.posts
    assert receivers.problems == []
    assert post.body["blocks"][0]["text"]["text"] == f"Weekly digest: Payments, {WEEK}"


def test_no_digest_channel_is_a_clear_error(sample_settings: Settings) -> None:
    c = caller(sample_settings)
    try:
        with pytest.raises(ConfigError, match="no digest channel"):
            digest(c, "payments", week=WEEK, send=True)
    finally:
        c.store.close()


def test_another_teams_member_is_refused(sample_settings: Settings) -> None:
    c = caller(sample_settings, Principal("member", "search", "t-s", "searcher"))
    try:
        with pytest.raises(ForbiddenError):
            digest(c, "payments", week=WEEK)
    finally:
        c.store.close()


def test_cli(sample_settings: Settings, tmp_path: Path, receivers: fake.Receivers) -> None:
    (tmp_path / "shipwise.yaml").write_text(yaml.safe_dump({"notify": {
        "channels": [{"kind": "slack_webhook"}], "digest": {"channel": "slack_webhook"}}}))
    env = cli_env(SLACK_WEBHOOK_URL=receivers.url + fake.SLACK_HOOK)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "shipwise", *args], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=120)

    out = run("notify", "digest", "--team", "payments", "--week", WEEK, "--send")
    assert out.returncode == 0, out.stderr
    assert f"Weekly digest: Payments, {WEEK}" in out.stdout and "queued: delivered" in out.stdout
    status = run("notify", "status", "--format", "json")
    assert status.returncode == 0, status.stderr
    res = json.loads(status.stdout)
    assert (res["pending"], res["delivered"], res["failed"]) == (0, 1, 0)
    assert run("notify", "deliver").stdout.startswith("delivered 0")
    bad = run("notify", "digest", "--team", "payments", "--week", "2026-39")
    assert bad.returncode == 1 and "not an ISO week" in bad.stderr
    assert len(receivers.posts) == 1
