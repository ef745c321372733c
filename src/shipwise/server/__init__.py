"""The HTTP server behind ``shipwise serve``: alarm webhooks and health checks, for now.

One router per area (``health``, ``webhooks``); errors are rendered as JSON in one place
(``errors``); the state shared by requests — one store connection and the investigation worker —
lives in ``state``. Later areas (API, web UI, MCP) add routers here.
"""

from shipwise.server.app import create_app

__all__ = ["create_app"]
