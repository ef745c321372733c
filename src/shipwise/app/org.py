"""The organisation: who is asking, its teams and services, and the overview every role sees."""

from __future__ import annotations

from collections import Counter

from shipwise.app.caller import Caller
from shipwise.app.delivery import dora_table
from shipwise.app.guard import guard
from shipwise.app.metrics import DoraRequest
from shipwise.app.results import OrgUnit, Overview, Service, Team, Whoami
from shipwise.governance.access import POLICY
from shipwise.metrics.ids import DEPLOYMENT_FREQUENCY
from shipwise.store import investigations as investigation_table
from shipwise.store import org


def whoami(caller: Caller) -> Whoami:
    """Who the caller is and what it may do (its own principal: nothing to authorise)."""
    p = caller.principal
    return Whoami(role=p.role, team=p.team, name=p.name, token_id=p.token_id,
                  may=sorted(a for a in POLICY if p.can(a, p.team)))


@guard("teams.list", "teams")
def teams(caller: Caller) -> list[Team]:
    """Every team with its org unit, delivery unit and number of services."""
    return [Team.model_validate(r) for r in org.teams(caller.store)]


@guard("teams.list", "org_units")
def org_units(caller: Caller) -> list[OrgUnit]:
    """Every org unit with its name and parent: how the pages name a unit and tell a parent's
    roll-up (its children together) from its children."""
    return [OrgUnit.model_validate(r) for r in org.org_units(caller.store)]


@guard("teams.list", "services")
def services(caller: Caller) -> list[Service]:
    """Every service with its owning team."""
    return [Service.model_validate(r) for r in org.services(caller.store)]


@guard("org.overview", "org:overview")
def overview(caller: Caller) -> Overview:
    """The organisation at a glance, for every role: its teams, and how many teams are at each
    DORA 2024 performance level in the latest quarter (counts only, no team's diagnostics)."""
    team_rows = [Team.model_validate(r) for r in org.teams(caller.store)]
    rows = dora_table(caller.store, DoraRequest(grain="quarter"))["rows"]
    period = max((r["period"] for r in rows), default=None)
    latest = [r for r in rows if r["period"] == period]
    levels = Counter(str(r["cluster"] or "unclassified") for r in latest)
    deploys = sum(r["metrics"].get(DEPLOYMENT_FREQUENCY) or 0.0 for r in latest)
    investigations = None
    if caller.principal.can("investigations.read", caller.principal.team):
        investigations = investigation_table.count(caller.store, team=caller.own_team)
    return Overview(
        teams=team_rows, period=period, services=sum(t.services for t in team_rows),
        dora_levels={k: levels.get(k, 0) for k in ("elite", "high", "medium", "low",
                                                   "unclassified")
                     if k in levels or k != "unclassified"},
        deployments_per_week=round(deploys, 2), investigations=investigations)
