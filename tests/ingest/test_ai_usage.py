"""AI usage in through the canonical importer: team-level rows from CSV and Parquet (the same
file twice counts nothing twice; bad rows quarantined with their reason), per-person rows summed
into the team of each person that day and never stored per person, and who made a change
(``author_kind``) decided at ingest from the ``ai.agents`` settings before pseudonymisation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from shipwise.app.owner import import_paths
from shipwise.config import AgentSettings, AiSettings, CopilotSource, Settings, load_settings
from tests.conftest import org, write_jsonl

HEADER = ("team,day,tool,active_users,engaged_users,suggestions_shown,suggestions_accepted,"
          "lines_suggested,lines_accepted,chat_sessions,agent_sessions,cost,currency\n")


def rows(settings: Settings, sql: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(settings.db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def with_org(settings: Settings, tmp_path: Path) -> None:
    import_paths(settings, [write_jsonl(tmp_path / "org.jsonl", org(
        (("payments", "pay-api"), ("checkout", "checkout-api"))))])


def test_team_usage_csv_is_stored_and_the_same_file_twice_changes_nothing(
        settings: Settings, tmp_path: Path) -> None:
    with_org(settings, tmp_path)
    f = tmp_path / "ai_usage.csv"
    f.write_text(HEADER
                 + "payments,2026-11-02,copilot,7,5,300,90,510,120,14,,4.37,USD\n"
                 + "payments,2026-11-02,Claude-Code,3,3,,,,,,11,26.40,USD\n"
                 + "checkout,2026-11-02,copilot,0,0,0,0,0,0,0,,4.37,USD\n")
    first = import_paths(settings, [f])
    assert first.counts["ai_usage"].inserted == 3
    stored = rows(settings, "SELECT id, active_users, suggestions_shown, agent_sessions, cost "
                            "FROM ai_usage ORDER BY id")
    assert stored == [("checkout|2026-11-02|copilot", 0, 0, None, 4.37),
                      ("payments|2026-11-02|Claude-Code", 3, None, 11, 26.40),
                      ("payments|2026-11-02|copilot", 7, 300, None, 4.37)]
    second = import_paths(settings, [f])
    c = second.counts["ai_usage"]
    assert (c.inserted, c.updated, c.unchanged) == (0, 0, 3)
    assert rows(settings, "SELECT count(*) FROM ai_usage") == [(3,)]
    # a corrected day replaces the day (one key: team, day, tool)
    f.write_text(HEADER + "payments,2026-11-02,copilot,8,5,300,90,510,120,14,,4.37,USD\n")
    assert import_paths(settings, [f]).counts["ai_usage"].updated == 1
    assert rows(settings, "SELECT active_users FROM ai_usage WHERE id = "
                          "'payments|2026-11-02|copilot'") == [(8,)]


def test_bad_usage_rows_are_quarantined_with_their_reason(settings: Settings, tmp_path: Path) -> None:
    with_org(settings, tmp_path)
    f = tmp_path / "ai_usage.csv"
    f.write_text(HEADER
                 + "payments,2026-11-03,copilot,-1,,1,1,,,,,,\n"           # negative
                 + "nobody,2026-11-03,copilot,1,1,1,1,,,,,,\n"             # unknown team
                 + "payments,2026-11-31,copilot,1,1,1,1,,,,,,\n"           # no such date
                 + "payments,2026-11-03,cursor,1,1,1,1,,,,,5,\n"           # cost, no currency
                 + "payments,2026-11-03,aider,1,1,10,11,,,,,,\n"           # accepted > shown
                 + "payments,2026-11-03,codex,2,3,,,,,,,,\n"               # engaged > active
                 + "payments,2026-11-03,copilot,4,2,10,3,,,,,,\n")         # fine
    report = import_paths(settings, [f])
    assert report.counts["ai_usage"].inserted == 1
    assert report.counts["ai_usage"].quarantined == 6
    assert sorted(r.split(": ", 1)[1] for r in report.reasons) == sorted([
        "active_users: negative", "unknown team (team)", "day: expected a date YYYY-MM-DD",
        "currency: required with cost", "suggestions_accepted: more than suggestions_shown",
        "engaged_users: more than active_users"])
    assert rows(settings, "SELECT count(*) FROM quarantine WHERE type = 'ai_usage'") == [(6,)]


def test_parquet_usage_imports_like_csv(settings: Settings, tmp_path: Path) -> None:
    with_org(settings, tmp_path)
    table = pa.table({"team": ["payments"] * 2, "day": pa.array([20394, 20395], pa.date32()),
                      "tool": ["copilot", "copilot"], "active_users": [4, 5],
                      "cost": [1.5, 1.5], "currency": ["EUR", "EUR"]})
    pq.write_table(table, tmp_path / "ai_usage.parquet")
    report = import_paths(settings, [tmp_path / "ai_usage.parquet"])
    assert report.counts["ai_usage"].inserted == 2
    assert rows(settings, "SELECT day::VARCHAR, active_users, engaged_users, currency FROM "
                          "ai_usage ORDER BY day") == [("2025-11-02", 4, None, "EUR"),
                                                        ("2025-11-03", 5, None, "EUR")]


def test_per_person_usage_is_summed_into_teams_and_never_stored_per_person(
        settings: Settings, tmp_path: Path) -> None:
    with_org(settings, tmp_path)
    people = tmp_path / "people.csv"
    people.write_text("id,team,since,until\nana@acme.test,payments,2025-01-01,2026-11-03\n"
                      "ana@acme.test,checkout,2026-11-04,\nbo@acme.test,payments,2025-01-01,\n"
                      "cy@acme.test,payments,2025-01-01,\n")
    f = tmp_path / "ai_usage_people.csv"
    f.write_text("person,day,tool,engaged,suggestions_shown,suggestions_accepted,cost,currency\n"
                 "Ana@Acme.test,2026-11-03,copilot,true,100,30,0.62,USD\n"
                 "bo@acme.test,2026-11-03,copilot,false,50,10,0.62,USD\n"
                 "cy@acme.test,2026-11-03,copilot,true,40,50,0.62,USD\n"     # accepted > shown
                 "ana@acme.test,2026-11-04,copilot,true,70,20,0.62,USD\n"    # moved team
                 "zed@acme.test,2026-11-04,copilot,true,70,20,0.62,USD\n")   # in no team
    report = import_paths(settings, [people, f])
    assert report.counts["ai_usage_person"].passed_on == 3
    assert report.counts["ai_usage_person"].quarantined == 2
    assert rows(settings, "SELECT team, day::VARCHAR, active_users, engaged_users, "
                          "suggestions_shown, suggestions_accepted, cost FROM ai_usage "
                          "ORDER BY day, team") == [
        ("payments", "2026-11-03", 2, 1, 150, 40, 1.24),
        ("checkout", "2026-11-04", 1, 1, 70, 20, 0.62)]
    again = import_paths(settings, [people, f])
    assert again.counts["ai_usage"].unchanged == 2 and again.counts["ai_usage"].inserted == 0
    # nothing per person anywhere: no table holds the people's ids or pseudonyms beside usage,
    # and the quarantined row keeps its counts but not its person
    (raw,) = rows(settings, "SELECT raw FROM quarantine WHERE type = 'ai_usage_person'")[0]
    assert "person" not in json.loads(raw) and "acme.test" not in raw
    con = duckdb.connect(str(settings.db), read_only=True)
    for (table,) in con.execute("SELECT table_name FROM information_schema.tables").fetchall():
        text = json.dumps(con.execute(f'SELECT * FROM "{table}"').fetchall(), default=str)
        assert "acme.test" not in text.lower(), table
    con.close()


def commit(sha: str, author: str, **kw: Any) -> dict[str, Any]:
    return {"type": "commit", "sha": sha, "repo": "pay-api", "author": author,
            "authored_at": "2026-11-02T10:00:00Z", "committed_at": "2026-11-02T10:05:00Z",
            "additions": 3, "deletions": 1, **kw}


def pr(n: int, author: str, **kw: Any) -> dict[str, Any]:
    return {"type": "pull_request", "id": f"pay-api#{n}", "repo": "pay-api", "number": n,
            "author": author, "created_at": "2026-11-02T09:00:00Z", **kw}


def test_who_made_a_change_is_decided_at_ingest_before_pseudonymisation(
        settings: Settings, tmp_path: Path) -> None:
    s = settings.model_copy(update={"ai": AiSettings(agents=AgentSettings(
        accounts={"acme-agent[bot]": "acme-agent", "copilot-swe-agent*": "copilot"},
        bots=["renovate*"]))})
    f = write_jsonl(tmp_path / "changes.jsonl", [
        *org(),
        commit("c1", "ana@acme.test"),                               # a person
        commit("c2", "acme-agent[bot]"),                             # a configured agent
        commit("c3", "renovate[bot]"),                               # a plain bot
        commit("c4", "bo@acme.test", author_kind="agent", agent="claude"),  # said by the file
        commit("c5", "release-bot"),                                 # a bot by bots.patterns
        commit("c6", "cy@acme.test", agent="aider"),                 # an agent named: its change
        pr(1, "copilot-swe-agent[bot]"), pr(2, "ana@acme.test"),
        pr(3, "ana@acme.test", author_kind="AGENT", agent="devin"),
        pr(4, "ana@acme.test", author_kind="robot"),                 # not a kind: quarantined
    ])
    report = import_paths(s, [f])
    assert report.counts["pull_request"].quarantined == 1
    got = dict((sha, (kind, agent, author.startswith("bot:"), author_bot)) for
               sha, kind, agent, author, author_bot in rows(
                   s, "SELECT sha, author_kind, agent, author, author_is_bot FROM \"commit\""))
    assert got == {"c1": ("human", None, False, False),
                   "c2": ("agent", "acme-agent", True, True),  # not a person: no pseudonym
                   "c3": ("bot", None, True, True),
                   "c4": ("agent", "claude", False, False),    # a person with an agent
                   "c5": ("bot", None, True, True),
                   "c6": ("agent", "aider", False, False)}
    assert rows(s, "SELECT number, author_kind, agent, author FROM pull_request ORDER BY 1") == [
        (1, "agent", "copilot", "bot:copilot-swe-agent[bot]"),
        (2, "human", None, rows(s, "SELECT author FROM \"commit\" WHERE sha = 'c1'")[0][0]),
        (3, "agent", "devin", rows(s, "SELECT author FROM \"commit\" WHERE sha = 'c1'")[0][0])]
    # the same file again: nothing changes
    again = import_paths(s, [f])
    assert again.counts["commit"].unchanged == 6 and again.counts["commit"].updated == 0


def test_settings_file_names_agents_and_a_copilot_source(tmp_path: Path) -> None:
    f = tmp_path / "shipwise.yaml"
    f.write_text("""
ai:
  agents:
    accounts: {"acme-agent[bot]": house-agent}
    labels: {ai-generated: house-agent}
sources:
  - kind: github-copilot
    org: acme
    teams: {payments-devs: payments}
""")
    s = load_settings(config_file=f, db=tmp_path / "s.duckdb")
    assert s.ai.agents.accounts == {"acme-agent[bot]": "house-agent"}
    assert s.ai.agents.co_authors  # the defaults of keys not set stay
    (src,) = s.sources
    assert isinstance(src, CopilotSource) and src.id == "github-copilot"
    assert src.teams == {"payments-devs": "payments"} and src.token_env == "GITHUB_TOKEN"
