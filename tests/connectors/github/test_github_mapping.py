"""Pure GitHub mappings: payload in, canonical record out (GraphQL nodes and the REST/webhook
object shapes), and the webhook helpers."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from typing import Any

import pytest

from shipwise.config import PRODUCTION, AgentSettings
from shipwise.connectors.github import mapping as m
from shipwise.connectors.github.webhook import EVENTS, scope_of, verify
from shipwise.governance.agents import AgentRules


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def commit(oid: str, authored: str, email: str | None = "ana@example.com",
           login: str | None = "ana") -> dict[str, Any]:
    return {"oid": oid, "authoredDate": authored, "committedDate": authored, "additions": 3,
            "deletions": 1, "changedFilesIfAvailable": 2,
            "author": {"email": email, "user": {"login": login} if login else None},
            "parents": {"nodes": [{"oid": "p1"}, {"oid": "p2"}]}}


@pytest.mark.parametrize(("email", "login", "author"), [
    ("ana@example.com", "ana", "ana@example.com"),
    ("", "ana", "ana"),            # GitHub sends "" for an unknown email
    (None, None, None),            # nobody: the importer quarantines it (missing author)
])
def test_commit_author_is_the_email_else_the_login(email: str | None, login: str | None,
                                                   author: str | None) -> None:
    row = m.commit_record("acme/pay", commit("abc", "2026-07-01T10:00:00+02:00", email, login))
    assert row == {"sha": "abc", "repo": "acme/pay", "author": author,
                   "authored_at": at("2026-07-01T08:00:00Z"),
                   "committed_at": at("2026-07-01T08:00:00Z"), "additions": 3, "deletions": 1,
                   "files_changed": 2, "parents": ["p1", "p2"]}


def pr(author: dict[str, Any] | None) -> dict[str, Any]:
    return {"id": "PR_1", "number": 12, "createdAt": "2026-07-01T10:00:00Z",
            "updatedAt": "2026-07-03T10:00:00Z", "mergedAt": "2026-07-03T10:00:00Z",
            "closedAt": "2026-07-03T10:00:00Z", "additions": 10, "deletions": 4,
            "author": author}


REVIEWS = [
    {"author": {"__typename": "User", "login": "Ana"}, "state": "COMMENTED",
     "submittedAt": "2026-07-01T10:05:00Z"},                       # the author (any case): no
    {"author": {"__typename": "User", "login": "bo"}, "state": "PENDING", "submittedAt": None},
    {"author": {"__typename": "User", "login": "cy"}, "state": "APPROVED",
     "submittedAt": "2026-07-02T09:00:00Z"},
    {"author": {"__typename": "User", "login": "bo"}, "state": "CHANGES_REQUESTED",
     "submittedAt": "2026-07-01T12:00:00Z"},                       # the earliest by someone else
]


def test_pull_request_first_review_and_first_commit() -> None:
    commits = [commit("c2", "2026-06-30T12:00:00Z"), commit("c1", "2026-06-30T08:00:00Z")]
    row = m.pull_request_record("acme/pay", pr({"__typename": "User", "login": "ana"}), commits,
                                REVIEWS)
    assert row == {
        "id": "acme/pay#12", "repo": "acme/pay", "number": 12, "author": "ana",
        "created_at": at("2026-07-01T10:00:00Z"), "first_commit_at": at("2026-06-30T08:00:00Z"),
        "first_review_at": at("2026-07-01T12:00:00Z"), "merged_at": at("2026-07-03T10:00:00Z"),
        "closed_at": at("2026-07-03T10:00:00Z"), "commits": ["c2", "c1"], "additions": 10,
        "deletions": 4, "source": "github:acme/pay pull 12", "author_kind": None, "agent": None}


@pytest.mark.parametrize(("author", "labels", "expected"), [
    ({"__typename": "Bot", "login": "Copilot"}, [], ("agent", "copilot")),  # the coding agent
    ({"__typename": "User", "login": "ana"}, ["AI-Generated", "bug"], ("agent", "house")),
    ({"__typename": "User", "login": "ana"}, ["bug"], (None, None)),  # left to the importer
    ({"__typename": "Bot", "login": "renovate"}, ["ai-generated"], ("bot", None)),
])
def test_pull_request_made_by_an_agent_by_login_or_label(
        author: dict[str, Any], labels: list[str], expected: tuple[str | None, str | None]) -> None:
    rules = AgentRules.of(AgentSettings(labels={"ai-generated": "house"}))
    node = {**pr(author), "labels": {"nodes": [{"name": n} for n in labels]}}
    row = m.pull_request_record("acme/pay", node, [], [], rules)
    assert (row["author_kind"], row["agent"]) == expected


@pytest.mark.parametrize(("author", "expected"), [
    ({"__typename": "Bot", "login": "renovate"}, "renovate[bot]"),     # GraphQL drops [bot]
    ({"__typename": "Bot", "login": "dependabot[bot]"}, "dependabot[bot]"),
    (None, None),                                                     # a deleted account
])
def test_pull_request_author(author: dict[str, Any] | None, expected: str | None) -> None:
    row = m.pull_request_record("acme/pay", pr(author), [], [])
    assert row["author"] == expected and row["first_commit_at"] is None
    assert row["first_review_at"] is None


@pytest.mark.parametrize(("environment", "production"), [
    ("production", True), ("Production", True), ("prod", True), ("prod-eu", True),
    ("production/us-east-1", True), ("preprod", False), ("staging", False), ("product", False),
    ("", False), (None, False),
])
def test_production_pattern_is_a_whole_case_insensitive_match(environment: str | None,
                                                               production: bool) -> None:
    assert m.is_production(environment, PRODUCTION) is production


def deployment(env: str, statuses: list[tuple[str, str]],
               latest: tuple[str, str] | None = None) -> dict[str, Any]:
    return {"databaseId": 991, "environment": env, "task": "deploy",
            "createdAt": "2026-07-01T10:00:00Z", "commitOid": "abc",
            "latestStatus": {"state": latest[0], "createdAt": latest[1]} if latest else None,
            "statuses": {"nodes": [{"state": s, "createdAt": t} for s, t in statuses]}}


@pytest.mark.parametrize(("statuses", "status", "finished"), [
    ([("QUEUED", "2026-07-01T10:00:00Z"), ("SUCCESS", "2026-07-01T10:07:00Z")],
     "success", "2026-07-01T10:07:00Z"),
    # superseded later: GitHub adds INACTIVE; the first terminal status still decides
    ([("SUCCESS", "2026-07-01T10:07:00Z"), ("INACTIVE", "2026-07-02T10:00:00Z")],
     "success", "2026-07-01T10:07:00Z"),
    ([("IN_PROGRESS", "2026-07-01T10:01:00Z"), ("ERROR", "2026-07-01T10:03:00Z")],
     "failure", "2026-07-01T10:03:00Z"),
    ([("FAILURE", "2026-07-01T10:03:00Z")], "failure", "2026-07-01T10:03:00Z"),
    ([("QUEUED", "2026-07-01T10:00:00Z"), ("IN_PROGRESS", "2026-07-01T10:01:00Z")], None, None),
    ([], None, None),
])
def test_deployment_terminal_states(statuses: list[tuple[str, str]], status: str | None,
                                    finished: str | None) -> None:
    event = m.deployment_from_graphql("acme/pay", deployment("prod-eu", statuses), PRODUCTION)
    assert event is not None
    assert (event.status, event.finished_at) == (status, at(finished) if finished else None)
    assert event.key == "acme/pay deployment 991" and event.sha == "abc"
    assert event.environment == "prod-eu" and event.target == "production"
    assert event.rule == ("environment 'prod-eu' matches production_environment "
                          "'(prod|production)([-_ /.].*)?'")
    if status is not None:
        row = m.deployment_record(event, "pay", ["c1", "abc"])
        assert row == {"id": "acme/pay deployment 991", "service": "pay",
                       "environment": "production", "started_at": at("2026-07-01T10:00:00Z"),
                       "finished_at": at(finished or ""), "status": status,
                       "commits": ["c1", "abc"], "version": "abc",
                       "source": "github:acme/pay deployment 991", "rule": event.rule}


def test_not_production_is_not_a_deployment() -> None:
    assert m.deployment_from_graphql(
        "acme/pay", deployment("staging", [("SUCCESS", "2026-07-01T10:00:00Z")]),
        PRODUCTION) is None


def test_webhook_deployment_status_shape() -> None:
    # the `deployment` and `deployment_status` objects of a deployment_status webhook (REST shapes)
    dep = {"id": 991, "sha": "abc", "environment": "production", "task": "deploy",
           "created_at": "2026-07-01T10:00:00Z"}
    status = {"id": 1204, "state": "success", "created_at": "2026-07-01T10:09:00Z"}
    event = m.deployment_from_rest("acme/pay", dep, [status], PRODUCTION)
    assert event is not None and event.status == "success"
    assert event.finished_at == at("2026-07-01T10:09:00Z")
    pending = m.deployment_from_rest("acme/pay", dep, [{**status, "state": "in_progress"}],
                                     PRODUCTION)
    assert pending is not None and pending.status is None


RUN = {"id": 55, "name": "deploy", "head_sha": "abc", "head_branch": "main",
       "created_at": "2026-07-01T10:00:00Z", "status": "completed", "conclusion": "success"}


@pytest.mark.parametrize(("status", "conclusion", "expected"), [
    ("completed", "success", "success"),
    ("completed", "failure", "failure"),
    ("completed", "timed_out", "failure"),
    ("completed", "skipped", "nothing"),
    ("completed", "cancelled", "nothing"),
    ("in_progress", None, None),       # not yet: read again later
])
def test_workflow_job(status: str, conclusion: str | None, expected: str | None) -> None:
    job = {"id": 7, "name": "ship-production", "status": status, "conclusion": conclusion,
           "started_at": "2026-07-01T10:02:00Z",
           "completed_at": "2026-07-01T10:12:00Z" if status == "completed" else None}
    event = m.deployment_from_job("acme/pay", RUN, job, "production", "rule", PRODUCTION)
    if expected == "nothing":
        assert event is None
        return
    assert event is not None and event.status == expected
    assert event.key == "acme/pay run 55 job 7" and event.job == "deploy/ship-production"
    assert event.started_at == at("2026-07-01T10:02:00Z")


@pytest.mark.parametrize(("release", "deploys"), [
    ({"tag_name": "v1", "published_at": "2026-07-01T10:00:00Z"}, True),
    ({"tag_name": "v1", "published_at": "2026-07-01T10:00:00Z", "draft": True}, False),
    ({"tag_name": "v1", "published_at": "2026-07-01T10:00:00Z", "prerelease": True}, False),
    ({"tag_name": "v1", "published_at": None, "created_at": None}, False),
])
def test_release(release: dict[str, Any], deploys: bool) -> None:
    event = m.deployment_from_release("acme/pay", release, "abc", "why")
    assert (event is not None) is deploys
    if event is not None:
        assert (event.status, event.started_at, event.finished_at, event.key) == (
            "success", at("2026-07-01T10:00:00Z"), at("2026-07-01T10:00:00Z"),
            "acme/pay release v1")


def test_instants() -> None:
    assert m.instant("2026-07-01T10:00:00Z") == at("2026-07-01T10:00:00Z")
    assert m.instant("2026-07-01T10:00:00") is None  # no offset: never guessed
    assert m.instant("yesterday") is None and m.instant(None) is None


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_webhook_signature() -> None:
    body = b'{"zen": "Keep it logically awesome."}'
    assert verify("s3cret", body, sign("s3cret", body))
    assert not verify("s3cret", body, sign("other", body))
    assert not verify("s3cret", body + b" ", sign("s3cret", body))
    assert not verify("s3cret", body, None)
    assert not verify("s3cret", body, sign("s3cret", body).replace("sha256=", "sha1="))
    assert not verify("", body, sign("", body))  # no secret configured: accept nothing


@pytest.mark.parametrize(("event", "payload", "scope"), [
    ("pull_request", {"repository": {"full_name": "acme/pay"}}, "acme/pay"),
    ("workflow_run", {"repository": {"name": "pay", "owner": {"login": "acme"}}}, "acme/pay"),
    ("deployment_status", {"repository": {"full_name": "acme/pay"}}, "acme/pay"),
    ("ping", {"repository": {"full_name": "acme/pay"}}, None),
    ("issues", {"repository": {"full_name": "acme/pay"}}, None),
    ("push", {}, None),
])
def test_webhook_scope(event: str, payload: dict[str, Any], scope: str | None) -> None:
    assert scope_of(event, payload) == scope
    assert "ping" in EVENTS and "release" in EVENTS


def test_workflow_run_webhook_as_a_deployment() -> None:
    # the `workflow_run` object of a workflow_run webhook (the REST run shape)
    run = {**RUN, "run_started_at": "2026-07-01T10:01:00Z", "updated_at": "2026-07-01T10:20:00Z"}
    event = m.deployment_from_run("acme/pay", run, "production", "rule", PRODUCTION)
    assert event is not None and event.status == "success" and event.key == "acme/pay run 55 job all"
    assert (event.started_at, event.finished_at) == (at("2026-07-01T10:01:00Z"),
                                                     at("2026-07-01T10:20:00Z"))
    staging = m.deployment_from_run("acme/pay", run, "staging", "rule", PRODUCTION)
    assert staging is not None and staging.target == "staging"
    running = m.deployment_from_run("acme/pay", {**run, "status": "in_progress",
                                                 "conclusion": None}, "production", "r")
    assert running is not None and running.status is None
    cancelled = {**run, "conclusion": "cancelled"}
    assert m.deployment_from_run("acme/pay", cancelled, "production", "r") is None


def test_a_commit_read_without_parents_says_so() -> None:
    node = commit("abc", "2026-07-01T10:00:00Z")
    del node["parents"]
    assert m.commit_record("acme/pay", node)["parents"] is None  # unknown, not "a root commit"
