"""AI-assisted development: adoption cohorts, agent-authored changes and the effect of adoption
(docs/ai-effect.md). A member or lead reads their own team; the organisation's adoption and agent
figures need ``org.diagnostic`` (exec, admin); the effect, spend and return need ``org.cost``.
Never an individual's AI usage: usage is stored per team, and a team smaller than the minimum
group has its usage figures hidden."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from shipwise.app.ai_rows import adoption_rows, agent_rows, effect_rows
from shipwise.app.caller import Caller
from shipwise.app.guard import Access, guard
from shipwise.app.memo import memo
from shipwise.app.results import AiAdoptionResult, AiAgentsResult, AiEffectResult
from shipwise.metrics import facts


def _team(caller: Caller, team: str | None) -> str | None:
    """A member or lead asking for no team gets their own team."""
    return team if team is not None else caller.own_team


def _access(what: str) -> Any:
    def accesses(caller: Caller, arguments: Mapping[str, Any]) -> Iterable[Access]:
        team = _team(caller, arguments.get("team"))
        if team is None:
            return [Access("org.diagnostic", f"org:ai:{what}")]
        return [Access("team.diagnostic", f"team:{team}:ai:{what}", team)]
    return accesses


@guard("team.diagnostic", accesses=_access("adoption"), people_derived=True)
def adoption(caller: Caller, *, team: str | None = None, since: date | None = None,
             until: date | None = None) -> AiAdoptionResult:
    """Adoption level per team and month (none, light, moderate, heavy, from usage data), each
    team's adoption months and the cohorts; hidden for teams smaller than the minimum group."""
    t = _team(caller, team)
    s = caller.settings
    data = memo(caller.store, "ai.adoption", (t, since, until, repr(s.ai), s.privacy.min_group_size),
                lambda: adoption_rows(caller.store, s.ai, teams=(t,) if t else (), since=since,
                                      until=until, min_group_size=s.privacy.min_group_size,
                                      cost=s.cost))
    return AiAdoptionResult.model_validate(data)


@guard("team.diagnostic", accesses=_access("agents"), people_derived=True)
def agents(caller: Caller, *, team: str | None = None, grain: str = "quarter",
           since: date | None = None, until: date | None = None) -> AiAgentsResult:
    """Agent-authored changes beside human and bot ones: share of delivery units, lead time,
    review time, change fail and rework rate, manual interventions per deployment. With no team
    (exec, admin): every team and the organisation (team ``*``)."""
    facts.ensure_fresh(caller.store)
    t = _team(caller, team)
    k = caller.settings.privacy.min_group_size

    def compute() -> dict[str, Any]:
        res = agent_rows(caller.store, teams=(t,) if t else (), grain=grain, since=since,
                         until=until, min_group_size=k)
        if t is None:
            res["rows"] += agent_rows(caller.store, grain=grain, since=since, until=until,
                                      min_group_size=k, organisation=True)["rows"]
        return res

    return AiAgentsResult.model_validate(
        memo(caller.store, "ai.agents", (t, grain, since, until, k), compute))


@guard("org.cost", "org:ai:effect")
def effect(caller: Caller, *, confidence: float = 0.9) -> AiEffectResult:
    """The effect of reaching each adoption level on cost to serve, lead time and change fail
    rate (staggered difference-in-differences, with intervals and plain warnings), AI spend as
    an investment with savings and return, and the tension check."""
    facts.ensure_fresh(caller.store)
    s = caller.settings
    k = s.privacy.min_group_size
    data = memo(caller.store, "ai.effect", (confidence, repr(s.ai), repr(s.cost), k),
                lambda: effect_rows(caller.store, s.ai, cost=s.cost, confidence=confidence,
                                    min_group_size=k))
    return AiEffectResult.model_validate(data)
