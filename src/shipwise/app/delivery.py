"""Delivery figures: DORA, cost to serve (with release appetite beside deployment frequency) and
what investments changed. A member or lead reads their own team; the organisation's cost needs
``org.cost`` (exec, admin)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from shipwise.app.caller import Caller
from shipwise.app.cost import CostRequest, cost_rows, initiatives_rows
from shipwise.app.guard import Access, guard
from shipwise.app.memo import memo
from shipwise.app.metrics import DoraRequest, dora_rows
from shipwise.app.results import (
    Appetite,
    CostResult,
    DoraResult,
    InitiativesResult,
    QuickCheck,
    QuickCheckBenchmark,
)
from shipwise.app.slo import release_appetite
from shipwise.config import CostSettings
from shipwise.metrics import facts, quick_check
from shipwise.store import org
from shipwise.store.duckdb_store import Store


def dora_table(store: Store, req: DoraRequest) -> dict[str, Any]:
    """The DORA rows of ``req`` (unauthorised: for doors that show derived counts only)."""
    return memo(store, "dora", (req,), lambda: dora_rows(store, req))


def _dora_teams(caller: Caller, req: DoraRequest) -> DoraRequest:
    """A member or lead asking for no team gets their own team."""
    if caller.own_team is not None and not req.team and not req.service:
        return replace(req, team=(caller.own_team,))
    return req


def _dora_access(caller: Caller, arguments: Mapping[str, Any]) -> Iterable[Access]:
    req = _dora_teams(caller, arguments["req"])
    owners = org.service_teams(caller.store, list(req.service)) if req.service else {}
    teams: list[str | None] = [*req.team, *(owners.get(s, f"?{s}") for s in req.service)]
    return [Access("team.diagnostic", f"team:{t or '*'}:dora", t) for t in teams or [None]]


@guard("team.diagnostic", accesses=_dora_access)
def dora(caller: Caller, req: DoraRequest) -> DoraResult:
    """DORA per team (or service) and period, with release appetite beside deployment frequency:
    fewer releases while a budget burns reads as risk management, not a drop in productivity."""
    req = _dora_teams(caller, req)
    result = DoraResult.model_validate(dora_table(caller.store, req))
    teams = sorted({r.team for r in result.rows if r.team})
    if teams:
        cfg = caller.settings.slo
        appetite = memo(caller.store, "appetite", (repr(cfg),),
                        lambda: release_appetite(caller.store, cfg))
        result.release_appetite = {t: Appetite.model_validate(appetite[t])
                                   for t in teams if t in appetite}
    result.quick_check = _benchmarks(caller.store, result)
    return result


def _benchmarks(store: Store, result: DoraResult) -> QuickCheck | None:
    """The DORA 2025 benchmarks beside the rows' Quick Check scores, per team: all industries, and
    the team's industry and organisation size when its attributes (``industry``,
    ``organization_size``) name them."""
    services = sorted({r.service for r in result.rows if r.service})
    owners = org.service_teams(store, services) if services else {}
    teams = sorted({r.team for r in result.rows if r.team} | set(owners.values()))
    if not teams:
        return None
    attributes = {a["id"]: quick_check.attributes_of(a["attributes"])
                  for a in org.team_attributes(store)}
    benchmarks: dict[str, list[QuickCheckBenchmark]] = {}
    said: dict[str, list[str]] = {}
    for t in teams:
        marks, notes = quick_check.benchmarks(attributes.get(t))
        benchmarks[t] = [QuickCheckBenchmark.model_validate(b) for b in marks]
        if notes:
            said[t] = notes
    return QuickCheck(benchmarks=benchmarks, notes=said, source=quick_check.source(),
                      profile=quick_check.NO_PROFILE)


def _cost_access(caller: Caller, arguments: Mapping[str, Any]) -> Iterable[Access]:
    req: CostRequest = arguments["req"]
    if not req.team:
        return [Access("org.cost", "org:cost")]
    if caller.principal.can("org.cost"):
        return [Access("org.cost", "org:cost:" + ",".join(req.team))]
    return [Access("team.diagnostic", f"team:{t}:cost", t) for t in req.team]


@guard("org.cost", accesses=_cost_access)
def cost(caller: Caller, req: CostRequest, tension: CostSettings | None = None) -> CostResult:
    """Cost to serve per team and period, and the organisation roll-up: the whole organisation
    needs ``org.cost`` (exec, admin); named teams need the team's view (or ``org.cost``)."""
    data = memo(caller.store, "cost", (req, repr(tension)),
                lambda: cost_rows(caller.store, req, tension))
    return CostResult.model_validate(data)


@guard("org.cost", "org:initiatives")
def initiatives(caller: Caller, *, by: str = "kind", confidence: float = 0.9) -> InitiativesResult:
    """Each investment's estimated effect on its teams' cost to serve, with an interval."""
    facts.ensure_fresh(caller.store)
    return InitiativesResult.model_validate(
        initiatives_rows(caller.store, by=by, confidence=confidence,
                         settings=caller.settings.cost))
