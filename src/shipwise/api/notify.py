"""``/api/v1`` notification routes (docs/notifications.md): the outbox's state for an
administrator, and a team's weekly digest for whoever may read the team's own view — the doors
of :mod:`shipwise.app.notify`, with their roles. Sending stays with the CLI and the server's
schedule: a GET never writes to the outbox."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from shipwise.api.routes import BAD_INPUT, ERRORS, NOT_FOUND, NoStoreRoute, Who, _call
from shipwise.app import notify
from shipwise.app.results import Digest, NotifyStatus
from shipwise.http.security import State

router = APIRouter(prefix="/api/v1", tags=["notifications"], route_class=NoStoreRoute,
                   responses=ERRORS)


@router.get("/notify/status", summary="The notification outbox",
            description="Rows pending, delivered and failed per channel, the last errors, and "
                        "whether each channel's secret is found (never its value). Role: admin.")
def status(state: State, principal: Who) -> NotifyStatus:
    return _call(state, principal, notify.notify_status)


@router.get("/teams/{team}/digest", summary="A team's weekly digest",
            description="The team's week against its own previous weeks (DORA, flow, strain, "
                        "SLO budget), never other teams or people; figures of groups smaller "
                        "than the minimum are hidden. Roles: a member or lead of the team, an "
                        "admin. Reading it sends nothing.",
            responses={**NOT_FOUND, **BAD_INPUT})
def digest(state: State, principal: Who, team: str,
           week: Annotated[str | None, Query(pattern=r"^\d{4}-W\d{2}$",
                                             description="An ISO week, e.g. 2026-W38; default "
                                                         "the last full week of the data")] = None
           ) -> Digest:
    return _call(state, principal, notify.digest, team, week=week)
