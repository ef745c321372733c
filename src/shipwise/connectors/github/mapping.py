"""Pure conversions from GitHub's payloads (GraphQL nodes and REST/webhook objects) to canonical
records. No I/O: every function takes what GitHub sent and returns plain dicts, table-tested in
``tests/connectors/github/test_mapping.py``.

Conventions
    * a pull request's id is ``owner/name#number`` (stable across renames of nothing but the
      repository, readable in ``shipwise explain``); its ``source`` is ``github:owner/name pull N``;
    * a commit's ``author`` is the author's email when GitHub has one, else the login;
    * ``first_review_at`` is the earliest *submitted* review by someone other than the author
      (pending reviews have no ``submittedAt``);
    * ``first_commit_at`` is the earliest authored date among the pull request's commits;
    * a deployment counts only in a terminal state: ``SUCCESS`` → ``success``,
      ``FAILURE``/``ERROR`` → ``failure``. GitHub marks older deployments ``INACTIVE`` once a newer
      one succeeds, so the *first terminal status* decides, not the latest one;
    * people (logins, emails) are passed raw: the importer pseudonymises them.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from shipwise.governance.agents import AgentRules

__all__ = [
    "COMMIT_SCHEMA",
    "DEPLOYMENT_SCHEMA",
    "PULL_REQUEST_SCHEMA",
    "DeployEvent",
    "commit_record",
    "deployment_from_graphql",
    "deployment_from_job",
    "deployment_from_release",
    "deployment_from_rest",
    "deployment_from_run",
    "deployment_from_tag",
    "deployment_record",
    "first_review_at",
    "instant",
    "is_production",
    "job_outcome",
    "production_rule",
    "pull_request_record",
    "table",
    "workflow_matches",
]

INSTANT = pa.timestamp("us", tz="UTC")

COMMIT_SCHEMA = pa.schema([
    pa.field("sha", pa.string()), pa.field("repo", pa.string()), pa.field("author", pa.string()),
    pa.field("authored_at", INSTANT), pa.field("committed_at", INSTANT),
    pa.field("additions", pa.int64()), pa.field("deletions", pa.int64()),
    pa.field("files_changed", pa.int64()), pa.field("parents", pa.list_(pa.string())),
])

PULL_REQUEST_SCHEMA = pa.schema([
    pa.field("id", pa.string()), pa.field("repo", pa.string()), pa.field("number", pa.int64()),
    pa.field("author", pa.string()), pa.field("created_at", INSTANT),
    pa.field("first_commit_at", INSTANT), pa.field("first_review_at", INSTANT),
    pa.field("merged_at", INSTANT), pa.field("closed_at", INSTANT),
    pa.field("commits", pa.list_(pa.string())), pa.field("additions", pa.int64()),
    pa.field("deletions", pa.int64()), pa.field("source", pa.string()),
    pa.field("author_kind", pa.string()), pa.field("agent", pa.string()),
])

DEPLOYMENT_SCHEMA = pa.schema([
    pa.field("id", pa.string()), pa.field("service", pa.string()),
    pa.field("environment", pa.string()), pa.field("started_at", INSTANT),
    pa.field("finished_at", INSTANT), pa.field("status", pa.string()),
    pa.field("commits", pa.list_(pa.string())), pa.field("version", pa.string()),
    pa.field("source", pa.string()), pa.field("rule", pa.string()),
])

SCHEMAS = {"commit": COMMIT_SCHEMA, "pull_request": PULL_REQUEST_SCHEMA,
           "deployment": DEPLOYMENT_SCHEMA}


def table(kind: str, rows: Sequence[Mapping[str, Any]]) -> pa.Table:
    """``rows`` of canonical type ``kind`` as an Arrow table in that type's columns."""
    return pa.Table.from_pylist([dict(r) for r in rows], schema=SCHEMAS[kind])


def instant(value: str | None) -> datetime | None:
    """A GitHub timestamp (``2025-03-01T10:00:00Z`` or with an offset) as an aware UTC datetime;
    ``None`` for ``None`` or an empty or unreadable value (the importer then quarantines a
    record whose required instant is missing)."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None
    return parsed.astimezone(UTC)


def _login(actor: Mapping[str, Any] | None) -> str | None:
    if not actor:
        return None
    login = actor.get("login")
    if not login:
        return None
    # GraphQL gives a Bot's login without the "[bot]" suffix REST uses: add it so bots are bots.
    if actor.get("__typename") == "Bot" and not str(login).endswith("[bot]"):
        return f"{login}[bot]"
    return str(login)


def commit_record(repo: str, node: Mapping[str, Any]) -> dict[str, Any]:
    """A GraphQL ``Commit`` (the ``CommitFields`` fragment) as a canonical ``commit``."""
    author = node.get("author") or {}
    user = author.get("user") or {}
    who = author.get("email") or user.get("login") or None
    parents = ([p["oid"] for p in ((node.get("parents") or {}).get("nodes") or []) if p]
               if "parents" in node else None)  # not asked for (pull requests' commits)
    return {
        "sha": node["oid"], "repo": repo, "author": who,
        "authored_at": instant(node.get("authoredDate")),
        "committed_at": instant(node.get("committedDate")),
        "additions": node.get("additions"), "deletions": node.get("deletions"),
        "files_changed": node.get("changedFilesIfAvailable"), "parents": parents,
    }


def first_review_at(author: str | None, reviews: Iterable[Mapping[str, Any]]) -> datetime | None:
    """The earliest submitted review by someone other than ``author`` (None if there is none)."""
    times = [
        t for r in reviews
        if r.get("state") != "PENDING" and (t := instant(r.get("submittedAt"))) is not None
        and (_login(r.get("author")) or "").lower() != (author or "").lower()
    ]
    return min(times) if times else None


def pull_request_record(repo: str, node: Mapping[str, Any],
                        commits: Sequence[Mapping[str, Any]],
                        reviews: Sequence[Mapping[str, Any]],
                        agents: AgentRules | None = None) -> dict[str, Any]:
    """A GraphQL ``PullRequest`` node with all its commit nodes (``Commit``) and review nodes
    as a canonical ``pull_request``. A pull request without an author (a deleted account) keeps
    ``author`` null: the importer quarantines it with ``missing author``. ``agents``: who made
    it, by its author login and labels (``author_kind``/``agent``; empty when no rule decides:
    the importer reads ``bot`` or ``human`` from the author)."""
    author = _login(node.get("author"))
    labels = [str(n["name"]) for n in ((node.get("labels") or {}).get("nodes") or [])
              if n and n.get("name")]
    kind, agent = (agents or AgentRules()).classify(author, labels=labels)
    authored = [t for c in commits if (t := instant(c.get("authoredDate"))) is not None]
    number = int(node["number"])
    return {
        "id": f"{repo}#{number}", "repo": repo, "number": number, "author": author,
        "created_at": instant(node.get("createdAt")),
        "first_commit_at": min(authored) if authored else None,
        "first_review_at": first_review_at(author, reviews),
        "merged_at": instant(node.get("mergedAt")), "closed_at": instant(node.get("closedAt")),
        "commits": [c["oid"] for c in commits],
        "additions": node.get("additions"), "deletions": node.get("deletions"),
        "source": f"github:{repo} pull {number}",
        "author_kind": kind, "agent": agent,
    }


# -- deployments --------------------------------------------------------------------------------

@dataclass(frozen=True)
class DeployEvent:
    """A deployment found in GitHub (a deployment, a workflow job, a release or a tag), before
    the connector adds its service and the commits it shipped.

    ``status`` is ``success``/``failure``, or ``None`` while it has not finished (in progress,
    queued, pending): such an event is not emitted, and the cursor does not move past it.
    """

    key: str  # the canonical id
    #: the environment as GitHub names it (``prod-eu``): what the ServiceMap's patterns see
    environment: str
    job: str | None  # the workflow/job that deployed it (for the ServiceMap), if any
    sha: str
    created_at: datetime
    started_at: datetime
    finished_at: datetime | None
    status: str | None
    source: str
    rule: str
    #: the canonical environment: ``production`` for every environment the production pattern
    #: (or a workflow rule) names — DORA counts ``production`` deployments — else as named
    target: str = "production"


#: GitHub deployment (status) states that end a deployment, and what they mean here.
TERMINAL = {"SUCCESS": "success", "FAILURE": "failure", "ERROR": "failure"}


def is_production(environment: str | None, pattern: str) -> bool:
    """True when ``environment`` matches ``pattern`` as a whole, ignoring case."""
    return bool(environment) and re.fullmatch(pattern, environment or "", re.IGNORECASE) is not None


def production_rule(environment: str, pattern: str) -> str:
    return f"environment '{environment}' matches production_environment '{pattern}'"


def _terminal(statuses: Iterable[Mapping[str, Any]]) -> tuple[str, datetime] | None:
    """The first terminal status (oldest first) as (canonical status, when)."""
    ordered = sorted(((instant(s.get("createdAt") or s.get("created_at")), str(s.get("state", "")))
                      for s in statuses), key=lambda p: (p[0] is None, p[0]))
    for at, state in ordered:
        if state.upper() in TERMINAL and at is not None:
            return TERMINAL[state.upper()], at
    return None


def deployment_from_graphql(repo: str, node: Mapping[str, Any],
                            pattern: str) -> DeployEvent | None:
    """A GraphQL ``Deployment`` (with ``statuses``) as a :class:`DeployEvent`, or None when its
    environment is not production."""
    env = node.get("environment") or ""
    if not is_production(env, pattern):
        return None
    statuses = list((node.get("statuses") or {}).get("nodes") or [])
    if node.get("latestStatus"):
        statuses.append(node["latestStatus"])
    done = _terminal(statuses)
    created = instant(node.get("createdAt"))
    assert created is not None, "GitHub always gives a deployment's createdAt"
    number = node.get("databaseId")
    return DeployEvent(
        key=f"{repo} deployment {number}", environment=env, job=node.get("task") or None,
        sha=str(node.get("commitOid")), created_at=created, started_at=created,
        finished_at=done[1] if done else None, status=done[0] if done else None,
        source=f"github:{repo} deployment {number}", rule=production_rule(env, pattern))


def deployment_from_rest(repo: str, deployment: Mapping[str, Any],
                         statuses: Sequence[Mapping[str, Any]], pattern: str) -> DeployEvent | None:
    """A REST (and webhook ``deployment``/``deployment_status``) deployment with its statuses
    (REST state names are lower case: ``success``, ``failure``, ``error``, ``in_progress``)."""
    node = {"environment": deployment.get("environment"), "databaseId": deployment.get("id"),
            "task": deployment.get("task"), "createdAt": deployment.get("created_at"),
            "commitOid": deployment.get("sha"),
            "statuses": {"nodes": [{"state": s.get("state"), "createdAt": s.get("created_at")}
                                   for s in statuses]}}
    return deployment_from_graphql(repo, node, pattern)


def workflow_matches(value: str | None, pattern: str | None) -> bool:
    """fnmatch, case-insensitive; a ``None`` pattern matches anything."""
    if pattern is None:
        return True
    return value is not None and fnmatch.fnmatchcase(value.lower(), pattern.lower())


def job_outcome(conclusion: str | None) -> str | None:
    """A job's conclusion as a deployment status: success, failure, or None (nothing: skipped,
    cancelled, neutral, or still running)."""
    if conclusion == "success":
        return "success"
    if conclusion in ("failure", "timed_out"):
        return "failure"
    return None


def deployment_from_job(repo: str, run: Mapping[str, Any], job: Mapping[str, Any],
                        environment: str, rule: str,
                        pattern: str | None = None) -> DeployEvent | None:
    """A workflow job (REST ``/actions/runs/{id}/jobs`` item) of a run matching a workflow rule.
    None when it was skipped or cancelled; ``status`` None while it has not completed."""
    completed = job.get("status") == "completed"
    status = job_outcome(job.get("conclusion")) if completed else None
    if completed and status is None:
        return None
    created = instant(run.get("created_at"))
    started = instant(job.get("started_at")) or created
    assert created is not None and started is not None
    return DeployEvent(
        key=f"{repo} run {run['id']} job {job['id']}", environment=environment,
        job=f"{run.get('name')}/{job.get('name')}", sha=str(run.get("head_sha")),
        created_at=created, started_at=started,
        finished_at=instant(job.get("completed_at")) if completed else None, status=status,
        source=f"github:{repo} run {run['id']} job {job['id']}", rule=rule,
        target="production" if pattern is None or is_production(environment, pattern)
        else environment)


def deployment_from_run(repo: str, run: Mapping[str, Any], environment: str, rule: str,
                        pattern: str | None = None) -> DeployEvent | None:
    """A workflow run (REST ``/actions/runs`` item, or a ``workflow_run`` webhook's
    ``workflow_run``) that is itself the deployment (a rule without ``job``): from its start to
    its last update, by its conclusion."""
    job = {"id": "all", "name": "*", "status": run.get("status"),
           "conclusion": run.get("conclusion"),
           "started_at": run.get("run_started_at") or run.get("created_at"),
           "completed_at": run.get("updated_at")}
    return deployment_from_job(repo, run, job, environment, rule, pattern)


def deployment_from_release(repo: str, release: Mapping[str, Any], sha: str,
                            rule: str) -> DeployEvent | None:
    """A published release (REST/webhook ``release`` object) of the commit ``sha`` (its tag's):
    a successful production deployment at its publication. Drafts and pre-releases: None."""
    if release.get("draft") or release.get("prerelease"):
        return None
    at = instant(release.get("published_at") or release.get("created_at"))
    if at is None:
        return None
    tag = release.get("tag_name")
    return DeployEvent(key=f"{repo} release {tag}", environment="production", job=None, sha=sha,
                       created_at=at, started_at=at, finished_at=at, status="success",
                       source=f"github:{repo} release {tag}", rule=rule)


def deployment_from_tag(repo: str, name: str, sha: str, at: datetime, rule: str) -> DeployEvent:
    """A tag matching ``deployments_from_tags``: a successful production deployment at its
    date (the tagger's, or the commit's for a lightweight tag)."""
    return DeployEvent(key=f"{repo} tag {name}", environment="production", job=None, sha=sha,
                       created_at=at, started_at=at, finished_at=at, status="success",
                       source=f"github:{repo} tag {name}", rule=rule)


def deployment_record(event: DeployEvent, service: str,
                      commits: Sequence[str]) -> dict[str, Any]:
    """A finished :class:`DeployEvent` as a canonical ``deployment``."""
    return {
        "id": event.key, "service": service, "environment": event.target,
        "started_at": event.started_at, "finished_at": event.finished_at,
        "status": event.status, "commits": list(commits), "version": event.sha,
        "source": event.source, "rule": event.rule,
    }
