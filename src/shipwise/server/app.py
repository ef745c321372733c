"""The FastAPI application factory."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI

from shipwise import __version__
from shipwise.api import ai as ai_api
from shipwise.api import explain as explain_api
from shipwise.api import health, local, otlp, webhooks
from shipwise.api import notify as notify_api
from shipwise.api import prevention as prevention_api
from shipwise.api import response as response_api
from shipwise.api import routes as api
from shipwise.api.openapi import install_links
from shipwise.config import Settings
from shipwise.http.errors import install_error_handlers
from shipwise.http.security import RedactToken
from shipwise.http.state import ServerState
from shipwise.mcp.http import mount_mcp
from shipwise.web import mount as mount_web

log = logging.getLogger(__name__)


def create_app(settings: Settings, *, insecure_webhooks: bool = False,
               url: str | None = None,
               commands: Callable[[list[str]], int] | None = None) -> FastAPI:
    """The shipwise HTTP app. Startup starts the investigation worker (and resumes alarms left
    uninvestigated); shutdown lets it finish what is queued (up to ``server.drain_seconds``).
    With ``url`` (the loopback URL it serves at) and ``commands`` (how to run a command line),
    the server also runs other local processes' commands on its store while it holds it
    (:mod:`shipwise.http.local`)."""
    state = ServerState(settings, insecure_webhooks=insecure_webhooks, url=url, commands=commands)
    redact = RedactToken()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        access = logging.getLogger("uvicorn.access")
        access.addFilter(redact)
        if state.webhook_auth == "disabled":
            log.warning("webhooks are disabled: set webhooks.secret or SHIPWISE_WEBHOOK_SECRET")
        state.start()
        try:
            yield
        finally:
            state.stop()
            access.removeFilter(redact)

    app = FastAPI(title="shipwise", version=__version__, lifespan=lifespan,
                  docs_url=None, redoc_url=None, openapi_url="/openapi.json")
    app.state.shipwise = state
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(local.router)  # /local/run: commands of local processes, by secret
    app.include_router(webhooks.router)  # documented there; answered by the middleware:
    app.add_middleware(webhooks.AlarmIntake, state=state)  # alarm webhooks, the short way
    app.include_router(otlp.router)  # /v1/traces, /v1/logs: OTLP/HTTP from SDKs and Collectors
    # Interfaces, each added on its own line below: REST API (shipwise.api.routes), web pages
    # (shipwise.web), MCP over streamable HTTP (shipwise.mcp).
    mount_mcp(app)  # MCP: also runs its session manager
    app.include_router(prevention_api.router)  # before api.router: /investigations/accuracy
    app.include_router(notify_api.router)
    app.include_router(response_api.router)  # /api/v1/incidents, actor resolution
    app.include_router(ai_api.router)  # before api.router: /teams/{team:path}/ai/…
    app.include_router(api.router)
    app.include_router(explain_api.router)  # /api/v1/deployments, /api/v1/pull-requests
    mount_web(app)  # web pages and their vendored static files
    install_links(app)  # /openapi.json: how one answer feeds the next request
    return app
