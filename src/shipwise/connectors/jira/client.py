"""Jira's REST API over the shared :class:`~shipwise.connectors.http.HttpClient`.

What Jira needs beyond the shared client, added here by subclassing:

* **Cloud** (``https://x.atlassian.net``) authenticates with Basic ``email:api-token`` and
  searches with ``POST /rest/api/3/search/jql``, paged by ``nextPageToken`` (the old
  ``/rest/api/{2,3}/search`` answers 410 Gone there); a truncated changelog is read from
  ``/rest/api/3/issue/{key}/changelog`` (``startAt``/``isLast``).
* **Data Center** authenticates with a bearer personal access token and searches with
  ``GET /rest/api/2/search`` (``startAt``/``maxResults``/``total``); an issue's whole changelog
  comes with ``GET /rest/api/2/issue/{key}?expand=changelog``.
* errors carry ``errorMessages`` (a JQL mistake is a 400 naming it); 410 says which edition to
  configure; 401 says which kind of token each edition wants.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import httpx
from pydantic import SecretStr

from shipwise.connectors.http import HttpClient, MalformedPageError, Response
from shipwise.connectors.paging import OffsetPage, offset_pages
from shipwise.errors import TerminalError, UnauthorizedError

#: Issues per search page (Jira's usual maximum when fields are asked for).
PAGE_SIZE = 100
#: Data Center offset paging: each page starts this many issues before the previous one ended, so
#: an issue moved to the end of the order (updated while we read) cannot shift one past us.
PAGE_OVERLAP = 5


class EndpointGoneError(TerminalError):
    """410 Gone: an endpoint this Jira no longer serves (the old search on Cloud)."""


def _never_secondary(response: httpx.Response) -> bool:
    """Jira says "slow down" with 429 only; a 403 is always a permission problem."""
    return False


class JiraClient(HttpClient):
    """An :class:`HttpClient` for one Jira site (see the module docstring)."""

    def __init__(self, base_url: str, token: SecretStr | None, *, cloud: bool,
                 email: str | None = None, timeout: float = 30.0, max_attempts: int = 5,
                 transport: httpx.BaseTransport | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.time) -> None:
        self.cloud = cloud
        self.api = "rest/api/3" if cloud else "rest/api/2"
        sent: SecretStr | None = token
        prefix = "Bearer "
        if cloud and token is not None:
            pair = f"{email or ''}:{token.get_secret_value()}".encode()
            sent, prefix = SecretStr(base64.b64encode(pair).decode()), "Basic "
        super().__init__(base_url, token=sent, auth_prefix=prefix, timeout=timeout,
                         max_attempts=max_attempts, transport=transport, sleep=sleep,
                         clock=clock, secondary_limit=_never_secondary, service="Jira")

    # -- calls --------------------------------------------------------------------------------

    def myself(self) -> dict[str, Any]:
        """The token's user (only its ``timeZone`` is used: JQL dates are in that zone)."""
        body = self.get(f"{self.api}/myself").json
        return body if isinstance(body, dict) else {}

    def statuses(self) -> list[dict[str, Any]]:
        """Every status of the site with its ``statusCategory``."""
        body = self.get(f"{self.api}/status").json
        return [s for s in body if isinstance(s, dict)] if isinstance(body, list) else []

    def count(self, jql: str) -> int:
        """How many issues ``jql`` matches (a 400 names a JQL mistake)."""
        if self.cloud:
            body = self.post(f"{self.api}/search/approximate-count", {"jql": jql}).json
            return int((body or {}).get("count") or 0)
        body = self.get(f"{self.api}/search", {"jql": jql, "maxResults": 0, "fields": "key"}).json
        return int((body or {}).get("total") or 0)

    def search(self, jql: str, fields: Sequence[str], *,
               page_size: int = PAGE_SIZE) -> Iterator[list[dict[str, Any]]]:
        """The issues ``jql`` matches with ``fields`` and their changelog, a page at a time."""
        if self.cloud:
            yield from self._search_cloud(jql, fields, page_size)
        else:
            yield from self._search_dc(jql, fields, page_size)

    def changelog(self, key: str) -> list[dict[str, Any]]:
        """An issue's whole changelog (histories oldest first)."""
        if not self.cloud:
            body = self.get(f"{self.api}/issue/{key}",
                            {"fields": "created", "expand": "changelog"}).json or {}
            histories = (body.get("changelog") or {}).get("histories") or []
            return [h for h in histories if isinstance(h, dict)]
        out: list[dict[str, Any]] = []
        start = 0
        while True:
            page = _page(self.get(f"{self.api}/issue/{key}/changelog",
                                  {"startAt": start, "maxResults": PAGE_SIZE}))
            values = [h for h in page.get("values") or [] if isinstance(h, dict)]
            out += values
            start += len(values)
            total = page.get("total")
            if page.get("isLast", True) or not values or (
                    isinstance(total, int) and start >= total):
                return out

    # -- paging -------------------------------------------------------------------------------

    def _search_cloud(self, jql: str, fields: Sequence[str],
                      page_size: int) -> Iterator[list[dict[str, Any]]]:
        token: str | None = None
        while True:
            body: dict[str, Any] = {"jql": jql, "fields": list(fields), "expand": "changelog",
                                    "maxResults": page_size}
            if token:
                body["nextPageToken"] = token
            page = _page(self.post(f"{self.api}/search/jql", body))
            yield _issues(page)
            token = page.get("nextPageToken")
            if page.get("isLast", not token) or not token:
                return

    def _search_dc(self, jql: str, fields: Sequence[str],
                   page_size: int) -> Iterator[list[dict[str, Any]]]:
        def fetch(start: int) -> OffsetPage[dict[str, Any]]:
            page = _page(self.get(f"{self.api}/search", {
                "jql": jql, "startAt": start, "maxResults": page_size,
                "fields": ",".join(fields), "expand": "changelog"}))
            issues = _issues(page)
            total = page.get("total")
            return OffsetPage(issues, isinstance(total, int) and start + len(issues) < total)

        yield from offset_pages(fetch, overlap=PAGE_OVERLAP)

    # -- errors -------------------------------------------------------------------------------

    def _message(self, response: httpx.Response) -> str:
        try:
            data = response.json()
        except ValueError:
            return ""
        if isinstance(data, dict):
            said = [str(m) for m in data.get("errorMessages") or []]
            errors = data.get("errors")
            if isinstance(errors, dict):
                said += [f"{k}: {v}" for k, v in errors.items()]
            if said:
                return "; ".join(said)[:300]
        return super()._message(response)

    def _error(self, response: httpx.Response, what: str) -> Exception:
        status = response.status_code
        if status == 410:
            said = self._message(response)
            return EndpointGoneError(
                f"{what}: Jira no longer serves this endpoint (HTTP 410 Gone)"
                + (f": {said}" if said else ""),
                hint="this is Jira Cloud, which searches with /rest/api/3/search/jql: set "
                     "`edition: cloud` on the source (or leave it `auto` for *.atlassian.net)")
        error = super()._error(response, what)
        if isinstance(error, UnauthorizedError):
            hint = ("Jira Cloud wants the account's email (`email:` on the source) and an API "
                    "token from id.atlassian.com → Security → API tokens" if self.cloud else
                    "Jira Data Center wants a personal access token (Profile → Personal Access "
                    "Tokens) that has not expired; for Jira Cloud set `edition: cloud` and "
                    "`email:`")
            return UnauthorizedError(f"{what}: Jira refused the credentials (HTTP 401)",
                                     hint=hint)
        return error


def _page(response: Response) -> dict[str, Any]:
    """A page's JSON object; valid JSON of another shape (a proxy's error page, a list) is a
    :class:`MalformedPageError`, kept with its reason like a body cut short."""
    if isinstance(response.json, dict):
        return response.json
    excerpt = json.dumps(response.json)[:200]
    raise MalformedPageError(f"{response.url}: Jira answered {type(response.json).__name__} where "
                             "a page (a JSON object) belongs", url=response.url, excerpt=excerpt,
                             hint="check base_url (a proxy or login page may be answering)")


def _issues(page: dict[str, Any]) -> list[dict[str, Any]]:
    return [i for i in page.get("issues") or [] if isinstance(i, dict)]
