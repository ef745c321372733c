"""The composition root behind ``shipwise serve``: :func:`create_app` mounts the REST API
(:mod:`shipwise.api`), the web pages (:mod:`shipwise.web`) and MCP over HTTP (:mod:`shipwise.mcp`)
on the shared pieces of :mod:`shipwise.http`. Nothing imports this module but the CLI and tests."""

from shipwise.server.app import create_app

__all__ = ["create_app"]
