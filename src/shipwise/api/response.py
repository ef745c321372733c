"""``/api/v1`` incident-response routes: the imported incidents (filterable, one by one), and
resolving an actor's pseudonym for an on-call responder, with the log of such lookups
(docs/governance.md, "Who to call") — the doors of :mod:`shipwise.app.incidents` and
:mod:`shipwise.app.people`, with their roles."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from shipwise.api.routes import BAD_INPUT, ERRORS, NOT_FOUND, NoStoreRoute, Who, _call
from shipwise.app import incidents, people
from shipwise.app import response_results as rr
from shipwise.http.security import State

router = APIRouter(prefix="/api/v1", tags=["incidents"], route_class=NoStoreRoute,
                   responses=ERRORS)


@router.get("/imported-incidents", summary="Imported incidents, newest first",
            description="From the canonical import and the PagerDuty, Opsgenie, ServiceNow and "
                        "Jira connectors: service, team, severity, opened and resolved, duration, "
                        "the deployment that caused it, the source and the investigations that "
                        "cover it. Filters: team, service, severity, opened since/until (a day or "
                        "an instant), open only. Roles: a member or lead sees their team's "
                        "services', an admin every one; an exec is refused.",
            responses={**NOT_FOUND, **BAD_INPUT})
def incident_list(state: State, principal: Who, team: str | None = None,
                  service: str | None = None, severity: str | None = None,
                  since: str | None = None, until: str | None = None,
                  open: Annotated[bool, Query(description="Only unresolved incidents.")] = False,
                  limit: Annotated[int, Query(ge=1, le=10_000)] = 200) -> rr.IncidentList:
    return _call(state, principal, incidents.incident_list, team=team, service=service,
                 severity=severity, since=since, until=until, open_only=open, limit=limit)


@router.get("/imported-incidents/{incident_id}", summary="One imported incident",
            description="Its row and why it is (or is not) linked to a deployment. Roles: as "
                        "GET /imported-incidents.", responses=NOT_FOUND)
def incident_detail(state: State, principal: Who, incident_id: str) -> rr.IncidentDetail:
    return _call(state, principal, incidents.incident_detail, incident_id)


class ResolveRequest(BaseModel):
    """Who might be behind a pseudonym: the identities to check, and why you ask."""

    pseudonym: str = Field(max_length=64, examples=["p_3f9c0a1b2c3d4e5f6a7b"])
    reason: str = Field(max_length=2000, examples=["paging the author of the permission change "
                                                   "that broke checkout"])
    candidates: list[str] = Field(max_length=20_000, description=(
        "identities it might be: one person per item, comma-separated fields (a login, an "
        "email, how to reach them); checked here, never stored"),
        examples=[["alice,alice@example.com,+44 20 7946 0000", "bob@example.com"]])


@router.post("/investigations/{inv_id}/actors/resolve",
             summary="Resolve an actor's pseudonym (on-call responders)",
             description="Which of the candidates has the pseudonym under the store's key. Only "
                         "for an open investigation that shows the pseudonym, with a reason; "
                         "roles: a member or lead whose token has the responder grant (their "
                         "team's services), an admin. Every attempt is logged (GET "
                         "/audit/actor-lookups); the identity is in this answer only.",
             responses={**NOT_FOUND, **BAD_INPUT})
def resolve_actor(state: State, principal: Who, inv_id: str,
                  body: ResolveRequest) -> rr.ActorResolution:
    return _call(state, principal, people.resolve_actor, inv_id, body.pseudonym,
                 reason=body.reason, candidates=body.candidates)


@router.get("/audit/actor-lookups", summary="The actor-lookup log (admins)",
            description="Newest first: who resolved (or tried to) which pseudonym, for which "
                        "investigation, why, and the outcome; never the identity.",
            tags=["admin"])
def actor_lookups(state: State, principal: Who, investigation: str | None = None,
                  limit: Annotated[int, Query(ge=1, le=100_000)] = 100
                  ) -> list[rr.ActorLookupRow]:
    return _call(state, principal, people.actor_lookups, limit=limit,
                 investigation_id=investigation)
