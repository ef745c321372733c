"""AI-assisted development in the demo: who adopted assistants and agents, when and how much
(``ai_usage`` per team, day and tool), which changes agents made, and what they cost.

The story (per block of fifteen teams, by catalogue slug):

* **heavy** adopters — the teams of the AI coding assistant pilot (``TeamSpec.ai``: checkout,
  mobile-app, web-storefront) — take the assistant (``copilot``) from the pilot's day, ramping
  over 45 days to most of the team, and a coding agent (``claude-code``) two and a half months
  later; after that a growing share of their pull requests (and the commits in them) is
  agent-authored, up to about a third;
* **moderate** adopters (payments, search, identity) take the assistant earlier, at different
  times, for about half the team, and no agent;
* **light** adopters (catalog, notifications, customer-care) try it at different times (one a
  month before the pilot, two after it), for a fifth of the team; the other teams never use one;
* one team's agent changes break more (:data:`FRAGILE_AGENT_TEAM`): its agent-authored pull
  requests are drawn three times as often among the changes that a failed or rolled-back
  production deployment carried, and each of its production deployments carrying an
  agent-authored commit causes an incident with chance :data:`FRAGILE_INCIDENT`
  (:func:`agent_breakage`), so its agent changes' change fail rate is well above its people's,
  while the other agent teams' agent changes fail like their human ones.

Usage counts follow the team's people on the day (weekends a tenth), with acceptance rates like
GitHub's published Copilot figures (about 30 % of suggestions); seats cost 19 USD a month for
every licensed person (a day's share in each row), agent sessions 2.40 USD each. The agents'
spend is also an investment record (``inv-ai-agents``, kind ``ai-tools``) so that cost
attribution sees it. Nothing here draws from the simulation's main random stream (a stream of
its own, from the same seed): the rest of the demo is the same records as before, plus the
fragile team's agent incidents (``INC-AI-…``) and the agents' investment.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shipwise.demo.arrays import TS
from shipwise.demo.sim import Sim
from shipwise.demo.story import CATALOG

#: slug -> (level, days after the pilot the assistant starts, share of the team that uses it)
ASSISTANT: dict[str, tuple[str, int, float]] = {
    "checkout": ("heavy", 0, 0.85), "mobile-app": ("heavy", 0, 0.85),
    "web-storefront": ("heavy", 0, 0.85),
    "payments": ("moderate", -150, 0.5), "search": ("moderate", -110, 0.5),
    "identity": ("moderate", -60, 0.5),
    "catalog": ("light", 20, 0.2), "notifications": ("light", 40, 0.2),
    "customer-care": ("light", -30, 0.2),
}
ASSISTANT_TOOL, AGENT_TOOL, AGENT_NAME = "copilot", "claude-code", "claude"
#: the agent starts this many days after the team's assistant (heavy adopters only)
AGENT_AFTER_DAYS = 75
AGENT_RAMP_DAYS = 90
#: the share of a heavy adopter's pull requests an agent authors once ramped up
AGENT_SHARE = 0.32
#: the team whose agent changes break more, and by how much more often they are drawn among
#: the changes failed deployments carried
FRAGILE_AGENT_TEAM = "checkout"
FRAGILE_BIAS = 3.0
#: the chance that a production deployment of the fragile team carrying agent-authored commits
#: causes an incident (on top of what it would have caused anyway)
FRAGILE_INCIDENT = 0.3
SEAT_PER_MONTH = 19.0
AGENT_SESSION_COST = 2.40


@dataclass(frozen=True)
class AiWorld:
    usage: pa.Table
    #: per pull request and per commit: author_kind ('agent' or None: decided at ingest) and agent
    pr_kind: pa.Array
    pr_agent: pa.Array
    commit_kind: pa.Array
    commit_agent: pa.Array
    #: the agents' spend as an investment (one row of the investment table's columns)
    investment: dict[str, object]
    story: dict[str, object]
    #: the fragile team and the day its agent started (-1: none)
    fragile_team: int
    fragile_from: int
    rng: np.random.Generator


def ai_world(sim: Sim, prs: dict[str, np.ndarray], commits: dict[str, np.ndarray],
             failed_commit: np.ndarray) -> AiWorld:
    """The demo's AI adoption. ``prs``/``commits`` are the snapshot's arrays (``service``,
    ``author``, ``created`` / ``pr``); ``failed_commit`` flags the commits a failed or
    rolled-back production deployment carried."""
    o, p = sim.org, sim.plan
    rng = np.random.default_rng([sim.seed, 19])
    slug = np.array([CATALOG[pos].slug for pos in o.pos])
    n_teams, days = len(o.team_id), p.days
    start = np.full(n_teams, -1)
    share = np.zeros(n_teams)
    level = np.array(["none"] * n_teams, dtype=object)
    for i, s in enumerate(slug):
        if s in ASSISTANT:
            lvl, offset, sh = ASSISTANT[s]
            start[i] = min(max(p.ai_day + offset, 0), days - 1)
            share[i], level[i] = sh, lvl
    agent_start = np.where(level == "heavy", np.minimum(start + AGENT_AFTER_DAYS, days - 1), -1)

    d = np.arange(days)
    weekday = ((p.start.weekday() + d) % 7) < 5
    people = np.maximum(np.round(sim.fte[:, :days]), 0.0)
    ramp = np.clip((d[None, :] - start[:, None]) / 45.0, 0.0, 1.0) * (start[:, None] >= 0)
    seats = np.where(d[None, :] >= start[:, None], np.ceil(people * np.minimum(share[:, None] * 1.15, 1.0)), 0)
    seats = seats * (start[:, None] >= 0)
    use = people * share[:, None] * ramp * np.where(weekday, 1.0, 0.1)[None, :]
    active = rng.binomial(np.minimum(seats, people).astype(np.int64),
                          np.clip(np.divide(use, np.maximum(np.minimum(seats, people), 1)), 0, 1))
    engaged = rng.binomial(active, 0.8)
    shown = rng.poisson(active * 55.0)
    accepted = rng.binomial(shown, 0.28 + 0.04 * ramp)
    lines_sug = rng.poisson(shown * 1.7)
    lines_acc = rng.binomial(lines_sug, 0.24 + 0.04 * ramp)
    chats = rng.poisson(active * 1.2)
    seat_cost = seats * SEAT_PER_MONTH * 12 / 365

    aramp = np.clip((d[None, :] - agent_start[:, None]) / AGENT_RAMP_DAYS, 0.0, 1.0) * (agent_start[:, None] >= 0)
    a_users = rng.binomial(np.minimum(seats, people).astype(np.int64),
                           np.clip(0.45 * aramp * np.where(weekday, 1.0, 0.05)[None, :], 0, 1))
    sessions = rng.poisson(a_users * 1.6)

    rows_a = np.argwhere((start[:, None] >= 0) & (d[None, :] >= start[:, None]))
    rows_g = np.argwhere((agent_start[:, None] >= 0) & (d[None, :] >= agent_start[:, None]))
    team = np.concatenate([rows_a[:, 0], rows_g[:, 0]])
    day = np.concatenate([rows_a[:, 1], rows_g[:, 1]])
    na, ng = rows_a.shape[0], rows_g.shape[0]
    ta, da = rows_a[:, 0], rows_a[:, 1]
    tg, dg = rows_g[:, 0], rows_g[:, 1]

    def both(a: np.ndarray, g: np.ndarray | None) -> pa.Array:
        if g is None:
            return pa.array(np.concatenate([a[ta, da].astype(np.int64), np.zeros(ng, np.int64)]),
                            mask=np.concatenate([np.zeros(na, bool), np.ones(ng, bool)]))
        return pa.array(np.concatenate([a[ta, da], g[tg, dg]]).astype(np.int64))

    epoch = (p.start - dt.date(1970, 1, 1)).days
    agent_cost = sessions * AGENT_SESSION_COST
    usage = pa.table({
        "team": pa.array([o.team_id[t] for t in team], pa.string()),
        "day": pa.array((epoch + day).astype(np.int32)).cast(pa.date32()),
        "tool": pa.array([ASSISTANT_TOOL] * na + [AGENT_TOOL] * ng, pa.string()),
        "active_users": both(active, a_users),
        "engaged_users": both(engaged, a_users),
        "suggestions_shown": both(shown, None),
        "suggestions_accepted": both(accepted, None),
        "lines_suggested": both(lines_sug, None),
        "lines_accepted": both(lines_acc, None),
        "chat_sessions": both(chats, None),
        "agent_sessions": pa.array(np.concatenate([np.zeros(na, np.int64), sessions[tg, dg]]),
                                   mask=np.concatenate([np.ones(na, bool), np.zeros(ng, bool)])),
        "cost": pa.array(np.round(np.concatenate([seat_cost[ta, da], agent_cost[tg, dg]]), 2)),
        "currency": pa.array(["USD"] * (na + ng), pa.string()),
    })

    # agent-authored pull requests: a growing share of the heavy adopters' human pull requests
    pr_team = o.svc_team[prs["service"]]
    created_day = np.clip((prs["created"] // 86_400).astype(np.int64), 0, days - 1)
    human = prs["author"] < o.n_humans
    chance = AGENT_SHARE * aramp[pr_team, created_day] * human
    in_pr = commits["pr"] >= 0
    pr_failed = np.zeros(pr_team.shape[0], bool)
    np.logical_or.at(pr_failed, commits["pr"][in_pr], failed_commit[in_pr])
    fragile = slug[pr_team] == FRAGILE_AGENT_TEAM
    # the fragile team's agents: drawn FRAGILE_BIAS times as often among failed changes (the
    # others scaled so that the team's agent share stays about the same)
    fail_rate = _rate(pr_failed, fragile & (chance > 0))
    down = 1.0 / (1.0 + (FRAGILE_BIAS - 1.0) * fail_rate)
    chance = np.where(fragile, chance * np.where(pr_failed, FRAGILE_BIAS, 1.0) * down, chance)
    agent_pr = rng.random(pr_team.shape[0]) < np.clip(chance, 0.0, 1.0)
    agent_commit = np.zeros(commits["pr"].shape[0], bool)
    agent_commit[in_pr] = agent_pr[commits["pr"][in_pr]]

    def kinds(mask: np.ndarray) -> tuple[pa.Array, pa.Array]:
        return (pa.array(["agent" if m else None for m in mask.tolist()], pa.string()),
                pa.array([AGENT_NAME if m else None for m in mask.tolist()], pa.string()))

    pr_kind, pr_agent = kinds(agent_pr)
    commit_kind, commit_agent = kinds(agent_commit)
    agent_teams = [o.team_id[i] for i in np.flatnonzero(agent_start >= 0)]
    first_agent = int(agent_start[agent_start >= 0].min()) if agent_teams else p.ai_day
    investment = {
        "id": "inv-ai-agents", "name": "Coding agents (usage-based)",
        "teams": agent_teams,
        "started_at": dt.datetime.combine(p.date(first_agent), dt.time(0), tzinfo=dt.UTC),
        "amount": float(np.round(agent_cost[tg, dg].sum(), 2)), "currency": "USD",
        "kind": "ai-tools",
    }
    story: dict[str, object] = {
        "ai_adoption": {o.team_id[i]: {"level": str(level[i]), "from": p.date(int(start[i])),
                                       **({"agent_from": p.date(int(agent_start[i]))}
                                          if agent_start[i] >= 0 else {})}
                        for i in np.flatnonzero(start >= 0)},
        "ai_agent_teams": agent_teams,
        "ai_fragile_agent_team": next((o.team_id[i] for i in range(n_teams)
                                       if slug[i] == FRAGILE_AGENT_TEAM), None),
        "ai_tools": [ASSISTANT_TOOL, AGENT_TOOL],
    }
    frag = [i for i in range(n_teams) if slug[i] == FRAGILE_AGENT_TEAM and agent_start[i] >= 0]
    return AiWorld(usage, pr_kind, pr_agent, commit_kind, commit_agent, investment, story,
                   frag[0] if frag else -1, int(agent_start[frag[0]]) if frag else -1, rng)


def agent_breakage(world: AiWorld, sim: Sim, commits: pa.Table, deployments: pa.Table,
                   incidents: pa.Table) -> pa.Table:
    """``incidents`` with the fragile team's agent breakage added: each of its production
    deployments after its agent started that carried an agent-authored commit causes an
    incident with chance :data:`FRAGILE_INCIDENT` (sev3 or sev4, opened hours after it)."""
    if world.fragile_team < 0:
        return incidents
    o = sim.org
    since = dt.datetime.combine(sim.plan.date(world.fragile_from), dt.time(0), tzinfo=dt.UTC)
    team_services = {o.svc_id[s] for s in np.flatnonzero(o.svc_team == world.fragile_team)}
    agent_shas = commits.filter(pc.equal(commits["author_kind"], "agent"))["sha"]
    flat = pc.list_flatten(deployments["commits"])
    parent = pc.list_parent_indices(deployments["commits"]).to_numpy()
    carries = np.zeros(deployments.num_rows, bool)
    carries[parent[pc.is_in(flat, value_set=agent_shas).to_numpy(zero_copy_only=False)]] = True
    ok = (pc.is_in(deployments["service"], value_set=pa.array(sorted(team_services)))
          .to_numpy(zero_copy_only=False)
          & pc.greater_equal(deployments["finished_at"], pa.scalar(since, deployments["finished_at"].type))
          .to_numpy(zero_copy_only=False)
          & pc.equal(deployments["status"], "success").to_numpy(zero_copy_only=False)
          & pc.equal(deployments["kind"], "normal").to_numpy(zero_copy_only=False)
          & pc.starts_with(deployments["environment"], "prod").to_numpy(zero_copy_only=False)
          & carries)
    hit = deployments.take(pa.array(np.flatnonzero(ok))).select(
        ["id", "service", "finished_at"]).to_pylist()
    rng = world.rng
    hit = [r for r, u in zip(hit, rng.random(len(hit)), strict=True) if u < FRAGILE_INCIDENT]
    if not hit:
        return incidents
    n = len(hit)
    opened = [r["finished_at"] + dt.timedelta(hours=float(h))
              for r, h in zip(hit, rng.uniform(1.0, 30.0, n), strict=True)]
    resolved = [t + dt.timedelta(hours=float(h))
                for t, h in zip(opened, rng.lognormal(np.log(2.0), 0.6, n), strict=True)]
    end = dt.datetime.combine(sim.plan.end, dt.time(23, 59), tzinfo=dt.UTC)
    keep = [i for i in range(n) if opened[i] < end]
    extra = {
        "id": [f"INC-AI-{i + 1:04d}" for i in keep],
        "service": [hit[i]["service"] for i in keep],
        "severity": [("sev3", "sev4")[int(u < 0.35)] for u in rng.random(n)[keep]],
        "opened_at": [opened[i] for i in keep],
        "resolved_at": [resolved[i] if resolved[i] < end else None for i in keep],
        "caused_by": [hit[i]["id"] for i in keep],
        "human_actioned": [True] * len(keep),
    }
    table = pa.table({name: pa.array(extra.get(name, [None] * len(keep)), incidents.schema.field(name).type)
                      for name in incidents.column_names})
    return pa.concat_tables([incidents, table])


def _rate(flag: np.ndarray, among: np.ndarray) -> float:
    n = int(among.sum())
    return float(flag[among].sum()) / n if n else 0.0


def investment_row(table: pa.Table, row: dict[str, object]) -> pa.Table:
    """``table`` (the demo's investments) with ``row`` appended."""
    extra = pa.table({
        "id": [row["id"]], "name": [row["name"]],
        "teams": pa.array([row["teams"]], pa.list_(pa.string())),
        "started_at": pa.array([row["started_at"]], TS), "amount": [row["amount"]],
        "currency": [row["currency"]], "kind": [row["kind"]],
    }).cast(table.schema)
    return pa.concat_tables([table, extra])
