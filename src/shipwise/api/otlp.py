"""OTLP/HTTP: ``POST /v1/traces`` and ``POST /v1/logs`` (docs/otlp.md).

An OpenTelemetry SDK or Collector exports straight to ``shipwise serve``: protobuf
(``application/x-protobuf``) or JSON (``application/json``), gzip or not. Authenticated like the
alarm webhooks (the shared secret as ``Authorization: Bearer …``; e.g.
``OTEL_EXPORTER_OTLP_HEADERS="Authorization=Bearer <secret>"``).

Answers, as OTLP/HTTP specifies: 200 with ``Export{Trace,Logs}ServiceResponse`` in the request's
encoding once the rows are committed (``partial_success`` counting what was rejected: spans
without valid ids); 400 with a ``google.rpc.Status`` for a body that cannot be read (nothing of it
stored: retrying it will not help); 415 for another content type; 413 past
``webhooks.max_body_bytes``; 404 when ``telemetry.enabled`` is off.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request, Response

from shipwise.api.webhooks import read_body
from shipwise.app.telemetry import error_answer
from shipwise.errors import InputError
from shipwise.http.errors import ApiError
from shipwise.http.security import WebhookState

router = APIRouter(prefix="/v1", tags=["otlp"])

_TYPES = ("application/x-protobuf", "application/protobuf", "application/json")


def _receiver(signal: str) -> Callable[..., Awaitable[Response]]:
    async def receive(request: Request, state: WebhookState) -> Response:
        if not state.settings.telemetry.enabled:
            raise ApiError(404, "OTLP intake is off",
                           hint="set telemetry.enabled: true in shipwise.yaml")
        ctype = request.headers.get("content-type")
        if (ctype or "").split(";")[0].strip().lower() not in _TYPES:
            body, kind = error_answer(f"unsupported content type {ctype!r}: send "
                                      "application/x-protobuf or application/json", None)
            return Response(body, status_code=415, media_type=kind)
        raw = await read_body(request, state.settings.webhooks.max_body_bytes)
        try:
            export = await state.receive_otlp(signal, raw, ctype,
                                              request.headers.get("content-encoding"))
        except InputError as exc:
            text = f"{exc} ({exc.hint})" if exc.hint else str(exc)
            body, kind = error_answer(text, ctype)
            return Response(body, status_code=400, media_type=kind)
        return Response(export.body, status_code=200, media_type=export.content_type)

    receive.__name__ = f"otlp_{signal}"
    receive.__doc__ = (f"Receive OTLP/HTTP {signal} (protobuf or JSON, gzip or not): stored for "
                       "investigations, kept telemetry.retention_days.")
    return receive


def _answer(description: str) -> dict[str, Any]:
    """An answer in the request's encoding (protobuf or JSON)."""
    return {"description": description, "content": {t: {"schema": {}} for t in _TYPES}}


RESPONSES: dict[int | str, dict[str, Any]] = {
    200: _answer("Stored: Export*ServiceResponse (partial_success counts what was rejected)"),
    400: _answer("Unreadable body (google.rpc.Status): nothing stored"),
    401: {"description": "No webhook secret presented"},
    403: {"description": "The wrong webhook secret"},
    404: {"description": "OTLP intake is off (telemetry.enabled)"},
    413: {"description": "Larger than webhooks.max_body_bytes: not stored"},
    415: _answer("Not protobuf or JSON (google.rpc.Status)"),
}
BODY = {"requestBody": {"required": True, "content": {t: {"schema": {}} for t in _TYPES}}}

for _signal in ("traces", "logs"):
    router.add_api_route(f"/{_signal}", _receiver(_signal), methods=["POST"], status_code=200,
                         name=f"otlp_{_signal}", responses=RESPONSES, openapi_extra=BODY,
                         response_class=Response)
