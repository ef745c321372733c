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
    store: {enabled: true}     # deployments (and their commits) from the shipwise store,
                               # the kept topology (topology: true, topology_days: 30) and the
                               # spans and logs received over OTLP (telemetry: true)
```

Every source is optional; each checks its own settings before it is queried.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


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
    store: StoreSourceSettings = Field(
        default_factory=lambda: StoreSourceSettings(enabled=True, environment="production"))


class InvestigateSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lookback_minutes: float = Field(120, gt=0, le=7 * 24 * 60)
    after_minutes: float = Field(2, ge=0, le=120)
    sources: SourcesSettings = Field(default_factory=SourcesSettings)
