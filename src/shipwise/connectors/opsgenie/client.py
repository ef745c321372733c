"""Opsgenie's REST API over the shared :class:`~shipwise.connectors.http.HttpClient`.

What Opsgenie needs beyond the shared client:

* the key goes in ``Authorization: GenieKey …``; the account lives at ``https://api.opsgenie.com``
  or, in the EU, ``https://api.eu.opsgenie.com`` (the other answers 401/422 for it);
* lists answer ``{"data": [...], "paging": {"next": …}}`` with ``offset`` and ``limit`` ≤ 100,
  and refuse ``offset + limit`` past 20,000: :meth:`OpsgenieClient.alerts` counts a time window
  first (``/v2/alerts/count``) and splits it in halves until each half fits
  (:mod:`shipwise.connectors.paging`);
* a 429 carries ``Retry-After`` (and ``X-RateLimit-State: THROTTLED``); errors come as
  ``{"message": …, "took": …, "requestId": …}``;
* a 200 whose body is not the object Opsgenie sends (a proxy's page, a list) is a
  :class:`~shipwise.connectors.http.MalformedPageError`, kept with its reason like a body cut
  short.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import httpx
from pydantic import SecretStr

from shipwise.connectors.http import HttpClient, MalformedPageError, Params, RateLimitHeaders
from shipwise.connectors.paging import OffsetPage, objects, offset_pages, split_window
from shipwise.errors import ForbiddenError, NotFoundError, UnauthorizedError

#: Items per page (Opsgenie's maximum).
LIMIT = 100
#: Opsgenie refuses ``offset + limit`` beyond this.
MAX_OFFSET = 20_000
#: A window is not split below this many seconds.
MIN_WINDOW_SECONDS = 1.0

#: Opsgenie sends no remaining/reset counters, only ``X-RateLimit-State`` and a 429.
OPSGENIE_RATE_LIMIT = RateLimitHeaders("X-RateLimit-Remaining", "X-RateLimit-Reset",
                                       "X-RateLimit-Limit")


def _never_secondary(response: httpx.Response) -> bool:
    return False


def millis(t: datetime) -> int:
    """An instant as Opsgenie's search queries take it (epoch milliseconds)."""
    return int(t.timestamp() * 1000)


class OpsgenieClient(HttpClient):
    """An :class:`HttpClient` for ``base_url`` (``https://api.opsgenie.com``)."""

    def __init__(self, base_url: str, token: SecretStr | None, *, timeout: float = 30.0,
                 max_attempts: int = 5, transport: httpx.BaseTransport | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(base_url, token=token, auth_header="Authorization",
                         auth_prefix="GenieKey ", timeout=timeout, max_attempts=max_attempts,
                         transport=transport, sleep=sleep, clock=clock,
                         rate_limit=OPSGENIE_RATE_LIMIT, secondary_limit=_never_secondary,
                         service="Opsgenie")

    def data(self, path: str, params: Params | None = None) -> Any:
        """The ``data`` of one answer."""
        response = self.get(path, params)
        body = response.json
        if not isinstance(body, dict) or "data" not in body:
            excerpt = json.dumps(body)[:200]
            raise MalformedPageError(
                f"GET {self._display(path)}: Opsgenie answered without the `data` of a page",
                url=response.url, excerpt=excerpt,
                hint="check base_url (a proxy or login page may be answering)")
        return body["data"]

    def pages(self, path: str, params: Params | None = None) -> Iterator[list[dict[str, Any]]]:
        """The objects of every page of a list (``offset`` up to 20,000)."""
        def fetch(offset: int) -> OffsetPage[dict[str, Any]]:
            response = self.get(path, {**(params or {}), "offset": offset, "limit": LIMIT})
            body = response.json
            if not isinstance(body, dict) or not isinstance(body.get("data"), list):
                raise MalformedPageError(
                    f"GET {self._display(path)} (offset {offset}): Opsgenie answered without "
                    "the `data` list of a page", url=response.url,
                    excerpt=json.dumps(body)[:200],
                    hint="check base_url (a proxy or login page may be answering)")
            paging = body.get("paging")
            more = bool(paging.get("next")) if isinstance(paging, dict) else False
            items = objects(body["data"])
            return OffsetPage(items, more and len(items) == LIMIT)

        return offset_pages(fetch, max_offset=MAX_OFFSET, limit=LIMIT)

    def count(self, query: str) -> int:
        data = self.data("v2/alerts/count", {"query": query})
        value = data.get("count") if isinstance(data, dict) else None
        return int(value) if isinstance(value, int) else 0

    def alerts(self, since: datetime, until: datetime) -> Iterator[list[dict[str, Any]]]:
        """The pages of alerts updated in ``[since, until)``, least recently updated first; a
        window holding more than Opsgenie lets one query through is read as two halves."""
        def query(a: datetime, b: datetime) -> str:
            return f"updatedAt>={millis(a)} AND updatedAt<{millis(b)}"

        def read(a: datetime, b: datetime) -> Iterator[list[dict[str, Any]]]:
            return self.pages("v2/alerts", {"query": query(a, b), "sort": "updatedAt",
                                            "order": "asc"})

        return split_window(since, until, count=lambda a, b: self.count(query(a, b)),
                            read=read, fits=MAX_OFFSET - LIMIT, min_seconds=MIN_WINDOW_SECONDS)

    # -- errors ---------------------------------------------------------------------------------

    def _error(self, response: httpx.Response, what: str) -> Exception:
        error = super()._error(response, what)
        if isinstance(error, UnauthorizedError):
            return UnauthorizedError(
                f"{what}: Opsgenie refused the token (HTTP 401)",
                hint="use an API key of an API integration (Settings → Integrations → API, "
                     "read access) and the base_url of its region (https://api.eu.opsgenie.com "
                     "for an EU account)")
        if isinstance(error, ForbiddenError):
            return ForbiddenError(f"{what}: the key may not read this (HTTP 403)",
                                  hint="give the API integration read access ('Read' rights "
                                       "of a global API integration)")
        if isinstance(error, NotFoundError):
            return NotFoundError(f"{what}: not found (HTTP 404)",
                                 hint="check the schedule names in `schedules:` and base_url")
        return error
