"""The MCP tools: thin wrappers over :mod:`shipwise.services.views` (the authorised application
layer), so an assistant obeys the same roles and leaves the same access log as the API and the CLI.

:func:`build_server` knows nothing about transports. Three seams make it one server for both:

- ``store_provider()`` — a context manager lending a store for one call (stdio: opens the file;
  ``shipwise serve``: the process's one shared connection, under its lock);
- ``principal_provider(store, ctx)`` — who is calling (stdio: ``SHIPWISE_TOKEN`` or the local
  administrator; HTTP: the Bearer token the request was authenticated with);
- ``starter(principal, service, at, metric)`` — how an authorised investigation runs (stdio: here
  and now; HTTP: queued on the server's investigation worker).

Refusals (role, team, unknown ids, bad arguments) come back as MCP tool errors whose text is the
message and its hint — never as a protocol error or a crash.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import date
from typing import Any, TypeVar

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations

from shipwise import __version__
from shipwise.errors import ShipwiseError
from shipwise.governance.access import Principal
from shipwise.mcp.models import (
    CostResult,
    DoraResult,
    Investigation,
    InvestigationList,
    InvestigationStarted,
    InvestigationSummary,
    MetricEntry,
    Team,
    TeamList,
)
from shipwise.services import views
from shipwise.store.duckdb_store import Store

INTERFACE = "mcp"
INSTRUCTIONS = (
    "shipwise: delivery health (DORA), cost to serve and incident investigations of an "
    "engineering organisation. Start with list_teams; every number has a metric id that "
    "explain_metric explains (its charter says what it may and may not inform). Metrics describe "
    "teams and services, never individuals.")

StoreProvider = Callable[[], AbstractContextManager[Store]]
PrincipalProvider = Callable[[Store, Context], Principal]
Starter = Callable[[Principal, str, str, str], InvestigationStarted]

T = TypeVar("T")
READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)


def tool_error(exc: ShipwiseError) -> ToolError:
    """The message an assistant reads: what went wrong and what to do."""
    return ToolError(f"{exc} ({exc.hint})" if exc.hint else str(exc))


def build_server(store_provider: StoreProvider, principal_provider: PrincipalProvider, *,
                 starter: Starter | None = None) -> MCPServer:
    """The shipwise MCP server. Without ``starter``, ``start_investigation`` says it cannot."""
    server: MCPServer = MCPServer("shipwise", title="shipwise", version=__version__,
                                  instructions=INSTRUCTIONS)

    def call(ctx: Context, view: Callable[[Store, Principal], T]) -> T:
        try:
            with store_provider() as store:
                return view(store, principal_provider(store, ctx))
        except ShipwiseError as exc:
            raise tool_error(exc) from exc

    @server.tool(annotations=READ_ONLY)
    def list_teams(ctx: Context) -> TeamList:
        """Teams with their org unit, unit of delivery and number of services."""
        rows = call(ctx, lambda s, p: views.teams(s, p, interface=INTERFACE))
        return TeamList(teams=[Team(**r) for r in rows])

    @server.tool(annotations=READ_ONLY)
    def get_dora(ctx: Context, team: str, grain: str = "quarter", since: date | None = None,
                 until: date | None = None) -> DoraResult:
        """DORA metrics of a team per period (grain: week, month or quarter; since/until:
        YYYY-MM-DD, default the whole data span), with change vs the previous period and the
        performance cluster. Members and leads see their own team only."""
        res = call(ctx, lambda s, p: views.team_dora(s, p, team, grain=grain, since=since,
                                                     until=until, interface=INTERFACE))
        return DoraResult(**res)

    @server.tool(annotations=READ_ONLY)
    def get_cost(ctx: Context, team: str | None = None, grain: str = "quarter",
                 baseline: str = "yoy", since: date | None = None,
                 until: date | None = None) -> CostResult:
        """Cost to serve per period: of one team (its members, leads, admins), or of the whole
        organisation when team is left out (exec and admin only). baseline: yoy or qoq."""
        if team is None:
            res = call(ctx, lambda s, p: views.org_cost(s, p, grain=grain, baseline=baseline,
                                                        since=since, until=until,
                                                        interface=INTERFACE))
        else:
            res = call(ctx, lambda s, p: views.team_cost(s, p, team, grain=grain,
                                                         baseline=baseline, since=since,
                                                         until=until, interface=INTERFACE))
        return CostResult(**res)

    @server.tool(annotations=READ_ONLY)
    def explain_metric(ctx: Context, metric_id: str) -> MetricEntry:
        """What a metric id (e.g. dora.change_lead_time, cost.cost_to_serve) means: definition,
        unit, exclusions, and its charter — what it may and may not inform."""
        def entry(s: Store, p: Principal) -> dict[str, Any]:
            found = [m for m in views.catalog(s, p, interface=INTERFACE) if m["id"] == metric_id]
            if not found:
                from shipwise.errors import NotFoundError
                from shipwise.metrics.registry import REGISTRY

                raise NotFoundError(f"unknown metric {metric_id!r}",
                                    hint=f"known ids: {', '.join(sorted(REGISTRY))}")
            return found[0]

        return MetricEntry(**call(ctx, entry))

    @server.tool(annotations=READ_ONLY)
    def list_investigations(ctx: Context, limit: int = 20) -> InvestigationList:
        """Stored investigations, latest alarm first: service, root cause, confidence, summary."""
        rows = call(ctx, lambda s, p: views.investigations(s, p, limit=max(1, min(limit, 500)),
                                                           interface=INTERFACE))
        return InvestigationList(investigations=[InvestigationSummary(**r) for r in rows])

    @server.tool(annotations=READ_ONLY)
    def get_investigation(ctx: Context, id: str) -> Investigation:
        """One investigation: alarm, timeline, root cause, evidence, ruled-out observations,
        impact, mitigation plan and long-term fix."""
        return Investigation(**call(ctx, lambda s, p: views.investigation(
            s, p, id, interface=INTERFACE)))

    @server.tool(annotations=ToolAnnotations(read_only_hint=False, destructive_hint=False,
                                             idempotent_hint=False, open_world_hint=True))
    def start_investigation(ctx: Context, service: str, at: str = "now",
                            metric: str = "") -> InvestigationStarted:
        """Investigate what happened to a service around an instant (ISO-8601 with an offset,
        epoch seconds, or now), optionally for one metric (e.g. latency_p99)."""
        def authorised(s: Store, p: Principal) -> Principal:
            views.authorize(s, p, "investigations.start", f"service:{service}", None, INTERFACE)
            return p

        principal = call(ctx, authorised)
        if starter is None:
            raise ToolError("this server cannot start investigations (use `shipwise investigate`)")
        try:
            return starter(principal, service, at, metric)
        except ShipwiseError as exc:
            raise tool_error(exc) from exc

    return server
