"""Evidence sources behind one interface (:class:`EvidenceSource`): files of a case directory,
Prometheus, JSONL logs and events, OTLP/JSON traces, runbooks, MCP servers' tools (bring your
own sources) and the shipwise store (its deployments, the kept topology and the spans and logs
received over OTLP)."""

from __future__ import annotations

from shipwise.investigate.settings import InvestigateSettings
from shipwise.investigate.sources.base import EvidenceSource, gather
from shipwise.investigate.sources.files import (
    EventFiles,
    LogFiles,
    MetricsFiles,
    RunbookFiles,
    TopologyFile,
    TraceFiles,
    case_sources,
)
from shipwise.investigate.sources.kept import KeptTopology, SlicedKeptTopology
from shipwise.investigate.sources.mcp import McpSource
from shipwise.investigate.sources.prometheus import PrometheusSource
from shipwise.investigate.sources.store import SlicedDeployments, StoreDeployments, StoreSlice
from shipwise.investigate.sources.telemetry import SlicedTelemetry, StoreTelemetry
from shipwise.store.duckdb_store import StoreSession

__all__ = ["EvidenceSource", "StoreSlice", "case_sources", "gather", "sources_from_settings"]


def sources_from_settings(settings: InvestigateSettings,
                          store: StoreSession | None = None, *,
                          store_slice: StoreSlice | None = None) -> list[EvidenceSource]:
    """The sources configured in the ``investigate.sources`` section (and ``store``, the store
    the process holds, unless disabled there; or ``store_slice``, what the process holding it
    read for a worker process)."""
    s = settings.sources
    out: list[EvidenceSource] = []
    if s.prometheus is not None:
        out.append(PrometheusSource(s.prometheus))
    if s.metrics is not None:
        out.append(MetricsFiles(s.metrics.paths))
    if s.topology is not None:
        out.append(TopologyFile(s.topology.path))
    if s.logs is not None:
        out.append(LogFiles(s.logs.paths))
    if s.traces is not None:
        out.append(TraceFiles(s.traces.paths))
    if s.events is not None:
        out.append(EventFiles(s.events.paths))
    if s.runbooks is not None:
        out.append(RunbookFiles(s.runbooks.paths))
    out.extend(McpSource(m) for m in s.mcp)
    if store_slice is not None and s.store.enabled:
        out.append(SlicedDeployments(store_slice, s.store))
        if s.store.topology and store_slice.topology is not None:
            out.append(SlicedKeptTopology(store_slice.topology, s.store))
        if s.store.telemetry and store_slice.telemetry is not None:
            out.append(SlicedTelemetry(store_slice.telemetry, s.store))
    elif store is not None and s.store.enabled:
        out.append(StoreDeployments(store, s.store))
        if s.store.topology:
            out.append(KeptTopology(store, s.store))
        if s.store.telemetry:
            out.append(StoreTelemetry(store, s.store))
    return out
