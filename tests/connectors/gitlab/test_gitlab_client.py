"""GitLabClient against the fake GitLab (a real HTTP server on 127.0.0.1): pagination by Link and
by X-Next-Page, conditional requests, rate limits and 5xx retried with the server's wait, terminal
401/403/404, and a truncated page."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import SecretStr
from tests.fakes.gitlab import TOKEN, FakeGitLab, World, generate_world

from shipwise.connectors.gitlab.client import GitLabClient
from shipwise.connectors.http import MalformedPageError
from shipwise.errors import ForbiddenError, NotFoundError, RetriesExhaustedError, UnauthorizedError

WORLD = generate_world(seed=3, projects=1, mrs=45)
PROJECT = WORLD.projects[0]
MRS = f"projects/{PROJECT.id}/merge_requests"


@pytest.fixture
def gl() -> Iterator[FakeGitLab]:
    with FakeGitLab(WORLD) as fake:
        yield fake


def client(gl: FakeGitLab, token: str = TOKEN, sleeps: list[float] | None = None,
           attempts: int = 4) -> GitLabClient:
    waits = sleeps if sleeps is not None else []
    return GitLabClient(gl.url, SecretStr(token), max_attempts=attempts, sleep=waits.append,
                        clock=lambda: 1767225000.0)


def test_project_by_path_and_token_header(gl: FakeGitLab) -> None:
    c = client(gl)
    body = c.get(GitLabClient.project_path(PROJECT.path)).json
    assert body["id"] == PROJECT.id and body["path_with_namespace"] == PROJECT.path
    assert gl.requests[-1][0] == "/projects/" + PROJECT.path.replace("/", "%2F")
    assert c.last_rate_limit is not None and c.last_rate_limit[1] == 2000


@pytest.mark.parametrize("links", [True, False])
def test_pagination_by_link_and_by_next_page(gl: FakeGitLab, links: bool) -> None:
    gl.links = links
    pages = list(client(gl).items(MRS, {"per_page": 20, "state": "all"}))
    assert [len(p) for p in pages] == [20, 20, 5]
    assert sorted(x["iid"] for p in pages for x in p) == list(range(1, 46))
    assert gl.count(r"/merge_requests$") == 3


def test_conditional_request_gets_304(gl: FakeGitLab) -> None:
    c = client(gl)
    first = c.get(f"projects/{PROJECT.id}")
    assert first.etag and not first.not_modified
    again = c.get(f"projects/{PROJECT.id}", etag=first.etag)
    assert again.not_modified and again.json is None
    assert c.stats.not_modified == 1 and c.stats.requests == 2
    changed = c.get(f"projects/{PROJECT.id}", etag='W/"other"')
    assert not changed.not_modified and changed.json["id"] == PROJECT.id


def test_429_retry_after_is_honoured(gl: FakeGitLab) -> None:
    sleeps: list[float] = []
    gl.fail(r"/merge_requests$", 429, times=2, headers={"Retry-After": "7"})
    pages = list(client(gl, sleeps=sleeps).items(MRS, {"per_page": 100}))
    assert len(pages[0]) == 45
    assert len(sleeps) == 2 and all(s >= 7 for s in sleeps)


def test_429_with_ratelimit_reset_only(gl: FakeGitLab) -> None:
    sleeps: list[float] = []
    gl.fail(r"/merge_requests$", 429, headers={"RateLimit-Remaining": "0",
                                              "RateLimit-Reset": str(1767225000 + 30)})
    list(client(gl, sleeps=sleeps).items(MRS))
    assert len(sleeps) == 1 and sleeps[0] >= 30


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_is_retried(gl: FakeGitLab, status: int) -> None:
    sleeps: list[float] = []
    gl.fail(r"/merge_requests$", status, times=2)
    c = client(gl, sleeps=sleeps)
    assert len(c.all_items(MRS, {"per_page": 100})) == 45
    assert len(sleeps) == 2 and c.stats.retries == 2


def test_5xx_until_attempts_run_out(gl: FakeGitLab) -> None:
    gl.fail(r"/merge_requests$", 502, times=10)
    with pytest.raises(RetriesExhaustedError, match="502"):
        client(gl, attempts=3).all_items(MRS)
    assert gl.count(r"/merge_requests$") == 3


def test_bad_token_is_terminal(gl: FakeGitLab) -> None:
    with pytest.raises(UnauthorizedError, match="401") as info:
        client(gl, token="glpat-wrong").get(f"projects/{PROJECT.id}")
    assert "glpat-wrong" not in str(info.value) and TOKEN not in str(info.value)
    assert gl.count() == 1  # not retried


def test_token_without_read_api_says_which_scope() -> None:
    with FakeGitLab(WORLD, scopes=("read_user",)) as gl:
        c = client(gl)
        with pytest.raises(ForbiddenError) as info:
            c.get(f"projects/{PROJECT.id}")
        assert "read_api" in str(info.value) and info.value.hint and "read_api" in info.value.hint
        assert c.get("personal_access_tokens/self").json["scopes"] == ["read_user"]


def test_missing_project_is_terminal(gl: FakeGitLab) -> None:
    with pytest.raises(NotFoundError) as info:
        client(gl).get(GitLabClient.project_path("acme/nope"))
    assert info.value.hint and "group/subgroup/project" in info.value.hint
    assert gl.count() == 1


def test_truncated_page_is_read_again(gl: FakeGitLab) -> None:
    sleeps: list[float] = []
    gl.fail(r"/merge_requests$", truncate=100)
    assert len(client(gl, sleeps=sleeps).all_items(MRS, {"per_page": 100})) == 45
    assert len(sleeps) == 1


def test_page_truncated_every_time_names_the_url(gl: FakeGitLab) -> None:
    gl.fail(r"/merge_requests$", truncate=100, times=10)
    with pytest.raises(MalformedPageError) as info:
        client(gl, attempts=2).all_items(MRS, {"per_page": 100})
    assert "merge_requests" in info.value.url and info.value.excerpt.startswith("[{")


def test_world_is_deterministic() -> None:
    again: World = generate_world(seed=3, projects=1, mrs=45)
    assert again.canonical() == WORLD.canonical()
