"""The MCP server inside ``shipwise serve``: streamable HTTP at ``/mcp``, a token per request.

Every request to ``/mcp`` must carry ``Authorization: Bearer sw_…`` (session cookies are not
accepted here) — or, from ``shipwise mcp`` on this machine relaying its stdio session while the
server holds the store, the server's local secret (:mod:`shipwise.http.local`); it is checked with :func:`shipwise.http.auth.request_principal` against the
server's shared store before the SDK sees the request, and answered ``401`` JSON otherwise. The
principal rides along in the ASGI scope, where the tools read it. The SDK runs stateless with JSON
responses: no MCP session outlives its request, so a revoked token stops working at once.

The SDK's session manager must run for as long as the app serves: :func:`mount_mcp` wraps the
app's lifespan so that a fresh manager starts after the app's own startup (store, worker) and
stops before its shutdown.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from fastapi import FastAPI
from mcp.server.mcpserver import Context
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from shipwise.app.caller import LOCAL_ADMIN, Principal, Store
from shipwise.app.results import InvestigationStarted
from shipwise.errors import InputError, ShipwiseError, UnauthorizedError
from shipwise.http.auth import client_of, request_principal
from shipwise.http.errors import error_response, status_of
from shipwise.http.local import SECRET_HEADER, secret_matches
from shipwise.http.state import ServerState
from shipwise.mcp.server import build_server

PATH = "/mcp"
PRINCIPAL_KEY = "shipwise.principal"
HOW = "send Authorization: Bearer sw_…; create a token with `shipwise token create`"


class McpEndpoint:
    """ASGI endpoint at ``/mcp``: authenticate, then hand over to the running session manager."""

    def __init__(self, state: ServerState) -> None:
        self.state = state
        self.manager: StreamableHTTPSessionManager | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        try:
            local = request.headers.get(SECRET_HEADER)
            if local is not None:  # `shipwise mcp` relaying a local session (no token given)
                if not secret_matches(self.state.advertised, local, client_of(request)):
                    raise UnauthorizedError("not this server's local secret", hint=HOW)
                principal = LOCAL_ADMIN
            elif not request.headers.get("authorization", "").lower().startswith("bearer "):
                raise UnauthorizedError("MCP needs a token", hint=HOW)
            else:
                principal = await run_in_threadpool(self._authenticate, request)
            if self.manager is None:
                raise ShipwiseError("the MCP server is not running", hint="retry in a moment")
        except ShipwiseError as exc:
            status = status_of(exc)
            headers = {"WWW-Authenticate": 'Bearer realm="shipwise"'} if status == 401 else None
            await error_response(status if status != 500 else 503, str(exc), exc.hint,
                                 headers)(scope, receive, send)
            return
        scope[PRINCIPAL_KEY] = principal
        await self.manager.handle_request(scope, receive, send)

    def _authenticate(self, request: Request) -> Principal:
        with self.state.store.session() as store:
            return request_principal(request, store)


def request_principal_of(store: Store, ctx: Context) -> Principal:
    """The principal :class:`McpEndpoint` authenticated this call's HTTP request as."""
    request = ctx.request_context.request
    principal = getattr(request, "scope", {}).get(PRINCIPAL_KEY)
    if not isinstance(principal, Principal):
        raise UnauthorizedError("this call came without an authenticated request", hint=HOW)
    return principal


def queue_on(state: ServerState) -> Callable[[Principal, str, str, str], InvestigationStarted]:
    """Start an investigation the way a webhook does: store a generic alarm, queue it."""

    def start(principal: Principal, service: str, at: str, metric: str) -> InvestigationStarted:
        alarm: dict[str, Any] = {"entity": service, "metric": metric,
                                 "source": {"kind": "mcp", "requested_by": principal.name}}
        if at.strip().lower() != "now":
            alarm["time"] = at
        result = state.receive(json.dumps(alarm).encode(), "generic")
        if result["rejected"]:
            raise InputError(result["rejected"], hint=result["hint"])
        queued = bool(result["accepted"])
        return InvestigationStarted(
            outcome="queued", service=service, alarm_ids=result["ids"],
            status="accepted" if queued else "duplicate",
            message=("queued: the server investigates it in the background; "
                     "list_investigations shows it when done") if queued else
                    "this alarm was received before; list_investigations shows its investigation")

    return start


def mount_mcp(app: FastAPI) -> None:
    """Serve MCP at ``/mcp`` and run the SDK's session manager inside the app's lifespan."""
    state = app.state.shipwise
    assert isinstance(state, ServerState)
    endpoint = McpEndpoint(state)
    app.router.routes.append(Route(PATH, endpoint))  # an ASGI app: every method
    inner: Callable[[Any], AbstractAsyncContextManager[Any]] = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(target: Any) -> AsyncIterator[Any]:
        async with inner(target) as app_state:
            server = build_server(state.store.session, request_principal_of,
                                  starter=queue_on(state), settings=state.settings)
            # Builds the session manager (one per run: it cannot be restarted). The Bearer token
            # is the only credential /mcp accepts, so a DNS-rebound page cannot use it; the
            # SDK's Host/Origin allow-list (loopback only) would break `serve --host 0.0.0.0`.
            server.streamable_http_app(streamable_http_path=PATH, stateless_http=True,
                                       json_response=True,
                                       transport_security=TransportSecuritySettings(
                                           enable_dns_rebinding_protection=False))
            async with server.session_manager.run():
                endpoint.manager = server.session_manager
                try:
                    yield app_state
                finally:
                    endpoint.manager = None

    app.router.lifespan_context = lifespan
