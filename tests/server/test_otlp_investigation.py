"""Telemetry received over OTLP is evidence: spans exported by the real OpenTelemetry SDK to a
real server, then an alarm; the investigation (in the server's worker process, which reads the
store through the slice the server hands it) sees calls, errors and latency per service, the
calls between services and the error logs, and follows the errors to the service that failed."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode, set_span_in_context

from shipwise.config import Settings
from shipwise.store import investigations
from tests.server.conftest import SECRET, Live, serve

AUTH = {"Authorization": f"Bearer {SECRET}"}
CHAIN = ("frontend", "checkout", "payments")


def export_incident(live: Live, fault_at: float, start: float) -> None:
    """One request every 10 s through frontend → checkout → payments from ``start``; from
    ``fault_at`` on, payments fails (and so do its callers) and gets slow."""
    providers = {s: TracerProvider(resource=Resource.create({"service.name": s}))
                 for s in CHAIN}
    for p in providers.values():
        p.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(
            endpoint=live.url + "/v1/traces", headers=AUTH, timeout=10)))
    t = start
    while t < fault_at + 600:
        broken = t >= fault_at
        ns = int(t * 1e9)
        spans = []
        parent = None
        for depth, service in enumerate(CHAIN):
            tracer = providers[service].get_tracer("shop")
            ctx = None if parent is None else set_span_in_context(parent)
            span = tracer.start_span(f"{service} call", context=ctx, start_time=ns + depth * 1000,
                                     kind=SpanKind.SERVER)
            span.set_attribute("customer.id", f"c{int(t) % 37}")
            spans.append(span)
            parent = span
        for depth, span in reversed(list(enumerate(spans))):
            slow = 0.9 if broken else 0.03
            if broken:
                span.set_status(Status(StatusCode.ERROR, "payment backend down"))
            span.end(end_time=ns + int((slow + 0.01 * (3 - depth)) * 1e9))
        t += 10
    for p in providers.values():
        p.shutdown()
    records = [{"timeUnixNano": str(int((fault_at + k * 10 + 0.5) * 1e9)), "severityNumber": 17,
                "body": {"stringValue": "charge failed: connection refused by payment-db"},
                "attributes": [{"key": "exception.type",
                                "value": {"stringValue": "ConnectionRefusedError"}}]}
               for k in range(60)]
    logs = {"resourceLogs": [{"resource": {"attributes": [
        {"key": "service.name", "value": {"stringValue": "payments"}}]},
        "scopeLogs": [{"logRecords": records}]}]}
    assert live.post("/v1/logs", json.dumps(logs)).status_code == 200


def test_an_investigation_reads_the_spans_received_over_otlp(secured: Settings) -> None:
    now = time.time()
    fault_at = now - 900
    with serve(secured) as live:
        export_incident(live, fault_at, fault_at - 3600)
        with live.state.store.session() as store:
            assert store.count("otel_span") == 3 * 420
        alarm = {"entity": "frontend", "metric": "error_rate",
                 "time": datetime.fromtimestamp(fault_at + 120, UTC).isoformat()}
        res = live.post("/webhooks/generic", json.dumps(alarm))
        assert res.status_code == 202, res.text
        (row,) = live.settled(timeout=120)
        assert row["status"] == "investigated", row
        with live.state.store.session() as store:
            record = investigations.record(store, row["investigation_id"])
    assert record is not None
    sources = {s["name"]: s for s in record["sources"]}
    assert sources["telemetry"]["ok"], sources
    assert record["root_cause"]["entity"] == "payments"
    assert not [g for g in record["gaps"] if g["source"] == "logs"]  # the OTLP logs count
    edges = {(e["source"], e["target"]) for e in record["topology"]["edges"]}
    assert edges >= {("frontend", "checkout"), ("checkout", "payments")}  # calls from spans
    assert record["impact"]["traces"]["customers_affected"] > 0
    text = json.dumps(record)
    assert "store:otel_span?service=payments" in text
    assert "first error on payments" in [i["what"] for i in record["timeline"]]  # the logs
