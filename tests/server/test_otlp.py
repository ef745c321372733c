"""OTLP/HTTP intake (`/v1/traces`, `/v1/logs`) on a real server, fed by the real OpenTelemetry
Python SDK and its OTLP/HTTP exporter (protobuf, gzip or not), and by hand-written OTLP/JSON."""

from __future__ import annotations

import gzip
import json
import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Status, StatusCode

from shipwise.app.telemetry import trim
from shipwise.config import Settings
from tests.server.conftest import SECRET, Live, serve

AUTH = {"Authorization": f"Bearer {SECRET}"}


@pytest.fixture
def server(secured: Settings) -> Iterator[Live]:
    with serve(secured) as live:
        yield live


def rows(live: Live, sql: str) -> list[tuple[object, ...]]:
    with live.state.store.session() as store:
        return store.con.execute(sql).fetchall()


def traced(live: Live, compression: Compression) -> None:
    exporter = OTLPSpanExporter(endpoint=live.url + "/v1/traces", headers=AUTH,
                                compression=compression, timeout=10)
    provider = TracerProvider(resource=Resource.create({"service.name": "checkout",
                                                        "service.instance.id": "checkout-1"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("POST /checkout") as root:
        root.set_attribute("customer.id", "cust-42")
        with tracer.start_as_current_span("charge") as child:
            child.set_status(Status(StatusCode.ERROR, "card declined"))
    provider.shutdown()


@pytest.mark.parametrize("compression", [Compression.NoCompression, Compression.Gzip])
def test_the_sdk_exporter_stores_spans(server: Live, compression: Compression) -> None:
    traced(server, compression)
    got = rows(server, "SELECT service, instance, name, status_code, status_message, customer, "
                       "parent_span_id = '' FROM otel_span ORDER BY start_at")
    assert [(r[0], r[1], r[2], r[3], r[4]) for r in got] == [
        ("checkout", "checkout-1", "POST /checkout", 0, ""),
        ("checkout", "checkout-1", "charge", 2, "card declined")]
    assert got[0][6] and not got[1][6]  # the root has no parent; the child has
    customer = str(got[0][5])
    assert customer and "cust-42" not in customer  # pseudonymised before it is stored
    assert got[1][5] == ""


def test_the_sdk_log_exporter_stores_log_lines(server: Live) -> None:
    exporter = OTLPLogExporter(endpoint=server.url + "/v1/logs", headers=AUTH,
                               compression=Compression.Gzip, timeout=10)
    provider = LoggerProvider(resource=Resource.create({"service.name": "payments"}))
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    logger = logging.getLogger("shipwise-otlp-test")
    logger.propagate = False
    handler = LoggingHandler(logger_provider=provider)
    logger.addHandler(handler)
    try:
        logger.warning("pool nearly exhausted")
        try:
            raise TimeoutError("db timeout after 5s")
        except TimeoutError:
            logger.exception("charge failed")
    finally:
        logger.removeHandler(handler)
        provider.shutdown()
    got = rows(server, "SELECT service, level, body, exc_type, exc_message FROM otel_log "
                       "ORDER BY logged_at")
    assert [tuple(r) for r in got] == [
        ("payments", "WARN", "pool nearly exhausted", "", ""),
        ("payments", "ERROR", "charge failed", "TimeoutError", "db timeout after 5s")]


def span_json(trace: str, span: str, start: datetime, *, error: bool = False,
              parent: str = "") -> dict[str, object]:
    ns = int(start.timestamp() * 1e9)
    return {"traceId": trace, "spanId": span, "parentSpanId": parent, "name": "GET /",
            "kind": 2, "startTimeUnixNano": str(ns), "endTimeUnixNano": str(ns + 120_000_000),
            "status": {"code": 2 if error else 0}}


def traces_json(*spans: dict[str, object], service: str = "cart") -> dict[str, object]:
    return {"resourceSpans": [{"resource": {"attributes": [
        {"key": "service.name", "value": {"stringValue": service}}]},
        "scopeSpans": [{"spans": list(spans)}]}]}


def test_json_is_answered_in_json_with_partial_success(server: Live) -> None:
    now = datetime.now(UTC)
    doc = traces_json(span_json("ab" * 16, "01" * 8, now), span_json("zz", "01" * 8, now))
    r = server.post("/v1/traces", json.dumps(doc))
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    assert r.json()["partialSuccess"]["rejectedSpans"] == "1"
    assert "traceId" in r.json()["partialSuccess"]["errorMessage"]
    again = server.post("/v1/traces", json.dumps(doc))  # a retry stores nothing twice
    assert again.status_code == 200
    assert rows(server, "SELECT count(*) FROM otel_span") == [(1,)]


def test_protobuf_gzip_answer_is_an_export_response(server: Live) -> None:
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    sp = rs.scope_spans.add().spans.add()
    sp.trace_id, sp.span_id, sp.name = b"\x01" * 16, b"\x02" * 8, "x"
    sp.start_time_unix_nano = sp.end_time_unix_nano = time.time_ns()
    bad = rs.scope_spans[0].spans.add()
    bad.trace_id, bad.span_id = b"\x01" * 3, b"\x03" * 8
    r = server.post("/v1/traces", gzip.compress(req.SerializeToString()),
                    headers={"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"})
    assert r.status_code == 200
    answer = ExportTraceServiceResponse.FromString(r.content)
    assert answer.partial_success.rejected_spans == 1
    assert rows(server, "SELECT service FROM otel_span") == [("unknown_service",)]


def test_bad_bodies_are_refused_with_a_status_and_nothing_stored(server: Live) -> None:
    r = server.post("/v1/traces", b"\xff\xfe not protobuf",
                    headers={"Content-Type": "application/x-protobuf"})
    assert r.status_code == 400 and b"not an OTLP protobuf message" in r.content
    r = server.post("/v1/logs", "{not json")
    assert r.status_code == 400 and r.json()["code"] == 3
    r = server.post("/v1/traces", "x", headers={"Content-Type": "text/plain"})
    assert r.status_code == 415
    r = server.post("/v1/traces", b"\x1f\x8b broken gzip",
                    headers={"Content-Type": "application/json", "Content-Encoding": "gzip"})
    assert r.status_code == 400 and "inflated" in r.json()["message"]
    bomb = gzip.compress(b" " * (65 * 1024 * 1024))
    r = server.post("/v1/logs", bomb, headers={"Content-Encoding": "gzip"})
    assert r.status_code == 400 and "max_inflated_bytes" in r.json()["message"]
    assert rows(server, "SELECT count(*) FROM otel_span UNION ALL "
                        "SELECT count(*) FROM otel_log") == [(0,), (0,)]


def test_otlp_needs_the_webhook_secret(server: Live) -> None:
    assert server.post("/v1/traces", "{}", secret=None).status_code == 401
    assert server.post("/v1/traces", "{}", secret="wrong-secret-0123456789").status_code == 403
    exporter = OTLPSpanExporter(endpoint=server.url + "/v1/traces", timeout=5)
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with provider.get_tracer("t").start_as_current_span("refused"):
        pass
    provider.shutdown()
    assert rows(server, "SELECT count(*) FROM otel_span") == [(0,)]


def test_retention_trims_old_spans_and_logs(secured: Settings) -> None:
    secured.telemetry.trim_every_seconds = 3600
    now = datetime.now(UTC)
    old, recent = now - timedelta(days=10), now - timedelta(days=1)
    logs = json.dumps({"resourceLogs": [{"scopeLogs": [{"logRecords": [
        {"timeUnixNano": str(int(old.timestamp() * 1e9)), "severityNumber": 17,
         "body": {"stringValue": "old"}},
        {"timeUnixNano": str(int(recent.timestamp() * 1e9)), "severityText": "error",
         "body": {"stringValue": "recent"}}]}]}]})
    traces = json.dumps(traces_json(span_json("aa" * 16, "01" * 8, old),
                                    span_json("aa" * 16, "02" * 8, recent)))
    with serve(secured) as server:  # it trimmed when it started: not due again for an hour
        assert server.post("/v1/logs", logs).status_code == 200
        assert server.post("/v1/traces", traces).status_code == 200
        assert rows(server, "SELECT count(*) FROM otel_span UNION ALL "
                            "SELECT count(*) FROM otel_log") == [(2,), (2,)]
    with serve(secured) as server:  # a start trims what is past retention_days (7)
        assert rows(server, "SELECT span_id FROM otel_span") == [("02" * 8,)]
        assert rows(server, "SELECT body, level FROM otel_log") == [("recent", "ERROR")]
    secured.telemetry.trim_every_seconds = 0
    with serve(secured) as server:  # every write trims: old telemetry arriving is dropped
        assert server.post("/v1/logs", logs).status_code == 200
        assert rows(server, "SELECT body FROM otel_log") == [("recent",)]
        with server.state.store.session() as store:
            assert trim(store, server.settings) == {"otel_span": 0, "otel_log": 0}


def test_otlp_can_be_switched_off(secured: Settings) -> None:
    secured.telemetry.enabled = False
    with serve(secured) as live:
        assert live.post("/v1/traces", "{}").status_code == 404
