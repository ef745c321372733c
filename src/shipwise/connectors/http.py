"""The HTTP layer shared by the GitHub and GitLab connectors.

:class:`HttpClient` wraps one :class:`httpx.Client` (base URL, auth header, timeout, a
``shipwise/<version>`` User-Agent) and turns every answer into either a :class:`Response` or one
of the two error kinds of :mod:`shipwise.errors`:

- :class:`~shipwise.errors.TransientError` (retried by :func:`~shipwise.connectors.retry.retry`
  around each request): timeouts, connection errors, 5xx, 429, a 403 secondary rate limit, an
  exhausted primary rate limit (``retry_after`` from ``Retry-After`` or the reset header), and a
  malformed or truncated JSON body (:class:`MalformedResponseError`);
- :class:`~shipwise.errors.TerminalError`: 401 (:class:`~shipwise.errors.UnauthorizedError`), a 403
  that is not a rate limit — a token lacking a scope (:class:`~shipwise.errors.ForbiddenError`),
  404 (:class:`~shipwise.errors.NotFoundError`), 422 and other 4xx (:class:`RequestRejectedError`),
  and a body that stays malformed after every attempt (:class:`MalformedPageError`, which names
  the URL and carries an excerpt so a caller can quarantine it).

Conditional requests: ``get(path, etag=...)`` sends ``If-None-Match``; a 304 is a
:class:`Response` with ``not_modified`` true and no body. Pagination follows the ``Link`` header's
``rel="next"``. The token is only ever put in the auth header: never in a URL, log or message.

Providers differ in their rate-limit header names (:class:`RateLimitHeaders`: GitHub's
``X-RateLimit-*``, GitLab's ``RateLimit-*``) and in how they say "secondary limit"
(``secondary_limit`` hook).
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

import httpx
from pydantic import SecretStr

from shipwise import __version__
from shipwise.connectors.retry import retry
from shipwise.errors import (
    ForbiddenError,
    NotFoundError,
    RetriesExhaustedError,
    TerminalError,
    TransientError,
    UnauthorizedError,
)

__all__ = [
    "GITHUB_RATE_LIMIT",
    "GITLAB_RATE_LIMIT",
    "USER_AGENT",
    "HttpClient",
    "HttpStats",
    "MalformedPageError",
    "MalformedResponseError",
    "RateLimitHeaders",
    "RequestRejectedError",
    "Response",
    "next_link",
]

log = logging.getLogger(__name__)

USER_AGENT = f"shipwise/{__version__}"

#: query parameters; a list value repeats the parameter (PagerDuty's ``schedule_ids[]``)
Params = Mapping[str, str | int | float | bool | list[str] | None]


@dataclass(frozen=True)
class RateLimitHeaders:
    """Which response headers carry a provider's primary rate limit.

    ``reset`` holds the instant the window resets, in epoch seconds (both GitHub and GitLab).
    """

    remaining: str = "X-RateLimit-Remaining"
    reset: str = "X-RateLimit-Reset"
    limit: str = "X-RateLimit-Limit"


GITHUB_RATE_LIMIT = RateLimitHeaders()
GITLAB_RATE_LIMIT = RateLimitHeaders("RateLimit-Remaining", "RateLimit-Reset", "RateLimit-Limit")


class MalformedResponseError(TransientError):
    """A response body that is not the JSON it should be (cut off, garbled): retried."""

    def __init__(self, message: str, *, url: str, excerpt: str) -> None:
        super().__init__(message, hint="a proxy or the service cut the answer short; "
                                       "the same sync run again usually succeeds")
        self.url = url
        self.excerpt = excerpt


class MalformedPageError(TerminalError):
    """A page whose body stayed malformed on every attempt. ``url`` and ``excerpt`` (the first
    200 characters of the body) say which, so the caller can quarantine or report it."""

    def __init__(self, message: str, *, url: str, excerpt: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.url = url
        self.excerpt = excerpt


class RequestRejectedError(TerminalError):
    """The service understood the request and refused it (422 and other 4xx): a bug in the
    request or a setting the service does not accept; retrying the same request cannot help."""


@dataclass
class HttpStats:
    """Counters for benches and the sync report."""

    #: requests sent (every attempt, including retried ones and 304s)
    requests: int = 0
    #: conditional requests answered 304 Not Modified
    not_modified: int = 0
    #: attempts that failed transiently and were tried again
    retries: int = 0
    #: response body bytes received
    bytes: int = 0
    #: requests per method+path template (first path segments only), for "where did they go"
    by_kind: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, int]:
        return {"requests": self.requests, "not_modified": self.not_modified,
                "retries": self.retries, "bytes": self.bytes}


@dataclass(frozen=True)
class Response:
    """One successful (2xx or 304) answer."""

    status: int
    #: the parsed JSON body (``None`` for 304 and empty bodies)
    json: Any
    headers: httpx.Headers
    #: the ``ETag`` header, to send back as ``If-None-Match`` next time
    etag: str | None
    url: str

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def next_url(self) -> str | None:
        """The ``rel="next"`` URL of the ``Link`` header, if any."""
        return next_link(self.headers.get("Link"))


_LINK = re.compile(r'<([^>]*)>\s*((?:;\s*[^;,]*)*)')


def next_link(header: str | None) -> str | None:
    """The URL marked ``rel="next"`` in an RFC 8288 ``Link`` header, or ``None``."""
    if not header:
        return None
    for match in _LINK.finditer(header):
        params = match.group(2)
        if re.search(r'rel\s*=\s*"?([^";]*\s)?next(\s[^";]*)?"?', params):
            return match.group(1)
    return None


def _default_secondary(response: httpx.Response) -> bool:
    """GitHub's secondary limits: a 403/429 with ``Retry-After``, or a message saying so."""
    if "Retry-After" in response.headers:
        return True
    text = response.text[:2000].lower()
    return "secondary rate limit" in text or "abuse" in text


class HttpClient:
    """HTTP with auth, retries, rate limits and counters, for one base URL.

    ``auth_header`` / ``auth_prefix`` say how the token is sent (``Authorization: Bearer …`` by
    default; GitLab may use ``PRIVATE-TOKEN`` with no prefix). ``transport`` replaces the
    network (tests pass an :class:`httpx.HTTPTransport` to a local server or a mock transport);
    ``sleep`` and ``clock`` (epoch seconds, for the reset header) are injected so tests never
    wait. Each request is retried ``max_attempts`` times on a transient failure.
    """

    def __init__(
        self,
        base_url: str,
        *,
        token: SecretStr | None = None,
        auth_header: str = "Authorization",
        auth_prefix: str = "Bearer ",
        timeout: float = 30.0,
        max_attempts: int = 5,
        base_delay: float = 1.0,
        max_delay: float = 60.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        rate_limit: RateLimitHeaders = GITHUB_RATE_LIMIT,
        secondary_limit: Callable[[httpx.Response], bool] = _default_secondary,
        headers: Mapping[str, str] | None = None,
        service: str = "the service",
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.service = service
        self.stats = HttpStats()
        self._sleep = sleep
        self._clock = clock
        self._max_attempts = max_attempts
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._rate_limit = rate_limit
        self._secondary = secondary_limit
        sent = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        sent.update(headers or {})
        if token is not None:
            sent[auth_header] = auth_prefix + token.get_secret_value()
        self._client = httpx.Client(base_url=self.base_url + "/", headers=sent, timeout=timeout,
                                    transport=transport, follow_redirects=True)
        #: the last rate-limit headers seen: (remaining, limit, reset epoch) or None
        self.last_rate_limit: tuple[int, int, float] | None = None

    # -- public -------------------------------------------------------------------------------

    def get(self, path: str, params: Params | None = None, etag: str | None = None, *,
            ok: tuple[int, ...] = ()) -> Response:
        """``GET path`` (relative to the base URL, or an absolute URL from a Link header).

        With ``etag``, a conditional request: 304 gives ``not_modified``. Statuses in ``ok``
        (e.g. ``(404,)``) are returned as responses instead of raised.
        """
        return self.request("GET", path, params=params, etag=etag, ok=ok)

    def post(self, path: str, body: Any, *, ok: tuple[int, ...] = (),
             check: Callable[[Response], None] | None = None) -> Response:
        """``POST path`` with a JSON body (GraphQL). ``check`` may raise a
        :class:`~shipwise.errors.TransientError` for an answer that is a 200 but says "try
        again" (GraphQL's ``RATE_LIMITED``): it runs inside the retried attempt."""
        return self.request("POST", path, body=body, ok=ok, check=check)

    def paginate(self, path: str, params: Params | None = None, *,
                 etag: str | None = None) -> Iterator[Response]:
        """Every page of a list, following ``Link: <…>; rel="next"``. ``etag`` applies to the
        first page only; a 304 yields that single not-modified response and stops."""
        response = self.get(path, params, etag)
        yield response
        while not response.not_modified and response.next_url:
            response = self.get(response.next_url)
            yield response

    def request(self, method: str, path: str, *, params: Params | None = None,
                body: Any = None, etag: str | None = None, ok: tuple[int, ...] = (),
                check: Callable[[Response], None] | None = None) -> Response:
        """One request, retried on transient failures; see the module docstring."""
        what = f"{method} {self._display(path)}"
        attempts = [0]

        def once() -> Response:
            attempts[0] += 1
            if attempts[0] > 1:
                self.stats.retries += 1
            response = self._once(method, path, params, body, etag, ok, what)
            if check is not None:
                check(response)
            return response

        try:
            return retry(once, attempts=self._max_attempts, base_delay=self._base_delay,
                         max_delay=self._max_delay, sleep=self._sleep, what=what)
        except RetriesExhaustedError as exc:
            if isinstance(exc.last, MalformedResponseError):
                raise MalformedPageError(
                    f"{what}: the body was not valid JSON on any of {exc.attempts} attempts",
                    url=exc.last.url, excerpt=exc.last.excerpt,
                    hint="report it to the service's administrators; the rest of the sync "
                         "can continue once that page reads") from exc
            raise

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals ----------------------------------------------------------------------------

    def _display(self, path: str) -> str:
        if path.startswith(self.base_url):
            path = path[len(self.base_url):]
        return path if path.startswith("/") or "://" in path else "/" + path

    def _once(self, method: str, path: str, params: Params | None, body: Any,
              etag: str | None, ok: tuple[int, ...], what: str) -> Response:
        headers = {"If-None-Match": etag} if etag else None
        clean = {k: v for k, v in (params or {}).items() if v is not None}
        url = path if "://" in path else path.lstrip("/")
        self.stats.requests += 1
        kind = f"{method} {'/'.join(self._display(path).split('?')[0].split('/')[:2])}"
        self.stats.by_kind[kind] = self.stats.by_kind.get(kind, 0) + 1
        try:
            response = self._client.request(method, url, params=clean or None, json=body,
                                            headers=headers)
        except httpx.TimeoutException as exc:
            raise TransientError(f"{what}: {self.service} did not answer in time "
                                 f"({type(exc).__name__})") from None
        except httpx.TransportError as exc:
            raise TransientError(f"{what}: could not reach {self.service} "
                                 f"({type(exc).__name__})",
                                 hint="check the network and base_url") from None
        self.stats.bytes += len(response.content)
        self._note_rate_limit(response)
        status = response.status_code
        if status == 304:
            self.stats.not_modified += 1
            return Response(304, None, response.headers, response.headers.get("ETag") or etag,
                            str(response.url))
        if 200 <= status < 300 or status in ok:
            return Response(status, self._json(response, what), response.headers,
                            response.headers.get("ETag"), str(response.url))
        raise self._error(response, what)

    def _json(self, response: httpx.Response, what: str) -> Any:
        content = response.content
        if not content.strip():
            return None
        try:
            return json.loads(content)
        except (ValueError, UnicodeDecodeError) as exc:
            excerpt = content[:200].decode("utf-8", "replace")
            raise MalformedResponseError(
                f"{what}: the body is not valid JSON ({exc.__class__.__name__} after "
                f"{len(content)} bytes)", url=str(response.url), excerpt=excerpt) from None

    def _note_rate_limit(self, response: httpx.Response) -> None:
        h = self._rate_limit
        try:
            remaining = int(response.headers[h.remaining])
            limit = int(response.headers.get(h.limit, "0"))
            reset = float(response.headers.get(h.reset, "0"))
        except (KeyError, ValueError):
            return
        self.last_rate_limit = (remaining, limit, reset)

    def _reset_in(self, response: httpx.Response) -> float | None:
        value = response.headers.get("Retry-After")
        if value is not None:
            try:
                return max(0.0, float(value))
            except ValueError:
                pass
        reset = response.headers.get(self._rate_limit.reset)
        if reset is not None:
            try:
                return max(0.0, float(reset) - self._clock()) + 1.0
            except ValueError:
                pass
        return None

    def _message(self, response: httpx.Response) -> str:
        try:
            data = response.json()
        except ValueError:
            return ""
        if isinstance(data, dict):
            msg = data.get("message") or data.get("error") or ""
            return str(msg)[:200]
        return ""

    def _error(self, response: httpx.Response, what: str) -> Exception:
        status = response.status_code
        message = self._message(response)
        said = f": {message}" if message else ""
        remaining = response.headers.get(self._rate_limit.remaining)
        if status in (403, 429) and remaining == "0":
            wait = self._reset_in(response)
            return TransientError(f"{what}: the rate limit of {self.service} is used up{said}",
                                  retry_after=wait,
                                  hint="wait for the rate limit to reset, or sync fewer "
                                       "repositories per hour")
        if status == 429 or (status == 403 and self._secondary(response)):
            return TransientError(f"{what}: {self.service} asked us to slow down "
                                  f"(HTTP {status}, secondary rate limit){said}",
                                  retry_after=self._reset_in(response) or 60.0)
        if status >= 500:
            return TransientError(f"{what}: {self.service} failed (HTTP {status}){said}",
                                  retry_after=self._reset_in(response)
                                  if "Retry-After" in response.headers else None)
        if status == 401:
            return UnauthorizedError(f"{what}: {self.service} refused the token (HTTP 401){said}",
                                     hint="check that the token is valid and not expired")
        if status == 403:
            needed = response.headers.get("X-Accepted-OAuth-Scopes")
            has = response.headers.get("X-OAuth-Scopes")
            scope = (f" (the request needs one of the scopes '{needed}'; the token has "
                     f"'{has or 'none'}')") if needed else ""
            return ForbiddenError(f"{what}: the token may not read this (HTTP 403){scope}{said}",
                                  hint="give the token read access to the repository "
                                       "(scope 'repo', or 'public_repo' for public ones)")
        if status == 404:
            return NotFoundError(f"{what}: not found (HTTP 404){said}",
                                 hint="check the name in shipwise.yaml and that the token can "
                                      "see it (private repositories answer 404 without access)")
        return RequestRejectedError(f"{what}: {self.service} rejected the request "
                                    f"(HTTP {status}){said}")


ClientT = TypeVar("ClientT", bound=HttpClient)


class ClientHolder(Generic[ClientT]):
    """The plumbing every HTTP connector shares: one client made on first use and reused for a
    sync (or a fresh one for a probe with its own retry budget), its request counters, and
    closing it. ``transport``, ``sleep`` and ``clock`` are the injected network and time."""

    _client: ClientT | None = None

    def _hold(self, transport: httpx.BaseTransport | None, sleep: Callable[[float], None],
              clock: Callable[[], datetime]) -> None:
        self._transport = transport
        self._sleep = sleep
        self._clock = clock
        self._client = None

    def _client_options(self, *, timeout: float, max_attempts: int) -> dict[str, Any]:
        """The keyword arguments every client takes from its connector."""
        return {"timeout": timeout, "max_attempts": max_attempts, "transport": self._transport,
                "sleep": self._sleep, "clock": lambda: self._clock().timestamp()}

    def _held(self, make: Callable[[], ClientT], *, fresh: bool = False) -> ClientT:
        """The held client (made by ``make`` the first time); with ``fresh``, a new one that
        is not held."""
        if fresh:
            return make()
        if self._client is None:
            self._client = make()
        return self._client

    @property
    def stats(self) -> HttpStats:
        """Request counters of the held client (empty before the first request)."""
        return self._client.stats if self._client is not None else HttpStats()

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

