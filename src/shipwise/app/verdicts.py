"""Verdicts on investigations and the accuracy they measure.

A responder marks a stored investigation's root cause right, partly right or wrong (with an
optional comment): whoever may start investigations on the investigation's service — a member
or lead of its team, an admin. Accuracy is read like the investigations: a member or lead over
their team's services, an admin over all. Services are not people: no suppression applies, and
no verdict names who gave it (only the role and interface).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from shipwise.app.caller import Caller
from shipwise.app.guard import Access, guard
from shipwise.app.prevention_results import Accuracy, AccuracyRow, Verdict
from shipwise.errors import InputError, NotFoundError
from shipwise.store import investigations as table
from shipwise.store import org
from shipwise.store import verdicts as verdict_table

VERDICTS = verdict_table.VERDICTS
MAX_COMMENT = 2000


def _team_of(caller: Caller, inv_id: str) -> str | None:
    found = table.entity_of(caller.store, inv_id)
    return org.service_team(caller.store, found) if found is not None else caller.own_team


def _mark_access(caller: Caller, arguments: Mapping[str, Any]) -> Iterable[Access]:
    inv_id = arguments["inv_id"]
    return [Access("investigations.start", f"investigation:{inv_id}:verdict",
                   _team_of(caller, inv_id))]


@guard("investigations.start", accesses=_mark_access)
def mark_verdict(caller: Caller, inv_id: str, verdict: str, *,
                 comment: str | None = None) -> Verdict:
    """Mark investigation ``inv_id``'s root cause ``right``, ``partly`` or ``wrong`` (marking
    again replaces the verdict)."""
    if verdict not in VERDICTS:
        raise InputError(f"verdict must be one of {', '.join(VERDICTS)}, not {verdict!r}",
                         hint="right: the root cause was it; partly: part of it; wrong: not it")
    text = (comment or "").strip() or None
    if text is not None and len(text) > MAX_COMMENT:
        raise InputError(f"the comment is {len(text)} characters long (at most {MAX_COMMENT})")
    rows = caller.store.query("SELECT root_cause_entity, root_cause_kind, status "
                              "FROM investigation WHERE id = ?", [inv_id])
    if not rows:
        raise NotFoundError(f"no investigation {inv_id!r}",
                            hint="`shipwise investigations list` or GET /api/v1/investigations")
    at = datetime.now(UTC)
    marked_by = f"{caller.principal.role}/{caller.interface}"
    verdict_table.mark(caller.store, inv_id, verdict, text, at, marked_by)
    return Verdict(investigation_id=inv_id, verdict=verdict,  # type: ignore[arg-type]
                   comment=text, marked_at=at, marked_by=marked_by,
                   root_cause_entity=rows[0]["root_cause_entity"],
                   root_cause_kind=rows[0]["root_cause_kind"])


def _read_access(caller: Caller, arguments: Mapping[str, Any]) -> Iterable[Access]:
    inv_id = arguments["inv_id"]
    return [Access("investigations.read", f"investigation:{inv_id}:verdict",
                   _team_of(caller, inv_id))]


@guard("investigations.read", accesses=_read_access)
def verdict_of(caller: Caller, inv_id: str) -> Verdict | None:
    """The verdict on investigation ``inv_id`` (None: not marked yet)."""
    if not table.exists(caller.store, inv_id):
        raise NotFoundError(f"no investigation {inv_id!r}",
                            hint="`shipwise investigations list` or GET /api/v1/investigations")
    row = verdict_table.of(caller.store, inv_id)
    return None if row is None else Verdict.model_validate(row)


def _row(r: dict[str, Any]) -> AccuracyRow:
    marked = int(r["marked"])
    return AccuracyRow(value=r["value"], marked=marked, right=r["right"], partly=r["partly"],
                       wrong=r["wrong"], accuracy=round(r["right"] / marked, 4),
                       accuracy_partial=round((r["right"] + r["partly"] / 2) / marked, 4))


@guard("investigations.read", accesses=lambda c, a: [
    Access("investigations.read", "investigations:accuracy", c.own_team)])
def accuracy(caller: Caller) -> Accuracy:
    """Accuracy of the root causes over the verdict-marked investigations: overall, by fault
    kind and by service (a member or lead: their team's services)."""
    team = caller.own_team
    rows = verdict_table.accuracy(caller.store, team=team)
    overall = next((_row(r) for r in rows if r["dimension"] == "overall" and r["marked"]), None)
    return Accuracy(
        investigations=verdict_table.in_scope(caller.store, team=team), overall=overall,
        by_kind=[_row(r) for r in rows if r["dimension"] == "kind"],
        by_service=[_row(r) for r in rows if r["dimension"] == "service"],
        scope=f"the services of team {team}" if team else "every investigation")
