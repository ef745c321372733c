"""The demo's AI story (issue 19): teams adopt an assistant and an agent at different times and
intensities, agent-authored changes rise after adoption, one team's agent changes break more
than its people's while the others' do not, the agents' spend is an investment, and all of it
is the same for the same seed."""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb
import pytest

from shipwise.demo.generator import DemoOrg, generate


@pytest.fixture(scope="module")
def demo() -> DemoOrg:
    return generate()


@pytest.fixture(scope="module")
def db(demo: DemoOrg) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    for name, table in demo.tables.items():
        con.register(name, table)
    return con


def test_teams_adopt_at_different_times_and_intensities(demo: DemoOrg,
                                                        db: duckdb.DuckDBPyConnection) -> None:
    adoption: dict[str, Any] = demo.story["ai_adoption"]  # type: ignore[assignment]
    levels = {a["level"] for a in adoption.values()}
    assert levels == {"heavy", "moderate", "light"}
    assert len({a["from"] for a in adoption.values()}) >= 5  # staggered
    never = {t for (t,) in db.execute("SELECT id FROM team").fetchall()} - set(adoption)
    assert never, "some teams never adopt: the comparison group"
    first = dict(db.execute("SELECT team, min(day) FROM ai_usage WHERE tool = 'copilot' "
                            "GROUP BY 1").fetchall())
    assert first == {t: a["from"] for t, a in adoption.items()}
    assert not db.execute(f"SELECT 1 FROM ai_usage WHERE team IN "
                          f"({', '.join(repr(t) for t in never)})").fetchall()
    # intensity: active users per team member on weekdays of the last month
    share = dict(db.execute("""SELECT u.team, avg(u.active_users) FROM ai_usage u
        WHERE u.tool = 'copilot' AND u.day >= DATE '2026-09-01' AND dayofweek(u.day) BETWEEN 1 AND 5
        GROUP BY 1""").fetchall())
    size = dict(db.execute("""SELECT team, count(*) FROM person WHERE NOT bot AND until IS NULL
        GROUP BY 1""").fetchall())
    by_level: dict[str, list[float]] = {}
    for team, a in adoption.items():
        by_level.setdefault(a["level"], []).append(share[team] / size[team])
    assert min(by_level["heavy"]) > max(by_level["moderate"]) > 0
    assert min(by_level["moderate"]) > max(by_level["light"]) > 0
    # the key is one row per team, day and tool; counts within their bounds; seats cost money
    assert db.execute("SELECT count(*) - count(DISTINCT (team, day, tool)) FROM ai_usage").fetchone() == (0,)
    assert db.execute("""SELECT count(*) FROM ai_usage WHERE engaged_users > active_users
        OR suggestions_accepted > suggestions_shown OR lines_accepted > lines_suggested
        OR cost < 0""").fetchone() == (0,)
    assert db.execute("SELECT min(cost) > 0 FROM ai_usage WHERE tool = 'copilot'").fetchone() == (True,)


def test_agent_changes_rise_after_the_agent_arrives(demo: DemoOrg,
                                                    db: duckdb.DuckDBPyConnection) -> None:
    adoption: dict[str, Any] = demo.story["ai_adoption"]  # type: ignore[assignment]
    agents: list[str] = demo.story["ai_agent_teams"]  # type: ignore[assignment]
    assert agents and all("agent_from" in adoption[t] for t in agents)
    for team in agents:
        start: dt.date = adoption[team]["agent_from"]
        before, early, late = db.execute(f"""SELECT
            avg((p.author_kind = 'agent')::INT) FILTER (WHERE p.created_at < DATE '{start}'),
            avg(coalesce(p.author_kind = 'agent', FALSE)::INT) FILTER (WHERE p.created_at
                BETWEEN DATE '{start}' AND DATE '{start}' + INTERVAL 30 DAY),
            avg(coalesce(p.author_kind = 'agent', FALSE)::INT) FILTER (WHERE p.created_at
                >= DATE '2026-09-01')
            FROM pull_request p JOIN service s ON s.id = p.repo WHERE s.team = '{team}'""").fetchone()
        assert before is None and late > 0.2 and late > early, (team, early, late)
        # an agent pull request's commits are the agent's too
        assert db.execute(f"""SELECT count(*) FROM pull_request p, unnest(p.commits) u(sha)
            JOIN "commit" c ON c.sha = u.sha JOIN service s ON s.id = p.repo
            WHERE s.team = '{team}' AND p.author_kind = 'agent'
              AND c.author_kind IS DISTINCT FROM 'agent'""").fetchone() == (0,)
    assert db.execute("SELECT count(*) FROM pull_request WHERE author_kind = 'agent' AND "
                      "agent IS DISTINCT FROM 'claude'").fetchone() == (0,)


def failure_rates(db: duckdb.DuckDBPyConnection, team: str, since: dt.date) -> tuple[float, float]:
    """Change fail rate of the team's production deployments since ``since``: those carrying an
    agent-authored commit, and the others."""
    rows = dict(db.execute(f"""
        WITH d AS (SELECT d.id, d.status, d.commits FROM deployment d JOIN service s ON s.id = d.service
                   WHERE s.team = '{team}' AND d.environment = 'production' AND d.kind = 'normal'
                   AND d.finished_at >= DATE '{since}'),
        agent AS (SELECT DISTINCT d.id FROM d, unnest(d.commits) u(sha) JOIN "commit" c ON c.sha = u.sha
                  WHERE c.author_kind = 'agent')
        SELECT d.id IN (SELECT id FROM agent),
               avg((d.status <> 'success' OR EXISTS (SELECT 1 FROM incident i WHERE i.caused_by = d.id))::INT)
        FROM d GROUP BY 1""").fetchall())
    return rows.get(True, 0.0), rows.get(False, 0.0)


def test_one_teams_agent_changes_break_more_and_the_others_do_not(
        demo: DemoOrg, db: duckdb.DuckDBPyConnection) -> None:
    fragile: str = demo.story["ai_fragile_agent_team"]  # type: ignore[assignment]
    adoption: dict[str, Any] = demo.story["ai_adoption"]  # type: ignore[assignment]
    agent_rate, other_rate = failure_rates(db, fragile, adoption[fragile]["agent_from"])
    assert agent_rate > 0.2 and agent_rate > 5 * max(other_rate, 0.01), (agent_rate, other_rate)
    for team in demo.story["ai_agent_teams"]:  # type: ignore[attr-defined]
        if team != fragile:
            a, _ = failure_rates(db, team, adoption[team]["agent_from"])
            assert a < 0.5 * agent_rate, (team, a)


def test_agent_spend_is_an_investment_of_the_agent_teams(demo: DemoOrg,
                                                         db: duckdb.DuckDBPyConnection) -> None:
    teams, amount, kind = db.execute("SELECT teams, amount, kind FROM investment "
                                     "WHERE id = 'inv-ai-agents'").fetchone()
    assert sorted(teams) == sorted(demo.story["ai_agent_teams"])  # type: ignore[arg-type]
    spent = db.execute("SELECT sum(cost) FROM ai_usage WHERE tool = 'claude-code'").fetchone()[0]
    assert kind == "ai-tools" and amount == pytest.approx(spent, abs=0.5)


def test_the_story_is_the_same_for_the_same_seed(demo: DemoOrg) -> None:
    again = generate()
    for name in ("ai_usage", "pull_request", "commit", "incident", "investment"):
        assert again.tables[name].equals(demo.tables[name]), name
    other = generate(seed=8)
    assert not other.tables["ai_usage"].equals(demo.tables["ai_usage"])
