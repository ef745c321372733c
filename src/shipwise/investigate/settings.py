"""Settings of investigations: where evidence comes from (the ``investigate:`` section of shipwise.yaml).

```yaml
investigate:
  lookback_minutes: 120        # history before the alarm used as the normal baseline
  after_minutes: 2             # data after the alarm still read (symptoms lag)
  sources:
    prometheus: {url: http://127.0.0.1:9090, entity_label: service, metric_prefix: ""}
    logs: {paths: ["/var/log/shop/*.jsonl"]}
    traces: {paths: ["/var/lib/otel/*.json"]}
    events: {paths: ["/var/lib/audit/events.jsonl"]}
    topology: {path: topology.json}
    runbooks: {paths: [runbooks/]}
    mcp:                       # bring your own sources: MCP servers, their tools mapped to evidence
      - name: oncall-logs
        command: python3       # stdio (or url: https://mcp.example.com/mcp, token_env: MCP_TOKEN)
        args: [logs_server.py]
        tools:
          - {tool: error_logs, evidence: logs, arguments: {service: "{entity}", since: "{start_iso}"}}
    store: {enabled: true}     # deployments (and their commits) from the shipwise store,
                               # the kept topology (topology: true, topology_days: 30) and the
                               # spans and logs received over OTLP (telemetry: true)
```

Every source is optional; each checks its own settings before it is queried.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class PromQuery(BaseModel):
    """An extra range query whose series are one metric (``name``) of the entity each series'
    ``entity_label`` names, e.g. a service's own p99 latency from a mesh's histograms."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(description="The metric the series become, e.g. latency_p99.")
    expr: str = Field(description="PromQL, e.g. histogram_quantile(0.99, sum by (le, "
                                  "destination_workload) (rate(...{reporter=\"destination\"}[1m])))")
    entity_label: str = Field(description="The label naming the entity, e.g. destination_workload.")


class PromCallQuery(BaseModel):
    """A range query of each call's latency as its caller saw it (a mesh's source-reported
    request durations), one series per caller and callee, kept on the ``calls`` edge as the
    ``quantile`` (``p99`` pairs with the callee's own ``latency_p99``)."""

    model_config = ConfigDict(extra="forbid")
    quantile: str = Field(description="e.g. p99: compared with the callee's latency_p99.")
    expr: str
    source_label: str = Field("source_workload", description="The label naming the caller.")
    destination_label: str = Field("destination_workload", description="The label naming the callee.")


class PrometheusSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(description="Base URL of the Prometheus HTTP API, e.g. http://127.0.0.1:9090")
    entity_label: str = Field("service", description="The label naming the entity of a series.")
    metric_prefix: str = Field("", description="Stripped from metric names (e.g. 'shop_').")
    #: Extra PromQL label matchers for every query, e.g. 'env="prod"'.
    matchers: str = ""
    step_seconds: float | None = Field(None, gt=0, description="Query step; default: 15 s.")
    timeout_seconds: float = Field(10.0, gt=0)
    max_series: int = Field(5000, gt=0)
    #: extra range queries (each series one metric of the entity its label names)
    queries: list[PromQuery] = Field(default_factory=list)
    #: each call's latency as its caller saw it, per quantile (docs/investigation.md, "Network
    #: delay"): with the callees' own latency of the same quantile, what tells the network
    calls: list[PromCallQuery] = Field(default_factory=list)


class PathsSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    paths: list[str] = Field(default_factory=list, description="Files, directories or glob patterns.")


class TopologySettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: str


class StoreSourceSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool = True
    environment: str = Field("production", description="Deployments of this environment are read.")
    #: service -> local git repository, to show the diff a deployment shipped.
    repos: dict[str, str] = Field(default_factory=dict)
    #: merge the kept topology (docs/topology.md) into every investigation
    topology: bool = True
    #: kept edges last seen this many days before the alarm, or later, are used
    topology_days: float = Field(default=30, gt=0)
    #: read the spans and logs received over OTLP (docs/otlp.md): calls, errors and latency per
    #: service and minute, the calls between services, WARN-and-worse log lines
    telemetry: bool = True
    #: at most this many spans of the window (the latest) are read for calls and customers
    telemetry_max_spans: int = Field(default=200_000, gt=0)


#: what an MCP tool's answer is read as (docs/investigation.md, "Bring your own sources")
McpEvidence = Literal["metrics", "logs", "events", "topology"]


class McpToolSettings(BaseModel):
    """One tool of an MCP server, mapped to evidence."""

    model_config = ConfigDict(extra="forbid")
    tool: str = Field(min_length=1)
    evidence: McpEvidence
    #: The tool's arguments. Strings are templates: ``{entity}`` (the alarm's entity),
    #: ``{metric}``, ``{start}``/``{end}`` (epoch seconds of the window), ``{start_iso}``/
    #: ``{end_iso}``, ``{changes_start}``/``{changes_start_iso}`` (where changes are read from),
    #: ``{minutes}`` (the window's length); anything else is passed as it is.
    arguments: dict[str, Any] = Field(default_factory=dict)


class McpSourceSettings(BaseModel):
    """An MCP server as an evidence source: started over stdio (``command``) or reached over
    streamable HTTP (``url``)."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    command: str | None = None
    args: list[str] = Field(default_factory=list)
    #: extra environment of the server process (stdio)
    env: dict[str, str] = Field(default_factory=dict)
    url: str | None = None
    #: the environment variable holding a bearer token for ``url`` (the *name*, never the token)
    token_env: str | None = None
    timeout_seconds: float = Field(30.0, gt=0)
    tools: list[McpToolSettings] = Field(min_length=1)

    @model_validator(mode="after")
    def _one_transport(self) -> McpSourceSettings:
        if (self.command is None) == (self.url is None):
            raise ValueError("give either command (stdio) or url (streamable HTTP)")
        return self


class SourcesSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    prometheus: PrometheusSettings | None = None
    #: long-form metrics files (timestamp, entity, metric, value), CSV or Parquet
    metrics: PathsSettings | None = None
    logs: PathsSettings | None = None
    traces: PathsSettings | None = None
    events: PathsSettings | None = None
    topology: TopologySettings | None = None
    runbooks: PathsSettings | None = None
    #: MCP servers whose tools give evidence (bring your own sources)
    mcp: list[McpSourceSettings] = Field(default_factory=list)
    store: StoreSourceSettings = Field(
        default_factory=lambda: StoreSourceSettings(enabled=True, environment="production"))


class InvestigateSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lookback_minutes: float = Field(120, gt=0, le=7 * 24 * 60)
    after_minutes: float = Field(2, ge=0, le=120)
    sources: SourcesSettings = Field(default_factory=SourcesSettings)
