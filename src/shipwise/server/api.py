"""The REST API under ``/api/v1``: the same views as the CLI, web pages and MCP server, as JSON.

Every endpoint needs a principal (``Authorization: Bearer sw_…`` or a browser session) and calls
only :mod:`shipwise.services.views`, which checks the role and writes the access log. Answers are
never cached (``Cache-Control: no-store``); errors are ``{"error", "hint"}`` (see
:mod:`shipwise.server.errors`). Reference: docs/api.md; schema: ``/openapi.json``.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.routing import APIRoute
from pydantic import AwareDatetime, BaseModel, Field
from starlette.concurrency import run_in_threadpool

from shipwise.governance.access import ROLES, Principal
from shipwise.server.auth import request_principal
from shipwise.server.errors import render_error
from shipwise.server.security import State
from shipwise.services import views


class NoStoreRoute(APIRoute):
    """A route whose answers, errors included, carry ``Cache-Control: no-store``."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                response = await handler(request)
            except Exception as exc:
                rendered = await render_error(request, exc)
                if rendered is None:
                    raise
                response = rendered
            response.headers["Cache-Control"] = "no-store"
            return response

        return route


class ErrorBody(BaseModel):
    """Every error: what went wrong and what to do."""

    error: str = Field(examples=["role exec may not team diagnostic"])
    hint: str | None = Field(None, examples=["roles allowed: member, lead, admin"])


def _example(value: Any, description: str = "OK") -> dict[Any, Any]:
    return {"description": description, "content": {"application/json": {"example": value}}}


ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "No token, an unknown or a revoked one: send "
          "`Authorization: Bearer sw_…` (create one with `shipwise token create`)."},
    403: {"model": ErrorBody, "description": "The token's role may not open this view."},
    422: {"model": ErrorBody, "description": "A parameter is malformed; the message names it."},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "No such team, metric, investigation or token."}}
BAD_INPUT: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "The parameters contradict each other "
          "(e.g. since after until)."}}

router = APIRouter(prefix="/api/v1", tags=["api"], route_class=NoStoreRoute, responses=ERRORS)


def current_principal(request: Request, state: State) -> Principal:
    """FastAPI dependency: who is calling (401 when nobody is)."""
    with state.store.session() as store:
        return request_principal(request, store)


Caller = Annotated[Principal, Depends(current_principal)]
Grain = Literal["week", "month", "quarter"]
CostGrain = Literal["month", "quarter"]
Baseline = Literal["yoy", "qoq"]
Since = Annotated[date | None, Query(description="First day (UTC), YYYY-MM-DD; default: the "
                                     "first day with data.", examples=["2025-10-01"])]
Until = Annotated[date | None, Query(description="Last day (UTC), YYYY-MM-DD; default: the "
                                     "last day with data.", examples=["2026-09-30"])]
TeamId = Annotated[str, Path(description="A team id, as in GET /api/v1/teams.",
                             examples=["payments"])]


def _view(state: Any, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    with state.store.session() as store:
        return fn(store, *args, **kwargs)


# -- who, teams, services, catalog --------------------------------------------------------------

@router.get("/me", summary="Who the token belongs to and what it may do",
            responses={200: _example({"role": "member", "team": "payments", "name": "ci-bot",
                                      "token_id": "0a1b2c3d4e5f",
                                      "may": ["investigations.read", "team.diagnostic"]})})
def me(principal: Caller) -> dict[str, Any]:
    return views.whoami(principal)


@router.get("/teams", summary="Every team with its org unit and number of services",
            responses={200: _example([{"team": "payments", "name": "Payments",
                                       "org_unit": "commerce", "delivery_unit": "deployments",
                                       "services": 3}])})
def teams(state: State, principal: Caller) -> list[dict[str, Any]]:
    return list(_view(state, views.teams, principal))


@router.get("/services", summary="Every service with its owning team",
            responses={200: _example([{"service": "pay-api", "name": "pay-api",
                                       "team": "payments"}])})
def services(state: State, principal: Caller) -> list[dict[str, Any]]:
    return list(_view(state, views.services, principal))


_METRIC = {"id": "dora.change_fail_rate", "title": "Change fail rate", "family": "dora",
           "unit": "ratio", "better": "lower", "people_derived": False,
           "docs": "docs/metrics/dora.change_fail_rate.md",
           "charter": {"definition": "…", "allowed_uses": ["…"], "forbidden_uses": ["…"]}}


@router.get("/metrics", summary="The metric catalog, each metric with its charter entry",
            responses={200: _example([_METRIC])})
def metrics(state: State, principal: Caller) -> list[dict[str, Any]]:
    return list(_view(state, views.catalog, principal))


@router.get("/metrics/{metric_id}", summary="One metric and its charter entry",
            responses={**NOT_FOUND, 200: _example(_METRIC)})
def metric(state: State, principal: Caller,
           metric_id: Annotated[str, Path(examples=["dora.change_fail_rate"])]) -> dict[str, Any]:
    return dict(_view(state, views.metric, principal, metric_id))


# -- DORA and cost -------------------------------------------------------------------------------

_DORA = {"grain": "quarter", "since": "2025-10-01", "until": "2026-09-30", "rows": [
    {"team": "payments", "period": "2026-Q3", "period_start": "2026-07-01",
     "metrics": {"dora.deployment_frequency": 4.2, "dora.change_lead_time": 86400.0,
                 "dora.change_fail_rate": 0.08}}]}
_COST = {"grain": "quarter", "baseline": "yoy", "currency": "EUR", "since": "2025-10-01",
         "until": "2026-09-30", "rows": [
             {"team": "payments", "period": "2026-Q3", "unit": "deployments", "units": 120,
              "cost_amount": 250000.0, "metrics": {"cost.cost_to_serve": 2083.3}, "flags": []}],
         "organisation": [{"period": "2026-Q3", "cohort_teams": 12,
                           "metrics": {"cost.improvement_yoy": 0.07}}]}


@router.get("/teams/{team}/dora", summary="A team's DORA metrics per period",
            description="The same parameters and JSON as `shipwise metrics dora --team T "
                        "--format json`. Roles: member and lead of the team, admin.",
            responses={**NOT_FOUND, **BAD_INPUT, 200: _example(_DORA)})
def team_dora(state: State, principal: Caller, team: TeamId, grain: Grain = "quarter",
              since: Since = None, until: Until = None) -> dict[str, Any]:
    return dict(_view(state, views.team_dora, principal, team, grain=grain, since=since,
                      until=until))


@router.get("/teams/{team}/cost", summary="A team's cost to serve per period",
            description="The same parameters and JSON as `shipwise cost --team T --format json`. "
                        "Roles: member and lead of the team, admin.",
            responses={**NOT_FOUND, **BAD_INPUT, 200: _example(_COST)})
def team_cost(state: State, principal: Caller, team: TeamId, grain: CostGrain = "quarter",
              baseline: Baseline = "yoy", since: Since = None,
              until: Until = None) -> dict[str, Any]:
    return dict(_view(state, views.team_cost, principal, team, grain=grain, baseline=baseline,
                      since=since, until=until, tension=state.settings.cost))


@router.get("/org/cost", summary="Cost to serve of every team and the organisation roll-up",
            description="The same parameters and JSON as `shipwise cost --format json`. "
                        "Roles: exec, admin.",
            responses={**BAD_INPUT, 200: _example(_COST)})
def org_cost(state: State, principal: Caller, grain: CostGrain = "quarter",
             baseline: Baseline = "yoy", since: Since = None,
             until: Until = None) -> dict[str, Any]:
    return dict(_view(state, views.org_cost, principal, grain=grain, baseline=baseline,
                      since=since, until=until, tension=state.settings.cost))


# -- investigations and alarms -------------------------------------------------------------------

class InvestigationRequest(BaseModel):
    """What to investigate: a service at an instant (and, optionally, the metric that alarmed)."""

    entity: str = Field(min_length=1, max_length=200, examples=["pay-api"],
                        description="A service id, as in GET /api/v1/services.")
    at: AwareDatetime = Field(examples=["2026-09-01T10:00:00Z"],
                              description="When it went wrong (ISO-8601 with a UTC offset).")
    metric: str | None = Field(None, max_length=200, examples=["http_5xx_rate"])


@router.get("/investigations", summary="The latest investigations, newest alarm first",
            responses={200: _example([{"id": "inv-2026-09-01-pay-api-1a2b", "alarm_id": None,
                                       "entity": "pay-api", "status": "done",
                                       "root_cause_entity": "ledger-db",
                                       "root_cause_kind": "bad_deploy", "confidence": 0.82}])})
def investigations(state: State, principal: Caller,
                   limit: Annotated[int, Query(ge=1, le=1000)] = 50) -> list[dict[str, Any]]:
    return list(_view(state, views.investigations, principal, limit=limit))


@router.get("/investigations/{inv_id}", summary="One investigation record",
            description="Timeline, root cause, evidence, ruled-out observations, mitigation.",
            responses={**NOT_FOUND, 200: _example({"id": "inv-…", "root_cause": {"…": "…"}})})
def investigation(state: State, principal: Caller, inv_id: str) -> dict[str, Any]:
    return dict(_view(state, views.investigation, principal, inv_id))


@router.post("/investigations", status_code=202, summary="Start an investigation",
             description="Queues a generic alarm for the investigation worker and answers at "
                         "once with its intake id; follow it in GET /api/v1/alarms.",
             responses={**NOT_FOUND, **BAD_INPUT, 202: _example(
                 {"id": "alm-0123456789abcdef", "queued": True, "duplicate": False,
                  "entity": "pay-api", "at": "2026-09-01T10:00:00+00:00",
                  "metric": "http_5xx_rate"}, "Queued")})
async def start_investigation(state: State, principal: Caller,
                              body: InvestigationRequest) -> dict[str, Any]:
    return dict(await run_in_threadpool(
        _view, state, views.start_investigation, principal, body.entity, body.at, body.metric,
        receive=state.receive))


AlarmStatus = Literal["accepted", "rejected", "resolved", "subscription", "investigating",
                      "investigated", "failed"]


@router.get("/alarms", summary="The latest alarms received, newest first",
            responses={200: _example([{"id": "alm-0123456789abcdef", "kind": "generic",
                                       "status": "investigated",
                                       "investigation_id": "inv-…"}])})
def alarms(state: State, principal: Caller, status: AlarmStatus | None = None,
           limit: Annotated[int, Query(ge=1, le=10_000)] = 50) -> list[dict[str, Any]]:
    return list(_view(state, views.alarms, principal, state.settings, status=status,
                      limit=limit))


# -- administration ------------------------------------------------------------------------------

class TokenRequest(BaseModel):
    """A new token: who or what uses it, its role, and its team for member and lead."""

    name: str = Field(min_length=1, max_length=200, examples=["payments dashboard"])
    role: Literal[ROLES] = Field(examples=["member"])  # type: ignore[valid-type]
    team: str | None = Field(None, max_length=200, examples=["payments"])


_TOKEN = {"id": "0a1b2c3d4e5f", "name": "payments dashboard", "role": "member",
          "team": "payments", "created_at": "2026-09-01T10:00:00Z", "revoked_at": None,
          "last_used_at": None}


@router.get("/tokens", summary="Every API token (never their values)", tags=["admin"],
            responses={200: _example([_TOKEN])})
def tokens(state: State, principal: Caller) -> list[dict[str, Any]]:
    return list(_view(state, views.tokens, principal))


@router.post("/tokens", status_code=201, summary="Create a token (its value is shown once)",
             tags=["admin"], responses={**NOT_FOUND, 400: ERRORS[422], 201: _example(
                 {"id": "0a1b2c3d4e5f", "name": "payments dashboard", "role": "member",
                  "team": "payments", "token": "sw_0a1b2c3d4e5f_…"}, "Created")})
def create_token(state: State, principal: Caller, body: TokenRequest) -> dict[str, Any]:
    return dict(_view(state, views.create_token, principal, body.name, body.role, body.team))


@router.delete("/tokens/{token_id}", summary="Revoke a token (its sessions end at once)",
               tags=["admin"], responses={**NOT_FOUND, 200: _example(
                   {"id": "0a1b2c3d4e5f", "revoked": True})})
def revoke_token(state: State, principal: Caller, token_id: str) -> dict[str, Any]:
    return dict(_view(state, views.revoke_token, principal, token_id))


@router.get("/audit", summary="The access log: every read, allowed or refused", tags=["admin"],
            responses={200: _example([{"read_at": "2026-09-01T10:00:00Z",
                                       "token_id": "0a1b2c3d4e5f", "role": "member",
                                       "interface": "api", "action": "org.cost",
                                       "subject": "org:cost", "allowed": False}])})
def audit(state: State, principal: Caller,
          limit: Annotated[int, Query(ge=1, le=10_000)] = 100) -> list[dict[str, Any]]:
    return list(_view(state, views.access_log, principal, limit=limit))
