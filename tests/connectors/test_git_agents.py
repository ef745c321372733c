"""Agent-authored commits recognised by ``shipwise ingest git`` on a real repository made with
the git CLI: ``Co-authored-by`` trailers naming an agent, an agent account as the author, plain
bots kept apart whatever they quote, people who worked with an agent kept as pseudonyms, and the
user's own patterns from ``ai.agents``."""

from __future__ import annotations

from pathlib import Path

import duckdb
from tests.connectors.test_git_connector import Repo

from shipwise.app.owner import ingest_git
from shipwise.config import AgentSettings, AiSettings, Settings
from shipwise.connectors.git import read_repository
from shipwise.governance.agents import AgentRules, co_authors


def repo_with_agents(path: Path) -> dict[str, str]:
    r = Repo(path)
    return {
        "plain": r.commit({"a.txt": "1\n"}, "Fix the rounding"),
        "claude": r.commit({"a.txt": "2\n"}, "Add retries\n\nCo-Authored-By: Claude <noreply@anthropic.com>\n"),
        "copilot-trailer": r.commit(
            {"a.txt": "3\n"}, "Tidy\n\nCo-authored-by: Copilot <175728472+Copilot@users.noreply.github.com>\n",
            email="bo@example.com", name="Bo"),
        "copilot-account": r.commit({"b.txt": "1\n"}, "Initial plan",
                                    email="198982749+Copilot@users.noreply.github.com", name="Copilot"),
        "dependabot": r.commit(
            {"c.txt": "1\n"}, "Bump x\n\nCo-authored-by: Claude <noreply@anthropic.com>\n",
            email="49699333+dependabot[bot]@users.noreply.github.com", name="dependabot[bot]"),
        "pair": r.commit({"a.txt": "4\n"}, "Pairing\n\nCo-authored-by: Cy <cy@example.com>\n"),
        "house-agent": r.commit({"d.txt": "1\n"}, "Generated\n\nCo-authored-by: HouseBot <agent@acme.test>\n"),
    }


def test_trailers_and_accounts_decide_who_made_each_commit(settings: Settings, tmp_path: Path) -> None:
    shas = repo_with_agents(tmp_path / "pay")
    s = settings.model_copy(update={"ai": AiSettings(agents=AgentSettings(
        co_authors={**AgentSettings().co_authors, "*<agent@acme.test>": "house-agent"}))})
    ingest_git(s, tmp_path / "pay")
    con = duckdb.connect(str(s.db), read_only=True)
    got = {sha: (kind, agent, author) for sha, kind, agent, author in con.execute(
        'SELECT sha, author_kind, agent, author FROM "commit"').fetchall()}
    con.close()
    kinds = {name: got[sha][:2] for name, sha in shas.items()}
    assert kinds == {
        "plain": ("human", None),
        "claude": ("agent", "claude"),
        "copilot-trailer": ("agent", "copilot"),
        "copilot-account": ("agent", "copilot"),
        "dependabot": ("bot", None),                 # a plain bot stays a bot
        "pair": ("human", None),                     # a person co-author is not an agent
        "house-agent": ("agent", "house-agent"),     # the user's own pattern
    }
    # a person who worked with an agent stays a pseudonym; the agent account is no person
    assert got[shas["claude"]][2].startswith("p_") and got[shas["claude"]][2] == got[shas["plain"]][2]
    assert got[shas["copilot-account"]][2] == "bot:198982749+copilot@users.noreply.github.com"
    assert "example.com" not in " ".join(a for _, _, a in got.values() if a.startswith("p_"))


def test_reading_alone_keeps_no_message_and_decides_without_the_store(tmp_path: Path) -> None:
    repo_with_agents(tmp_path / "pay")
    batch = read_repository(tmp_path / "pay", "pay", agents=AgentRules.of(AgentSettings()))
    assert "message" not in batch.commits.column_names
    assert sorted(k for k in batch.commits["author_kind"].to_pylist() if k) == [
        "agent", "agent", "agent", "bot"]  # undecided ones are left to the importer


def test_co_authors_reads_every_trailer_in_any_case() -> None:
    msg = "x\n\nCo-authored-by: A <a@x>\nco-authored-BY:  B <b@x>  \nSigned-off-by: C <c@x>\n"
    assert co_authors(msg) == ["A <a@x>", "B <b@x>"]
