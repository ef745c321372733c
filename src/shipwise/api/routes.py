"""The REST API under ``/api/v1``: the same views as the CLI, web pages and MCP server, as JSON.

Every endpoint needs a principal (``Authorization: Bearer sw_…`` or a browser session) and calls
one door of :mod:`shipwise.app` with a :class:`~shipwise.app.caller.Caller`: the door checks the
role and writes the access log, and its result model is the endpoint's response model. Answers are
never cached (``Cache-Control: no-store``); errors are ``{"error", "hint"}`` (see
:mod:`shipwise.http.errors`). Reference: docs/api.md; schema: ``/openapi.json``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Coroutine
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.routing import APIRoute
from pydantic import AwareDatetime, BaseModel, Field
from starlette.concurrency import run_in_threadpool

from shipwise.app import (
    admin,
    ask,
    catalog,
    delivery,
    humane,
    incidents,
    ingest,
    org,
    oversight,
    reliability,
    sync,
    topology,
)
from shipwise.app import results as r
from shipwise.app.caller import ROLES, Caller, Principal
from shipwise.app.cost import CostRequest
from shipwise.app.metrics import DoraRequest
from shipwise.errors import InputError, NotFoundError
from shipwise.http.auth import request_principal
from shipwise.http.errors import ApiError, render_error
from shipwise.http.security import State
from shipwise.http.uploads import received
from shipwise.metrics import ids

T = TypeVar("T")


class NoStoreRoute(APIRoute):
    """A route whose answers, errors included, carry ``Cache-Control: no-store``; a result sends
    the fields its door set (a team row has no ``service: null``), as the CLI prints it."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        kwargs["response_model_exclude_unset"] = True
        super().__init__(path, endpoint, **kwargs)

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
    # a refusal of the access policy (403) also carries these
    action: str | None = Field(None, examples=["team.diagnostic"],
                               description="403: the policy action refused")
    role: str | None = Field(None, examples=["exec"], description="403: the caller's role")
    allowed_roles: list[str] | None = Field(None, examples=[["member", "lead", "admin"]],
                                            description="403: the roles that may")
    detail: str | None = Field(
        None, description="403: in plain words, who may see this and why (the charter's reason)",
        examples=["Who can see a team's page (its delivery, cost, flow, strain and SLOs): "
                  "members and leads of team payments, and administrators. You are signed in as "
                  "an executive. Why: the charter makes a team's figures diagnostic: …"])


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


Who = Annotated[Principal, Depends(current_principal)]
Grain = Literal["week", "month", "quarter"]
CostGrain = Literal["month", "quarter"]
Baseline = Literal["yoy", "qoq"]
Since = Annotated[date | None, Query(description="First day (UTC), YYYY-MM-DD; default: the "
                                     "first day with data.", examples=["2025-10-01"])]
Until = Annotated[date | None, Query(description="Last day (UTC), YYYY-MM-DD; default: the "
                                     "last day with data.", examples=["2026-09-30"])]
TeamId = Annotated[str, Path(description="A team id, as in GET /api/v1/teams.",
                             examples=["payments"])]


def _call(state: Any, principal: Principal, door: Callable[..., T], *args: Any,
          **kwargs: Any) -> T:
    """``door`` of the application layer, called with this request's :class:`Caller` over the
    server's one store connection (held for the call only)."""
    with state.store.session() as store:
        return door(Caller(store, principal, state.settings, "api"), *args, **kwargs)


def utc_naive(at: datetime | None) -> datetime | None:
    """An instant as naive UTC (what the store holds); a 400 instead of an overflow."""
    if at is None or at.tzinfo is None:
        return at
    try:
        return at.astimezone(UTC).replace(tzinfo=None)
    except (OverflowError, ValueError):
        raise InputError(f"instant out of range: {at.isoformat()}",
                         hint="use an ISO-8601 instant between years 1 and 9999") from None


# -- who, teams, services, catalog --------------------------------------------------------------

@router.get("/me", summary="Who the token belongs to and what it may do",
            responses={200: _example({"role": "member", "team": "payments", "name": "ci-bot",
                                      "token_id": "0a1b2c3d4e5f",
                                      "may": ["investigations.read", "team.diagnostic"]})})
def me(state: State, principal: Who) -> r.Whoami:
    return _call(state, principal, org.whoami)


@router.get("/teams", summary="Every team with its org unit and number of services",
            responses={200: _example([{"team": "payments", "name": "Payments",
                                       "org_unit": "commerce", "delivery_unit": "deployments",
                                       "services": 3}])})
def teams(state: State, principal: Who) -> list[r.Team]:
    return _call(state, principal, org.teams)


@router.get("/services", summary="Every service with its owning team",
            responses={200: _example([{"service": "pay-api", "name": "pay-api",
                                       "team": "payments"}])})
def services(state: State, principal: Who) -> list[r.Service]:
    return _call(state, principal, org.services)


_METRIC = {"id": ids.CHANGE_FAIL_RATE, "title": "Change fail rate", "family": "dora",
           "unit": "ratio", "better": "lower", "people_derived": False,
           "docs": "docs/metrics/dora.change_fail_rate.md",
           "charter": {"definition": "…", "allowed_uses": ["…"], "forbidden_uses": ["…"]}}


@router.get("/metrics", summary="The metric catalog, each metric with its charter entry",
            responses={200: _example([_METRIC])})
def metrics(state: State, principal: Who) -> list[r.MetricEntry]:
    return _call(state, principal, catalog.catalog)


@router.get("/metrics/{metric_id}", summary="One metric and its charter entry",
            responses={**NOT_FOUND, 200: _example(_METRIC)})
def metric(state: State, principal: Who,
           metric_id: Annotated[str, Path(examples=[ids.CHANGE_FAIL_RATE])]) -> r.MetricEntry:
    return _call(state, principal, catalog.metric, metric_id)


# -- DORA and cost -------------------------------------------------------------------------------

_DORA = {"grain": "quarter", "since": "2025-10-01", "until": "2026-09-30", "rows": [
    {"team": "payments", "period": "2026-Q3", "period_start": "2026-07-01",
     "metrics": {ids.DEPLOYMENT_FREQUENCY: 4.2, ids.CHANGE_LEAD_TIME: 86400.0,
                 ids.CHANGE_FAIL_RATE: 0.08}}]}
_COST = {"grain": "quarter", "baseline": "yoy", "currency": "EUR", "since": "2025-10-01",
         "until": "2026-09-30", "rows": [
             {"team": "payments", "period": "2026-Q3", "unit": "deployments", "units": 120,
              "cost_amount": 250000.0, "metrics": {ids.COST_TO_SERVE: 2083.3}, "flags": []}],
         "organisation": [{"period": "2026-Q3", "cohort_teams": 12,
                           "metrics": {ids.IMPROVEMENT_YOY: 0.07}}]}


@router.get("/teams/{team:path}/dora", summary="A team's DORA metrics per period",
            description="The same parameters and JSON as `shipwise metrics dora --team T "
                        "--format json`, plus `charter`: each metric's DORA 2025 group "
                        "(`groups`), the DORA 2024 level (`cluster`), each row's DORA Quick "
                        "Check 2025 scores and the 2025 benchmarks (`quick_check`). Roles: "
                        "member and lead of the team, admin.",
            responses={**NOT_FOUND, **BAD_INPUT, 200: _example(_DORA)})
def team_dora(state: State, principal: Who, team: TeamId, grain: Grain = "quarter",
              since: Since = None, until: Until = None) -> r.DoraResult:
    return _call(state, principal, delivery.dora,
                 DoraRequest(grain=grain, team=(team,), since=since, until=until))


@router.get("/teams/{team:path}/cost", summary="A team's cost to serve per period",
            description="The same parameters and JSON as `shipwise cost --team T --format json`, "
                        "plus `charter`. Roles: member and lead of the team, admin.",
            responses={**NOT_FOUND, **BAD_INPUT, 200: _example(_COST)})
def team_cost(state: State, principal: Who, team: TeamId, grain: CostGrain = "quarter",
              baseline: Baseline = "yoy", since: Since = None,
              until: Until = None) -> r.CostResult:
    return _call(state, principal, delivery.cost, CostRequest(
        grain=grain, baseline=baseline, team=(team,), since=since, until=until),
        state.settings.cost)


@router.get("/org/cost", summary="Cost to serve of every team and the organisation roll-up",
            description="The same parameters and JSON as `shipwise cost --format json`, plus "
                        "`charter`. Roles: exec, admin.",
            responses={**BAD_INPUT, 200: _example(_COST)})
def org_cost(state: State, principal: Who, grain: CostGrain = "quarter",
             baseline: Baseline = "yoy", since: Since = None,
             until: Until = None) -> r.CostResult:
    return _call(state, principal, delivery.cost, CostRequest(
        grain=grain, baseline=baseline, since=since, until=until), state.settings.cost)


# -- flow, strain, SLOs --------------------------------------------------------------------------

_SUMMARY = {"id": ids.CYCLE_TIME, "charter_version": 2, "definition": "…", "unit": "seconds",
            "view": "diagnostic", "may_inform": ["team retrospective"],
            "may_not_inform": ["individual performance rating", "…"],
            "audience": ["member", "lead", "admin"], "docs": "docs/metrics/flow.cycle_time.md"}
_FLOW = {"family": "flow", "grain": "quarter", "level": "team", "since": "2025-10-01",
         "until": "2026-09-30", "min_group_size": 5, "rows": [
             {"team": "payments", "period": "2026-Q3", "period_start": "2026-07-01",
              "metrics": {ids.CYCLE_TIME: 422386.0, ids.PICKUP_TIME: 13452.0,
                          ids.WORK_IN_PROGRESS: 18.8, ids.BLOCKED_RATIO: None},
              "counts": {"merged_prs": 267, "open_prs": 22},
              "suppressed": {ids.BLOCKED_RATIO: "fewer than 5 people"},
              "open_pr_age_distribution": {"lt_1d": 1, "1d_3d": 0, "3d_7d": 1, "7d_14d": 3,
                                           "ge_14d": 17}}],
         "charter": {ids.CYCLE_TIME: _SUMMARY}}
_STRAIN = {"family": "strain", "grain": "quarter", "level": "team", "since": "2025-10-01",
           "until": "2026-09-30", "min_group_size": 5, "rows": [
               {"team": "payments", "period": "2026-Q3", "period_start": "2026-07-01",
                "metrics": {ids.AFTER_HOURS_PAGES: 7.0, ids.SLEEP_HOUR_PAGES: None},
                "counts": {"pages": 27, "incident_hours": 0.6},
                "suppressed": {ids.SLEEP_HOUR_PAGES: "fewer than 5 people"}}],
           "charter": {ids.AFTER_HOURS_PAGES: {"…": "…"}}}
_DIAGNOSTIC_NOTE = (
    " People-derived: every read is logged as such, and a figure of a group smaller than "
    "`privacy.min_group_size` (or one that would reveal such a group by difference) is `null` "
    "with its reason in `suppressed`; people counts are never returned. Every metric id in the "
    "answer has its charter entry under `charter`.")


@router.get("/teams/{team:path}/flow", summary="A team's flow per period (cycle-time phases, WIP…)",
            description="Cycle time and its phases (coding, pickup, review, deploy), review "
                        "latency, open pull requests and their age, work in progress, blocked "
                        "time; as `shipwise flow --team T --format json`. Roles: member and lead "
                        "of the team, admin." + _DIAGNOSTIC_NOTE,
            responses={**NOT_FOUND, **BAD_INPUT, 200: _example(_FLOW)})
def team_flow(state: State, principal: Who, team: TeamId, grain: Grain = "quarter",
              since: Since = None, until: Until = None) -> r.DiagnosticsResult:
    return _call(state, principal, humane.team_diagnostics, "flow", (team,), grain=grain,
                 since=since, until=until)


@router.get("/teams/{team:path}/strain", summary="A team's strain per period (pages out of hours…)",
            description="Out-of-hours and sleep-hour pages, incident hours per on-call "
                        "person-week, on-call concentration, pull requests stalled on other "
                        "teams; as `shipwise strain --team T --format json`. Roles: member and "
                        "lead of the team, admin." + _DIAGNOSTIC_NOTE,
            responses={**NOT_FOUND, **BAD_INPUT, 200: _example(_STRAIN)})
def team_strain(state: State, principal: Who, team: TeamId, grain: Grain = "quarter",
                since: Since = None, until: Until = None) -> r.DiagnosticsResult:
    return _call(state, principal, humane.team_diagnostics, "strain", (team,), grain=grain,
                 since=since, until=until)


@router.get("/org/flow", summary="Flow per org unit and period",
            description="The same figures as a team's flow, per org unit (`org_unit` instead "
                        "of `team`). Roles: exec, admin." + _DIAGNOSTIC_NOTE,
            responses={**BAD_INPUT, 200: _example({**_FLOW, "level": "org_unit"})})
def org_flow(state: State, principal: Who, grain: Grain = "quarter", since: Since = None,
             until: Until = None) -> r.DiagnosticsResult:
    return _call(state, principal, humane.org_diagnostics, "flow", grain=grain,
                 since=since, until=until)


@router.get("/org/strain", summary="Strain per org unit and period",
            description="The same figures as a team's strain, per org unit (`org_unit` instead "
                        "of `team`). Roles: exec, admin." + _DIAGNOSTIC_NOTE,
            responses={**BAD_INPUT, 200: _example({**_STRAIN, "level": "org_unit"})})
def org_strain(state: State, principal: Who, grain: Grain = "quarter", since: Since = None,
               until: Until = None) -> r.DiagnosticsResult:
    return _call(state, principal, humane.org_diagnostics, "strain", grain=grain,
                 since=since, until=until)


_SLO = {"at": "2026-09-30T23:55:00Z", "team": "payments", "windows": ["5m", "30m", "1h", "6h",
                                                                     "3d"],
        "status": [{"slo": "pay-api-availability", "service": "pay-api", "team": "payments",
                    "objective": 0.999, "window_days": 28, "good": 99950, "total": 100000,
                    "bad": 50, "budget_consumed": 0.5,
                    "metrics": {ids.ATTAINMENT: 0.9995, ids.ERROR_BUDGET_REMAINING: 0.5,
                                ids.BURN_RATE: {"1h": 0.4, "3d": 0.6},
                                ids.RELEASE_APPETITE: "full"},
                    "alerts": [{"severity": "page", "factor": 14.4, "firing": False}],
                    "alert_state": "ok"}],
        "appetite": {"payments": {"team": "payments", "name": "Payments", "appetite": "reduced",
                                  "slos": 2, "reason": "…",
                                  "sentence": "Payments is releasing with reduced appetite: … "
                                              "this is the error-budget policy working, not a "
                                              "drop in productivity."}},
        "history": {"grain": "month", "since": "2025-10-01", "until": "2026-09-30", "rows": [
            {"slo": "pay-api-availability", "period": "2026-09", "objective": 0.999,
             "metrics": {ids.ATTAINMENT: 0.9991, ids.ERROR_BUDGET_REMAINING: 0.1},
             "met": True}]},
        "charter": {ids.ATTAINMENT: {"…": "…"}}}


@router.get("/teams/{team:path}/slo", summary="A team's SLOs: status, history and release appetite",
            description="Each SLO's attainment, error budget remaining, burn rates and alert "
                        "state at `at` (default: the latest SLI interval), its history per "
                        "`grain`, and the team's release appetite with its plain-language "
                        "sentence (a spent budget slows releases on purpose: risk management, "
                        "not a productivity drop). As `shipwise slo --team T --format json`. "
                        "Roles: member and lead of the team, admin.",
            responses={**NOT_FOUND, **BAD_INPUT, 200: _example(_SLO)})
def team_slo(state: State, principal: Who, team: TeamId, grain: Grain = "month",
             since: Since = None, until: Until = None,
             at: Annotated[datetime | None, Query(
                 description="Status instant, ISO-8601 (UTC when no offset); default: the "
                             "latest SLI interval end.",
                 examples=["2026-09-30T12:00:00Z"])] = None) -> r.SloResult:
    return _call(state, principal, reliability.slo, (team,), at=utc_naive(at), grain=grain,
                 since=since, until=until)


# -- governance ----------------------------------------------------------------------------------

@router.get("/charter", summary="The metric charter, with its validation result",
            description="Version and changes, the uses no metric may ever inform, the retention "
                        "period of every person-level input, one entry per metric id, and "
                        "`problems` (empty when the charter is sound). Every role.",
            tags=["governance"],
            responses={200: _example({"version": 2, "changes": {"2": "…"},
                                      "forbidden_uses": ["individual performance rating",
                                                         "individual ranking", "compensation",
                                                         "promotion"],
                                      "retention": {"page": {"days": 365, "action": "delete",
                                                             "fields": [], "why": "…"}},
                                      "metrics": {ids.CYCLE_TIME: {"…": "…"}},
                                      "problems": []})})
def charter(state: State, principal: Who) -> r.CharterReport:
    return _call(state, principal, catalog.charter)


@router.get("/charter/{metric_id}", summary="One metric's charter entry", tags=["governance"],
            description="Definition, unit, normalisation, exclusions, what it may and may not "
                        "inform, audience, view, inputs and their retention. Every role.",
            responses={**NOT_FOUND, 200: _example({"charter_version": 2, "id": ids.CYCLE_TIME,
                                                   "definition": "…", "may_inform": ["…"],
                                                   "may_not_inform": ["…"]})})
def charter_entry(state: State, principal: Who,
                  metric_id: Annotated[str, Path(examples=[ids.CYCLE_TIME])]
                  ) -> r.CharterEntry:
    return _call(state, principal, catalog.charter_entry, metric_id)


@router.get("/fairness", summary="The fairness audit of shipwise's own flags",
            description="For every flag shipwise raises about teams: who it falls on by team "
                        "attribute (four-fifths screen with an exact test), how the metrics "
                        "behind it move with context, and how much they vary between org units; "
                        "`findings` first, in plain language. As `shipwise fairness audit "
                        "--format json`. Roles: exec, admin.",
            tags=["governance"],
            responses={**BAD_INPUT, 200: _example({"findings": [
                {"severity": "ok", "text": "…", "what_to_do": "…"}], "flags": [],
                "correlations": {"rows": []}, "org_unit_variance": [], "method": ["…"],
                "charter": {ids.CHANGE_FAIL_RATE: {"…": "…"}}})})
def fairness(state: State, principal: Who,
             flag: Annotated[list[str] | None, Query(
                 description="Only these flags (repeat); default: every flag.",
                 examples=[["dora.low_cluster"]])] = None,
             attribute: Annotated[list[str] | None, Query(
                 description="Only these team attributes (repeat); default: those teams have.",
                 examples=[["location"]])] = None,
             migration_quarter: Annotated[list[str] | None, Query(
                 description="Quarters that were migrations, for every team (repeat).",
                 examples=[["2025-Q2"]])] = None) -> r.FairnessResult:
    bad = [q for q in migration_quarter or () if not re.fullmatch(r"\d{4}-Q[1-4]", q)]
    if bad:
        raise InputError(f"not a quarter: {bad[0]!r}", hint="quarters look like 2025-Q2")
    context = {"migration_quarters": list(migration_quarter)} if migration_quarter else None
    return _call(state, principal, oversight.fairness, flags=flag or None,
                 attributes=attribute or None, context=context)


# -- investigations and alarms -------------------------------------------------------------------

class InvestigationRequest(BaseModel):
    """What to investigate: a service at an instant (and, optionally, the metric that alarmed)."""

    entity: str = Field(min_length=1, max_length=200, examples=["pay-api"],
                        description="A service id, as in GET /api/v1/services.")
    at: AwareDatetime = Field(examples=["2026-09-01T10:00:00Z"],
                              description="When it went wrong (ISO-8601 with a UTC offset).")
    metric: str | None = Field(None, max_length=200, examples=["http_5xx_rate"])


@router.get("/investigations", summary="The latest investigations, newest alarm first",
            description="Roles: a member or lead sees those of their own team's services, an "
                        "admin all; an exec is refused.",
            responses={200: _example([{"id": "inv-2026-09-01-pay-api-1a2b", "alarm_id": None,
                                       "entity": "pay-api", "status": "done",
                                       "root_cause_entity": "ledger-db",
                                       "root_cause_kind": "bad_deploy", "confidence": 0.82}])})
def investigations(state: State, principal: Who,
                   limit: Annotated[int, Query(ge=1, le=1000)] = 50
                   ) -> list[r.InvestigationSummary]:
    return _call(state, principal, incidents.investigations, limit=limit)


@router.get("/topology/{entity}", summary="An entity's blast radius in the kept topology",
            description="Upstream dependents (who is hurt if it fails) and downstream "
                        "dependencies up to `depth` steps, over edges last seen within `days` "
                        "(docs/topology.md), with each edge's relation, origins and last "
                        "sighting; then its owner, repositories and deploy targets. Roles: as "
                        "the investigations of the entity's team (a member or lead for their "
                        "own team's services, an admin for every entity); an exec is refused.",
            responses={**NOT_FOUND, 200: _example(
                {"entity": "catalog", "kind": "service", "depth": 2, "days": 30,
                 "upstream": [{"entity": "gateway", "depth": 1, "via": "catalog",
                               "relation": "calls", "origins": ["file", "traces"],
                               "last_seen_at": "2026-11-11T12:52:45Z", "seen": 3}],
                 "downstream": [], "facts": []})})
def topology_of(state: State, principal: Who, entity: str,
                depth: Annotated[int, Query(ge=1, le=10)] = 2,
                days: Annotated[float | None, Query(gt=0, le=36500, description=(
                    "Only edges last seen within this many days; leave out for every kept "
                    "edge."))] = 30
                ) -> r.BlastRadius:
    return _call(state, principal, topology.show, entity, depth=depth, days=days)


@router.get("/investigations/{inv_id}", summary="One investigation record",
            description="Timeline, root cause, evidence, ruled-out observations, mitigation. "
                        "Roles: a member or lead reads those of their own team's services (403 "
                        "otherwise), an admin all.",
            responses={**NOT_FOUND, 200: _example({"id": "inv-…", "root_cause": {"…": "…"}})})
def investigation(state: State, principal: Who, inv_id: str) -> r.Investigation:
    return _call(state, principal, incidents.investigation, inv_id)


class VerifyRequest(BaseModel):
    """Post-validation of a stored investigation: the window tested, and whether to keep it."""

    at: AwareDatetime | None = Field(None, examples=["2026-09-01T11:00:00Z"],
                                     description="The end of the window tested (default: now).")
    minutes: float = Field(10, gt=0, le=1440, description="How many minutes before `at` are tested.")
    record: bool = Field(False, description="Add the verification to the investigation's record "
                                            "(otherwise nothing is stored).")


@router.post("/investigations/{inv_id}/verify", summary="Verify an investigation's series recovered",
             description="Re-reads from Prometheus every series the investigation found anomalous "
                         "and says, per series, whether the median of the last `minutes` is back "
                         "within 3 baseline IQRs of the pre-incident baseline it used, with the "
                         "PromQL to watch. Nothing is stored unless `record` (which needs the "
                         "right to start investigations). Roles: as GET /investigations/{id}.",
             responses={**NOT_FOUND, **BAD_INPUT, 200: _example(
                 {"investigation_id": "inv-…", "status": "recovered", "minutes": 10,
                  "series": [{"entity": "pay-api", "metric": "latency_p95_ms",
                              "status": "recovered", "promql": 'latency_p95_ms{service="pay-api"}'}]})})
async def verify_investigation(state: State, principal: Who, inv_id: str,
                               body: VerifyRequest | None = None) -> r.Verification:
    req = body or VerifyRequest.model_validate({})
    at: str | float = req.at.timestamp() if req.at is not None else "now"
    return await run_in_threadpool(_call, state, principal, incidents.verify_investigation, inv_id,
                                   at=at, minutes=req.minutes, record=req.record)


class AskRequest(BaseModel):
    """A follow-up question on a stored investigation."""

    question: str = Field(min_length=1, max_length=500, examples=["when did it start?"])
    rescope: bool = Field(True, description="Re-run the investigation when the question narrows "
                                            "it ('last 30 minutes', 'only us-east'); false: answer "
                                            "from the record only.")


@router.post("/investigations/{inv_id}/ask", summary="Ask an investigation a follow-up question",
             description="Answers from the stored record, deterministically, with the evidence "
                         "reference of every fact (docs/ask.md); `answered` is false with "
                         "suggestions when the record cannot answer. A question that narrows "
                         "the investigation re-runs it and links the new record (`rescoped`), "
                         "which needs the right to start investigations of the service. With an "
                         "LLM configured, `prose` rephrases the answer from its facts. Roles: as "
                         "GET /investigations/{id}.",
             responses={**NOT_FOUND, **BAD_INPUT, 200: _example(
                 {"investigation_id": "inv-…", "question": "when did it start?",
                  "intent": "start", "answered": True,
                  "answer": "It started at 2026-11-11T12:51:00Z, 2 min before the alarm.",
                  "facts": [{"text": "change point of the anomaly at 2026-11-11T12:51:00Z",
                             "ref": "#/window/onset", "source": "record"}]})})
async def ask_investigation(state: State, principal: Who, inv_id: str,
                            body: AskRequest) -> r.Answer:
    return await run_in_threadpool(_call, state, principal, ask.ask, inv_id, body.question,
                                   rescope_allowed=body.rescope)


@router.post("/investigations", status_code=202, summary="Start an investigation",
             description="Queues a generic alarm for the investigation worker and answers at "
                         "once with its intake id; follow it in GET /api/v1/alarms. Roles: a "
                         "member or lead starts one on their own team's services, an admin on "
                         "anything.",
             responses={**NOT_FOUND, **BAD_INPUT, 202: _example(
                 {"id": "alm-0123456789abcdef", "queued": True, "duplicate": False,
                  "entity": "pay-api", "at": "2026-09-01T10:00:00+00:00",
                  "metric": "http_5xx_rate"}, "Queued")})
async def start_investigation(state: State, principal: Who,
                              body: InvestigationRequest) -> r.InvestigationQueued:
    return await run_in_threadpool(_call, state, principal, incidents.start_investigation,
                                   body.entity, body.at, body.metric, receive=state.receive)


AlarmStatus = Literal["accepted", "rejected", "resolved", "subscription", "investigating",
                      "investigated", "failed"]


@router.get("/alarms", summary="The latest alarms received, newest first",
            description="Roles: a member or lead sees the alarms of their own team's services, "
                        "an admin all; an exec is refused.",
            responses={200: _example([{"id": "alm-0123456789abcdef", "kind": "generic",
                                       "status": "investigated",
                                       "investigation_id": "inv-…"}])})
def alarms(state: State, principal: Who, status: AlarmStatus | None = None,
           limit: Annotated[int, Query(ge=1, le=10_000)] = 50) -> list[r.AlarmRow]:
    return _call(state, principal, incidents.alarms, status=status, limit=limit)


# -- administration ------------------------------------------------------------------------------

class TokenRequest(BaseModel):
    """A new token: who or what uses it, its role, and its team for member and lead."""

    name: str = Field(min_length=1, max_length=200, examples=["payments dashboard"])
    role: Literal[ROLES] = Field(examples=["member"])  # type: ignore[valid-type]
    team: str | None = Field(None, max_length=200, examples=["payments"])
    responder: bool = Field(False, description=(
        "member or lead on call: may resolve actors' pseudonyms (docs/governance.md)"))


_TOKEN = {"id": "0a1b2c3d4e5f", "name": "payments dashboard", "role": "member",
          "team": "payments", "created_at": "2026-09-01T10:00:00Z", "revoked_at": None,
          "last_used_at": None}


@router.get("/tokens", summary="Every API token (never their values)", tags=["admin"],
            responses={200: _example([_TOKEN])})
def tokens(state: State, principal: Who) -> list[r.TokenRow]:
    return _call(state, principal, admin.tokens)


@router.post("/tokens", status_code=201, summary="Create a token (its value is shown once)",
             tags=["admin"], responses={**NOT_FOUND, 400: ERRORS[422], 201: _example(
                 {"id": "0a1b2c3d4e5f", "name": "payments dashboard", "role": "member",
                  "team": "payments", "token": "sw_0a1b2c3d4e5f_…"}, "Created")})
def create_token(state: State, principal: Who, body: TokenRequest) -> r.TokenCreated:
    return _call(state, principal, admin.create_token, body.name, body.role, body.team,
                 responder=body.responder)


@router.delete("/tokens/{token_id}", summary="Revoke a token (its sessions end at once)",
               tags=["admin"], responses={**NOT_FOUND, 200: _example(
                   {"id": "0a1b2c3d4e5f", "revoked": True})})
def revoke_token(state: State, principal: Who, token_id: str) -> r.TokenRevoked:
    return _call(state, principal, admin.revoke_token, token_id)


# -- data in: imports and syncs while the server runs ---------------------------------------------

_UPLOAD = {"requestBody": {"required": True, "description": "The file itself, streamed (any "
           "size up to server.max_upload_bytes; never held in memory).", "content": {
               "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}}
UploadName = Annotated[str, Query(
    max_length=200, description="The file's name: its suffix says its format (.jsonl, .ndjson, "
    ".json, .csv, .tsv, .parquet) and, for CSV, the name can say its record type "
    "(docs/canonical-format.md).", examples=["deployments.csv"])]


@router.post("/imports", summary="Import one canonical file, streamed in the request body",
             tags=["admin"], openapi_extra=_UPLOAD, responses={**BAD_INPUT, 200: _example(
                 {"sources": ["deployments.csv"], "types": {"deployment": {
                     "inserted": 120, "updated": 0, "unchanged": 0, "quarantined": 1,
                     "duplicates": 0}}, "quarantine_reasons": {"deployment: missing service": 1},
                  "failed_files": []})})
async def import_file(request: Request, state: State, principal: Who,
                      name: UploadName) -> r.ImportResult:
    """The same import as `shipwise import`: records already in are not counted twice, rejected
    records are kept in quarantine with their reason, and the facts are refreshed. Runs on a
    connection of its own, so pages and webhooks are answered meanwhile."""
    await run_in_threadpool(_call, state, principal, ingest.may_import)  # before the upload
    async with received(request, name, state.settings.server.max_upload_bytes) as path:
        return await run_in_threadpool(_write, state, principal, ingest.import_upload, path, name)


class SyncRequest(BaseModel):
    sources: list[Annotated[str, Field(max_length=200)]] = Field(
        default_factory=list, max_length=100, description="Source names of shipwise.yaml (all "
        "when empty).")
    scopes: list[Annotated[str, Field(max_length=500)]] = Field(
        default_factory=list, max_length=1000, description="Only these repositories/projects.")
    restart: bool = Field(False, description="Forget these scopes' cursors and read everything "
                          "again (after a mapping changed); nothing is counted twice.")


@router.post("/syncs", summary="Sync the sources of shipwise.yaml now (as `shipwise sync`)",
             tags=["admin"], responses={**BAD_INPUT, **NOT_FOUND, 409: {
                 "model": ErrorBody, "description": "No sources are configured."}})
def sync_now(state: State, principal: Who, body: SyncRequest) -> r.SyncReport:
    """Incremental and resumable like the CLI: each scope continues from its cursor, and the
    report says which scopes failed and why. Waits for an import or sync already running."""
    settings = state.settings
    if not settings.sources:
        raise ApiError(409, "no sources are configured", hint="add a `sources:` list to "
                       "shipwise.yaml and restart the server (see docs/sync.md)")
    known = {source.id for source in settings.sources}
    if unknown := [n for n in body.sources if n not in known]:
        raise NotFoundError(f"no source named {unknown[0]!r}",
                            hint=f"configured: {', '.join(sorted(known))}")
    return _write(state, principal, sync.sync_sources, body.sources, scopes=body.scopes,
                  restart=body.restart)


def _write(state: Any, principal: Principal, door: Callable[..., T], *args: Any,
           **kwargs: Any) -> T:
    """``door`` on a connection of its own, after any other long write (one at a time)."""
    with state.writes, state.store.own_connection() as store:
        return door(Caller(store, principal, state.settings, "api"), *args, **kwargs)


@router.get("/audit", summary="The access log: every read, allowed or refused", tags=["admin"],
            description="Newest first: who (token, its name, role), what (action, subject), "
                        "when, through which interface, allowed or refused, and whether the "
                        "figures read were people-derived (flow, strain). Filters: "
                        "`people_derived`, `since` (a day, UTC). Roles: admin.",
            responses={200: _example([{"read_at": "2026-09-01T10:00:00Z",
                                       "token_id": "0a1b2c3d4e5f", "reader": "payments dashboard",
                                       "role": "member", "interface": "api",
                                       "action": "org.cost", "subject": "org:cost",
                                       "allowed": False, "people_derived": False}])})
def audit(state: State, principal: Who,
          limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
          people_derived: Annotated[bool | None, Query(
              description="true: only reads of people-derived figures; false: only the others.")
          ] = None,
          since: Annotated[date | None, Query(description="From this day (UTC), YYYY-MM-DD.",
                                              examples=["2026-09-01"])] = None
          ) -> list[r.AccessRow]:
    start = datetime(since.year, since.month, since.day, tzinfo=UTC) if since else None
    return _call(state, principal, admin.access_log, limit=limit, people_derived=people_derived,
                 since=start)


#: 1970-01-01 to 9999-01-01 as a pattern (JSON Schema has no bounds for a date)
AS_OF_RANGE = (r"^(19[7-9][0-9]|[2-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])"
               r"-[0-9]{2}-[0-9]{2}$|^9999-01-01$")


class RetentionRequest(BaseModel):
    """Apply the charter's retention periods as of a day; ``dry_run`` only reports."""

    as_of: date | None = Field(None, ge=date(1970, 1, 1), le=date(9999, 1, 1),
                               examples=["2026-10-01"],
                               description="Apply as if today were this day (default: today, UTC).",
                               json_schema_extra={"pattern": AS_OF_RANGE})  # the bounds, in JSON
    dry_run: bool = Field(True, description="Report what would be removed and change nothing "
                                            "(the default: removing needs `false`).")


@router.post("/admin/retention", summary="Purge person-level inputs past their retention period",
             tags=["admin"],
             description="Pages older than their period are deleted; authors and taggers are "
                         "removed from commits, pull requests and tags (which stay); ended "
                         "memberships are deleted; every aggregate is kept. As `shipwise "
                         "retention apply --format json`. Logged in the access log and in "
                         "GET /api/v1/admin/retention. Roles: admin.",
             responses={**BAD_INPUT, 200: _example({
                 "as_of": "2026-10-01T00:00:00+00:00", "dry_run": True, "charter_version": 2,
                 "records": [{"record_type": "page", "before": "2025-10-01", "action": "delete",
                              "rows": 120}]})})
def retention_apply(state: State, principal: Who, body: RetentionRequest
                    ) -> r.RetentionResult:
    as_of = (datetime(body.as_of.year, body.as_of.month, body.as_of.day, tzinfo=UTC)
             if body.as_of else None)
    return _call(state, principal, admin.retention_apply, as_of=as_of, dry_run=body.dry_run)


@router.get("/admin/retention", summary="Earlier retention runs and what each removed",
            tags=["admin"], description="Newest first. Roles: admin.",
            responses={200: _example([{"run_at": "2026-10-01T02:00:00Z", "record_type": "page",
                                       "cutoff": "2025-10-01T00:00:00", "action": "delete",
                                       "rows": 120}])})
def retention_runs(state: State, principal: Who) -> list[r.RetentionRun]:
    return _call(state, principal, admin.retention_runs)
