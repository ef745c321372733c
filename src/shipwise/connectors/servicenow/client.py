"""ServiceNow's Table API over the shared :class:`~shipwise.connectors.http.HttpClient`.

What ServiceNow needs beyond the shared client:

* Basic auth (an integration user and its password) or an OAuth access token (``Bearer``);
* ``GET /api/now/table/{table}`` with ``sysparm_query`` (an encoded query), ``sysparm_fields``,
  ``sysparm_limit`` and ``sysparm_offset``; always ``sysparm_display_value=false`` (values as
  stored: choice values, sys_ids, date/times in UTC as ``YYYY-MM-DD HH:MM:SS``) and
  ``sysparm_exclude_reference_link=true`` (a reference is its sys_id, not a ``{link, value}``
  object). A page is ``{"result": [...]}``; the ``Link`` header names the ``next`` page and
  ``X-Total-Count`` counts the matches. Paging is :func:`~shipwise.connectors.paging.offset_pages`;
* a 429 carries ``Retry-After`` (seconds) and ``X-RateLimit-Reset`` (epoch seconds); errors come
  as ``{"error": {"message", "detail"}, "status": "failure"}``; a 403 is an ACL, never a limit.
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
from shipwise.errors import ForbiddenError, NotFoundError, UnauthorizedError

#: Records per page unless the source says otherwise.
PAGE_SIZE = 1000
#: Each page within one instant starts this many records before the previous one ended.
PAGE_OVERLAP = 5


def _never_secondary(response: httpx.Response) -> bool:
    """ServiceNow says "slow down" with 429 only; a 403 is an ACL refusing the read."""
    return False


class ServiceNowClient(HttpClient):
    """An :class:`HttpClient` for one instance (``https://acme.service-now.com``)."""

    def __init__(self, base_url: str, secret: SecretStr | None, *, user: str | None = None,
                 oauth: bool = False, timeout: float = 30.0, max_attempts: int = 5,
                 transport: httpx.BaseTransport | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.time) -> None:
        self.oauth = oauth
        sent, prefix = secret, "Bearer "
        if not oauth and secret is not None:
            pair = f"{user or ''}:{secret.get_secret_value()}".encode()
            sent, prefix = SecretStr(base64.b64encode(pair).decode()), "Basic "
        super().__init__(base_url, token=sent, auth_prefix=prefix, timeout=timeout,
                         max_attempts=max_attempts, transport=transport, sleep=sleep,
                         clock=clock, secondary_limit=_never_secondary, service="ServiceNow")

    def page(self, table: str, *, query: str, fields: Sequence[str], limit: int,
             offset: int = 0) -> OffsetPage[dict[str, Any]]:
        """One page of ``table``: the records and whether there are more."""
        response = self.get(f"api/now/table/{table}", {
            "sysparm_query": query, "sysparm_fields": ",".join(fields),
            "sysparm_limit": limit, "sysparm_offset": offset,
            "sysparm_display_value": "false", "sysparm_exclude_reference_link": "true"})
        records = _records(response)
        if "Link" in response.headers:
            more = response.next_url is not None
        else:
            total = response.headers.get("X-Total-Count", "")
            more = (offset + len(records) < int(total)) if total.isdigit() else \
                len(records) >= limit
        return OffsetPage(records, more and bool(records))

    def records(self, table: str, *, query: str, fields: Sequence[str], limit: int = PAGE_SIZE,
                overlap: int = 0) -> Iterator[list[dict[str, Any]]]:
        """Every page of ``table`` matching ``query``, ``sysparm_offset`` after offset."""
        yield from offset_pages(
            lambda offset: self.page(table, query=query, fields=fields, limit=limit,
                                     offset=offset), overlap=overlap)

    # -- errors -------------------------------------------------------------------------------

    def _message(self, response: httpx.Response) -> str:
        try:
            data = response.json()
        except ValueError:
            return ""
        error = data.get("error") if isinstance(data, dict) else None
        if isinstance(error, dict):
            parts = [str(error.get("message") or ""), str(error.get("detail") or "")]
            return ": ".join(p for p in parts if p)[:300]
        return super()._message(response)

    def _error(self, response: httpx.Response, what: str) -> Exception:
        error = super()._error(response, what)
        said = self._message(response)
        said = f": {said}" if said else ""
        if isinstance(error, UnauthorizedError):
            hint = ("check the OAuth access token in token_env: it may have expired (ServiceNow "
                    "tokens last 30 minutes by default)" if self.oauth else
                    "check `user:` and the password in token_env (the user needs 'Web service "
                    "access only' or a normal login, and must not be locked out)")
            return UnauthorizedError(f"{what}: ServiceNow refused the credentials (HTTP 401)"
                                     f"{said}", hint=hint)
        if isinstance(error, ForbiddenError):
            return ForbiddenError(f"{what}: the user may not read this table (HTTP 403){said}",
                                  hint="give the integration user read access to incident and "
                                       "change_request (the role itil, or a read ACL)")
        if isinstance(error, NotFoundError):
            return NotFoundError(f"{what}: not found (HTTP 404){said}",
                                 hint="check base_url (https://<instance>.service-now.com) and "
                                      "that the Table API is active")
        return error


def _records(response: Response) -> list[dict[str, Any]]:
    """A page's records; an answer that is not ``{"result": [...]}`` (a login or maintenance
    page, a proxy's error) is a :class:`MalformedPageError`, kept with its reason."""
    body = response.json
    result = body.get("result") if isinstance(body, dict) else None
    if isinstance(result, list):
        return [r for r in result if isinstance(r, dict)]
    excerpt = json.dumps(body)[:200]
    raise MalformedPageError(f"{response.url}: ServiceNow answered without a `result` list",
                             url=response.url, excerpt=excerpt,
                             hint="check base_url (a login page or a hibernating instance may be "
                                  "answering); the sync goes on from this page next time")
