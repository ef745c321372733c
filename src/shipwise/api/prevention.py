"""``/api/v1`` prevention and verdict routes: the recommendations a prevention scan keeps and
people's decisions on them, and responders' verdicts on investigations with the accuracy they
measure (docs/prevention.md) — the doors of :mod:`shipwise.app.prevention` and
:mod:`shipwise.app.verdicts`, with their roles.

Mounted before the main API router, so ``/investigations/accuracy`` is not read as an
investigation id."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from shipwise.api.routes import BAD_INPUT, ERRORS, NOT_FOUND, NoStoreRoute, Who, _call, _example
from shipwise.app import prevention, verdicts
from shipwise.app import prevention_results as p
from shipwise.http.security import State

router = APIRouter(prefix="/api/v1", tags=["prevention"], route_class=NoStoreRoute,
                   responses=ERRORS)

Key = Annotated[str, Path(description="A recommendation's key, as in GET /api/v1/prevention",
                          examples=["pipeline:deploy:pay-api"])]


class VerdictRequest(BaseModel):
    """A responder's verdict on an investigation's root cause."""

    verdict: p.VerdictValue = Field(examples=["right"])
    comment: str | None = Field(None, max_length=2000, examples=["the deploy of 10:02, yes"])


class StatusRequest(BaseModel):
    """A decision on a recommendation; dismissing needs a reason."""

    status: p.Status = Field(examples=["dismissed"])
    reason: str | None = Field(None, max_length=2000,
                               examples=["covered by the platform migration in Q3"])


@router.get("/investigations/accuracy", summary="Root-cause accuracy by the responders' verdicts",
            description="Over the verdict-marked investigations: right / marked (and with partly "
                        "as half), overall, by fault kind and by service. Roles: a member or lead "
                        "over their own team's services, an admin over all; an exec is refused.",
            responses={200: _example({"investigations": 120, "overall": {
                "marked": 50, "right": 43, "partly": 4, "wrong": 3, "accuracy": 0.86,
                "accuracy_partial": 0.9}, "by_kind": [], "by_service": [],
                "scope": "every investigation"})})
def accuracy(state: State, principal: Who) -> p.Accuracy:
    return _call(state, principal, verdicts.accuracy)


@router.get("/investigations/{inv_id}/verdict", summary="The verdict on an investigation",
            description="null while nobody marked it. Roles: as GET /investigations/{id}.",
            responses=NOT_FOUND)
def verdict(state: State, principal: Who, inv_id: str) -> p.Verdict | None:
    return _call(state, principal, verdicts.verdict_of, inv_id)


@router.put("/investigations/{inv_id}/verdict", summary="Mark an investigation's root cause",
            description="right, partly or wrong, with an optional comment; marking again "
                        "replaces it. Prevention scans leave root causes marked wrong out and "
                        "weight confirmed ones. Roles: whoever may start investigations on its "
                        "service (a member or lead of its team, an admin).",
            responses={**NOT_FOUND, **BAD_INPUT})
def mark_verdict(state: State, principal: Who, inv_id: str, body: VerdictRequest) -> p.Verdict:
    return _call(state, principal, verdicts.mark_verdict, inv_id, body.verdict,
                 comment=body.comment)


@router.get("/prevention", summary="Prevention recommendations",
            description="Highest priority and cost first, each with the incidents behind it, the "
                        "rationale, the concrete change and its status; with the last scan. "
                        "Roles: a member or lead sees those about their own team's services, an "
                        "admin all; an exec is refused.",
            responses=BAD_INPUT)
def recommendations(state: State, principal: Who, status: p.Status | None = None,
                    category: p.Category | None = None,
                    all: Annotated[bool, Query(description="Also those the latest scan no "
                                                           "longer saw.")] = False
                    ) -> p.PreventionList:
    return _call(state, principal, prevention.recommendations, status=status, category=category,
                 include_inactive=all)


@router.post("/prevention/scans", summary="Run a prevention scan now",
             description="Scans every stored investigation and imported incident for recurring "
                         "patterns and keeps the recommendations (a re-scan updates them and "
                         "keeps their status). The server also scans every "
                         "`prevention.interval_hours`. Roles: admin.")
async def scan(state: State, principal: Who) -> p.ScanResult:
    return await run_in_threadpool(_call, state, principal, prevention.scan)


@router.get("/prevention/{key}", summary="One recommendation", responses=NOT_FOUND)
def recommendation(state: State, principal: Who, key: Key) -> p.Recommendation:
    return _call(state, principal, prevention.recommendation, key)


@router.post("/prevention/{key}/status", summary="Accept, dismiss, mark done or reopen",
             description="`dismissed` needs a `reason`. A done recommendation whose pattern comes "
                         "back after it was done is opened again by the next scan. Roles: a "
                         "member or lead for their own team's services, an admin for all.",
             responses={**NOT_FOUND, **BAD_INPUT})
def decide(state: State, principal: Who, key: Key, body: StatusRequest) -> p.Recommendation:
    return _call(state, principal, prevention.decide, key, body.status, reason=body.reason)
