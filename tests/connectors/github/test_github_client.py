"""The HTTP layer and the GitHub client against the fake GitHub (a real server on 127.0.0.1):
pagination, conditional requests, rate limits, retries and the two error kinds."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from pydantic import SecretStr
from tests.fakes.github import FakeGitHub, World

from shipwise.connectors.github import queries
from shipwise.connectors.github.client import GitHubClient, graphql_url
from shipwise.connectors.http import MalformedPageError, RequestRejectedError, next_link
from shipwise.errors import (
    ForbiddenError,
    NotFoundError,
    RetriesExhaustedError,
    TerminalError,
    TransientError,
    UnauthorizedError,
)

TOKEN = "ghp_fake_token"


@pytest.fixture(scope="module")
def world() -> World:
    return World.generate(repos=2, prs=30, seed=3)


@pytest.fixture
def gh(world: World) -> Iterator[FakeGitHub]:
    with FakeGitHub(world, token=TOKEN) as fake:
        yield fake


def client(gh: FakeGitHub, token: str = TOKEN, attempts: int = 4
           ) -> tuple[GitHubClient, list[float]]:
    slept: list[float] = []
    return GitHubClient(gh.base_url, SecretStr(token), max_attempts=attempts,
                        sleep=slept.append), slept


def test_link_pagination(gh: FakeGitHub, world: World) -> None:
    c, _ = client(gh)
    runs = [r for page in c.paginate("/repos/acme/svc1/actions/runs", {"per_page": 7})
            for r in page.json["workflow_runs"]]
    assert len(runs) == len(world.repos[1].runs) > 7
    assert len({r["id"] for r in runs}) == len(runs)
    assert gh.count("GET", "/actions/runs") == -(-len(runs) // 7)


def test_link_header_parsing() -> None:
    assert next_link('<https://x/a?page=2>; rel="next", <https://x/a?page=9>; rel="last"') == \
        "https://x/a?page=2"
    assert next_link('<https://x/a?page=1>; rel="prev"') is None
    assert next_link(None) is None


def test_conditional_request_answers_304(gh: FakeGitHub) -> None:
    c, _ = client(gh)
    first = c.get("/repos/acme/svc0")
    assert first.etag and not first.not_modified
    again = c.get("/repos/acme/svc0", etag=first.etag)
    assert again.not_modified and again.json is None and again.etag == first.etag
    assert c.stats.not_modified == 1 and c.stats.requests == 2


def test_secondary_rate_limit_honours_retry_after(gh: FakeGitHub) -> None:
    gh.secondary_limit(r"^/repos/acme/svc0$", retry_after=7)
    c, slept = client(gh)
    assert c.get("/repos/acme/svc0").json["full_name"] == "acme/svc0"
    assert slept[0] >= 7.0 and len(slept) == 1 and c.stats.retries == 1


def test_429_and_5xx_are_retried(gh: FakeGitHub) -> None:
    gh.fail(r"^/repos/acme/svc0$", 429, headers={"Retry-After": "3"})
    gh.fail(r"^/repos/acme/svc0$", 502)
    gh.fail(r"^/repos/acme/svc0$", 500)
    c, slept = client(gh)
    assert c.get("/repos/acme/svc0").status == 200
    assert len(slept) == 3 and slept[0] >= 3.0 and c.stats.retries == 3


def test_primary_rate_limit_waits_for_the_reset(gh: FakeGitHub) -> None:
    reset = int(time.time()) + 40
    gh.fail(r"^/rate_limit", 403, headers={"X-RateLimit-Remaining": "0",
                                           "X-RateLimit-Reset": str(reset)},
            body='{"message": "API rate limit exceeded"}')
    c, slept = client(gh)
    assert c.get("/rate_limit").status == 200
    assert 30 <= slept[0] <= 45


def test_retries_run_out(gh: FakeGitHub) -> None:
    gh.fail(r"^/repos/acme/svc0$", 503, times=10)
    c, slept = client(gh, attempts=3)
    with pytest.raises(RetriesExhaustedError) as err:
        c.get("/repos/acme/svc0")
    assert isinstance(err.value, TransientError) and "3 attempts" in str(err.value)
    assert len(slept) == 2


def test_bad_token_is_terminal_and_never_shown(gh: FakeGitHub) -> None:
    c, slept = client(gh, token="ghp_wrong_secret_value")
    with pytest.raises(UnauthorizedError) as err:
        c.get("/repos/acme/svc0")
    assert slept == [] and gh.count() == 1
    assert "ghp_wrong_secret_value" not in f"{err.value} {err.value.hint}"


def test_missing_repository_is_terminal(gh: FakeGitHub) -> None:
    c, slept = client(gh)
    with pytest.raises(NotFoundError):
        c.get("/repos/acme/nope")
    with pytest.raises(NotFoundError, match="acme/nope"):
        c.graphql(queries.HISTORY, {"owner": "acme", "name": "nope", "first": 5})
    assert slept == []


def test_token_lacking_a_scope_is_terminal(gh: FakeGitHub) -> None:
    gh.fail(r"^/repos/acme/svc0$", 403, headers={"X-Accepted-OAuth-Scopes": "repo",
                                                 "X-OAuth-Scopes": "read:user"},
            body='{"message": "Resource not accessible by integration"}')
    c, slept = client(gh)
    with pytest.raises(ForbiddenError, match="needs one of the scopes 'repo'"):
        c.get("/repos/acme/svc0")
    assert slept == []


def test_truncated_page_is_retried_then_reported(gh: FakeGitHub) -> None:
    gh.truncated(r"/graphql")
    c, slept = client(gh)
    data = c.graphql(queries.HISTORY, {"owner": "acme", "name": "svc0", "first": 5})
    assert len(data["repository"]["defaultBranchRef"]["target"]["history"]["nodes"]) == 5
    assert len(slept) == 1
    gh.truncated(r"/graphql", times=10)
    with pytest.raises(MalformedPageError) as err:
        c.graphql(queries.HISTORY, {"owner": "acme", "name": "svc0", "first": 5})
    assert isinstance(err.value, TerminalError) and "not valid JSON" in str(err.value)
    assert err.value.url.endswith("/graphql") and err.value.excerpt.startswith('{"data"')


def test_a_query_github_would_reject_is_rejected(gh: FakeGitHub) -> None:
    c, _ = client(gh)
    with pytest.raises(RequestRejectedError, match="Cannot query field 'reviewCount'"):
        c.graphql("query { repository(owner: \"acme\", name: \"svc0\") { reviewCount } }")


def test_user_agent_and_auth_header_sent(gh: FakeGitHub) -> None:
    c, _ = client(gh)
    c.get("/rate_limit")
    assert c.http._client.headers["User-Agent"].startswith("shipwise/")


def test_enterprise_urls(world: World) -> None:
    assert graphql_url("https://ghe.acme.io/api/v3") == "https://ghe.acme.io/api/graphql"
    assert graphql_url("https://api.github.com") == "https://api.github.com/graphql"
    with FakeGitHub(world, token=TOKEN, enterprise=True) as gh:
        assert gh.base_url.endswith("/api/v3")
        c, _ = client(gh)
        assert c.get("/repos/acme/svc0").json["name"] == "svc0"
        data = c.graphql(queries.HISTORY, {"owner": "acme", "name": "svc0", "first": 1})
        assert data["repository"]["defaultBranchRef"]["name"] == "main"
