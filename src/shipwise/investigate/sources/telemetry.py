"""Traces and logs received over OTLP (docs/otlp.md), read from the store as evidence.

Per service and minute of the window (computed by DuckDB, :func:`shipwise.store.telemetry.
span_minutes`): ``requests_per_s``, ``errors``, ``error_rate``, ``latency_p50_ms`` and
``latency_p95_ms`` — what the service served (its server and consumer spans; all its spans when
it has none) — and per call between two services and minute its latency as the caller saw it
(its client spans: ``latency`` on the ``calls`` edge). The spans themselves (the latest ``telemetry_max_spans``) give the calls between
services and the customers affected; WARN-and-worse log lines become the log evidence.

Like the deployments (:mod:`shipwise.investigate.sources.store`), this reads the store the
process holds, or — in a worker process — what the server read for it
(:attr:`~shipwise.investigate.sources.store.StoreSlice.telemetry`): plain JSON both ways.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np

from shipwise.investigate.case import Series
from shipwise.investigate.evidence import Evidence, LogLine, Scope, Spans
from shipwise.investigate.settings import StoreSourceSettings
from shipwise.investigate.sources.base import FromSlice, StoreReader
from shipwise.store import telemetry as table
from shipwise.store.duckdb_store import Store

NAME = "telemetry"


def _utc(t: float) -> datetime:
    return datetime.fromtimestamp(t, tz=UTC).replace(tzinfo=None)


def read_telemetry(store: Store, settings: StoreSourceSettings, scope: Scope) -> dict[str, Any]:
    """What the store holds for the scope, as plain JSON: ``{"minutes": [[service, minute,
    calls, errors, p50 ms, p95 ms]], "calls": [[caller, callee, minute, p50 ms, p95 ms]], "spans": [[trace, span, parent, service, start, error,
    customer]], "logs": [{...}]}``."""
    start, end = _utc(scope.start), _utc(scope.end)
    services = None if scope.entities is None else sorted(scope.entities)
    return {"minutes": [list(r) for r in table.span_minutes(store, start, end, services)],
            "calls": [list(r) for r in table.call_minutes(store, start, end, services)],
            "spans": [list(r) for r in table.spans(store, start, end, services,
                                                   settings.telemetry_max_spans)],
            "logs": table.error_logs(store, start, end, services)}


def telemetry_evidence(data: dict[str, Any]) -> Evidence:
    out = Evidence()
    per: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for service, minute, calls, errors, p50, p95 in data.get("minutes", []):
        vals = {"requests_per_s": calls / 60.0, "errors": float(errors),
                "error_rate": errors / calls if calls else 0.0,
                "latency_p50_ms": p50, "latency_p95_ms": p95}
        for metric, v in vals.items():
            per.setdefault((str(service), metric), []).append((float(minute), float(v)))
    for key, points in per.items():
        out.metrics[key] = Series(np.array([t for t, _ in points]), np.array([v for _, v in points]))
        out.metric_refs[key] = f"store:otel_span?service={key[0]}&metric={key[1]}"
    # each call's latency as its caller saw it, on the calls edge, named like the callee's own
    # (``latency_p50_ms`` ↔ ``p50_ms``): what tells time lost on the way from the callee's work
    edge: dict[tuple[str, str], dict[str, list[tuple[float, float]]]] = {}
    for caller, callee, minute, p50, p95 in data.get("calls", []):
        per_q = edge.setdefault((str(caller), str(callee)), {})
        per_q.setdefault("p50_ms", []).append((float(minute), float(p50)))
        per_q.setdefault("p95_ms", []).append((float(minute), float(p95)))
    for (caller, callee), per_q in edge.items():
        out.topology.add_edge(caller, callee, relation="calls", latency={
            q: Series(np.array([t for t, _ in pts]), np.array([v for _, v in pts]))
            for q, pts in per_q.items()})
    rows = data.get("spans", [])
    if rows:
        cols = list(zip(*rows, strict=True))

        def obj(i: int) -> np.ndarray:
            return np.asarray(cols[i], dtype=object)

        out.spans = Spans(trace_id=obj(0), span_id=obj(1), parent_id=obj(2), service=obj(3),
                          start=np.asarray(cols[4], dtype=float),
                          error=np.asarray(cols[5], dtype=bool), customer=obj(6),
                          refs=("store:otel_span",))
        for service in set(cols[3]):
            out.topology.add_node(str(service), kind="service")
    out.logs = [LogLine(float(r["time"]), str(r["service"]), str(r["level"]), str(r["body"]),
                        str(r["instance"]), str(r["trace_id"]), str(r["exc_type"]),
                        str(r["exc_message"]), str(r["stack"]), f"store:otel_log/{r['log_id']}")
                for r in data.get("logs", [])]
    return out


class StoreTelemetry(StoreReader):
    """Reads ``otel_span`` and ``otel_log`` from the store the process holds (lent per query)."""

    name = NAME

    def describe(self) -> str:
        return "store: spans and logs received over OTLP (/v1/traces, /v1/logs)"

    def check(self) -> list[str]:
        if not self.settings.enabled or not self.settings.telemetry:
            return ["disabled in settings"]
        return []

    def read(self, scope: Scope) -> dict[str, Any]:
        with self.store() as store:
            return read_telemetry(store, self.settings, scope)

    def fetch(self, scope: Scope) -> Evidence:
        return telemetry_evidence(self.read(scope))


class SlicedTelemetry(FromSlice, StoreTelemetry):
    """:class:`StoreTelemetry` over what the process holding the store read for a worker."""

