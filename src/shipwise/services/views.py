"""The authorised application layer: every view a person or a program can open, with the
authorisation check and the access log in one place. The REST API, the web pages and the MCP
server call only these (with the store their process holds); the CLI calls them as the local
administrator, or as the principal of ``SHIPWISE_TOKEN`` when one is set.

Every function takes ``(store, principal, …)``, checks ``principal`` against
:mod:`shipwise.governance.access` and records the read in ``access_log`` (who, what, when,
allowed or not). A refused read is logged too, then raises :class:`ForbiddenError`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from shipwise.errors import ForbiddenError, NotFoundError
from shipwise.governance.access import Principal
from shipwise.store.duckdb_store import Store


def authorize(store: Store, principal: Principal, action: str, subject: str | None = None,
           team: str | None = None, interface: str = "api") -> None:
    allowed = principal.can(action, team)
    with store.transaction() as con:
        con.execute("INSERT INTO access_log VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [datetime.now(UTC), principal.token_id, principal.role, interface, action,
                     subject, allowed])
    if not allowed:
        principal.require(action, team)  # raises with the reason
        raise ForbiddenError(f"not allowed: {action}")  # pragma: no cover - require raised


def whoami(principal: Principal) -> dict[str, Any]:
    from shipwise.governance.access import POLICY

    return {"role": principal.role, "team": principal.team, "name": principal.name,
            "token_id": principal.token_id,
            "may": sorted(a for a in POLICY if principal.can(a, principal.team))}


def teams(store: Store, principal: Principal, *, interface: str = "api") -> list[dict[str, Any]]:
    authorize(store, principal, "teams.list", interface=interface)
    return store.query(
        "SELECT t.id AS team, t.name, t.org_unit, t.delivery_unit, count(s.id) AS services "
        "FROM team t LEFT JOIN service s ON s.team = t.id GROUP BY ALL ORDER BY t.org_unit, t.id")


def services(store: Store, principal: Principal, *, interface: str = "api") -> list[dict[str, Any]]:
    authorize(store, principal, "teams.list", interface=interface)
    return store.query("SELECT id AS service, name, team FROM service ORDER BY team, id")


def catalog(store: Store, principal: Principal, *, interface: str = "api") -> list[dict[str, Any]]:
    """Every metric id with its charter entry (definition, allowed and forbidden uses…)."""
    from shipwise.governance.charter import load_charter
    from shipwise.metrics.registry import REGISTRY

    authorize(store, principal, "metrics.catalog", interface=interface)
    charter = load_charter()
    return [{"id": m.id, "title": m.title, "family": m.family, "unit": m.unit, "better": m.better,
             "people_derived": m.people_derived, "docs": f"docs/metrics/{m.id}.md",
             "charter": charter.get(m.id).model_dump()} for m in REGISTRY.values()]


def metric(store: Store, principal: Principal, metric_id: str, *,
           interface: str = "api") -> dict[str, Any]:
    for m in catalog(store, principal, interface=interface):
        if m["id"] == metric_id:
            return m
    raise NotFoundError(f"unknown metric {metric_id!r}", hint="GET /api/v1/metrics lists them")


def team_dora(store: Store, principal: Principal, team: str, *, grain: str = "quarter",
              since: date | None = None, until: date | None = None,
              interface: str = "api") -> dict[str, Any]:
    from shipwise.services.metrics import DoraRequest, dora_rows

    authorize(store, principal, "team.diagnostic", f"team:{team}:dora", team, interface)
    return dora_rows(store, DoraRequest(grain=grain, team=(team,), since=since, until=until))


def team_cost(store: Store, principal: Principal, team: str, *, grain: str = "quarter",
              baseline: str = "yoy", since: date | None = None, until: date | None = None,
              interface: str = "api", tension: Any = None) -> dict[str, Any]:
    from shipwise.services.cost import CostRequest, cost_rows

    authorize(store, principal, "team.diagnostic", f"team:{team}:cost", team, interface)
    return cost_rows(store, CostRequest(grain=grain, baseline=baseline, team=(team,), since=since,
                                        until=until), tension)


def org_cost(store: Store, principal: Principal, *, grain: str = "quarter", baseline: str = "yoy",
             since: date | None = None, until: date | None = None, interface: str = "api",
             tension: Any = None) -> dict[str, Any]:
    from shipwise.services.cost import CostRequest, cost_rows

    authorize(store, principal, "org.cost", "org:cost", None, interface)
    return cost_rows(store, CostRequest(grain=grain, baseline=baseline, since=since, until=until),
                     tension)


def investigations(store: Store, principal: Principal, *, limit: int = 50,
                   interface: str = "api") -> list[dict[str, Any]]:
    authorize(store, principal, "investigations.read", "investigations", None, interface)
    return store.query(
        "SELECT id, created_at, alarm_id, entity, metric, alarm_at, status, root_cause_entity, "
        "root_cause_kind, confidence, summary, seconds FROM investigation "
        "ORDER BY alarm_at DESC, id LIMIT ?", [limit])


def investigation(store: Store, principal: Principal, inv_id: str, *,
                  interface: str = "api") -> dict[str, Any]:
    import json

    authorize(store, principal, "investigations.read", f"investigation:{inv_id}", None, interface)
    rows = store.query("SELECT record FROM investigation WHERE id = ?", [inv_id])
    if not rows:
        raise NotFoundError(f"no investigation {inv_id!r}", hint="GET /api/v1/investigations")
    rec = rows[0]["record"]
    return dict(json.loads(rec) if isinstance(rec, str) else rec)


def access_log(store: Store, principal: Principal, *, limit: int = 100,
               interface: str = "api") -> list[dict[str, Any]]:
    authorize(store, principal, "admin.audit", "access_log", None, interface)
    return store.query("SELECT read_at, token_id, role, interface, action, subject, allowed "
                       "FROM access_log ORDER BY read_at DESC LIMIT ?", [limit])


def dora_request(store: Store, principal: Principal, req: Any, *,
                 interface: str = "cli") -> dict[str, Any]:
    """A DORA request of any shape (teams, services, by), narrowed to what the principal may see:
    a member or lead gets their own team by default and nothing else."""
    from dataclasses import replace

    from shipwise.services.metrics import dora_rows

    teams = list(req.team)
    for svc in req.service:
        row = store.con.execute("SELECT team FROM service WHERE id = ?", [svc]).fetchone()
        teams.append(str(row[0]) if row else f"?{svc}")
    if principal.team is not None and principal.role in ("member", "lead") and not teams:
        req, teams = replace(req, team=(principal.team,)), [principal.team]
    for team in teams or [None]:
        authorize(store, principal, "team.diagnostic", f"team:{team or '*'}:dora", team, interface)
    return dora_rows(store, req)


def cost_request(store: Store, principal: Principal, req: Any, tension: Any = None, *,
                 interface: str = "cli") -> dict[str, Any]:
    """A cost request: the whole organisation needs ``org.cost`` (exec, admin); named teams need
    the team's diagnostic view (their own team for a member or lead) or ``org.cost``."""
    from shipwise.services.cost import cost_rows

    if not req.team:
        authorize(store, principal, "org.cost", "org:cost", None, interface)
    elif not principal.can("org.cost"):
        for team in req.team:
            authorize(store, principal, "team.diagnostic", f"team:{team}:cost", team, interface)
    else:
        authorize(store, principal, "org.cost", "org:cost:" + ",".join(req.team), None, interface)
    return cost_rows(store, req, tension)
