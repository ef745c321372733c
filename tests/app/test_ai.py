"""AI-assisted development (issue 19): adoption levels and dates from usage data, agent-authored
changes beside human ones, the effect door, who may read what, and small teams hidden."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import httpx
import numpy as np
import pytest
from click.testing import CliRunner

from shipwise.app import ai
from shipwise.app.ai_rows import _pretrend_warning, _tension, placebo
from shipwise.app.results import dump
from shipwise.app.tokens import create_token
from shipwise.cli.main import cli
from shipwise.config import AiAdoptionSettings, AiSettings, PrivacySettings, Settings
from shipwise.errors import ForbiddenError, InputError
from shipwise.governance.access import Principal
from shipwise.metrics import ids
from shipwise.metrics.attribution import Effect, Panel
from shipwise.store.duckdb_store import Store
from tests.conftest import cli_env
from tests.server.conftest import serve

from .conftest import caller_of

EXEC = Principal("exec", None, "tok-e", "cfo")
START = date(2025, 1, 1)
DAYS = 600  # to 2026-08-23


def usage(store: Store, team: str, engaged: dict[int, int], *, cost: float = 0.0,
          tool: str = "copilot") -> None:
    """Daily usage rows for ``team``: ``engaged`` maps a month offset from START (0 = 2025-01) to
    the engaged users of every day from that month on (until the next key; 0 before the first)."""
    now = datetime.now(UTC).replace(tzinfo=None)
    rows = []
    for k in range(DAYS):
        d = START + timedelta(days=k)
        m = (d.year - START.year) * 12 + d.month - 1
        e = engaged[max(off for off in engaged if off <= m)] if min(engaged) <= m else 0
        rows.append((f"{team}|{d}|{tool}", team, d, tool, e, e, 100, 30, None, None, 1, 0,
                     cost, "USD", "test", "h", now))
    store.con.executemany("INSERT INTO ai_usage VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                          "?, ?, ?)", rows)


def team_size(store: Store, team: str, month: str) -> int:
    return int(store.query(
        "SELECT count(DISTINCT id) AS n FROM person WHERE team = ? AND NOT bot "
        "AND since <= last_day(CAST(? || '-01' AS DATE)) "
        "AND (\"until\" IS NULL OR \"until\" >= CAST(? || '-01' AS DATE))",
        [team, month, month])[0]["n"])


@pytest.fixture
def org(sample_settings: Settings) -> tuple[Settings, list[str]]:
    """Three teams of the sample organisation with usage: the first engaged from 2025-06 (all
    of its members), the second lightly from 2025-09, the third never engaged (zeros)."""
    with Store.open(sample_settings.db) as store:
        store.con.execute("DELETE FROM ai_usage")  # the demo's own story: these tests plant theirs
        teams = [r["id"] for r in store.query(
            "SELECT t.id FROM team t JOIN person p ON p.team = t.id AND NOT p.bot "
            "GROUP BY t.id HAVING count(DISTINCT p.id) >= 12 ORDER BY t.id LIMIT 3")]
        usage(store, teams[0], {5: 40}, cost=3.0)
        usage(store, teams[1], {8: 1})
        usage(store, teams[2], {0: 0})
    return sample_settings, teams


def by_team(res: dict[str, object]) -> dict[str, dict[str, object]]:
    return {t["team"]: t for t in res["teams"]}  # type: ignore[index,union-attr]


def test_adoption_levels_and_months_come_from_the_usage_data(
        org: tuple[Settings, list[str]]) -> None:
    settings, (heavy, light, never) = org
    with caller_of(settings) as c:
        res = dump(ai.adoption(c))
    teams = by_team(res)
    assert set(teams) == {heavy, light, never}  # teams without usage rows are not in cohorts
    assert teams[heavy]["adopted"] == {"light": "2025-06", "moderate": "2025-06",
                                       "heavy": "2025-06"}
    assert teams[heavy]["level"] == "heavy"
    assert teams[light]["adopted"] == {"light": "2025-09", "moderate": None, "heavy": None}
    assert teams[never]["adopted"] == {"light": None, "moderate": None, "heavy": None}
    row = next(r for r in res["rows"] if r["team"] == light and r["period"] == "2025-10")
    size = row["team_size"]
    with Store.open(settings.db) as store:
        assert size == team_size(store, light, "2025-10")
    # one engaged user every weekday of the month, over the team's members
    assert row["metrics"][ids.AI_ENGAGED_SHARE] == pytest.approx(1 / size)
    assert row["metrics"][ids.AI_ACCEPTANCE_RATE] == pytest.approx(0.3)
    assert row["level"] == "light"
    may = next(c for c in res["cohorts"] if c["period"] == "2025-10")["teams"]
    assert may == {"none": 1, "light": 1, "moderate": 0, "heavy": 1, "hidden": 0}
    spent = [r["spend_amount"] for r in res["rows"] if r["team"] == heavy and r["period"] == "2025-03"]
    assert spent == [pytest.approx(3.0 * 31)]  # every day's cost, weekends included
    assert ids.AI_ADOPTION_LEVEL in res["charter"]


def test_thresholds_are_settings(org: tuple[Settings, list[str]]) -> None:
    settings, (_, light, _) = org
    strict = settings.model_copy(update={"ai": AiSettings(adoption=AiAdoptionSettings(
        light=0.5, moderate=0.6, heavy=0.9))})
    with caller_of(strict) as c:
        res = dump(ai.adoption(c, team=light))
    assert by_team(res)[light]["adopted"]["light"] is None
    assert res["thresholds"] == {"light": 0.5, "moderate": 0.6, "heavy": 0.9}
    with caller_of(settings) as c, pytest.raises(InputError, match="is after until"):
        ai.agents(c, since=date(2026, 1, 1), until=date(2025, 1, 1))
    with caller_of(settings) as c, pytest.raises(InputError, match="calendar"):
        ai.adoption(c, until=date(9999, 12, 31))
    with pytest.raises(ValueError, match="must rise"):
        AiAdoptionSettings(light=0.5, moderate=0.2, heavy=0.9)


def test_a_one_month_spike_is_not_adoption(sample_settings: Settings) -> None:
    """Everyone engaged in 2025-05 only, then again from 2025-09: with the default (a level held
    two months) the team adopted in 2025-09; counting single months, in 2025-05."""
    with Store.open(sample_settings.db) as store:
        store.con.execute("DELETE FROM ai_usage")  # the demo's own story: this test plants its own
        team = store.query("SELECT team FROM person WHERE NOT bot GROUP BY team "
                           "HAVING count(DISTINCT id) >= 12 ORDER BY team LIMIT 1")[0]["team"]
        usage(store, team, {4: 40, 5: 0, 8: 40})
    with caller_of(sample_settings) as c:
        res = dump(ai.adoption(c, team=team))
    assert res["sustain_months"] == 2
    assert by_team(res)[team]["adopted"]["heavy"] == "2025-09"
    assert next(r for r in res["rows"] if r["period"] == "2025-05")["level"] == "heavy"
    single = sample_settings.model_copy(update={"ai": AiSettings(adoption=AiAdoptionSettings(
        light=0.05, moderate=0.25, heavy=0.5, sustain_months=1))})
    with caller_of(single) as c:
        assert by_team(dump(ai.adoption(c, team=team)))[team]["adopted"]["heavy"] == "2025-05"


def test_a_team_smaller_than_the_minimum_group_shows_no_usage(
        org: tuple[Settings, list[str]]) -> None:
    settings, (heavy, _, _) = org
    strict = settings.model_copy(update={"privacy": PrivacySettings(min_group_size=500)})
    with caller_of(strict) as c:
        res = dump(ai.adoption(c, team=heavy))
    assert res["rows"]
    for r in res["rows"]:
        assert set(r["metrics"].values()) == {None}
        assert "fewer than 500 people" in r["suppressed"][ids.AI_ENGAGED_SHARE]
        assert "level" not in r
    (t,) = res["teams"]
    assert t["adopted"] == {} and t["level"] is None and "fewer than 500" in t["suppressed"]
    assert {r["spend_amount"] for r in res["rows"]} == {None}
    # the cohorts count it apart, so its level cannot be worked out by difference
    assert {c["teams"]["hidden"] for c in res["cohorts"]} == {1}
    assert {sum(c["teams"].values()) for c in res["cohorts"]} == {1}
    # nor does the effect estimate use it: neither as an adopter nor as a comparison
    with caller_of(strict, EXEC) as c:
        effect = dump(ai.effect(c))
    assert all(lv["adopted_teams"] == 0 for lv in effect["levels"])
    assert any("3 team(s) smaller than 500 people are left out" in w for w in effect["warnings"])


def test_who_may_read_what(org: tuple[Settings, list[str]]) -> None:
    settings, (heavy, light, _) = org
    member = Principal("member", heavy, "tok-m", "dev")
    with caller_of(settings, member) as c:
        own = dump(ai.adoption(c))  # own team by default
        assert {t["team"] for t in own["teams"]} == {heavy}
        with pytest.raises(ForbiddenError):
            ai.adoption(c, team=light)
        with pytest.raises(ForbiddenError):
            ai.effect(c)
    with caller_of(settings, EXEC) as c:
        assert len(dump(ai.adoption(c))["teams"]) == 3
        with pytest.raises(ForbiddenError):
            ai.agents(c, team=light)


def test_agent_changes_are_counted_apart_and_judged_by_their_deployments(
        sample_settings: Settings) -> None:
    """The commits of one team's failed production deployments are marked as an agent's: the
    agent row holds exactly those deployments, all failed; the kinds' units add up to the team's."""
    with Store.open(sample_settings.db) as store:
        for table in ('"commit"', "pull_request"):  # the demo's own agents: this test plants its own
            store.con.execute(f"UPDATE {table} SET author_kind = 'human', agent = NULL "
                              "WHERE author_kind = 'agent'")
        team = store.query("SELECT team FROM dora_deploy_fact WHERE failed = 1 GROUP BY team "
                           "ORDER BY count(*) DESC, team LIMIT 1")[0]["team"]
        failed = store.query(
            "SELECT f.nkey FROM dora_deploy_fact f WHERE f.team = ? AND f.failed = 1 "
            "AND f.reached_at < TIMESTAMP '2026-01-01'", [team])
        store.con.execute("""
UPDATE "commit" SET author_kind = 'agent', agent = 'coder' WHERE sha_key IN (
  SELECT dc.sha_key FROM deployment d JOIN deployment_commit dc ON dc.deployment_id = d.id
  JOIN dora_deploy_fact f ON f.nkey = CASE WHEN d.version IS NOT NULL
       THEN d.service || '@' || d.version ELSE '#' || d.id END
  WHERE f.team = ? AND f.failed = 1 AND f.reached_at < TIMESTAMP '2026-01-01'
    AND lower(d.environment) = 'production')""", [team])
    assert failed
    with caller_of(sample_settings) as c:
        res = dump(ai.agents(c, team=team, grain="all", until=date(2025, 12, 31)))
    rows = {r["kind"]: r for r in res["rows"]}
    agent = rows["agent"]
    assert agent["deployments"] >= len(failed)
    # every failed deployment is the agent's; deployments that also carried those commits too
    assert agent["metrics"][ids.AI_CHANGE_FAIL_RATE] >= len(failed) / agent["deployments"] - 1e-9
    assert rows["human"]["metrics"][ids.AI_CHANGE_FAIL_RATE] == 0.0
    assert sum(r["units"] for r in rows.values()) == agent["team_units"]
    assert agent["metrics"][ids.AI_UNIT_SHARE] == pytest.approx(agent["units"] / agent["team_units"])
    assert agent["metrics"][ids.AI_CHANGE_LEAD_TIME] is not None


def test_the_effect_door_estimates_every_level_with_intervals_and_warnings(
        org: tuple[Settings, list[str]]) -> None:
    settings, _ = org
    with caller_of(settings, EXEC) as c:
        res = dump(ai.effect(c))
    assert [lv["level"] for lv in res["levels"]] == ["light", "moderate", "heavy"]
    heavy_level = res["levels"][2]
    assert heavy_level["adopted_teams"] == 1 and heavy_level["first_adopted"] == "2025-06"
    for mid in (ids.AI_EFFECT_COST_TO_SERVE, ids.AI_EFFECT_LEAD_TIME,
                ids.AI_EFFECT_CHANGE_FAIL_RATE):
        assert heavy_level["metrics"][mid] is not None
        low, high = heavy_level["intervals"][mid]
        assert low <= heavy_level["metrics"][mid] <= high
    # one adopting team: the estimate says it rests on little
    assert any("only 1 team(s) reached heavy adoption" in w
               for w in heavy_level["warnings"][ids.AI_EFFECT_COST_TO_SERVE])
    # spend: 3.0 a day from the team's adoption month (2025-06) on, through the last day of usage
    days = (START + timedelta(days=DAYS - 1) - date(2025, 6, 1)).days + 1
    assert heavy_level["spend_amount"] == pytest.approx(3.0 * days)
    assert heavy_level["metrics"][ids.AI_RETURN_ON_SPEND] is not None
    # the sample's other teams have no usage rows: read as never adopting, and said so
    assert any("have no usage data" in w and "never adopting" in w for w in res["warnings"])
    assert ids.AI_RETURN_ON_SPEND in res["charter"]


def _e(effect: float, low: float, high: float) -> Effect:
    return Effect(effect, low, high, 5, 5, 50, None, None, None, None, None, None, ())


def test_the_tension_check_asks_whether_faster_and_cheaper_broke_more() -> None:
    cheaper, faster = _e(-0.1, -0.2, -0.05), _e(-0.2, -0.3, -0.1)
    concern = _tension("heavy", cheaper, faster, _e(0.04, 0.01, 0.07))
    assert concern and concern["severity"] == "concern"
    assert "cheaper per unit and faster" in concern["message"]
    assert "breaking more" in concern["message"]
    watch = _tension("heavy", cheaper, faster, _e(0.06, -0.01, 0.12))
    assert watch and watch["severity"] == "watch"
    assert _tension("heavy", cheaper, faster, _e(0.02, -0.01, 0.05)) is None
    assert _tension("heavy", cheaper, faster, _e(-0.02, -0.05, 0.01)) is None


def test_cli(org: tuple[Settings, list[str]]) -> None:
    settings, (heavy, _, _) = org
    runner = CliRunner()
    env = cli_env()
    out = runner.invoke(cli, ["--db", str(settings.db), "ai", "adoption", "--format", "csv"],
                        env=env)
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert lines[0].startswith("team,period,team_size,spend_amount,")
    assert any(line.startswith(f"{heavy},2025-06,") and ",heavy," in line for line in lines)
    out = runner.invoke(cli, ["--db", str(settings.db), "ai", "effect"], env=env)
    assert out.exit_code == 0, out.output
    assert "Effect of reaching each adoption level" in out.output


def test_api_web_and_roles(org: tuple[Settings, list[str]]) -> None:
    """The API routes, the /ai page and the team page's AI section, through the same doors."""
    settings, (heavy, light, _) = org
    with Store.open(settings.db) as store:
        member = create_token(store, "dev", "member", heavy)["token"]
        cfo = create_token(store, "cfo", "exec")["token"]
    with serve(settings) as live:
        def get(path: str, token: str) -> httpx.Response:
            return httpx.get(live.url + path, headers={"Authorization": f"Bearer {token}"},
                             timeout=120)

        res = get(f"/api/v1/teams/{heavy}/ai/adoption", member)
        assert res.status_code == 200, res.text
        assert res.json()["teams"][0]["adopted"]["heavy"] == "2025-06"
        assert get(f"/api/v1/teams/{light}/ai/adoption", member).status_code == 403
        assert get("/api/v1/org/ai/effect", member).status_code == 403
        effect = get("/api/v1/org/ai/effect", cfo)
        assert effect.status_code == 200, effect.text
        assert [lv["level"] for lv in effect.json()["levels"]] == ["light", "moderate", "heavy"]
        agents = get("/api/v1/org/ai/agents?grain=all", cfo).json()
        assert {r["team"] for r in agents["rows"]} >= {"*"}
        page = get("/ai", cfo)
        assert page.status_code == 200 and "Effect of reaching each adoption level" in page.text
        mine = get("/ai", member)
        assert mine.status_code == 200 and "Effect of reaching" not in mine.text
        team_page = get(f"/teams/{heavy}", member)
        assert team_page.status_code == 200 and "AI-assisted development" in team_page.text
        assert "2025-06" in team_page.text


def test_ai_investments_count_as_spend_for_their_adopting_share(
        org: tuple[Settings, list[str]]) -> None:
    """An AI investment of two teams, one of which reached heavy adoption: half of it is the
    heavy level's spend, beside the usage cost; an investment of another kind is not AI spend."""
    settings, (heavy, _, never) = org
    now = datetime.now(UTC).replace(tzinfo=None)
    with Store.open(settings.db) as store:
        currency = store.query("SELECT min(currency) AS c FROM cost")[0]["c"]
        store.con.execute("UPDATE ai_usage SET currency = ?", [currency])
        # the demo's own AI investments: this test plants its own
        demo_ai = "SELECT id FROM investment WHERE lower(kind) LIKE 'ai%'"
        store.con.execute(f"DELETE FROM investment_team WHERE investment_id IN ({demo_ai})")
        store.con.execute(f"DELETE FROM investment WHERE id IN ({demo_ai})")
        for inv, kind, teams in (("copilot-seats", "AI", (heavy, never)),
                                 ("ci", "delivery", (heavy,))):
            store.con.execute("INSERT INTO investment VALUES (?, ?, TIMESTAMP '2025-05-01', "
                              "10000, ?, ?, 'h', ?)", [inv, inv, currency, kind, now])
            for t in teams:
                store.con.execute("INSERT INTO investment_team VALUES (?, ?)", [inv, t])
    with caller_of(settings, EXEC) as c:
        levels = {lv["level"]: lv for lv in dump(ai.effect(c))["levels"]}
    days = (START + timedelta(days=DAYS - 1) - date(2025, 6, 1)).days + 1
    assert levels["heavy"]["spend_amount"] == pytest.approx(3.0 * days + 5000)
    # light: the heavy team and the light one adopted it; the investment's adopting half again
    assert levels["light"]["spend_amount"] == pytest.approx(3.0 * days + 5000)


def _panel(adopters_trend: float, seed: int = 3) -> tuple[Panel, dict[str, int]]:
    """40 teams × 24 months of log cost to serve with noise; 20 adopt at month 8–15 (a −0.1
    effect); the adopters' monthly trend is ``adopters_trend``, the others' zero."""
    rng = np.random.default_rng(seed)
    adopt = {f"t{i}": 8 + i % 8 for i in range(20)}
    rows = [(f"t{i}", m, 8.0 + (adopters_trend * m if f"t{i}" in adopt else 0.0)
             + (-0.1 if m >= adopt.get(f"t{i}", 99) else 0.0) + rng.normal(0, 0.05))
            for i in range(40) for m in range(24)]
    return (Panel(np.array([r[0] for r in rows]), np.array([r[1] for r in rows]),
                  np.array([r[2] for r in rows]), np.ones(len(rows))), adopt)


def test_the_pre_trend_check_warns_when_adopters_were_already_moving_apart() -> None:
    """Adopters already getting 2 % cheaper a month before adopting: the placebo (adoption moved
    six months earlier, on the months before adopting) finds an 'effect' and the warning says
    so; with no such trend it stays quiet."""
    trending = placebo(*_panel(-0.02))
    assert trending is not None and trending.high is not None and trending.high < 0
    (warning,) = _pretrend_warning(trending, "cost to serve")
    assert "pre-trend check failed" in warning and "cost to serve" in warning
    assert _pretrend_warning(placebo(*_panel(0.0)), "cost to serve") == []
