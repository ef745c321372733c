"""The MCP tools: thin wrappers over :mod:`shipwise.app.views` (the authorised application
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
from shipwise.app import views
from shipwise.config import Settings
from shipwise.errors import ShipwiseError
from shipwise.governance.access import Principal
from shipwise.mcp.models import (
    CharterResult,
    CostResult,
    DiagnosticsResult,
    DoraResult,
    FairnessResult,
    Investigation,
    InvestigationList,
    InvestigationStarted,
    InvestigationSummary,
    MetricEntry,
    SloResult,
    Team,
    TeamList,
)
from shipwise.store.duckdb_store import Store

INTERFACE = "mcp"
INSTRUCTIONS = (
    "shipwise: delivery health (DORA), flow, SLOs and error budgets, strain, cost to serve and "
    "incident investigations of an engineering organisation. Start with list_teams; every "
    "number has a metric id that explain_metric and get_charter explain (its charter says what "
    "it may and may not inform — never individual ratings, ranking, compensation or promotion). "
    "Metrics describe teams, org units and services, never individuals; a figure of too few "
    "people is null with its reason under `suppressed`: say it is hidden, never read it as 0.")

StoreProvider = Callable[[], AbstractContextManager[Store]]
PrincipalProvider = Callable[[Store, Context], Principal]
Starter = Callable[[Principal, str, str, str], InvestigationStarted]

T = TypeVar("T")
READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)


def tool_error(exc: ShipwiseError) -> ToolError:
    """The message an assistant reads: what went wrong and what to do."""
    return ToolError(f"{exc} ({exc.hint})" if exc.hint else str(exc))


def build_server(store_provider: StoreProvider, principal_provider: PrincipalProvider, *,
                 starter: Starter | None = None, settings: Settings | None = None) -> MCPServer:
    """The shipwise MCP server. Without ``starter``, ``start_investigation`` says it cannot;
    ``settings`` give the minimum group size, working hours and SLO policy (defaults without)."""
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
                                                     until=until, interface=INTERFACE,
                                                     settings=settings))
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

    def charter_map(data: Any) -> dict[str, dict[str, Any]]:
        from shipwise.app.views import charter_map as entries

        return entries(data)

    def diagnostics(ctx: Context, family: str, team: str | None, grain: str,
                    since: date | None, until: date | None) -> DiagnosticsResult:
        if team is None:
            res = call(ctx, lambda s, p: views.org_diagnostics(
                s, p, family, grain=grain, since=since, until=until, settings=settings,
                interface=INTERFACE))
        else:
            res = call(ctx, lambda s, p: views.team_diagnostics(
                s, p, family, team, grain=grain, since=since, until=until, settings=settings,
                interface=INTERFACE))
        return DiagnosticsResult(**res, charter=charter_map(res))

    @server.tool(annotations=READ_ONLY)
    def get_flow(ctx: Context, team: str | None = None, grain: str = "quarter",
                 since: date | None = None, until: date | None = None) -> DiagnosticsResult:
        """Flow of a team per period (grain: week, month or quarter): cycle time and its phases
        (coding, pickup, review, deploy), review latency, work in progress, open pull requests
        and their age, blocked time. Members and leads see their own team; leave team out for
        every org unit (exec, admin). Hidden figures are null with the reason in `suppressed`."""
        return diagnostics(ctx, "flow", team, grain, since, until)

    @server.tool(annotations=READ_ONLY)
    def get_strain(ctx: Context, team: str | None = None, grain: str = "quarter",
                   since: date | None = None, until: date | None = None) -> DiagnosticsResult:
        """Strain of a team per period: after-hours, weekend and sleep-hour pages, incident
        hours per on-call person-week, on-call concentration, pull requests stalled on other
        teams. Team or org-unit figures only, never a person; leave team out for every org unit
        (exec, admin). Hidden figures are null with the reason in `suppressed`."""
        return diagnostics(ctx, "strain", team, grain, since, until)

    @server.tool(annotations=READ_ONLY)
    def get_slo(ctx: Context, team: str, grain: str = "month",
                at: str | None = None) -> SloResult:
        """A team's SLOs: attainment, error budget remaining, burn rates and alert state at `at`
        (ISO-8601; default the latest SLI interval), the history per period, and the team's
        release appetite with a plain-language sentence. A reduced appetite is the error-budget
        policy protecting users, not a drop in productivity."""
        from shipwise.app.slo import slo_view

        res = call(ctx, lambda s, p: slo_view(
            s, p, team, settings_slo=settings.slo if settings else None, at=at, grain=grain,
            interface=INTERFACE))
        return SloResult(**res, charter=charter_map(res))

    @server.tool(annotations=READ_ONLY)
    def get_charter(ctx: Context, metric_id: str | None = None) -> CharterResult:
        """The metric charter: its version, the uses no metric may ever inform, and one metric's
        entry (metric_id, e.g. flow.cycle_time) or every entry with the retention periods of
        person-level inputs and the charter's validation problems (empty when sound)."""
        def read(s: Store, p: Principal) -> dict[str, Any]:
            from shipwise.app.views import charter_view

            return charter_view(s, p, metric_id, interface=INTERFACE)

        res = call(ctx, read)
        if metric_id is not None:
            from shipwise.governance.charter import load_charter

            charter = load_charter()
            return CharterResult(version=charter.version, forbidden_uses=charter.forbidden_uses,
                                 entry=res)
        return CharterResult(version=res["version"], forbidden_uses=res["forbidden_uses"],
                             metrics=res["metrics"], retention=res["retention"],
                             changes={str(k): v for k, v in res["changes"].items()},
                             problems=res["problems"])

    @server.tool(annotations=READ_ONLY)
    def fairness_audit(ctx: Context) -> FairnessResult:
        """The fairness audit of shipwise's own flags about teams (exec, admin): findings in
        plain language first (concern, watch, ok, each with what to do), then who each flag
        falls on by team attribute, correlations with context, and variance between org
        units."""
        def read(s: Store, p: Principal) -> dict[str, Any]:
            from shipwise.app.fairness import fairness_view

            return fairness_view(s, p, settings or Settings.model_validate({}),
                                 interface=INTERFACE)

        res = call(ctx, read)
        return FairnessResult(**res, charter=charter_map(res))

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
            views.may_investigate(s, p, service, interface=INTERFACE)
            return p

        principal = call(ctx, authorised)
        if starter is None:
            raise ToolError("this server cannot start investigations (use `shipwise investigate`)")
        try:
            return starter(principal, service, at, metric)
        except ShipwiseError as exc:
            raise tool_error(exc) from exc

    return server
