"""HTTP to GitHub (github.com or Enterprise Server): REST and GraphQL over
:class:`~shipwise.connectors.http.HttpClient`.

``base_url`` is the REST root: ``https://api.github.com`` or ``https://HOST/api/v3``. GraphQL is
at ``https://api.github.com/graphql`` resp. ``https://HOST/api/graphql``. GraphQL answers 200
with an ``errors`` list for a missing repository (``NOT_FOUND``: a
:class:`~shipwise.errors.NotFoundError`), a rate limit (``RATE_LIMITED``: transient, retried) or
a query GitHub rejects (a :class:`~shipwise.connectors.http.RequestRejectedError`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import httpx
from pydantic import SecretStr

from shipwise.connectors.http import (
    GITHUB_RATE_LIMIT,
    HttpClient,
    HttpStats,
    Params,
    RequestRejectedError,
    Response,
)
from shipwise.errors import ForbiddenError, NotFoundError, TransientError

__all__ = ["GitHubClient", "graphql_url"]


def graphql_url(base_url: str) -> str:
    """The GraphQL endpoint of a REST root (``…/api/v3`` → ``…/api/graphql``)."""
    base = base_url.rstrip("/")
    if base.endswith("/api/v3"):
        return base[: -len("/v3")] + "/graphql"
    return base + "/graphql"


class GitHubClient:
    """REST and GraphQL requests to one GitHub, with retries, rate limits and counters."""

    def __init__(
        self,
        base_url: str,
        token: SecretStr | None,
        *,
        timeout: float = 30.0,
        max_attempts: int = 5,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.graphql_endpoint = graphql_url(self.base_url)
        self.http = HttpClient(
            self.base_url, token=token, timeout=timeout, max_attempts=max_attempts,
            transport=transport, sleep=sleep, clock=clock, rate_limit=GITHUB_RATE_LIMIT,
            headers={"Accept": "application/vnd.github+json",
                     "X-GitHub-Api-Version": "2022-11-28"},
            service="GitHub")

    @property
    def stats(self) -> HttpStats:
        return self.http.stats

    def get(self, path: str, params: Params | None = None, etag: str | None = None, *,
            ok: tuple[int, ...] = ()) -> Response:
        return self.http.get(path, params, etag, ok=ok)

    def paginate(self, path: str, params: Params | None = None, *,
                 etag: str | None = None) -> Iterator[Response]:
        return self.http.paginate(path, params, etag=etag)

    def graphql(self, query: str, variables: Mapping[str, Any] | None = None, *,
                allow_not_found: bool = False) -> dict[str, Any]:
        """The ``data`` of a GraphQL query. ``allow_not_found``: a ``NOT_FOUND`` error leaves
        its field null in ``data`` instead of raising (the batched probe)."""

        def check(response: Response) -> None:
            body = response.json
            if not isinstance(body, dict):
                raise RequestRejectedError("GraphQL: the answer is not a JSON object")
            for error in body.get("errors") or ():
                if error.get("type") == "RATE_LIMITED":
                    raise TransientError("GraphQL: the rate limit of GitHub is used up",
                                         retry_after=60.0)

        response = self.http.post(self.graphql_endpoint, {"query": query,
                                                          "variables": dict(variables or {})},
                                  check=check)
        body = response.json
        errors = body.get("errors") or []
        for error in errors:
            message = str(error.get("message", ""))[:300]
            if error.get("type") == "NOT_FOUND":
                if allow_not_found:
                    continue
                raise NotFoundError(f"GitHub: {message}",
                                    hint="check the repository's owner/name in shipwise.yaml and "
                                         "that the token can read it")
            if error.get("type") in ("FORBIDDEN", "INSUFFICIENT_SCOPES"):
                raise ForbiddenError(f"GitHub: the token may not read this: {message}",
                                    hint="give the token the 'repo' scope (or read access to "
                                         "the repository for a fine-grained token)")
            raise RequestRejectedError(f"GitHub rejected a GraphQL query: {message}")
        data = body.get("data")
        if not isinstance(data, dict):
            raise RequestRejectedError("GitHub answered a GraphQL query without data")
        return data

    def close(self) -> None:
        self.http.close()
