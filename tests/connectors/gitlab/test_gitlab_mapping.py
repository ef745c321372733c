"""GitLab payloads -> canonical rows: pure mapping functions, table-tested (REST items and the
webhook payloads of the same shape), and the webhook's verification and scope."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from shipwise.config import PRODUCTION, AgentSettings, WorkflowRule
from shipwise.connectors.gitlab import mapping as m
from shipwise.connectors.gitlab import webhook
from shipwise.governance.agents import AgentRules


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(("text", "expected"), [
    ("2025-03-01T10:00:00.123Z", datetime(2025, 3, 1, 10, 0, 0, 123000, tzinfo=UTC)),
    ("2025-03-01T10:00:00+02:00", at("2025-03-01T08:00:00")),
    ("2025-03-01 10:00:00 UTC", at("2025-03-01T10:00:00")),        # webhook style
    ("2025-03-01 10:00:00 +0200", at("2025-03-01T08:00:00")),      # Push Hook commit style
    ("2025-03-01T10:00:00", None),                                   # no zone: never guessed
    ("yesterday", None), ("", None), (None, None), (17, None),
])
def test_instant(text: Any, expected: datetime | None) -> None:
    assert m.instant(text) == expected


def user(name: str) -> dict[str, Any]:
    return {"id": hash(name) % 1000, "username": name, "name": name.title()}


def note(who: str, when: str, body: str = "nit", system: bool = False) -> dict[str, Any]:
    return {"author": user(who), "created_at": when, "body": body, "system": system}


MR = {"iid": 12, "state": "merged", "author": user("ana"), "created_at": "2025-03-01T10:00:00Z",
      "updated_at": "2025-03-02T10:00:00Z", "merged_at": "2025-03-02T09:00:00Z",
      "closed_at": None, "merge_commit_sha": "m" * 40, "squash_commit_sha": None}
COMMITS = [{"id": "b" * 40, "authored_date": "2025-03-01T09:00:00Z"},
           {"id": "a" * 40, "authored_date": "2025-03-01T08:00:00+00:00"}]


@pytest.mark.parametrize(("notes", "review"), [
    ([], None),
    ([note("ana", "2025-03-01T10:05:00Z")], None),                                 # the author
    ([note("bo", "2025-03-01T10:05:00Z", "added 1 commit", system=True)], None),    # system
    ([note("bo", "2025-03-01T11:00:00Z")], "2025-03-01T11:00:00"),
    ([note("bo", "2025-03-01T12:00:00Z", "approved this merge request", system=True),
      note("cy", "2025-03-01T13:00:00Z")], "2025-03-01T12:00:00"),                  # approval
    ([note("ANA", "2025-03-01T10:10:00Z"), note("cy", "2025-03-01T13:00:00Z"),
      note("bo", "2025-03-01T11:30:00Z")], "2025-03-01T11:30:00"),                  # earliest
])
def test_first_review(notes: list[dict[str, Any]], review: str | None) -> None:
    row = m.merge_request("g/p", MR, COMMITS, notes)
    assert row["first_review_at"] == (at(review) if review else None)


@pytest.mark.parametrize(("changes", "expected"), [
    ({}, {"merged_at": at("2025-03-02T09:00:00"), "closed_at": at("2025-03-02T09:00:00"),
          "commits": ["a" * 40, "b" * 40, "m" * 40]}),
    ({"squash_commit_sha": "s" * 40}, {"commits": ["s" * 40]}),
    ({"state": "closed", "merged_at": None, "merge_commit_sha": None,
      "closed_at": "2025-03-03T00:00:00Z"},
     {"merged_at": None, "closed_at": at("2025-03-03T00:00:00"), "commits": ["a" * 40, "b" * 40]}),
    ({"state": "opened", "merged_at": None, "merge_commit_sha": None},
     {"merged_at": None, "closed_at": None}),
])
def test_merge_request(changes: dict[str, Any], expected: dict[str, Any]) -> None:
    row = m.merge_request("grp/sub/proj", {**MR, **changes}, COMMITS)
    assert row["id"] == "grp/sub/proj!12" and row["number"] == 12 and row["repo"] == "grp/sub/proj"
    assert row["author"] == "ana" and row["source"] == "gitlab:grp/sub/proj merge_request 12"
    assert row["first_commit_at"] == at("2025-03-01T08:00:00")
    assert row["created_at"] == at("2025-03-01T10:00:00")
    for key, value in expected.items():
        assert row[key] == value, key


def test_merge_request_hook_maps_like_the_rest_item() -> None:
    payload = {"object_kind": "merge_request", "event_type": "merge_request",
               "user": {"id": 7, "username": "ana", "name": "Ana"},
               "project": {"id": 1, "path_with_namespace": "grp/proj"},
               "object_attributes": {"iid": 12, "author_id": 7, "state": "merged",
                                     "created_at": "2025-03-01 10:00:00 UTC",
                                     "updated_at": "2025-03-02 10:00:00 UTC",
                                     "merge_commit_sha": "m" * 40}}
    row = m.merge_request("grp/proj", m.hook_merge_request(payload), [])
    assert (row["id"], row["author"], row["created_at"]) == ("grp/proj!12", "ana",
                                                             at("2025-03-01T10:00:00"))
    assert row["merged_at"] == at("2025-03-02T10:00:00")  # no merged_at in the hook: updated_at
    assert row["commits"] == ["m" * 40]


@pytest.mark.parametrize(("item", "expected"), [
    ({"id": "c" * 40, "author_email": "ana@example.com", "author_name": "Ana",
      "authored_date": "2025-03-01T10:00:00+02:00", "committed_date": "2025-03-01T09:00:00Z",
      "parent_ids": ["p1", "p2"], "stats": {"additions": 5, "deletions": 2, "total": 7}},
     {"author": "ana@example.com", "authored_at": at("2025-03-01T08:00:00"),
      "committed_at": at("2025-03-01T09:00:00"), "additions": 5, "deletions": 2,
      "parents": ["p1", "p2"]}),
    ({"id": "d" * 40, "author_email": "", "author_name": "Bo", "parent_ids": []},
     {"author": "Bo", "additions": None, "deletions": None, "parents": []}),  # no stats: missing
])
def test_commit(item: dict[str, Any], expected: dict[str, Any]) -> None:
    row = m.commit("g/p", item)
    assert row["sha"] == item["id"] and row["repo"] == "g/p"
    for key, value in expected.items():
        assert row[key] == value, key


@pytest.mark.parametrize(("env", "tier", "matched"), [
    ("production", None, "matches"), ("Prod-EU", None, "matches"), ("prod", "staging", "matches"),
    ("production/us-east-1", None, "matches"), ("preprod", None, None), ("staging", None, None),
    ("live", "production", "tier"), ("review/feature-x", "development", None), (None, None, None),
])
def test_production_rule(env: str | None, tier: str | None, matched: str | None) -> None:
    rule = m.production_rule(env, tier, PRODUCTION)
    if matched is None:
        assert rule is None
    else:
        assert rule is not None and matched in rule and str(env) in rule


@pytest.mark.parametrize(("status", "deployment", "job"), [
    ("success", "success", "success"), ("failed", "failure", "failure"), ("canceled", None, None),
    ("skipped", None, None), ("blocked", None, None), ("running", None, None),
    ("created", None, None), ("manual", None, None), (None, None, None),
])
def test_statuses(status: str | None, deployment: str | None, job: str | None) -> None:
    assert m.deployment_status(status) == deployment
    assert m.job_status(status) == job
    assert ("running" in m.DEPLOYMENT_PENDING) and ("created" in m.DEPLOYMENT_PENDING)
    assert "canceled" not in m.DEPLOYMENT_PENDING


@pytest.mark.parametrize(("rule", "pipeline", "job", "hit"), [
    (WorkflowRule(job="deploy-prod"), {"source": "push", "ref": "main"}, {"name": "deploy-prod"}, True),
    (WorkflowRule(job="deploy-prod"), {"source": "push", "ref": "feature"}, {"name": "deploy-prod"}, False),
    (WorkflowRule(job="deploy-*"), {"source": "push", "ref": "main"}, {"name": "Deploy-Staging"}, True),
    (WorkflowRule(job="deploy-prod", branch="release/*"), {"source": "push", "ref": "release/1.2"},
     {"name": "deploy-prod"}, True),
    (WorkflowRule(workflow="schedule", job="deploy"), {"source": "push", "ref": "main"}, {"name": "deploy"}, False),
    (WorkflowRule(workflow="nightly*", job="deploy"), {"source": "schedule", "name": "Nightly release",
                                                       "ref": "main"}, {"name": "deploy"}, True),
    (WorkflowRule(), {"source": "web", "ref": "main"}, {"name": "anything"}, True),
])
def test_job_rule(rule: WorkflowRule, pipeline: dict[str, Any], job: dict[str, Any], hit: bool) -> None:
    assert (m.job_rule([rule], pipeline, job, "main") is rule) is hit


def test_deployment_times_and_row() -> None:
    d = {"created_at": "2025-03-01T10:00:00Z", "updated_at": "2025-03-01T10:30:00Z",
         "deployable": {"started_at": "2025-03-01T10:01:00Z", "finished_at": "2025-03-01T10:09:00Z"}}
    assert m.deployment_times(d) == (at("2025-03-01T10:01:00"), at("2025-03-01T10:09:00"))
    assert m.deployment_times({"created_at": "2025-03-01T10:00:00Z",
                               "updated_at": "2025-03-01T10:30:00Z", "deployable": None}) == (
        at("2025-03-01T10:00:00"), at("2025-03-01T10:30:00"))
    row = m.deployment_row(project="g/p", kind="deployment", key="9", service="pay",
                           started=None, finished=at("2025-03-01T10:09:00"), status="success",
                           commits=["a"], rule="r", source="s")
    assert row["id"] == "g/p/deployment/9" and row["environment"] == "production"
    assert row["started_at"] == row["finished_at"]
    table = m.table("deployment", [row])
    assert table.num_rows == 1 and table.schema.field("finished_at").type == m.INSTANT


# -- webhooks ------------------------------------------------------------------------------------

def test_verify() -> None:
    assert webhook.verify("s3cret", "s3cret")
    assert not webhook.verify("s3cret", "s3cret ")
    assert not webhook.verify("s3cret", None)
    assert not webhook.verify("", "")
    assert not webhook.verify("s3cret", "ß")


PROJECT = {"id": 1, "path_with_namespace": "grp/sub/proj", "default_branch": "main"}


@pytest.mark.parametrize(("event", "payload", "scope"), [
    ("Merge Request Hook", {"project": PROJECT, "object_attributes": {"iid": 1}}, "grp/sub/proj"),
    ("Push Hook", {"project": PROJECT, "ref": "refs/heads/main"}, "grp/sub/proj"),
    ("Push Hook", {"project": PROJECT, "ref": "refs/heads/feature"}, None),
    ("Note Hook", {"project": PROJECT, "object_attributes": {"noteable_type": "MergeRequest"}},
     "grp/sub/proj"),
    ("Note Hook", {"project": PROJECT, "object_attributes": {"noteable_type": "Issue"}}, None),
    ("Pipeline Hook", {"project": PROJECT, "object_attributes": {"status": "success"}}, "grp/sub/proj"),
    ("Pipeline Hook", {"project": PROJECT, "object_attributes": {"status": "running"}}, None),
    ("Job Hook", {"build_status": "failed", "project": PROJECT}, "grp/sub/proj"),
    ("Job Hook", {"build_status": "success",
                  "repository": {"homepage": "https://gitlab.example.com/grp/old"}}, "grp/old"),
    ("Job Hook", {"build_status": "running", "project": PROJECT}, None),
    ("Deployment Hook", {"status": "success", "project": PROJECT}, "grp/sub/proj"),
    ("Deployment Hook", {"status": "running", "project": PROJECT}, None),
    ("Release Hook", {"project": PROJECT, "action": "create"}, "grp/sub/proj"),
    ("Issue Hook", {"project": PROJECT}, None),
    ("Merge Request Hook", {}, None),
])
def test_scope_of(event: str, payload: dict[str, Any], scope: str | None) -> None:
    assert webhook.scope_of(event, payload) == scope


def test_events() -> None:
    assert {"Merge Request Hook", "Pipeline Hook", "Job Hook", "Deployment Hook", "Release Hook",
            "Push Hook", "Note Hook"} == set(webhook.EVENTS)


# -- webhook payloads through the same functions -------------------------------------------------

def test_pipeline_hook() -> None:
    pipeline, jobs = m.hook_pipeline({
        "object_kind": "pipeline",
        "object_attributes": {"id": 31, "ref": "main", "sha": "s" * 40, "status": "success",
                              "source": "push", "name": None,
                              "created_at": "2025-03-01 10:00:00 UTC"},
        "builds": [{"id": 380, "stage": "deploy", "name": "deploy-prod", "status": "success",
                    "started_at": "2025-03-01 10:05:00 UTC",
                    "finished_at": "2025-03-01 10:09:00 UTC"},
                   {"id": 381, "stage": "deploy", "name": "deploy-prod", "status": "manual"}]})
    rule = WorkflowRule(job="deploy-prod")
    hits = [(j["id"], m.job_status(j["status"])) for j in jobs
            if m.job_rule([rule], pipeline, j, "main")]
    assert hits == [(380, "success"), (381, None)]
    assert m.instant(jobs[0]["finished_at"]) == at("2025-03-01T10:09:00")


def test_job_hook() -> None:
    pipeline, job = m.hook_job({
        "object_kind": "build", "ref": "main", "sha": "s" * 40, "build_id": 1977,
        "build_name": "deploy-prod", "build_stage": "deploy", "build_status": "failed",
        "build_started_at": "2025-03-01 10:05:00 UTC", "build_finished_at": None,
        "pipeline_id": 2366})
    assert m.job_rule([WorkflowRule(job="deploy-*")], pipeline, job, "main") is not None
    assert m.job_status(job["status"]) == "failure"


@pytest.mark.parametrize(("payload", "rule", "status"), [
    ({"status": "success", "environment": "production", "environment_tier": "production",
      "deployment_id": 15, "status_changed_at": "2025-03-01 10:09:00 +0000"}, "matches", "success"),
    ({"status": "failed", "environment": "live", "environment_tier": "production",
      "deployment_id": 16, "status_changed_at": "2025-03-01 10:09:00 +0000"}, "tier", "failure"),
    ({"status": "running", "environment": "staging", "environment_tier": "staging",
      "deployment_id": 17, "status_changed_at": "2025-03-01 10:09:00 +0000"}, None, None),
])
def test_deployment_hook(payload: dict[str, Any], rule: str | None, status: str | None) -> None:
    d = m.hook_deployment(payload)
    found = m.production_rule(d["environment"]["name"], d["environment"]["tier"], PRODUCTION)
    assert (found is None) if rule is None else (found is not None and rule in found)
    assert m.deployment_status(d["status"]) == status
    assert m.deployment_times(d) == (at("2025-03-01T10:09:00"), at("2025-03-01T10:09:00"))


def test_release_and_push_hooks() -> None:
    release = m.hook_release({"object_kind": "release", "tag": "v1.1", "action": "create",
                              "released_at": "2025-03-01 10:00:00 UTC",
                              "commit": {"id": "c" * 40}})
    assert (release["tag_name"], release["commit"]["id"]) == ("v1.1", "c" * 40)
    assert m.instant(release["released_at"]) == at("2025-03-01T10:00:00")
    commits = m.hook_push_commits({"object_kind": "push", "commits": [
        {"id": "d" * 40, "timestamp": "2025-03-01T12:00:00+02:00",
         "author": {"name": "Ana", "email": "ana@example.com"}}]})
    row = m.commit("g/p", commits[0])
    assert (row["author"], row["committed_at"]) == ("ana@example.com", at("2025-03-01T10:00:00"))
    assert row["additions"] is None  # no stats in a push: read from the API, never counted 0


@pytest.mark.parametrize(("mr_labels", "author", "expected"), [
    (["ai-agent"], "ana", ("agent", "duo")),                          # REST: label names
    ([{"title": "AI-Agent", "color": "#fff"}], "ana", ("agent", "duo")),  # webhooks: objects
    ([], "ana", (None, None)),
    ([], "duo-developer", ("agent", "duo")),                          # the agent's account
])
def test_merge_request_made_by_an_agent_by_label_or_account(
        mr_labels: list[Any], author: str, expected: tuple[str | None, str | None]) -> None:
    rules = AgentRules.of(AgentSettings(accounts={"duo-developer": "duo"},
                                        labels={"ai-agent": "duo"}))
    mr = {"iid": 7, "author": {"username": author}, "created_at": "2026-07-01T10:00:00Z",
          "state": "opened", "labels": mr_labels}
    row = m.merge_request("g/pay", mr, [], [], rules)
    assert (row["author_kind"], row["agent"]) == expected
