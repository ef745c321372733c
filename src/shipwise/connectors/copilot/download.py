"""Downloads of GitHub's signed report links (the NDJSON files of the Copilot usage metrics
reports).

A signed link carries its own authorisation in its query (a signature and an expiry), on a host
that is not the API's: it is fetched **without** the GitHub token (sending it to a storage host
would leak it, and storage services reject a second authorisation). Timeouts, 429 and 5xx are
retried with the connectors' backoff (:func:`shipwise.connectors.retry.retry`); a refusal (400,
401, 403: expired or bad signature) is :class:`ExpiredLinkError`, on which the connector asks
GitHub for the report again and gets fresh links. Nothing of a body is put in an error message:
the files name people.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import urlsplit

import httpx

from shipwise.connectors.http import USER_AGENT, RequestRejectedError
from shipwise.connectors.retry import retry
from shipwise.errors import TerminalError, TransientError


class ExpiredLinkError(TerminalError):
    """The storage host refused a signed link (expired or no longer valid): ask for new ones."""


def _shown(url: str) -> str:
    """The link without its query (the signature is a credential while it lasts)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


class SignedDownloader:
    """GETs of signed links with retries; no token, no GitHub headers."""

    def __init__(self, *, timeout: float, max_attempts: int,
                 transport: httpx.BaseTransport | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.time) -> None:
        self._client = httpx.Client(headers={"User-Agent": USER_AGENT}, timeout=timeout,
                                    transport=transport, follow_redirects=True)
        self._max_attempts = max_attempts
        self._sleep = sleep
        self._clock = clock
        #: links downloaded and bytes read
        self.downloads = 0
        self.bytes = 0

    def get(self, url: str) -> bytes:
        what = f"GET {_shown(url)}"

        def once() -> bytes:
            try:
                response = self._client.get(url)
            except httpx.TimeoutException:
                raise TransientError(f"{what}: the report's storage did not answer in time"
                                     ) from None
            except httpx.TransportError as exc:
                raise TransientError(f"{what}: could not reach the report's storage "
                                     f"({type(exc).__name__})") from None
            status = response.status_code
            if status == 200:
                return response.content
            if status == 429 or status >= 500:
                after = response.headers.get("Retry-After")
                raise TransientError(f"{what}: the report's storage failed (HTTP {status})",
                                     retry_after=float(after) if after and after.isdigit()
                                     else None)
            if status in (400, 401, 403):
                raise ExpiredLinkError(f"{what}: the signed link was refused (HTTP {status}); "
                                       "it has probably expired",
                                       hint="sync again: the report is asked for fresh links")
            raise RequestRejectedError(f"{what}: the report's storage answered HTTP {status}")

        body = retry(once, attempts=self._max_attempts, sleep=self._sleep, what=what)
        self.downloads += 1
        self.bytes += len(body)
        return body

    def close(self) -> None:
        self._client.close()
