"""What an investigation knows: the evidence gathered from every source, in one bundle.

Sources (:mod:`shipwise.investigate.sources`) each fill part of an :class:`Evidence`; the engine
reads only this bundle, never a source directly, so a case directory, Prometheus plus log files,
or the store all look the same to it. Every item keeps a ``ref`` saying where it came from (a file
and line, an event id, a PromQL query), which the investigation record cites as its link.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import numpy as np

from shipwise.investigate.case import Alarm, Series


@dataclass(frozen=True)
class Scope:
    """The time window (epoch seconds) and, when known, the entities an investigation reads."""

    alarm: Alarm
    start: float
    end: float
    entities: frozenset[str] | None = None
    #: changes (deployments, config, permissions…) are read from here on: a leak or a latent bug
    #: can start hours after the change that shipped it
    changes_start: float | None = None

    @property
    def changes_from(self) -> float:
        return self.start if self.changes_start is None else min(self.start, self.changes_start)


@dataclass(frozen=True)
class Event:
    """A change or action: a deployment, config or permission change, host session, scaling…"""

    id: str
    time: float
    kind: str
    entity: str
    actor: str = ""
    summary: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    ref: str = ""


@dataclass(frozen=True)
class LogLine:
    time: float
    entity: str
    level: str
    message: str
    instance: str = ""
    trace_id: str = ""
    exc_type: str = ""
    exc_message: str = ""
    stack: str = ""
    ref: str = ""

    @property
    def text(self) -> str:
        """Everything searchable in the line."""
        return " ".join(x for x in (self.message, self.exc_type, self.exc_message, self.stack) if x)


@dataclass
class Spans:
    """Spans as columns (one row per span); ``customer`` is empty when the span carries none."""

    trace_id: np.ndarray
    span_id: np.ndarray
    parent_id: np.ndarray
    service: np.ndarray
    start: np.ndarray  # epoch seconds
    error: np.ndarray  # bool
    customer: np.ndarray
    refs: tuple[str, ...] = ()

    @classmethod
    def empty(cls) -> Spans:
        s = np.empty(0, dtype=object)
        return cls(s, s, s, s, np.empty(0), np.empty(0, dtype=bool), s)

    def __len__(self) -> int:
        return int(self.start.size)

    @classmethod
    def concat(cls, parts: list[Spans]) -> Spans:
        parts = [p for p in parts if len(p)]
        if not parts:
            return cls.empty()
        def cat(f: str) -> np.ndarray:
            return np.concatenate([getattr(p, f) for p in parts])

        return cls(trace_id=cat("trace_id"), span_id=cat("span_id"), parent_id=cat("parent_id"),
                   service=cat("service"), start=cat("start"), error=cat("error"),
                   customer=cat("customer"), refs=tuple(r for p in parts for r in p.refs))


@dataclass(frozen=True)
class Runbook:
    path: str
    title: str
    services: tuple[str, ...]
    alarms: tuple[str, ...]
    faults: tuple[str, ...]
    body: str


@dataclass(frozen=True)
class SourceStatus:
    """How one source did: checked, queried, how long it took, what it returned or why not."""

    name: str
    ok: bool
    seconds: float
    detail: str = ""
    error: str = ""
    #: what it returned, by kind (series, log_lines, spans, events, topology_edges, runbooks)
    size: dict[str, int] = field(default_factory=dict)
    #: a few of the queries it ran (PromQL graph links, files read), for the record's steps
    queries: tuple[str, ...] = ()


@dataclass
class Evidence:
    topology: nx.DiGraph = field(default_factory=nx.DiGraph)
    metrics: dict[tuple[str, str], Series] = field(default_factory=dict)
    #: (entity, metric) -> where the series came from (a file, or the PromQL query)
    metric_refs: dict[tuple[str, str], str] = field(default_factory=dict)
    logs: list[LogLine] = field(default_factory=list)
    spans: Spans = field(default_factory=Spans.empty)
    events: list[Event] = field(default_factory=list)
    runbooks: list[Runbook] = field(default_factory=list)
    sources: list[SourceStatus] = field(default_factory=list)

    def size(self) -> dict[str, int]:
        """How much this bundle holds, by kind (kinds it holds none of are left out)."""
        counts = {"series": len(self.metrics), "log_lines": len(self.logs),
                  "spans": len(self.spans), "events": len(self.events),
                  "topology_edges": int(self.topology.number_of_edges()),
                  "runbooks": len(self.runbooks)}
        return {k: v for k, v in counts.items() if v}

    def queries(self, limit: int = 5) -> tuple[str, ...]:
        """Up to ``limit`` distinct places the series came from (PromQL links, files)."""
        seen = list(dict.fromkeys(self.metric_refs.values()))
        return tuple(seen[:limit])

    def merge(self, other: Evidence) -> None:
        for n, attrs in other.topology.nodes(data=True):  # what is known first wins
            if n in self.topology:
                for k, v in attrs.items():
                    self.topology.nodes[n].setdefault(k, v)
            else:
                self.topology.add_node(n, **attrs)
        for a, b, attrs in other.topology.edges(data=True):
            if not self.topology.has_edge(a, b):
                self.topology.add_edge(a, b, **attrs)
            else:  # what is known first wins; what only the other knows (a call's latency) is kept
                for k, v in attrs.items():
                    self.topology.edges[a, b].setdefault(k, v)
        self.metrics.update(other.metrics)
        self.metric_refs.update(other.metric_refs)
        self.logs.extend(other.logs)
        self.spans = Spans.concat([self.spans, other.spans])
        known = {e.id for e in self.events}
        self.events.extend(e for e in other.events if e.id not in known)
        self.runbooks.extend(other.runbooks)
        self.sources.extend(other.sources)

    def finish(self) -> None:
        """Sort by time and add ``calls`` edges seen in traces but missing from the topology."""
        self.logs.sort(key=lambda x: (x.time, x.entity))
        self.events.sort(key=lambda e: (e.time, e.id))
        if len(self.spans):
            for caller, callee in _trace_edges(self.spans):
                if not self.topology.has_edge(caller, callee):
                    for n in (caller, callee):
                        if n not in self.topology:
                            self.topology.add_node(n, kind="service")
                    self.topology.add_edge(caller, callee, relation="calls", seen_in="traces")


def trace_edges(spans: Spans) -> set[tuple[str, str]]:
    """caller → callee pairs seen in ``spans`` (the calls :meth:`Evidence.finish` adds)."""
    return _trace_edges(spans)


def _trace_edges(spans: Spans) -> set[tuple[str, str]]:
    """caller → callee pairs: a span's service calls its children's services (when they differ)."""
    by_id = dict(zip(spans.span_id.tolist(), spans.service.tolist(), strict=True))
    out = set()
    for parent, svc in zip(spans.parent_id.tolist(), spans.service.tolist(), strict=True):
        caller = by_id.get(parent)
        if caller and caller != svc:
            out.add((str(caller), str(svc)))
    return out
