"""The web dashboard: server-rendered pages (Jinja2 + HTMX + vendored uPlot) over the authorised
views of :mod:`shipwise.app.views`. Every page has a JSON twin (``<path>.json``)."""

from shipwise.web.routes import mount

__all__ = ["mount"]
