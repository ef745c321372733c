"""The shared HTTP layer (shipwise.connectors.http) on its own: timeouts and unreachable hosts,
statuses a caller accepts, secondary limits told by their message, counters."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest
from pydantic import SecretStr
from tests.fakes.github import FakeGitHub, World

from shipwise.connectors.http import GITLAB_RATE_LIMIT, HttpClient
from shipwise.errors import RetriesExhaustedError, TransientError


@pytest.fixture(scope="module")
def world() -> World:
    return World.generate(repos=1, prs=5, seed=2)


@pytest.fixture
def gh(world: World) -> Iterator[FakeGitHub]:
    with FakeGitHub(world, token=None) as fake:
        yield fake


def test_a_silent_server_times_out_transiently() -> None:
    with socket.socket() as listener:  # accepts connections (backlog) and never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        slept: list[float] = []
        client = HttpClient(f"http://127.0.0.1:{port}", timeout=0.2, max_attempts=2,
                            sleep=slept.append, token=SecretStr("s3cret-token"))
        with pytest.raises(RetriesExhaustedError) as err:
            client.get("/x")
    assert isinstance(err.value.last, TransientError) and "did not answer in time" in str(err.value)
    assert len(slept) == 1 and "s3cret-token" not in str(err.value)


def test_an_unreachable_host_is_transient() -> None:
    client = HttpClient("http://127.0.0.1:9", max_attempts=1, sleep=lambda s: None)
    with pytest.raises(RetriesExhaustedError, match="could not reach"):
        client.get("/x")


def test_statuses_a_caller_accepts_are_returned(gh: FakeGitHub) -> None:
    client = HttpClient(gh.base_url, sleep=lambda s: None)
    response = client.get("/repos/acme/nope", ok=(404,))
    assert response.status == 404 and response.json == {"message": "Not Found"}
    assert client.stats.retries == 0


def test_a_secondary_limit_told_by_its_message(gh: FakeGitHub) -> None:
    gh.fail(r"^/rate_limit", 403, body=json.dumps(
        {"message": "You have exceeded a secondary rate limit and have been temporarily "
                    "blocked from content creation."}))
    slept: list[float] = []
    client = HttpClient(gh.base_url, sleep=slept.append)
    assert client.get("/rate_limit").status == 200
    assert slept and slept[0] >= 60.0  # no Retry-After: a minute, as GitHub advises


def test_gitlab_rate_limit_headers(gh: FakeGitHub) -> None:
    gh.fail(r"^/rate_limit", 429, headers={"RateLimit-Remaining": "0",
                                           "RateLimit-Reset": "2000000000"})
    slept: list[float] = []
    client = HttpClient(gh.base_url, sleep=slept.append, rate_limit=GITLAB_RATE_LIMIT,
                        clock=lambda: 2_000_000_000 - 12.0)
    assert client.get("/rate_limit").status == 200
    assert 12.0 <= slept[0] <= 14.0


def test_counters(gh: FakeGitHub) -> None:
    client = HttpClient(gh.base_url, sleep=lambda s: None)
    first = client.get("/repos/acme/svc0")
    client.get("/repos/acme/svc0", etag=first.etag)
    assert client.stats.as_dict()["requests"] == 2 and client.stats.not_modified == 1
    assert client.stats.bytes == len(json.dumps(first.json, separators=(",", ":")).encode())
