"""The MCP tools: thin wrappers over the doors of :mod:`shipwise.app`, so an assistant obeys the
same roles and leaves the same access log as the API and the CLI, and each tool's output schema is
the door's result model.

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
from typing import TypeVar

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations

from shipwise import __version__
from shipwise.app import (
    ai,
    ask,
    catalog,
    delivery,
    explain,
    humane,
    incidents,
    notify,
    org,
    oversight,
    prevention,
    reliability,
    topology,
    verdicts,
)
from shipwise.app.caller import Caller, Interface, Principal, Store
from shipwise.app.cost import CostRequest
from shipwise.app.metrics import DoraRequest
from shipwise.app.prevention_results import Accuracy, PreventionList, Recommendation, Verdict
from shipwise.app.response_results import IncidentList
from shipwise.app.results import (
    AiAdoptionResult,
    AiAgentsResult,
    AiEffectResult,
    Answer,
    BlastRadius,
    CharterResult,
    CostResult,
    DeploymentExplanation,
    DiagnosticsResult,
    Digest,
    DoraResult,
    FairnessResult,
    IncidentExplanation,
    Investigation,
    InvestigationList,
    InvestigationStarted,
    MetricEntry,
    PullRequestExplanation,
    SloResult,
    TeamList,
    Verification,
)
from shipwise.config import Settings
from shipwise.errors import ShipwiseError

INTERFACE: Interface = "mcp"
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
    text = f"{exc} ({exc.hint})" if exc.hint else str(exc)
    detail = getattr(exc, "detail", None)  # a policy refusal: who may, and why, in plain words
    return ToolError(f"{text}. {detail}" if detail else text)


def build_server(store_provider: StoreProvider, principal_provider: PrincipalProvider, *,
                 starter: Starter | None = None, settings: Settings | None = None) -> MCPServer:
    """The shipwise MCP server. Without ``starter``, ``start_investigation`` says it cannot;
    ``settings`` give the minimum group size, working hours and SLO policy (defaults without)."""
    server: MCPServer = MCPServer("shipwise", title="shipwise", version=__version__,
                                  instructions=INSTRUCTIONS)
    config = settings or Settings.model_validate({})

    def call(ctx: Context, door: Callable[[Caller], T]) -> T:
        try:
            with store_provider() as store:
                return door(Caller(store, principal_provider(store, ctx), config, INTERFACE))
        except ShipwiseError as exc:
            raise tool_error(exc) from exc

    @server.tool(annotations=READ_ONLY)
    def list_teams(ctx: Context) -> TeamList:
        """Teams with their org unit, unit of delivery and number of services."""
        return TeamList(teams=call(ctx, org.teams))

    @server.tool(annotations=READ_ONLY)
    def get_dora(ctx: Context, team: str, grain: str = "quarter", since: date | None = None,
                 until: date | None = None) -> DoraResult:
        """DORA metrics of a team per period (grain: week, month or quarter; since/until:
        YYYY-MM-DD, default the whole data span), with change vs the previous period, each
        metric's DORA 2025 group (`groups`: throughput or instability), the DORA 2024 level
        (`cluster`), and each period's DORA Quick Check 2025 scores (0-10) with the 2025
        benchmark mean ± SD beside them (`quick_check`). No DORA 2025 team profile is inferred.
        Members and leads see their own team only."""
        req = DoraRequest(grain=grain, team=(team,), since=since, until=until)
        return call(ctx, lambda c: delivery.dora(c, req))

    @server.tool(annotations=READ_ONLY)
    def get_cost(ctx: Context, team: str | None = None, grain: str = "quarter",
                 baseline: str = "yoy", since: date | None = None,
                 until: date | None = None) -> CostResult:
        """Cost to serve per period: of one team (its members, leads, admins), or of the whole
        organisation when team is left out (exec and admin only). baseline: yoy or qoq."""
        req = CostRequest(grain=grain, baseline=baseline, team=(team,) if team else (),
                          since=since, until=until)
        return call(ctx, lambda c: delivery.cost(c, req, c.settings.cost))

    @server.tool(annotations=READ_ONLY)
    def ai_adoption(ctx: Context, team: str | None = None, since: date | None = None,
                    until: date | None = None) -> AiAdoptionResult:
        """AI adoption per team and month (none, light, moderate, heavy, from usage data), each
        team's first month at each level and the cohorts. One team (its members, leads,
        admins), or every team when team is left out (exec, admin). Usage is per team, never
        per person; a small team's figures are null with the reason under `suppressed`."""
        return call(ctx, lambda c: ai.adoption(c, team=team, since=since, until=until))

    @server.tool(annotations=READ_ONLY)
    def ai_agents(ctx: Context, team: str | None = None, grain: str = "quarter",
                  since: date | None = None, until: date | None = None) -> AiAgentsResult:
        """Agent-authored changes beside human ones per period (grain: month, quarter, all):
        share of delivery units, lead time, review time, change fail and rework rate, manual
        interventions per deployment. One team, or every team and the organisation (team *)
        when team is left out (exec, admin)."""
        return call(ctx, lambda c: ai.agents(c, team=team, grain=grain, since=since,
                                             until=until))

    @server.tool(annotations=READ_ONLY)
    def ai_effect(ctx: Context, confidence: float = 0.9) -> AiEffectResult:
        """The estimated effect of reaching each AI adoption level on cost to serve, change
        lead time and change fail rate, with intervals and plain warnings (read them: an
        interval spanning zero means the effect may be nothing), AI spend, attributed savings
        and return, and the tension check (faster and cheaper, but breaking more?). Exec and
        admin only."""
        return call(ctx, lambda c: ai.effect(c, confidence=confidence))

    @server.tool(annotations=READ_ONLY)
    def explain_metric(ctx: Context, metric_id: str) -> MetricEntry:
        """What a metric id (e.g. dora.change_lead_time, cost.cost_to_serve) means: definition,
        unit, exclusions, and its charter — what it may and may not inform."""
        return call(ctx, lambda c: catalog.metric(c, metric_id))

    def diagnostics(ctx: Context, family: str, team: str | None, grain: str,
                    since: date | None, until: date | None) -> DiagnosticsResult:
        if team is None:
            return call(ctx, lambda c: humane.org_diagnostics(c, family, grain=grain,
                                                              since=since, until=until))
        return call(ctx, lambda c: humane.team_diagnostics(c, family, (team,), grain=grain,
                                                           since=since, until=until))

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
        return call(ctx, lambda c: reliability.slo(c, (team,), at=at, grain=grain))

    @server.tool(annotations=READ_ONLY)
    def team_digest(ctx: Context, team: str, week: str | None = None) -> Digest:
        """A team's weekly digest: its week (ISO, e.g. 2026-W38; default the last full week of
        the data) against its own previous weeks — DORA, flow, strain, SLO error budget — with
        small groups' figures hidden. Never another team or a person; reading sends nothing."""
        return call(ctx, lambda c: notify.digest(c, team, week=week))

    @server.tool(annotations=READ_ONLY)
    def get_charter(ctx: Context, metric_id: str | None = None) -> CharterResult:
        """The metric charter: its version, the uses no metric may ever inform, and one metric's
        entry (metric_id, e.g. flow.cycle_time) or every entry with the retention periods of
        person-level inputs and the charter's validation problems (empty when sound)."""
        return call(ctx, lambda c: catalog.charter_answer(c, metric_id))

    @server.tool(annotations=READ_ONLY)
    def fairness_audit(ctx: Context) -> FairnessResult:
        """The fairness audit of shipwise's own flags about teams (exec, admin): findings in
        plain language first (concern, watch, ok, each with what to do), then who each flag
        falls on by team attribute, correlations with context, and variance between org
        units."""
        return call(ctx, oversight.fairness)

    @server.tool(annotations=READ_ONLY)
    def explain_deployment(ctx: Context, id: str) -> DeploymentExplanation:
        """Why a deployment counted: its source and rule, whether and how DORA counts it, the
        commits it shipped with each one's first production deployment (lead time counts from
        the first), their pull requests and which deployment delivered each, incidents caused."""
        return call(ctx, lambda c: explain.explain_deployment(c, id))

    @server.tool(annotations=READ_ONLY)
    def explain_pull_request(ctx: Context, ref: str) -> PullRequestExplanation:
        """Why a pull request (REPO#N or its id) was delivered or not: its times and flow phases,
        its commits with their first production deployment, the deployment that delivered it."""
        return call(ctx, lambda c: explain.explain_pull_request(c, ref))

    @server.tool(annotations=READ_ONLY)
    def explain_incident(ctx: Context, id: str) -> IncidentExplanation:
        """Which production deployment an incident is linked to and why (its caused_by, a label,
        or the team's time window) or why none, the deployments of its service around its
        opening, and what the link changes in DORA (change fail rate, time to restore)."""
        return call(ctx, lambda c: explain.explain_incident(c, id))

    @server.tool(annotations=READ_ONLY)
    def list_incidents(ctx: Context, team: str | None = None, service: str | None = None,
                       severity: str | None = None, since: str | None = None,
                       until: str | None = None, open_only: bool = False,
                       limit: int = 50) -> IncidentList:
        """Imported incidents (PagerDuty, Opsgenie, ServiceNow, Jira, files), newest first:
        service, team, severity, opened and resolved, duration, the deployment that caused it,
        the investigations covering it. Filters: team, service, severity, opened since/until (a
        day or an instant), open_only (unresolved)."""
        return call(ctx, lambda c: incidents.incident_list(
            c, team=team, service=service, severity=severity, since=since, until=until,
            open_only=open_only, limit=max(1, min(limit, 500))))

    @server.tool(annotations=READ_ONLY)
    def list_investigations(ctx: Context, limit: int = 20) -> InvestigationList:
        """Stored investigations, latest alarm first: service, root cause, confidence, summary."""
        return InvestigationList(investigations=call(
            ctx, lambda c: incidents.investigations(c, limit=max(1, min(limit, 500)))))

    @server.tool(annotations=READ_ONLY)
    def blast_radius(ctx: Context, entity: str, depth: int = 2, days: float = 30) -> BlastRadius:
        """An entity's blast radius in the kept topology: upstream dependents (who is hurt if it
        fails) and downstream dependencies, with relation, where each edge was learnt (store,
        traces, prometheus, deployments, file) and when it was last seen; its owner,
        repositories and deploy targets. Edges last seen within ``days``."""
        return call(ctx, lambda c: topology.show(c, entity, depth=max(1, min(depth, 10)),
                                                 days=days if days > 0 else None))

    @server.tool(annotations=READ_ONLY)
    def get_investigation(ctx: Context, id: str) -> Investigation:
        """One investigation: alarm, timeline, root cause, evidence, ruled-out observations,
        impact, mitigation plan and long-term fix."""
        return call(ctx, lambda c: incidents.investigation(c, id))

    @server.tool(annotations=ToolAnnotations(read_only_hint=False, destructive_hint=False,
                                             idempotent_hint=True, open_world_hint=True))
    def ask_investigation(ctx: Context, id: str, question: str, rescope: bool = True) -> Answer:
        """Ask an investigation a follow-up question ("when did it start?", "which alarms?",
        "how many customers?", "what was ruled out and why?", "what changed before it?"),
        answered from its record with the evidence reference of every fact; answered is false
        (with suggestions) when the record cannot answer. A question narrowing it ("last 30
        minutes", "focus on the most recent wave", "only us-east", "what about the
        database?") re-runs it narrowed and links the new record, unless rescope is false."""
        return call(ctx, lambda c: ask.ask(c, id, question, rescope_allowed=rescope))

    @server.tool(annotations=ToolAnnotations(read_only_hint=False, destructive_hint=False,
                                             idempotent_hint=False, open_world_hint=True))
    def verify_investigation(ctx: Context, id: str, at: str = "now", minutes: float = 10,
                             record: bool = False) -> Verification:
        """Post-validation of an investigation: re-read from Prometheus every series it found
        anomalous and say, per series, whether it is back to its pre-incident baseline (median
        of the last `minutes` to `at` within 3 baseline IQRs), with the PromQL to watch.
        Nothing is stored unless record is true."""
        return call(ctx, lambda c: incidents.verify_investigation(
            c, id, at=at, minutes=max(0.5, min(float(minutes), 1440.0)), record=record))

    @server.tool(annotations=ToolAnnotations(read_only_hint=False, destructive_hint=False,
                                             idempotent_hint=True, open_world_hint=False))
    def mark_verdict(ctx: Context, id: str, verdict: str, comment: str | None = None) -> Verdict:
        """Mark an investigation's root cause right, partly or wrong (with an optional comment);
        marking again replaces it. Prevention leaves root causes marked wrong out."""
        return call(ctx, lambda c: verdicts.mark_verdict(c, id, verdict, comment=comment))

    @server.tool(annotations=READ_ONLY)
    def investigation_accuracy(ctx: Context) -> Accuracy:
        """How often investigations named the right root cause, by the responders' verdicts:
        overall, by fault kind and by service (members and leads: their team's services)."""
        return call(ctx, verdicts.accuracy)

    @server.tool(annotations=READ_ONLY)
    def list_prevention(ctx: Context, status: str | None = None,
                        category: str | None = None) -> PreventionList:
        """Prevention recommendations from recurring incident patterns (categories governance,
        infrastructure, observability, pipeline; status open, accepted, dismissed, done), highest
        priority first: the incidents behind each, the rationale, the concrete change."""
        return call(ctx, lambda c: prevention.recommendations(c, status=status,
                                                              category=category))

    @server.tool(annotations=ToolAnnotations(read_only_hint=False, destructive_hint=False,
                                             idempotent_hint=True, open_world_hint=False))
    def decide_prevention(ctx: Context, key: str, status: str,
                          reason: str | None = None) -> Recommendation:
        """Accept, dismiss (a reason is required), mark done or reopen a prevention
        recommendation by its key."""
        return call(ctx, lambda c: prevention.decide(c, key, status, reason=reason))

    @server.tool(annotations=ToolAnnotations(read_only_hint=False, destructive_hint=False,
                                             idempotent_hint=False, open_world_hint=True))
    def start_investigation(ctx: Context, service: str, at: str = "now",
                            metric: str = "") -> InvestigationStarted:
        """Investigate what happened to a service around an instant (ISO-8601 with an offset,
        epoch seconds, or now), optionally for one metric (e.g. latency_p99)."""
        def authorised(c: Caller) -> Principal:
            incidents.may_investigate(c, service)
            return c.principal

        principal = call(ctx, authorised)
        if starter is None:
            raise ToolError("this server cannot start investigations (use `shipwise investigate`)")
        try:
            return starter(principal, service, at, metric)
        except ShipwiseError as exc:
            raise tool_error(exc) from exc

    return server
