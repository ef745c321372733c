"""Agent-authored pull requests recognised by ``shipwise sync`` of a GitHub source against the
fake GitHub (real HTTP): by the author's login (GitHub's Copilot coding agent, a Bot in
GraphQL) and by a label the user names in ``ai.agents.labels``; everyone else stays a person."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.connectors.github.test_github_connector import ENV, TOKEN, rows, source
from tests.fakes.github import FakeGitHub, World, org_file

from shipwise.app.caller import local_caller
from shipwise.app.owner import import_paths
from shipwise.app.sync import sync_sources
from shipwise.config import AgentSettings, AiSettings, Settings


def test_sync_marks_agent_pull_requests_by_login_and_label(
        settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, TOKEN)
    world = World.generate(repos=1, prs=12, seed=4)
    repo = world.repos[0]
    humans = [p for p in repo.prs if p.author and not p.bot]
    labelled, agent = humans[0], humans[1]
    labelled.labels = ["AI-Generated", "backend"]
    agent.author, agent.bot = "Copilot", True
    import_paths(settings, [org_file(world, tmp_path / "org")])
    with FakeGitHub(world, token=TOKEN) as gh:
        s = settings.model_copy(update={
            "sources": [source(gh, world)],
            "ai": AiSettings(agents=AgentSettings(labels={"ai-generated": "house-agent"}))})
        with local_caller(s) as caller:
            report = sync_sources(caller)
    assert not report.failed
    got = {n: (kind, name, author) for n, kind, name, author in rows(
        s, "SELECT number, author_kind, agent, author FROM pull_request")}
    assert got[labelled.number][:2] == ("agent", "house-agent")
    assert got[labelled.number][2].startswith("p_")  # the person who used the agent: a pseudonym
    assert got[agent.number] == ("agent", "copilot", "bot:copilot[bot]")
    others = {v[0] for n, v in got.items() if n not in (labelled.number, agent.number)}
    assert others <= {"human", "bot"} and "human" in others
