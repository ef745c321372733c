"""The authorised application layer: every view a person or a program can open, with the
authorisation check and the access log in one place. The REST API, the web pages and the MCP
server call only these (with the store their process holds); the CLI calls them as the local
administrator, or as the principal of ``SHIPWISE_TOKEN`` when one is set.

Every function takes ``(store, principal, …)``, checks ``principal`` against
:mod:`shipwise.governance.access` and records the read in ``access_log`` (who, what, when,
allowed or not). A refused read is logged too, then raises :class:`ForbiddenError`.
"""

from __future__ import annotations

import copy
import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from shipwise.app.dates import check_window
from shipwise.errors import ForbiddenError, InputError, NotFoundError
from shipwise.governance.access import Principal
from shipwise.store.duckdb_store import Store

if TYPE_CHECKING:
    from shipwise.config import Settings


#: (store file, facts version, view, arguments) -> result; results only change when data does
_MEMO: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
_MEMO_SIZE = 256
_MEMO_LOCK = threading.Lock()


def _memo(store: Store, view: str, args: tuple[Any, ...], compute: Any) -> Any:
    """A view's result, computed once per version of the facts (every ingest that changes data
    rebuilds the facts and so changes the version). Authorisation and the access log happen on
    every call, before this."""
    from shipwise.metrics.facts import ensure_fresh, facts_version

    ensure_fresh(store)
    key = (str(store.path), facts_version(store), view, args)
    with _MEMO_LOCK:
        if key in _MEMO:
            _MEMO.move_to_end(key)
            return copy.deepcopy(_MEMO[key])
    result = compute()
    with _MEMO_LOCK:
        _MEMO[key] = copy.deepcopy(result)
        while len(_MEMO) > _MEMO_SIZE:
            _MEMO.popitem(last=False)
    return result


def authorize(store: Store, principal: Principal, action: str, subject: str | None = None,
              team: str | None = None, interface: str = "api", *,
              people_derived: bool = False) -> None:
    """Check ``principal`` may do ``action`` (on ``team``) and log the attempt; ``people_derived``
    marks reads of figures computed from people's activity (``shipwise audit list``)."""
    allowed = principal.can(action, team)
    with store.transaction() as con:
        con.execute("INSERT INTO access_log (read_at, token_id, role, interface, action, subject, "
                    "allowed, people_derived, reader) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [datetime.now(UTC), principal.token_id, principal.role, interface, action,
                     subject, allowed, people_derived, principal.name or None])
    if not allowed:
        principal.require(action, team)  # raises with the reason
        raise ForbiddenError(f"not allowed: {action}")  # pragma: no cover - require raised


def audience(result: dict[str, Any], principal: Principal) -> dict[str, Any]:
    """Enforce the charter's audience on a result's rows: a metric whose charter entry does not
    name the principal's role is withheld (None, with the reason under ``withheld``) — so
    narrowing an audience in the charter narrows what every interface serves."""
    from shipwise.governance.charter import load_charter

    charter = load_charter()
    history = result.get("history")
    rows = [r for v in result.values() if isinstance(v, list) for r in v if isinstance(r, dict)]
    rows += [r for r in (history.get("rows", []) if isinstance(history, dict) else [])
             if isinstance(r, dict)]
    rows += [v for v in result.values() if isinstance(v, dict) and "metrics" in v]
    for row in rows:
        metrics = row.get("metrics")
        if not isinstance(metrics, dict):
            continue
        for mid in list(metrics):
            entry = charter.entries.get(mid)
            if entry is not None and principal.role not in entry.audience:
                metrics[mid] = None
                row.setdefault("withheld", {})[mid] = (
                    f"not for the {principal.role} role (charter v{charter.version} audience: "
                    f"{', '.join(entry.audience)})")
    return result


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
             "charter": (charter.entries[m.id].model_dump() if m.id in charter.entries else None)}
            for m in REGISTRY.values()]


def metric(store: Store, principal: Principal, metric_id: str, *,
           interface: str = "api") -> dict[str, Any]:
    for m in catalog(store, principal, interface=interface):
        if m["id"] == metric_id:
            return m
    raise NotFoundError(f"unknown metric {metric_id!r}", hint="GET /api/v1/metrics lists them")


def with_appetite(store: Store, result: dict[str, Any], settings_slo: Any = None) -> dict[str, Any]:
    """Release appetite (the error-budget policy) beside deployment frequency for the teams in a
    DORA result: fewer releases while a budget burns reads as risk management, not a drop in
    productivity. Same teams as the result, so no further authorisation is needed."""
    from shipwise.app.slo import release_appetite

    teams = {r["team"] for r in result.get("rows", []) if "team" in r}
    if teams:
        appetite = _memo(store, "appetite", (repr(settings_slo),),
                         lambda: release_appetite(store, settings_slo))
        result["release_appetite"] = {t: appetite[t] for t in sorted(teams) if t in appetite}
    return result


def team_dora(store: Store, principal: Principal, team: str, *, grain: str = "quarter",
              since: date | None = None, until: date | None = None,
              interface: str = "api", settings: Settings | None = None) -> dict[str, Any]:
    from shipwise.app.metrics import DoraRequest, dora_rows

    authorize(store, principal, "team.diagnostic", f"team:{team}:dora", team, interface)
    req = DoraRequest(grain=grain, team=(team,), since=since, until=until)
    return with_appetite(store, audience(
        dict(_memo(store, "dora", (req,), lambda: dora_rows(store, req))), principal),
        settings.slo if settings is not None else None)


def team_cost(store: Store, principal: Principal, team: str, *, grain: str = "quarter",
              baseline: str = "yoy", since: date | None = None, until: date | None = None,
              interface: str = "api", tension: Any = None) -> dict[str, Any]:
    from shipwise.app.cost import CostRequest, cost_rows

    authorize(store, principal, "team.diagnostic", f"team:{team}:cost", team, interface)
    req = CostRequest(grain=grain, baseline=baseline, team=(team,), since=since, until=until)
    return audience(dict(_memo(store, "cost", (req, repr(tension)),
                               lambda: cost_rows(store, req, tension))), principal)


def org_cost(store: Store, principal: Principal, *, grain: str = "quarter", baseline: str = "yoy",
             since: date | None = None, until: date | None = None, interface: str = "api",
             tension: Any = None) -> dict[str, Any]:
    from shipwise.app.cost import CostRequest, cost_rows

    authorize(store, principal, "org.cost", "org:cost", None, interface)
    req = CostRequest(grain=grain, baseline=baseline, since=since, until=until)
    return audience(dict(_memo(store, "cost", (req, repr(tension)),
                               lambda: cost_rows(store, req, tension))), principal)


def own_team(principal: Principal) -> str | None:
    """The team a member or lead is confined to (``None``: every team, for exec and admin)."""
    from shipwise.governance.access import TEAM_ROLES

    return principal.team if principal.role in TEAM_ROLES else None


def service_team(store: Store, entity: str | None) -> str | None:
    """The team owning service ``entity`` (``None``: not a service of any team)."""
    row = store.con.execute("SELECT team FROM service WHERE id = ?", [entity]).fetchone()
    return str(row[0]) if row and row[0] is not None else None


def investigations(store: Store, principal: Principal, *, limit: int = 50,
                   interface: str = "api") -> list[dict[str, Any]]:
    """The latest investigations: a member or lead sees those of their team's services only."""
    team = own_team(principal)
    authorize(store, principal, "investigations.read", "investigations", team, interface)
    where, params = ("WHERE entity IN (SELECT id FROM service WHERE team = ?) ", [team]) \
        if team is not None else ("", [])
    return store.query(
        "SELECT id, created_at, alarm_id, entity, metric, alarm_at, status, root_cause_entity, "
        f"root_cause_kind, confidence, summary, seconds FROM investigation {where}"
        "ORDER BY alarm_at DESC, id LIMIT ?", [*params, limit])


def investigation(store: Store, principal: Principal, inv_id: str, *,
                  interface: str = "api") -> dict[str, Any]:
    """One investigation, for whoever may read the investigations of its service's team."""
    import json

    rows = store.query("SELECT entity, record FROM investigation WHERE id = ?", [inv_id])
    team = service_team(store, rows[0]["entity"]) if rows else own_team(principal)
    authorize(store, principal, "investigations.read", f"investigation:{inv_id}", team, interface)
    if not rows:
        raise NotFoundError(f"no investigation {inv_id!r}",
                            hint="`shipwise investigations list` or GET /api/v1/investigations")
    rec = rows[0]["record"]
    return dict(json.loads(rec) if isinstance(rec, str) else rec)


def access_log(store: Store, principal: Principal, *, limit: int = 100,
               people_derived: bool | None = None, since: datetime | None = None,
               interface: str = "api") -> list[dict[str, Any]]:
    """The audit log, newest first: who (token, its name, role), what, when, through which
    interface, allowed or refused, and whether the figures read were people-derived."""
    authorize(store, principal, "admin.audit", "access_log", None, interface)
    where: list[str] = ["TRUE"]
    params: list[Any] = []
    if people_derived is not None:
        where.append("coalesce(a.people_derived, false) = ?")
        params.append(people_derived)
    if since is not None:
        where.append("a.read_at >= ?")
        params.append(since)
    return store.query(
        "SELECT a.read_at, a.token_id, coalesce(t.name, a.reader) AS reader, a.role, a.interface, "
        "a.action, a.subject, a.allowed, coalesce(a.people_derived, false) AS people_derived "
        "FROM access_log a LEFT JOIN api_token t ON t.id = a.token_id "
        f"WHERE {' AND '.join(where)} ORDER BY a.read_at DESC LIMIT ?", [*params, limit])


def dora_request(store: Store, principal: Principal, req: Any, *,
                 interface: str = "cli") -> dict[str, Any]:
    """A DORA request of any shape (teams, services, by), narrowed to what the principal may see:
    a member or lead gets their own team by default and nothing else."""
    from dataclasses import replace

    from shipwise.app.metrics import dora_rows

    teams = list(req.team)
    for svc in req.service:
        row = store.con.execute("SELECT team FROM service WHERE id = ?", [svc]).fetchone()
        teams.append(str(row[0]) if row else f"?{svc}")
    if principal.team is not None and principal.role in ("member", "lead") and not teams:
        req, teams = replace(req, team=(principal.team,)), [principal.team]
    for team in teams or [None]:
        authorize(store, principal, "team.diagnostic", f"team:{team or '*'}:dora", team, interface)
    return with_appetite(store, audience(dora_rows(store, req), principal))


def cost_request(store: Store, principal: Principal, req: Any, tension: Any = None, *,
                 interface: str = "cli") -> dict[str, Any]:
    """A cost request: the whole organisation needs ``org.cost`` (exec, admin); named teams need
    the team's diagnostic view (their own team for a member or lead) or ``org.cost``."""
    from shipwise.app.cost import cost_rows

    if not req.team:
        authorize(store, principal, "org.cost", "org:cost", None, interface)
    elif not principal.can("org.cost"):
        for team in req.team:
            authorize(store, principal, "team.diagnostic", f"team:{team}:cost", team, interface)
    else:
        authorize(store, principal, "org.cost", "org:cost:" + ",".join(req.team), None, interface)
    return audience(cost_rows(store, req, tension), principal)


def alarms(store: Store, principal: Principal, settings: Settings, *, status: str | None = None,
           limit: int = 50, interface: str = "api") -> list[dict[str, Any]]:
    """The latest alarm intake rows, newest first (without raw payloads); a member or lead sees
    the alarms on their team's services only."""
    from contextlib import nullcontext

    from shipwise.app.alarms import list_alarms

    team = own_team(principal)
    authorize(store, principal, "alarms.read", "alarms", team, interface)
    return list_alarms(settings, status, limit, session=lambda: nullcontext(store), team=team)


def may_investigate(store: Store, principal: Principal, entity: str, *,
                    interface: str = "api") -> None:
    """Refuse (logged) unless ``principal`` may start an investigation of ``entity``: a member
    or lead on their own team's services; an entity that is no team's service, admins only."""
    authorize(store, principal, "investigations.start", f"service:{entity}",
              service_team(store, entity), interface)


def start_investigation(store: Store, principal: Principal, entity: str, at: datetime,
                        metric: str | None = None, *,
                        receive: Callable[[bytes, str], dict[str, Any]],
                        interface: str = "api") -> dict[str, Any]:
    """Queue an investigation of ``entity`` at ``at``: a generic alarm handed to ``receive`` (the
    server's intake, which stores it and queues it for the investigation worker)."""
    import json

    row = store.con.execute("SELECT count(*) FROM service WHERE id = ?", [entity]).fetchone()
    if not row or not row[0]:  # services are public: a 404 for whoever may start one at all
        authorize(store, principal, "investigations.start", f"service:{entity}",
                  own_team(principal), interface)
        raise NotFoundError(f"unknown service {entity!r}", hint="GET /api/v1/services lists them")
    may_investigate(store, principal, entity, interface=interface)
    if at.tzinfo is None:
        raise InputError("'at' needs a UTC offset", hint="e.g. 2026-09-01T10:00:00Z")
    body = {"entity": entity, "metric": metric or "", "time": at.isoformat(),
            "alertname": "investigation requested",
            "summary": f"requested through the {interface} by {principal.name or principal.role}"}
    result = receive(json.dumps(body).encode(), "generic")
    if result["rejected"]:
        raise InputError(result["rejected"], hint=result["hint"])
    return {"id": result["ids"][0], "queued": bool(result["accepted"]),
            "duplicate": result["duplicate"], "entity": entity, "at": at.isoformat(),
            "metric": metric}


def tokens(store: Store, principal: Principal, *, interface: str = "api") -> list[dict[str, Any]]:
    from shipwise.app.tokens import list_tokens

    authorize(store, principal, "admin.tokens", "tokens", None, interface)
    return list_tokens(store)


def create_token(store: Store, principal: Principal, name: str, role: str,
                 team: str | None = None, *, interface: str = "api") -> dict[str, Any]:
    from shipwise.app.tokens import create_token as create

    authorize(store, principal, "admin.tokens", f"token:new:{role}", None, interface)
    return create(store, name, role, team)


def revoke_token(store: Store, principal: Principal, token_id: str, *,
                 interface: str = "api") -> dict[str, Any]:
    from shipwise.app.tokens import revoke_token as revoke

    authorize(store, principal, "admin.tokens", f"token:{token_id}", None, interface)
    return revoke(store, token_id)


def org_overview(store: Store, principal: Principal, *,
                 interface: str = "api") -> dict[str, Any]:
    """The organisation at a glance, for every role: its teams, and how many teams are at each
    DORA 2024 performance level in the latest quarter (counts only, no team's diagnostics)."""
    from collections import Counter

    from shipwise.app.metrics import DoraRequest, dora_rows

    authorize(store, principal, "org.overview", "org:overview", None, interface)
    team_rows = store.query(
        "SELECT t.id AS team, t.name, t.org_unit, t.delivery_unit, count(s.id) AS services "
        "FROM team t LEFT JOIN service s ON s.team = t.id GROUP BY ALL ORDER BY t.org_unit, t.id")
    rows = dora_rows(store, DoraRequest(grain="quarter"))["rows"]
    period = max((r["period"] for r in rows), default=None)
    latest = [r for r in rows if r["period"] == period]
    levels = Counter(str(r["cluster"] or "unclassified") for r in latest)
    deploys = sum(r["metrics"].get("dora.deployment_frequency") or 0.0 for r in latest)
    out: dict[str, Any] = {
        "teams": team_rows, "period": period,
        "services": sum(int(t["services"]) for t in team_rows),
        "dora_levels": {k: levels.get(k, 0) for k in ("elite", "high", "medium", "low",
                                                         "unclassified") if k in levels or
                        k != "unclassified"},
        "deployments_per_week": round(deploys, 2),
        "investigations": None,
    }
    if principal.can("investigations.read", principal.team):
        team = own_team(principal)
        row = store.con.execute(
            "SELECT count(*) FROM investigation" + (
                " WHERE entity IN (SELECT id FROM service WHERE team = ?)" if team else ""),
            [team] if team else []).fetchone()
        out["investigations"] = int(row[0]) if row else 0
    return out


def _diagnostics(store: Store, req: Any, settings: Settings | None) -> dict[str, Any]:
    from shipwise.app.diagnostics import diagnostic_rows
    from shipwise.metrics.strain import Hours

    k = settings.privacy.min_group_size if settings is not None else 5
    hours = Hours.from_settings(settings.strain) if settings is not None else Hours()
    return dict(_memo(store, "diagnostics", (req, k, hours),
                      lambda: diagnostic_rows(store, req, min_group_size=k, hours=hours)))


def _diagnostics_for(store: Store, principal: Principal, req: Any,
                     settings: Settings | None) -> dict[str, Any]:
    return audience(_diagnostics(store, req, settings), principal)


def team_diagnostics(store: Store, principal: Principal, family: str, team: str, *,
                     grain: str = "quarter", since: date | None = None, until: date | None = None,
                     settings: Settings | None = None, interface: str = "api") -> dict[str, Any]:
    """A team's flow or strain (``family``) per period: its own diagnostic view. People-derived:
    logged as such, and figures of groups below the minimum are suppressed."""
    from shipwise.app.diagnostics import DiagnosticRequest

    authorize(store, principal, "team.diagnostic", f"team:{team}:{family}", team, interface,
              people_derived=True)
    check_window(store, since, until)
    req = DiagnosticRequest(family, grain, "team", (team,), since, until)
    return _diagnostics_for(store, principal, req, settings)


def org_diagnostics(store: Store, principal: Principal, family: str, *, grain: str = "quarter",
                    since: date | None = None, until: date | None = None,
                    settings: Settings | None = None, interface: str = "api") -> dict[str, Any]:
    """Flow or strain per org unit (exec, admin): the same suppression as team figures."""
    from shipwise.app.diagnostics import DiagnosticRequest

    authorize(store, principal, "org.diagnostic", f"org:{family}", None, interface,
              people_derived=True)
    check_window(store, since, until)
    req = DiagnosticRequest(family, grain, "org_unit", (), since, until)
    return _diagnostics_for(store, principal, req, settings)


def diagnostics_request(store: Store, principal: Principal, family: str, *,
                        teams: tuple[str, ...] = (), grain: str = "quarter",
                        since: date | None = None, until: date | None = None,
                        settings: Settings | None = None, interface: str = "cli") -> dict[str, Any]:
    """Several teams at once (the CLI): each team is authorised and logged like a single read;
    no teams = the principal's own team, or every team for an admin."""
    if not teams:
        if principal.role == "exec":  # an exec sees the organisation by org unit, never a team
            return org_diagnostics(store, principal, family, grain=grain, since=since,
                                   until=until, settings=settings, interface=interface)
        if principal.role in ("member", "lead"):
            teams = (principal.team,) if principal.team else ()
        else:
            teams = tuple(r["id"] for r in store.query("SELECT id FROM team ORDER BY id"))
    out: dict[str, Any] | None = None
    for team in teams:
        part = team_diagnostics(store, principal, family, team, grain=grain, since=since,
                                until=until, settings=settings, interface=interface)
        if out is None:
            out = part
        else:
            out["rows"].extend(part["rows"])
    if out is None:
        raise ForbiddenError(f"no team to show {family} for", hint="pass --team")
    return out


def charter_map(data: Any) -> dict[str, dict[str, Any]]:
    """The charter entry (:meth:`Charter.summary`) of every metric id named in ``data``, as a key
    or a value: what the API, the web pages and MCP show beside a number."""
    from shipwise.governance.charter import load_charter
    from shipwise.metrics.registry import REGISTRY

    ids: set[str] = set()

    def walk(x: Any) -> None:
        if isinstance(x, dict):
            for k, v in x.items():
                if isinstance(k, str) and k in REGISTRY:
                    ids.add(k)
                walk(v)
        elif isinstance(x, list | tuple):
            for v in x:
                walk(v)
        elif isinstance(x, str) and x in REGISTRY:
            ids.add(x)

    walk(data)
    charter = load_charter()
    return {i: charter.summary(i) for i in sorted(ids) if i in charter.entries}


def charter_view(store: Store, principal: Principal, metric_id: str | None = None, *,
                 interface: str = "api") -> dict[str, Any]:
    """The charter (or one entry) for anyone who may read the metric catalog; the read is logged."""
    from shipwise.app.governance import charter_report
    from shipwise.governance.charter import load_charter

    authorize(store, principal, "metrics.catalog",
                    f"charter:{metric_id}" if metric_id else "charter", None, interface)
    if metric_id is None:
        return charter_report()
    charter = load_charter()
    if metric_id not in charter.entries:
        raise NotFoundError(f"no charter entry for {metric_id!r}",
                            hint="GET /api/v1/charter lists every entry")
    return {"charter_version": charter.version, **charter.get(metric_id).model_dump(),
            "docs": f"docs/metrics/{metric_id}.md"}
