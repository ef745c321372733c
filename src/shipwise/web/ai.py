"""The AI page (``/ai``) and the team page's AI section: adoption cohorts, agent-authored changes
beside human ones and (exec, admin) the effect of adoption — shaped from the JSON of the doors of
:mod:`shipwise.app.ai` only. A hidden figure stays ``None`` with its reason (never 0)."""

from __future__ import annotations

from typing import Any

from shipwise.app import ai
from shipwise.app.caller import Caller
from shipwise.app.guard import charter_map, metric_ids
from shipwise.app.results import figures
from shipwise.metrics import ids
from shipwise.web.diagnostics import cell

ADOPTION = (ids.AI_ENGAGED_SHARE, ids.AI_ADOPTION_LEVEL, ids.AI_ACCEPTANCE_RATE)
AGENTS = (ids.AI_UNIT_SHARE, ids.AI_CHANGE_LEAD_TIME, ids.AI_REVIEW_TIME, ids.AI_CHANGE_FAIL_RATE,
          ids.AI_REWORK_RATE, ids.AI_INTERVENTIONS_PER_DEPLOYMENT)
EFFECTS = (ids.AI_EFFECT_COST_TO_SERVE, ids.AI_EFFECT_LEAD_TIME, ids.AI_EFFECT_CHANGE_FAIL_RATE,
           ids.AI_RETURN_ON_SPEND)
LEVELS = ("none", "light", "moderate", "heavy", "hidden")
#: months of a team's adoption shown on its page (every month is in the JSON twin)
TEAM_MONTHS = 12


def _agents(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"team": r["team"], "period": r["period"], "kind": r["kind"], "units": r["units"],
             "team_units": r["team_units"], "cells": [cell(r, m) for m in AGENTS]}
            for r in rows if r["kind"] != "unknown"]


def _chart(cohorts: list[dict[str, Any]]) -> dict[str, Any]:
    return {"id": "ai-cohorts", "labels": [c["period"] for c in cohorts],
            "title": "Teams at each adoption level per month", "left": "teams", "right": "",
            "series": [{"label": lvl, "metric": ids.AI_ADOPTION_LEVEL,
                        "values": [c["teams"].get(lvl, 0) for c in cohorts], "axis": "left"}
                       for lvl in LEVELS]}


def page(c: Caller) -> dict[str, Any]:
    """The AI page: a member or lead sees their own team; exec and admin every team, the
    organisation's agent figures and the effect of adoption."""
    adoption = figures(ai.adoption(c))
    agents = figures(ai.agents(c, grain="all"))
    effect = figures(ai.effect(c)) if c.principal.can("org.cost") else None
    out: dict[str, Any] = {
        "adoption": adoption, "teams": adoption["teams"],
        "charts": [_chart(adoption["cohorts"])] if adoption["cohorts"] else [],
        "agents": _agents(agents["rows"]), "agent_metrics": list(AGENTS),
        "effect": effect, "effect_metrics": list(EFFECTS),
    }
    out["charter"] = charter_map(metric_ids(out))
    return out


def team_section(c: Caller, team: str) -> dict[str, Any]:
    """The team page's AI section: the team's adoption months and latest months, and its
    changes by author kind per quarter."""
    adoption = figures(ai.adoption(c, team=team))
    agents = figures(ai.agents(c, team=team, grain="quarter"))
    rows = adoption["rows"][-TEAM_MONTHS:]
    return {
        "team": (adoption["teams"] or [None])[0],
        "months": [{"period": r["period"], "cells": [cell(r, m) for m in ADOPTION]}
                   for r in reversed(rows)],
        "adoption_metrics": list(ADOPTION), "agent_metrics": list(AGENTS),
        "agents": _agents(agents["rows"])[-12:], "min_group_size": adoption["min_group_size"],
    }
