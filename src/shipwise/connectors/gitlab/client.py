"""GitLab's REST v4 over the shared :class:`~shipwise.connectors.http.HttpClient`.

What GitLab needs beyond the shared client, added here by subclassing:

* the token goes in ``PRIVATE-TOKEN`` (no prefix); the rate-limit headers are ``RateLimit-*``;
* pagination follows ``Link: rel="next"`` (offset and keyset pagination both send it) and falls
  back to ``X-Next-Page`` when a proxy strips ``Link``;
* a 403 names the scope GitLab wants (its body says ``insufficient_scope`` and ``scope``; shipwise
  needs ``read_api``), and a 404 says the project is missing or not visible to the token.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import SecretStr

from shipwise.connectors.http import GITLAB_RATE_LIMIT, HttpClient, Params, Response
from shipwise.errors import ForbiddenError, NotFoundError

#: Items per page (GitLab's maximum).
PER_PAGE = 100


def _never_secondary(response: httpx.Response) -> bool:
    """GitLab says "slow down" with 429 only; a 403 is always a permission problem."""
    return False


class GitLabClient(HttpClient):
    """An :class:`HttpClient` for ``{base_url}/api/v4`` (see the module docstring)."""

    def __init__(self, base_url: str, token: SecretStr | None, *, timeout: float = 30.0,
                 max_attempts: int = 5, transport: httpx.BaseTransport | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(base_url.rstrip("/") + "/api/v4", token=token,
                         auth_header="PRIVATE-TOKEN", auth_prefix="", timeout=timeout,
                         max_attempts=max_attempts, transport=transport, sleep=sleep,
                         clock=clock, rate_limit=GITLAB_RATE_LIMIT,
                         secondary_limit=_never_secondary, service="GitLab")

    @staticmethod
    def project_path(project: str) -> str:
        """``/projects/group%2Fproj``: a project addressed by its URL-encoded full path."""
        return "projects/" + quote(project, safe="")

    def paginate(self, path: str, params: Params | None = None, *,
                 etag: str | None = None) -> Iterator[Response]:
        """Every page: ``Link rel="next"``, else ``X-Next-Page`` (same query, that page)."""
        response = self.get(path, params, etag)
        yield response
        page_params: dict[str, Any] = dict(params or {})
        while not response.not_modified:
            nxt = response.next_url
            if nxt:
                response = self.get(nxt)
            else:
                page = (response.headers.get("X-Next-Page") or "").strip()
                if not page.isdigit():
                    return
                page_params["page"] = int(page)
                response = self.get(path, page_params)
            yield response

    def items(self, path: str, params: Params | None = None) -> Iterator[list[dict[str, Any]]]:
        """The pages of a list as lists of objects (a non-list body is an empty page)."""
        for response in self.paginate(path, params):
            body = response.json
            yield [x for x in body if isinstance(x, dict)] if isinstance(body, list) else []

    def all_items(self, path: str, params: Params | None = None) -> list[dict[str, Any]]:
        return [item for page in self.items(path, params) for item in page]

    def _error(self, response: httpx.Response, what: str) -> Exception:
        error = super()._error(response, what)
        if isinstance(error, ForbiddenError):
            scope = ""
            try:
                body = response.json()
                if isinstance(body, dict) and body.get("error") == "insufficient_scope":
                    scope = f" (GitLab asks for the scope '{body.get('scope') or 'read_api'}')"
            except ValueError:
                pass
            return ForbiddenError(
                f"{what}: the token may not read this (HTTP 403){scope}",
                hint="give the token the 'read_api' scope (or 'api') and at least the Reporter "
                     "role on the project")
        if isinstance(error, NotFoundError):
            return NotFoundError(
                f"{what}: not found (HTTP 404)",
                hint="check the project's full path in shipwise.yaml (group/subgroup/project) and "
                     "that the token's user can see it: GitLab answers 404 for a private project "
                     "it may not read")
        return error
