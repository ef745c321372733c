"""OTLP/HTTP request bodies (traces and logs) → columns ready for the store (docs/otlp.md).

Both encodings of the OpenTelemetry protocol are read: binary protobuf
(``application/x-protobuf``, decoded with the ``opentelemetry-proto`` messages) and JSON
(``application/json``: the protobuf JSON mapping with the OTLP exceptions — trace and span ids are
hex strings, enums are integers, 64-bit integers may be strings). ``Content-Encoding: gzip`` is
undone first, within a size limit (a small body must not inflate into gigabytes).

A span without a valid trace id (16 bytes) or span id (8 bytes) is *rejected* — counted in the
answer's partial success, never stored; everything else in the batch is kept. Log records are
never rejected (a record without a time takes its observed time, else the time it was received).

Pure: no I/O, no SQL. The customer attribute (``customer.id`` / ``enduser.id``) is returned raw;
the caller pseudonymises it before anything is stored.
"""

from __future__ import annotations

import base64
import hashlib
import json
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsPartialSuccess,
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from shipwise.errors import InputError

SIGNALS = ("traces", "logs")
PROTOBUF = "application/x-protobuf"
JSON = "application/json"

#: span columns, in the order of :class:`SpanColumns`' lists
SPAN_COLUMNS = ("trace_id", "span_id", "parent_span_id", "service", "instance", "name", "kind",
                "start_ns", "end_ns", "status_code", "status_message", "customer")
#: log columns, in the order of :class:`LogColumns`' lists
LOG_COLUMNS = ("log_id", "time_ns", "service", "instance", "severity_number", "level", "body",
               "trace_id", "span_id", "exc_type", "exc_message", "stack")

#: resource attributes naming the instance a span or log line came from, first found wins
_INSTANCE_KEYS = ("service.instance.id", "k8s.pod.name", "host.name", "container.id")
#: span attributes naming the customer a request served (pseudonymised before storing)
_CUSTOMER_KEYS = ("customer.id", "enduser.id")
_SPAN_KINDS = {"SPAN_KIND_UNSPECIFIED": 0, "SPAN_KIND_INTERNAL": 1, "SPAN_KIND_SERVER": 2,
               "SPAN_KIND_CLIENT": 3, "SPAN_KIND_PRODUCER": 4, "SPAN_KIND_CONSUMER": 5}
_STATUS = {"STATUS_CODE_UNSET": 0, "STATUS_CODE_OK": 1, "STATUS_CODE_ERROR": 2}
_SEVERITY = {"SEVERITY_NUMBER_UNSPECIFIED": 0, **{
    f"SEVERITY_NUMBER_{name}{'' if k == 0 else k + 1}": 4 * i + k + 1
    for i, name in enumerate(("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"))
    for k in range(4)}}


@dataclass
class Decoded:
    """One request's rows (column lists, :data:`SPAN_COLUMNS` or :data:`LOG_COLUMNS`) and what
    was rejected."""

    signal: str
    columns: dict[str, list[Any]]
    rejected: int = 0
    reasons: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        first = next(iter(self.columns.values()), [])
        return len(first)

    def rows(self) -> list[tuple[Any, ...]]:
        return list(zip(*self.columns.values(), strict=True))


def media_type(content_type: str | None) -> str:
    """``application/x-protobuf`` or ``application/json`` (InputError for anything else)."""
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind in (PROTOBUF, "application/protobuf"):
        return PROTOBUF
    if kind == JSON:
        return JSON
    raise InputError(f"unsupported content type {content_type!r} for OTLP/HTTP",
                     hint=f"send {PROTOBUF} or {JSON} (OTLP/HTTP); OTLP over gRPC is not served")


def inflate(body: bytes, encoding: str | None, limit: int) -> bytes:
    """The body with ``Content-Encoding`` (gzip, deflate or none) undone, at most ``limit``
    bytes once inflated (InputError past it, or for a corrupt stream)."""
    enc = (encoding or "identity").strip().lower()
    if enc in ("", "identity"):
        return body
    if enc not in ("gzip", "deflate", "x-gzip"):
        raise InputError(f"unsupported content encoding {encoding!r}", hint="send gzip or none")
    wbits = 16 + zlib.MAX_WBITS if enc in ("gzip", "x-gzip") else zlib.MAX_WBITS
    d = zlib.decompressobj(wbits)
    try:
        out = d.decompress(body, limit + 1)
    except zlib.error as exc:
        raise InputError(f"the {enc} body cannot be inflated: {exc}",
                         hint="compress the whole body once with gzip") from None
    if len(out) > limit or d.unconsumed_tail:
        raise InputError(f"the body inflates to more than {limit} bytes; not stored",
                         hint="send smaller batches (the SDK's max_export_batch_size), or raise "
                              "telemetry.max_inflated_bytes")
    return out


def decode(signal: str, body: bytes, content_type: str | None, received_ns: int) -> Decoded:
    """The rows of one OTLP/HTTP request body (``signal``: traces or logs)."""
    kind = media_type(content_type)
    if signal == "traces":
        return _spans_pb(body) if kind == PROTOBUF else _spans_json(_json(body))
    if signal == "logs":
        return (_logs_pb(body, received_ns) if kind == PROTOBUF
                else _logs_json(_json(body), received_ns))
    raise InputError(f"unknown OTLP signal {signal!r}", hint="traces or logs")


def response(signal: str, decoded: Decoded, kind: str) -> tuple[bytes, str]:
    """The OTLP success answer (``Export{Trace,Logs}ServiceResponse``, with ``partial_success``
    when something was rejected) in the request's encoding: (body, content type)."""
    message = "; ".join(dict.fromkeys(decoded.reasons))[:500]
    if kind == PROTOBUF:
        if signal == "traces":
            tr = ExportTraceServiceResponse()
            if decoded.rejected:
                tr.partial_success.CopyFrom(ExportTracePartialSuccess(
                    rejected_spans=decoded.rejected, error_message=message))
            return tr.SerializeToString(), PROTOBUF
        lr = ExportLogsServiceResponse()
        if decoded.rejected:
            lr.partial_success.CopyFrom(ExportLogsPartialSuccess(
                rejected_log_records=decoded.rejected, error_message=message))
        return lr.SerializeToString(), PROTOBUF
    body: dict[str, Any] = {}
    if decoded.rejected:
        key = "rejectedSpans" if signal == "traces" else "rejectedLogRecords"
        body["partialSuccess"] = {key: str(decoded.rejected), "errorMessage": message}
    return json.dumps(body).encode(), JSON


# -- protobuf ----------------------------------------------------------------------------------

def _parse(message: Any, body: bytes) -> None:
    try:
        message.ParseFromString(body)
    except DecodeError as exc:
        raise InputError(f"not an OTLP protobuf message: {exc}",
                         hint="send an Export*ServiceRequest encoded as protobuf, or JSON with "
                              "Content-Type: application/json") from None


def _any_pb(v: AnyValue) -> Any:
    which = v.WhichOneof("value")
    if which is None:
        return None
    if which == "array_value":
        return [_any_pb(x) for x in v.array_value.values]
    if which == "kvlist_value":
        return {kv.key: _any_pb(kv.value) for kv in v.kvlist_value.values}
    if which == "bytes_value":
        return v.bytes_value.hex()
    return getattr(v, which)


def _attrs_pb(kvs: Iterable[KeyValue], keys: tuple[str, ...]) -> dict[str, Any]:
    """The attributes among ``keys`` (the others are never converted: they are not kept)."""
    out: dict[str, Any] = {}
    for kv in kvs:
        if kv.key in keys:
            out[kv.key] = _any_pb(kv.value)
    return out


def _resource(attrs: dict[str, Any]) -> tuple[str, str]:
    service = str(attrs.get("service.name") or "unknown_service")
    instance = next((str(attrs[k]) for k in _INSTANCE_KEYS if attrs.get(k)), "")
    return service, instance


_RESOURCE_KEYS = ("service.name", *_INSTANCE_KEYS)


def _span_cols() -> dict[str, list[Any]]:
    return {c: [] for c in SPAN_COLUMNS}


def _spans_pb(body: bytes) -> Decoded:
    req = ExportTraceServiceRequest()
    _parse(req, body)
    out = Decoded("traces", _span_cols())
    c = out.columns
    for rs in req.resource_spans:
        service, instance = _resource(_attrs_pb(rs.resource.attributes, _RESOURCE_KEYS))
        for ss in rs.scope_spans:
            for sp in ss.spans:
                tid, sid = sp.trace_id, sp.span_id
                if len(tid) != 16 or len(sid) != 8 or not any(tid) or not any(sid):
                    out.rejected += 1
                    out.reasons.append("a span without a valid traceId (16 bytes) and spanId "
                                       "(8 bytes)")
                    continue
                attrs = _attrs_pb(sp.attributes, _CUSTOMER_KEYS)
                c["trace_id"].append(tid.hex())
                c["span_id"].append(sid.hex())
                c["parent_span_id"].append(sp.parent_span_id.hex())
                c["service"].append(service)
                c["instance"].append(instance)
                c["name"].append(sp.name)
                c["kind"].append(int(sp.kind))
                c["start_ns"].append(int(sp.start_time_unix_nano))
                c["end_ns"].append(int(sp.end_time_unix_nano))
                c["status_code"].append(int(sp.status.code))
                c["status_message"].append(sp.status.message)
                c["customer"].append(_customer(attrs))
    return out


def _customer(attrs: dict[str, Any]) -> str:
    return next((str(attrs[k]) for k in _CUSTOMER_KEYS if attrs.get(k) not in (None, "")), "")


def _log_cols() -> dict[str, list[Any]]:
    return {c: [] for c in LOG_COLUMNS}


_EXC_KEYS = ("exception.type", "exception.message", "exception.stacktrace")


def _add_log(c: dict[str, list[Any]], time_ns: int, service: str, instance: str, number: int,
             text: str, body: Any, trace_id: str, span_id: str, attrs: dict[str, Any]) -> None:
    message = body if isinstance(body, str) else "" if body is None else json.dumps(
        body, default=str, sort_keys=True)
    level = level_of(number, text)
    exc = [str(attrs.get(k) or "") for k in _EXC_KEYS]
    key = "\x1f".join((str(time_ns), service, instance, level, message, trace_id, span_id, *exc))
    c["log_id"].append(hashlib.sha256(key.encode()).hexdigest()[:32])
    for name, value in (("time_ns", time_ns), ("service", service), ("instance", instance),
                        ("severity_number", number), ("level", level), ("body", message),
                        ("trace_id", trace_id), ("span_id", span_id), ("exc_type", exc[0]),
                        ("exc_message", exc[1]), ("stack", exc[2])):
        c[name].append(value)


def level_of(number: int, text: str) -> str:
    """The level of a log record: from its severity number (OpenTelemetry's ranges: 1–4 TRACE,
    5–8 DEBUG, 9–12 INFO, 13–16 WARN, 17–20 ERROR, 21–24 FATAL), else its severity text."""
    if 1 <= number <= 24:
        return ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")[(number - 1) // 4]
    t = text.strip().upper()
    return {"WARNING": "WARN", "CRITICAL": "FATAL", "ERR": "ERROR"}.get(t, t)


def _logs_pb(body: bytes, received_ns: int) -> Decoded:
    req = ExportLogsServiceRequest()
    _parse(req, body)
    out = Decoded("logs", _log_cols())
    for rl in req.resource_logs:
        service, instance = _resource(_attrs_pb(rl.resource.attributes, _RESOURCE_KEYS))
        for sl in rl.scope_logs:
            for r in sl.log_records:
                t = int(r.time_unix_nano or r.observed_time_unix_nano or received_ns)
                _add_log(out.columns, t, service, instance, int(r.severity_number),
                         r.severity_text, _any_pb(r.body), r.trace_id.hex(), r.span_id.hex(),
                         _attrs_pb(r.attributes, _EXC_KEYS))
    return out


# -- JSON --------------------------------------------------------------------------------------

def _json(body: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise InputError(f"not JSON: {exc}", hint="send OTLP/JSON, or protobuf with "
                         f"Content-Type: {PROTOBUF}") from None
    if not isinstance(doc, dict):
        raise InputError("an OTLP/JSON body is an object", hint='{"resourceSpans": [...]}')
    return doc


def _list(v: Any) -> list[Any]:
    return v if isinstance(v, list) else []


def _obj(v: Any) -> dict[str, Any]:
    return v if isinstance(v, dict) else {}


def _any_json(v: Any) -> Any:
    v = _obj(v)
    for key in ("stringValue", "boolValue", "doubleValue"):
        if key in v:
            return v[key]
    if "intValue" in v:
        try:
            return int(v["intValue"])
        except (TypeError, ValueError):
            return v["intValue"]
    if "arrayValue" in v:
        return [_any_json(x) for x in _list(_obj(v["arrayValue"]).get("values"))]
    if "kvlistValue" in v:
        return _attrs_json(_obj(v["kvlistValue"]).get("values"), None)
    if "bytesValue" in v:
        try:
            return base64.b64decode(str(v["bytesValue"])).hex()
        except ValueError:
            return str(v["bytesValue"])
    return None


def _attrs_json(kvs: Any, keys: tuple[str, ...] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kv in _list(kvs):
        kv = _obj(kv)
        key = kv.get("key")
        if isinstance(key, str) and (keys is None or key in keys):
            out[key] = _any_json(kv.get("value"))
    return out


def _int(v: Any, names: dict[str, int] | None = None) -> int:
    if isinstance(v, str) and names is not None and v in names:
        return names[v]
    try:
        return int(v or 0)
    except (TypeError, ValueError):
        raise InputError(f"{v!r} is not an integer", hint="OTLP/JSON: 64-bit integers as "
                         "numbers or decimal strings, enums as integers") from None


def _hex_id(v: Any, size: int) -> str | None:
    """A trace or span id as lower-case hex of ``size`` bytes (OTLP/JSON sends hex; base64
    from a generic protobuf JSON encoder is accepted too), or None when it is not one."""
    if not isinstance(v, str) or not v:
        return None
    if len(v) == 2 * size:
        try:
            raw = bytes.fromhex(v)
        except ValueError:
            raw = b""
    else:
        try:
            raw = base64.b64decode(v, validate=True)
        except ValueError:
            raw = b""
    return raw.hex() if len(raw) == size and any(raw) else None


def _spans_json(doc: dict[str, Any]) -> Decoded:
    out = Decoded("traces", _span_cols())
    c = out.columns
    for rs in _list(doc.get("resourceSpans")):
        rs = _obj(rs)
        attrs = _attrs_json(_obj(rs.get("resource")).get("attributes"), _RESOURCE_KEYS)
        service, instance = _resource(attrs)
        scopes = rs.get("scopeSpans", rs.get("instrumentationLibrarySpans"))
        for ss in _list(scopes):
            for sp in _list(_obj(ss).get("spans")):
                sp = _obj(sp)
                tid, sid = _hex_id(sp.get("traceId"), 16), _hex_id(sp.get("spanId"), 8)
                if tid is None or sid is None:
                    out.rejected += 1
                    out.reasons.append("a span without a valid traceId (32 hex digits) and "
                                       "spanId (16 hex digits)")
                    continue
                status = _obj(sp.get("status"))
                c["trace_id"].append(tid)
                c["span_id"].append(sid)
                c["parent_span_id"].append(_hex_id(sp.get("parentSpanId"), 8) or "")
                c["service"].append(service)
                c["instance"].append(instance)
                c["name"].append(str(sp.get("name") or ""))
                c["kind"].append(_int(sp.get("kind"), _SPAN_KINDS))
                c["start_ns"].append(_int(sp.get("startTimeUnixNano")))
                c["end_ns"].append(_int(sp.get("endTimeUnixNano")))
                c["status_code"].append(_int(status.get("code"), _STATUS))
                c["status_message"].append(str(status.get("message") or ""))
                c["customer"].append(_customer(_attrs_json(sp.get("attributes"),
                                                           _CUSTOMER_KEYS)))
    return out


def _logs_json(doc: dict[str, Any], received_ns: int) -> Decoded:
    out = Decoded("logs", _log_cols())
    for rl in _list(doc.get("resourceLogs")):
        rl = _obj(rl)
        attrs = _attrs_json(_obj(rl.get("resource")).get("attributes"), _RESOURCE_KEYS)
        service, instance = _resource(attrs)
        scopes = rl.get("scopeLogs", rl.get("instrumentationLibraryLogs"))
        for sl in _list(scopes):
            for r in _list(_obj(sl).get("logRecords")):
                r = _obj(r)
                t = _int(r.get("timeUnixNano")) or _int(r.get("observedTimeUnixNano")) or received_ns
                _add_log(out.columns, t, service, instance, _int(r.get("severityNumber"), _SEVERITY),
                         str(r.get("severityText") or ""), _any_json(r.get("body")),
                         _hex_id(r.get("traceId"), 16) or "", _hex_id(r.get("spanId"), 8) or "",
                         _attrs_json(r.get("attributes"), _EXC_KEYS))
    return out


def error_status(message: str, kind: str) -> tuple[bytes, str]:
    """An OTLP/HTTP error body: a ``google.rpc.Status`` (code 3, INVALID_ARGUMENT) in the
    request's encoding (JSON when the request's type is unknown)."""
    if kind == PROTOBUF:
        text = message.encode()
        return b"\x08\x03\x12" + _varint(len(text)) + text, PROTOBUF
    return json.dumps({"code": 3, "message": message}).encode(), JSON


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)
