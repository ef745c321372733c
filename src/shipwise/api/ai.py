"""``/api/v1`` AI routes: adoption cohorts, agent-authored changes and the effect of adoption —
the JSON of ``shipwise ai adoption|agents|effect --format json`` (docs/ai-effect.md), through the
same doors and roles: a team's figures for its members and leads and admins, the organisation's
for exec and admin, the effect (spend, savings, return) for exec and admin."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from shipwise.api.routes import (
    BAD_INPUT,
    ERRORS,
    NOT_FOUND,
    NoStoreRoute,
    Since,
    TeamId,
    Until,
    Who,
    _call,
)
from shipwise.app import ai
from shipwise.app import results as r
from shipwise.http.security import State

router = APIRouter(prefix="/api/v1", tags=["ai"], route_class=NoStoreRoute, responses=ERRORS)

AgentGrain = Annotated[Literal["month", "quarter", "all"],
                       Query(description="month, quarter or all (the whole span)")]
Confidence = Annotated[float, Query(ge=0.5, le=0.99, description="of the intervals")]
_PEOPLE = (" People-derived: every read is logged as such; usage figures of a team smaller than "
           "`privacy.min_group_size` are `null` with the reason under `suppressed`. Never an "
           "individual's usage: it is stored per team only.")


@router.get("/org/ai/adoption", summary="Every team's AI adoption level per month, and the cohorts",
            description="`shipwise ai adoption --format json`: engaged share, level and "
                        "acceptance rate per team and month, each team's first month at each "
                        "level (from usage data) and how many teams were at each level. "
                        "Roles: exec, admin." + _PEOPLE, responses=BAD_INPUT)
def org_adoption(state: State, principal: Who, since: Since = None,
                 until: Until = None) -> r.AiAdoptionResult:
    return _call(state, principal, ai.adoption, since=since, until=until)


@router.get("/teams/{team:path}/ai/adoption", summary="A team's AI adoption level per month",
            description="`shipwise ai adoption --team T --format json`. Roles: member and lead "
                        "of the team, admin." + _PEOPLE, responses={**NOT_FOUND, **BAD_INPUT})
def team_adoption(state: State, principal: Who, team: TeamId, since: Since = None,
                  until: Until = None) -> r.AiAdoptionResult:
    return _call(state, principal, ai.adoption, team=team, since=since, until=until)


@router.get("/org/ai/agents", summary="Agent-authored changes beside human ones, every team",
            description="`shipwise ai agents --format json`: per team (and the organisation, "
                        "team `*`), period and author kind: share of delivery units, lead time, "
                        "review time, change fail and rework rate, manual interventions per "
                        "deployment. Roles: exec, admin.", responses=BAD_INPUT)
def org_agents(state: State, principal: Who,
               grain: AgentGrain = "quarter",
               since: Since = None, until: Until = None) -> r.AiAgentsResult:
    return _call(state, principal, ai.agents, grain=grain, since=since, until=until)


@router.get("/teams/{team:path}/ai/agents", summary="A team's agent-authored changes",
            description="`shipwise ai agents --team T --format json`. Roles: member and lead of "
                        "the team, admin.", responses={**NOT_FOUND, **BAD_INPUT})
def team_agents(state: State, principal: Who, team: TeamId,
                grain: AgentGrain = "quarter",
                since: Since = None, until: Until = None) -> r.AiAgentsResult:
    return _call(state, principal, ai.agents, team=team, grain=grain, since=since, until=until)


@router.get("/org/ai/effect", summary="The effect of AI adoption, AI spend and its return",
            description="`shipwise ai effect --format json`: per adoption level, the estimated "
                        "effect of reaching it on cost to serve, change lead time and change fail "
                        "rate (staggered difference-in-differences, intervals, warnings), AI "
                        "spend, attributed savings and return, and the tension check. Roles: "
                        "exec, admin.")
def org_effect(state: State, principal: Who,
               confidence: Confidence = 0.9) -> r.AiEffectResult:
    return _call(state, principal, ai.effect, confidence=confidence)
