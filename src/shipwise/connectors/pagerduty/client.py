"""PagerDuty's REST API v2 over the shared :class:`~shipwise.connectors.http.HttpClient`.

What PagerDuty needs beyond the shared client:

* the key goes in ``Authorization: Token token=…`` and every request asks for
  ``application/vnd.pagerduty+json;version=2``;
* lists use classic pagination (``limit``, ``offset``, ``more``) and PagerDuty refuses an
  ``offset + limit`` past 10,000: :meth:`PagerDutyClient.window` asks for the ``total`` first and
  splits a time window in halves until each half fits (:mod:`shipwise.connectors.paging`);
* a 429's ``ratelimit-reset`` header counts seconds from now (not an epoch instant), and errors
  come as ``{"error": {"message", "code", "errors"}}``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import httpx
from pydantic import SecretStr

from shipwise.connectors.http import HttpClient, Params, RateLimitHeaders
from shipwise.connectors.incidents import iso
from shipwise.connectors.paging import OffsetPage, objects, offset_pages, split_window
from shipwise.errors import ForbiddenError, NotFoundError

#: Items per page (PagerDuty's maximum).
LIMIT = 100
#: PagerDuty answers 400 for ``offset + limit`` beyond this.
MAX_OFFSET = 10_000
#: A window is not split below this many seconds (one instant holding 10,000 items is refused).
MIN_WINDOW_SECONDS = 1.0

PAGERDUTY_RATE_LIMIT = RateLimitHeaders("ratelimit-remaining", "ratelimit-reset", "ratelimit-limit")


def _never_secondary(response: httpx.Response) -> bool:
    return False


class PagerDutyClient(HttpClient):
    """An :class:`HttpClient` for ``base_url`` (``https://api.pagerduty.com``)."""

    def __init__(self, base_url: str, token: SecretStr | None, *, timeout: float = 30.0,
                 max_attempts: int = 5, transport: httpx.BaseTransport | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(base_url, token=token, auth_header="Authorization",
                         auth_prefix="Token token=", timeout=timeout, max_attempts=max_attempts,
                         transport=transport, sleep=sleep, clock=clock,
                         rate_limit=PAGERDUTY_RATE_LIMIT, secondary_limit=_never_secondary,
                         headers={"Accept": "application/vnd.pagerduty+json;version=2"},
                         service="PagerDuty")

    def pages(self, path: str, key: str, params: Params | None = None
              ) -> Iterator[list[dict[str, Any]]]:
        """The objects under ``key`` of every page of a list (``offset`` up to 10,000)."""
        def fetch(offset: int) -> OffsetPage[dict[str, Any]]:
            body = self.get(path, {**(params or {}), "limit": LIMIT, "offset": offset}).json
            body = body if isinstance(body, dict) else {}
            return OffsetPage(objects(body.get(key)), bool(body.get("more")))

        yield from offset_pages(fetch, max_offset=MAX_OFFSET, limit=LIMIT)

    def total(self, path: str, params: Params | None = None) -> int:
        body = self.get(path, {**(params or {}), "limit": 1, "offset": 0, "total": "true"}).json
        value = body.get("total") if isinstance(body, dict) else None
        return int(value) if isinstance(value, int) else 0

    def window(self, path: str, key: str, since: datetime, until: datetime,
               params: Params | None = None) -> Iterator[list[dict[str, Any]]]:
        """The pages of ``path`` between ``since`` and ``until``, oldest half first: a window
        holding more than PagerDuty lets one query through is read as two halves."""
        def query(a: datetime, b: datetime) -> dict[str, Any]:
            return {**(params or {}), "since": iso(a), "until": iso(b), "time_zone": "UTC"}

        return split_window(since, until, count=lambda a, b: self.total(path, query(a, b)),
                            read=lambda a, b: self.pages(path, key, query(a, b)),
                            fits=MAX_OFFSET - LIMIT, min_seconds=MIN_WINDOW_SECONDS)

    def _reset_in(self, response: httpx.Response) -> float | None:
        value = response.headers.get("Retry-After") or response.headers.get("ratelimit-reset")
        if value is not None:
            try:
                return max(0.0, float(value))
            except ValueError:
                pass
        return None

    def _message(self, response: httpx.Response) -> str:
        try:
            data = response.json()
        except ValueError:
            return ""
        error = data.get("error") if isinstance(data, dict) else None
        if isinstance(error, dict):
            parts = [str(error.get("message") or "")]
            parts += [str(e) for e in error.get("errors") or [] if e]
            return "; ".join(p for p in parts if p)[:200]
        return super()._message(response)

    def _error(self, response: httpx.Response, what: str) -> Exception:
        error = super()._error(response, what)
        if isinstance(error, ForbiddenError):
            return ForbiddenError(
                f"{what}: the key may not read this (HTTP 403)",
                hint="use a read-only REST API key (Integrations → API Access Keys) or a user "
                     "token of a user who can see these services")
        if isinstance(error, NotFoundError):
            return NotFoundError(f"{what}: not found (HTTP 404)",
                                 hint="check base_url (https://api.pagerduty.com, or "
                                      "https://api.eu.pagerduty.com for an EU account)")
        return error
