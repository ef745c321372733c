"""``/api/v1`` explain routes: why a deployment, a pull request or an incident counted — the JSON of
``shipwise explain deployment ID --format json``, ``shipwise explain pull-request REPO#N
--format json`` and ``shipwise explain incident ID --format json`` (docs/explain.md), through the
same doors and roles (the owning team's members and leads, admins)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from shipwise.api.routes import ERRORS, NOT_FOUND, NoStoreRoute, Who, _call
from shipwise.app import explain
from shipwise.app import results as r
from shipwise.http.security import State

router = APIRouter(prefix="/api/v1", tags=["explain"], route_class=NoStoreRoute,
                   responses=ERRORS)

Limit = Annotated[int, Query(ge=1, le=500, description="How many, newest first.")]


@router.get("/deployments", summary="The latest deployments' ids, to explain",
            description="Of `service` (a member or lead: of their team; admins: of every "
                        "team), newest first. Roles: member and lead of the owning team, admin.",
            responses=NOT_FOUND)
def deployments(state: State, principal: Who, service: str | None = None,
                limit: Limit = 20) -> r.ExplainList:
    return _call(state, principal, explain.list_deployments, service, limit)


@router.get("/deployments/{id:path}/explain", summary="Why a deployment counted",
            description="Where it came from (source, rule), whether and how DORA counts it, "
                        "the commits it shipped with each one's first production deployment, "
                        "their pull requests and which deployment delivered each, incidents it "
                        "caused: `shipwise explain deployment ID --format json`. Roles: member "
                        "and lead of the owning team, admin.",
            responses=NOT_FOUND)
def deployment(state: State, principal: Who,
               id: Annotated[str, Path(description="A deployment id",
                                       examples=["git:payments@v1.2.0"])]
               ) -> r.DeploymentExplanation:
    return _call(state, principal, explain.explain_deployment, id)


@router.get("/pull-requests", summary="The latest pull requests, to explain",
            description="Of `repo` (a member or lead: of their team's repositories), newest "
                        "first, as REPO#N.", responses=NOT_FOUND)
def pull_requests(state: State, principal: Who, repo: str | None = None,
                  limit: Limit = 20) -> r.ExplainList:
    return _call(state, principal, explain.list_pull_requests, repo, limit)


@router.get("/pull-requests/{id:path}/explain", summary="Why a pull request was (not) delivered",
            description="Its times and flow phases, its commits with each one's first production "
                        "deployment, and the deployment that delivered it or why none did: "
                        "`shipwise explain pull-request REPO#N --format json`. `id` is REPO#N "
                        "(`#` sent as `%23`) or the pull request's id. Roles: member and lead of "
                        "the owning team, admin.",
            responses=NOT_FOUND)
def pull_request(state: State, principal: Who,
                 id: Annotated[str, Path(description="REPO#N or a pull request id",
                                         examples=["acme/pay%2312"])]
                 ) -> r.PullRequestExplanation:
    return _call(state, principal, explain.explain_pull_request, id)


@router.get("/incidents", summary="The latest incidents' ids, to explain",
            description="Of `service` (a member or lead: of their team; admins: of every "
                        "team), newest first, with the deployment each is linked to. Roles: "
                        "member and lead of the owning team, admin.",
            responses=NOT_FOUND)
def incidents(state: State, principal: Who, service: str | None = None,
              limit: Limit = 20) -> r.ExplainList:
    return _call(state, principal, explain.list_incidents, service, limit)


@router.get("/incidents/{id:path}/explain", summary="Which deployment an incident is linked to",
            description="The production deployment it is linked to and on what basis (explicit "
                        "caused_by, a label, the team's time window) or why none, the production "
                        "deployments of its service around its opening, and what the link "
                        "changes in DORA: `shipwise explain incident ID --format json` "
                        "(docs/incident-links.md). Roles: member and lead of the owning team, "
                        "admin.",
            responses=NOT_FOUND)
def incident(state: State, principal: Who,
             id: Annotated[str, Path(description="An incident id", examples=["INC-1042"])]
             ) -> r.IncidentExplanation:
    return _call(state, principal, explain.explain_incident, id)
