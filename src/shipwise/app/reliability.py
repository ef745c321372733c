"""SLOs: status, error budgets, burn-rate alerts and release appetite — a team's own view."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

from shipwise.app.caller import Caller
from shipwise.app.guard import Access, guard
from shipwise.app.results import SloResult
from shipwise.app.slo import slo_rows
from shipwise.errors import InputError
from shipwise.store import org


def _teams(caller: Caller, teams: tuple[str, ...]) -> tuple[str, ...]:
    """No teams named: every team the reader may see (their own, or all for an admin)."""
    if teams:
        return teams
    return tuple(t for t in org.team_ids(caller.store)
                 if caller.principal.can("team.diagnostic", t))


def _access(caller: Caller, arguments: Mapping[str, Any]) -> Iterable[Access]:
    teams = _teams(caller, arguments["teams"])
    if not teams:  # refused (an exec), logged with the reason
        return [Access("team.diagnostic", "team:*:slo", None)]
    return [Access("team.diagnostic", f"team:{t}:slo", t) for t in teams]


@guard("team.diagnostic", accesses=_access)
def slo(caller: Caller, teams: tuple[str, ...] = (), *, at: datetime | str | None = None,
        grain: str = "month", since: date | str | None = None, until: date | str | None = None,
        history: bool = True) -> SloResult:
    """The SLOs of ``teams`` (each the reader's own team for a member or lead; none named: every
    team the reader may see): status at ``at`` (default: the latest SLI interval end), history
    per ``grain`` and release appetite, in one query. ``team`` in the result is the team, or the
    list of teams when several."""
    teams = _teams(caller, teams)
    if not teams:
        raise InputError("no team to show", hint="name a team, e.g. --team payments")
    selected: str | list[str] = teams[0] if len(teams) == 1 else list(teams)
    return SloResult.model_validate(slo_rows(
        caller.store, caller.settings.slo, team=selected, at=at, grain=grain, since=since,
        until=until, history=history))
