"""OTLP bodies → columns (pure): the JSON mapping's spellings, levels, rejections and limits."""

from __future__ import annotations

import base64
import gzip
import json
import zlib

import pytest
from google.rpc.status_pb2 import Status  # the OTLP exporter's dependency: decodes our bytes

from shipwise.errors import InputError
from shipwise.ingest.otlp import decode, error_status, inflate, level_of, media_type

TRACE = "5b8efff798038103d269b633813fc60c"
SPAN = "eee19b7ec3c1b174"


def spans(*items: dict[str, object], resource: list[dict[str, object]] | None = None) -> bytes:
    return json.dumps({"resourceSpans": [{"resource": {"attributes": resource or []},
                                          "scopeSpans": [{"spans": list(items)}]}]}).encode()


def test_json_spans_read_every_spelling_the_mapping_allows() -> None:
    b64_trace = base64.b64encode(bytes.fromhex(TRACE)).decode()
    body = spans(
        {"traceId": TRACE, "spanId": SPAN, "name": "a", "kind": "SPAN_KIND_SERVER",
         "startTimeUnixNano": "1700000000000000000", "endTimeUnixNano": 1700000000250000000,
         "status": {"code": "STATUS_CODE_ERROR", "message": "boom"},
         "attributes": [{"key": "enduser.id", "value": {"stringValue": "u-1"}}]},
        {"traceId": b64_trace, "spanId": "0000000000000000", "name": "zero span id"},
        resource=[{"key": "service.name", "value": {"stringValue": "cart"}},
                  {"key": "k8s.pod.name", "value": {"stringValue": "cart-7d9-abcde"}}])
    d = decode("traces", body, "application/json; charset=utf-8", 0)
    assert len(d) == 1 and d.rejected == 1
    (row,) = d.rows()
    assert row == (TRACE, SPAN, "", "cart", "cart-7d9-abcde", "a", 2, 1700000000000000000,
                   1700000000250000000, 2, "boom", "u-1")


def test_json_logs_levels_bodies_and_exceptions() -> None:
    records = [
        {"timeUnixNano": "5", "severityNumber": "SEVERITY_NUMBER_ERROR",
         "body": {"kvlistValue": {"values": [{"key": "k", "value": {"intValue": "3"}}]}},
         "attributes": [{"key": "exception.type", "value": {"stringValue": "KeyError"}}]},
        {"observedTimeUnixNano": "7", "severityText": "warning", "body": {"stringValue": "w"}},
        {"severityNumber": 9, "body": {"stringValue": "no time"}},
    ]
    body = json.dumps({"resourceLogs": [{"scopeLogs": [{"logRecords": records}]}]}).encode()
    d = decode("logs", body, "application/json", 99)
    cols = d.columns
    assert cols["time_ns"] == [5, 7, 99]
    assert cols["level"] == ["ERROR", "WARN", "INFO"]
    assert cols["body"] == ['{"k": 3}', "w", "no time"]
    assert cols["exc_type"] == ["KeyError", "", ""]
    assert cols["service"] == ["unknown_service"] * 3
    assert len(set(cols["log_id"])) == 3
    again = decode("logs", body, "application/json", 99)  # a retry: the same keys
    assert again.columns["log_id"] == cols["log_id"]


@pytest.mark.parametrize(("number", "text", "level"), [
    (1, "", "TRACE"), (8, "", "DEBUG"), (12, "", "INFO"), (13, "x", "WARN"), (17, "", "ERROR"),
    (24, "", "FATAL"), (0, "critical", "FATAL"), (0, "Warning", "WARN"), (0, "", "")])
def test_level_of(number: int, text: str, level: str) -> None:
    assert level_of(number, text) == level


def test_bad_bodies_say_what_is_wrong() -> None:
    with pytest.raises(InputError, match="not JSON"):
        decode("traces", b"{", "application/json", 0)
    with pytest.raises(InputError, match="is an object"):
        decode("traces", b"[]", "application/json", 0)
    with pytest.raises(InputError, match="not an integer"):
        decode("traces", spans({"traceId": TRACE, "spanId": SPAN, "startTimeUnixNano": "soon"}),
               "application/json", 0)
    with pytest.raises(InputError, match="unsupported content type"):
        media_type("text/plain")


def test_inflate_limits_what_a_small_body_may_become() -> None:
    assert inflate(gzip.compress(b"abc"), "gzip", 10) == b"abc"
    assert inflate(zlib.compress(b"abc"), "deflate", 10) == b"abc"
    assert inflate(b"abc", None, 1) == b"abc"  # not compressed: the body limit applies instead
    with pytest.raises(InputError, match="more than 10 bytes"):
        inflate(gzip.compress(b"a" * 11), "gzip", 10)
    with pytest.raises(InputError, match="unsupported content encoding"):
        inflate(b"", "br", 10)


def test_error_status_is_a_google_rpc_status() -> None:
    raw, kind = error_status("bad body", "application/x-protobuf")
    status = Status.FromString(raw)
    assert (status.code, status.message, kind) == (3, "bad body", "application/x-protobuf")
    assert json.loads(error_status("bad", "application/json")[0]) == {"code": 3, "message": "bad"}
