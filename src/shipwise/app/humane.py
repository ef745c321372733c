"""Flow and strain (the humane diagnostics): a team's own view, or org-unit roll-ups for exec and
admin. People-derived: every read is logged as such, and figures of groups below the minimum are
suppressed so that no combination of what a role can read recovers them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from shipwise.app.caller import Caller
from shipwise.app.dates import check_window
from shipwise.app.diagnostics import DiagnosticRequest, diagnostic_rows
from shipwise.app.guard import Access, guard
from shipwise.app.memo import memo
from shipwise.app.results import DiagnosticsResult
from shipwise.errors import ForbiddenError
from shipwise.metrics.strain import Hours
from shipwise.store import org


def _table(caller: Caller, req: DiagnosticRequest) -> dict[str, Any]:
    k = caller.settings.privacy.min_group_size
    hours = Hours.from_settings(caller.settings.strain)
    return memo(caller.store, "diagnostics", (req, k, hours),
                lambda: diagnostic_rows(caller.store, req, min_group_size=k, hours=hours))


def _teams(caller: Caller, teams: tuple[str, ...]) -> tuple[str, ...]:
    """No teams named: the principal's own team, or every team for an admin."""
    if teams:
        return teams
    if caller.principal.role in ("member", "lead"):
        return (caller.principal.team,) if caller.principal.team else ()
    return tuple(org.team_ids(caller.store))


def _team_access(caller: Caller, arguments: Mapping[str, Any]) -> Iterable[Access]:
    family = arguments["family"]
    teams = _teams(caller, arguments["teams"])
    if not teams:
        raise ForbiddenError(f"no team to show {family} for", hint="pass --team")
    return [Access("team.diagnostic", f"team:{t}:{family}", t) for t in teams]


@guard("team.diagnostic", accesses=_team_access, people_derived=True)
def team_diagnostics(caller: Caller, family: str, teams: tuple[str, ...] = (), *,
                     grain: str = "quarter", since: date | None = None,
                     until: date | None = None) -> DiagnosticsResult:
    """Flow or strain (``family``) per team and period: the teams named (each must be the
    reader's own team for a member or lead), else the reader's own team (every team, admin)."""
    check_window(caller.store, since, until)
    req = DiagnosticRequest(family, grain, "team", _teams(caller, teams), since, until)
    return DiagnosticsResult.model_validate(_table(caller, req))


@guard("org.diagnostic", "org:{family}", people_derived=True)
def org_diagnostics(caller: Caller, family: str, *, grain: str = "quarter",
                    since: date | None = None, until: date | None = None) -> DiagnosticsResult:
    """Flow or strain per org unit and period (exec, admin), suppressed like team figures."""
    check_window(caller.store, since, until)
    req = DiagnosticRequest(family, grain, "org_unit", (), since, until)
    return DiagnosticsResult.model_validate(_table(caller, req))


def diagnostics(caller: Caller, family: str, teams: tuple[str, ...] = (), *,
                grain: str = "quarter", since: date | None = None,
                until: date | None = None) -> DiagnosticsResult:
    """The CLI's view: teams when named (or for a member, lead or admin), the org units for an
    exec, who never sees a team's diagnostics."""
    if not teams and caller.principal.role == "exec":
        return org_diagnostics(caller, family, grain=grain, since=since, until=until)
    return team_diagnostics(caller, family, teams, grain=grain, since=since, until=until)
