"""Webhooks. Alarms: ``POST /webhooks/{alertmanager,grafana,datadog,dynatrace,cloudwatch,generic}`` and
``/webhooks/alarm`` (kind detected from the payload's shape). Code hosts: ``POST
/webhooks/github`` and ``/webhooks/gitlab`` (verified by their own signatures, not the shared
secret; see :mod:`shipwise.app.scm_hooks`).

When ``webhooks.hmac_secret`` is set, ``/webhooks/generic`` must be signed instead: header
``X-Shipwise-Signature: sha256=<hex HMAC-SHA256 of the raw body>``, compared in constant time; a
missing, malformed or wrong signature is answered 401 and nothing is stored.

Every body is stored before the answer, malformed ones too. Answers: 202 with the new alarm ids
(investigated in the background), 400 ``{"error", "hint", "id"}`` for a malformed payload (kept
with its reason), 200 with the ``SubscribeURL`` for an SNS subscription confirmation (shipwise
fetches nothing itself: an operator confirms it).

The alarm webhooks take a short way through the app (:class:`AlarmIntake`, installed by
:func:`shipwise.server.create_app`): the routes below document them in ``/openapi.json`` and
answer identically, but a request is handled before FastAPI's routing and dependencies.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from shipwise.errors import ShipwiseError
from shipwise.http.errors import ApiError, shipwise_response
from shipwise.http.security import (
    State,
    WebhookState,
    bearer_matches,
    check_signature,
    secret_digest,
    server_state,
    webhook_auth,
)
from shipwise.http.state import ServerState

router = APIRouter(prefix="/webhooks", tags=["webhooks"])

#: path -> alarm kind (None: detected from the payload)
ROUTES: dict[str, str | None] = {
    "alertmanager": "alertmanager", "grafana": "grafana", "datadog": "datadog",
    "dynatrace": "dynatrace", "cloudwatch": "cloudwatch",
    "generic": "generic", "alarm": None,
}


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing more than ``limit`` bytes (413, not stored)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(limit: int) -> ApiError:
    return ApiError(413, f"payload larger than {limit} bytes; not stored",
                    hint="raise webhooks.max_body_bytes, or send fewer alerts per notification "
                         "(Alertmanager: max_alerts)")


def _receiver(kind: str | None) -> Callable[..., Awaitable[JSONResponse]]:
    async def receive(request: Request, state: WebhookState) -> JSONResponse:
        body = await read_body(request, state.settings.webhooks.max_body_bytes)
        result = await state.receive_async(body, kind)
        return respond(result)

    # the generic webhook may be signed instead (the middleware answers it the same way)
    async def receive_generic(request: Request) -> JSONResponse:
        state = server_state(request)
        if state.hmac_secret is None:
            webhook_auth(request)
        body = await read_body(request, state.settings.webhooks.max_body_bytes)
        if state.hmac_secret is not None:
            check_signature(body, request.headers.get("x-shipwise-signature"),
                            state.hmac_secret)
        return respond(await state.receive_async(body, kind))

    route: Callable[..., Awaitable[JSONResponse]] = receive
    if kind == "generic":
        route = receive_generic
    route.__name__ = f"receive_{kind or 'alarm'}"
    route.__doc__ = (f"Receive a {kind} alarm payload." if kind else
                     "Receive an alarm payload of any supported kind (detected from its shape).")
    return route


def respond(result: dict[str, Any]) -> JSONResponse:
    ids = result["ids"]
    if result["rejected"]:
        raise ApiError(400, result["rejected"], hint=result["hint"], id=ids[0], stored=True,
                       duplicate=result["duplicate"])
    body: dict[str, Any] = {k: result[k] for k in ("kind", "accepted", "duplicates", "resolved",
                                                  "duplicate", "ids")}
    sub = result["subscription"]
    if sub is not None:
        body.update(id=ids[-1], subscription=sub, note=(
            "shipwise does not confirm SNS subscriptions itself (it makes no outbound calls): "
            "open subscribe_url, or run `aws sns confirm-subscription --topic-arn <topic_arn> "
            "--token <Token>`, to start receiving alarms" if sub["type"] ==
            "SubscriptionConfirmation" else "the subscription was removed"))
        return JSONResponse(body, status_code=200)
    return JSONResponse(body, status_code=202)


class AlarmIntake:
    """ASGI middleware: the alarm webhooks (:data:`ROUTES`) without FastAPI's per-request
    machinery — route matching over every route, dependency solving, the exception middleware.

    The work is what the routes do, in the same order: authenticate (a ``Bearer`` header with
    the secret is checked in constant time, :func:`~shipwise.http.security.bearer_matches`;
    anything else — Basic, ``?token=``, no or a wrong credential, no secret configured — goes
    through :func:`~shipwise.http.security.webhook_auth` and gets its usual answer), read the
    body within ``webhooks.max_body_bytes``, parse it on the event loop, hand its rows to the
    group commit and await it, answer as :func:`respond`. Once authenticated the request counts
    as in flight until answered (:meth:`~shipwise.http.intake.GroupCommit.request`), which is
    what the group commit's delay waits for. Our errors are rendered by
    :func:`~shipwise.http.errors.shipwise_response`, the app's own handler; anything else
    propagates to the app's outermost error handler, as from a route. Other requests pass
    through untouched."""

    def __init__(self, app: ASGIApp, state: ServerState) -> None:
        self.app = app
        self.state = state
        self.kinds = {f"{router.prefix}/{path}": kind for path, kind in ROUTES.items()}
        secret = state.webhook_secret
        self.digest = None if secret is None else secret_digest(secret)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = _route_path(scope) if scope["type"] == "http" and scope["method"] == "POST" else ""
        if path not in self.kinds:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        kind = self.kinds[path]
        signed = kind == "generic" and self.state.hmac_secret is not None
        try:
            # a signed webhook's credential is its signature (checked once the body is read)
            if not signed and (self.digest is None or not bearer_matches(
                    _header(scope, b"authorization"), self.digest)):
                webhook_auth(request)  # every other way in, and every refusal, as the routes do
        except ShipwiseError as exc:
            await shipwise_response(exc)(scope, receive, send)
            return
        state = self.state
        with state.intake.request():  # in flight until answered: the commit delay waits for it
            try:
                body = await read_body(request, state.settings.webhooks.max_body_bytes)
                if signed:
                    assert state.hmac_secret is not None
                    signature = _header(scope, b"x-shipwise-signature")
                    check_signature(body, None if signature is None else signature.decode(
                        "latin-1"), state.hmac_secret)
                response = respond(await state.receive_async(body, kind))
            except ShipwiseError as exc:
                response = shipwise_response(exc)
            await response(scope, receive, send)


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:  # ASGI servers give header names in lower case
            return bytes(value)
    return None


def _route_path(scope: Scope) -> str:
    """The path the app's routes match (without the ``root_path`` it is mounted at)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root + "/"):
        return path[len(root):]
    return path


def _answer(description: str, **properties: Any) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {
        "type": "object", "properties": properties}}}}


_ERROR = {"error": {"type": "string"}, "hint": {"type": "string"}}
#: /openapi.json: the body is read raw (any JSON; shapes in docs/alarms.md), and every answer
RESPONSES: dict[int | str, dict[str, Any]] = {
    202: _answer("Stored; new alarms queued for investigation", ids={"type": "array"}),
    200: _answer("An SNS subscription message: stored, nothing to investigate", id={}),
    400: _answer("Malformed: stored with the reason (its `id`), not investigated", **_ERROR,
                 id={"type": "string"}, stored={"type": "boolean"}),
    401: _answer("No webhook secret presented", **_ERROR),
    403: _answer("The wrong webhook secret", **_ERROR),
    413: _answer("Larger than webhooks.max_body_bytes: not stored", **_ERROR),
    503: _answer("Webhooks are disabled: no secret is configured", **_ERROR),
}
BODY = {"requestBody": {"required": True, "content": {"application/json": {"schema": {}}}}}

for _path, _kind in ROUTES.items():
    router.add_api_route(f"/{_path}", _receiver(_kind), methods=["POST"], status_code=202,
                         name=f"webhook_{_path}", responses=RESPONSES, openapi_extra=BODY)


def _scm_receiver(provider: str) -> Callable[..., Awaitable[JSONResponse]]:
    async def receive(request: Request, state: State) -> JSONResponse:
        body = await read_body(request, state.settings.webhooks.max_body_bytes)
        headers = {k.lower(): v for k, v in request.headers.items()}
        outcome = await state.receive_scm(provider, headers, body)
        return JSONResponse(outcome.body, status_code=outcome.status, headers=outcome.headers)

    receive.__name__ = f"receive_{provider}"
    receive.__doc__ = (f"Receive a {provider} webhook delivery: verified by its signature, "
                       "de-duplicated by delivery id; the repository it names is synced.")
    return receive


SCM_RESPONSES: dict[int | str, dict[str, Any]] = {
    202: _answer("Verified and queued: the repository it names will be synced",
                 delivery={"type": "string"}, source={"type": "string"}, scope={"type": "string"}),
    200: _answer("A ping, or a delivery seen before (nothing done twice)",
                 delivery={"type": "string"}),
    400: _answer("Verified but not a JSON object", **_ERROR),
    401: _answer("No signature (X-Hub-Signature-256 / X-Gitlab-Token): refused and logged", **_ERROR),
    403: _answer("A signature that matches no source's secret: refused and logged", **_ERROR),
    404: _answer("No source of this provider is configured", **_ERROR),
    413: _answer("Larger than webhooks.max_body_bytes", **_ERROR),
    503: _answer("No webhook secret is set for this provider's sources", **_ERROR),
}

for _provider in ("github", "gitlab"):
    router.add_api_route(f"/{_provider}", _scm_receiver(_provider), methods=["POST"],
                         status_code=202, name=f"webhook_{_provider}", responses=SCM_RESPONSES,
                         openapi_extra=BODY)
