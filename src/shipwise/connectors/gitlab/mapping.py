"""Pure conversions from GitLab's REST v4 payloads (and webhook payloads of the same shape) to
canonical rows. No I/O: every function takes what GitLab returned and gives plain dicts in the
columns of ``docs/canonical-format.md``; :func:`table` turns a list of them into Arrow.

Conventions (shared with the fake GitLab's canonical truth in ``tests/fakes/gitlab.py``):

* a merge request's id is ``group/proj!IID``, its ``source`` ``gitlab:group/proj merge_request IID``;
* a deployment's id is ``group/proj/deployment/ID`` (GitLab deployment), ``group/proj/job/ID``
  (a CI job matched by a ``jobs:`` rule), ``group/proj/release/TAG`` or ``group/proj/tag/TAG``;
* people are passed raw (merge request author = GitLab username, commit author = author email):
  the importer pseudonymises them.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

import pyarrow as pa

from shipwise.config import WorkflowRule
from shipwise.governance.agents import AgentRules

INSTANT = pa.timestamp("us", tz="UTC")

SCHEMAS: dict[str, pa.Schema] = {
    "commit": pa.schema([
        ("sha", pa.string()), ("repo", pa.string()), ("author", pa.string()),
        ("authored_at", INSTANT), ("committed_at", INSTANT), ("additions", pa.int64()),
        ("deletions", pa.int64()), ("parents", pa.list_(pa.string())),
    ]),
    "pull_request": pa.schema([
        ("id", pa.string()), ("repo", pa.string()), ("number", pa.int64()),
        ("author", pa.string()), ("created_at", INSTANT), ("first_commit_at", INSTANT),
        ("first_review_at", INSTANT), ("merged_at", INSTANT), ("closed_at", INSTANT),
        ("commits", pa.list_(pa.string())), ("source", pa.string()),
        ("author_kind", pa.string()), ("agent", pa.string()),
    ]),
    "deployment": pa.schema([
        ("id", pa.string()), ("service", pa.string()), ("environment", pa.string()),
        ("started_at", INSTANT), ("finished_at", INSTANT), ("status", pa.string()),
        ("commits", pa.list_(pa.string())), ("version", pa.string()), ("source", pa.string()),
        ("rule", pa.string()),
    ]),
}

#: The environment every deployment the connector emits is recorded in (DORA reads
#: ``production``); the GitLab environment's own name is kept in ``rule``.
PRODUCTION_ENV = "production"

DeployStatus = Literal["success", "failure"]
#: GitLab deployment statuses that will still change: read again next time.
DEPLOYMENT_PENDING = frozenset({"created", "running"})
#: GitLab job / pipeline statuses that will still change.
JOB_PENDING = frozenset({"created", "pending", "running", "waiting_for_resource", "preparing",
                         "scheduled", "waiting_for_callback"})


def instant(value: Any) -> datetime | None:
    """GitLab's ISO-8601 text (``2025-03-01T10:00:00.123Z``, ``…+02:00``, the webhooks'
    ``2025-03-01 10:00:00 UTC``) as an aware UTC datetime; ``None`` when missing or unreadable
    (the importer then quarantines a required field as missing)."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.endswith(" UTC"):
        text = text[:-4].replace(" ", "T") + "+00:00"
    elif text.endswith("Z"):
        text = text[:-1] + "+00:00"
    text = re.sub(r" ([+-]\d{2}):?(\d{2})$", r"\1:\2", text.replace(" ", "T", 1))
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None  # never guess a zone
    return parsed.astimezone(UTC)


def iso(value: datetime) -> str:
    """An instant as GitLab query parameters take it (``2025-03-01T10:00:00Z``)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def mr_id(project: str, iid: int) -> str:
    return f"{project}!{iid}"


def _username(user: Any) -> str | None:
    if isinstance(user, Mapping):
        name = user.get("username")
        return str(name) if name else None
    return None


def first_review_at(notes: Iterable[Mapping[str, Any]], author: str | None) -> datetime | None:
    """When someone other than the author first reviewed: the earliest note that is not a system
    note, or a system note recording an approval (``approved this merge request``), by anyone
    but the author. The approvals API itself carries no time, so the approval's note gives it."""
    best: datetime | None = None
    for note in notes:
        who = _username(note.get("author"))
        if who is None or (author is not None and who.lower() == author.lower()):
            continue
        body = str(note.get("body") or "")
        if note.get("system") and not body.lower().startswith("approved this merge request"):
            continue
        at = instant(note.get("created_at"))
        if at is not None and (best is None or at < best):
            best = at
    return best


def merge_request(project: str, mr: Mapping[str, Any], commits: Sequence[Mapping[str, Any]],
                  notes: Iterable[Mapping[str, Any]] = (),
                  agents: AgentRules | None = None) -> dict[str, Any]:
    """A merge request (``GET /projects/:id/merge_requests`` item, or a Merge Request Hook's
    ``object_attributes`` with its ``user``) as a canonical ``pull_request`` row.

    ``commits`` are its commits (``/merge_requests/:iid/commits``, newest first); ``commits`` in
    the row are their shas oldest first, plus the merge commit when there is one — or, for a squash merge, only the squash
    commit, since the merge request's own commits never reach the default branch. ``closed_at``
    is the merge time for a merged request (as on GitHub), GitLab's ``closed_at`` otherwise.
    """
    iid = int(mr["iid"])
    author = _username(mr.get("author"))
    # labels: names (REST) or objects with a title (webhooks); who made it by author and labels
    labels = [str(x.get("title") if isinstance(x, Mapping) else x) for x in mr.get("labels") or []]
    kind, agent = (agents or AgentRules()).classify(author, labels=labels)
    merged_at = instant(mr.get("merged_at"))
    state = mr.get("state")
    if merged_at is None and state == "merged":
        merged_at = instant(mr.get("updated_at"))  # older GitLab: merged_at missing
    closed_at = merged_at if merged_at is not None else (
        instant(mr.get("closed_at")) if state == "closed" else None)
    own = [str(c["id"]) for c in reversed(commits) if c.get("id")]  # GitLab lists newest first
    authored = [t for t in (instant(c.get("authored_date")) for c in commits) if t is not None]
    squash = mr.get("squash_commit_sha")
    merge = mr.get("merge_commit_sha")
    if squash:
        shas = [str(squash)]
    else:
        shas = own + ([str(merge)] if merge and str(merge) not in own else [])
    return {
        "id": mr_id(project, iid), "repo": project, "number": iid, "author": author,
        "created_at": instant(mr.get("created_at")),
        "first_commit_at": min(authored) if authored else None,
        "first_review_at": first_review_at(notes, author),
        "merged_at": merged_at, "closed_at": closed_at, "commits": shas,
        "source": f"gitlab:{project} merge_request {iid}",
        "author_kind": kind, "agent": agent,
    }


def commit(project: str, c: Mapping[str, Any]) -> dict[str, Any]:
    """A commit (``/repository/commits?with_stats=true`` item) as a canonical ``commit`` row:
    author = ``author_email`` (raw), lines from ``stats``, parents from ``parent_ids``. A commit
    listed without stats gets ``None`` lines (quarantined as missing rather than counted 0)."""
    stats = c.get("stats") if isinstance(c.get("stats"), Mapping) else None
    email = c.get("author_email") or c.get("author_name")
    return {
        "sha": str(c["id"]), "repo": project, "author": str(email) if email else None,
        "authored_at": instant(c.get("authored_date")),
        "committed_at": instant(c.get("committed_date")),
        "additions": int(stats["additions"]) if stats and stats.get("additions") is not None else None,
        "deletions": int(stats["deletions"]) if stats and stats.get("deletions") is not None else None,
        "parents": [str(p) for p in (c.get("parent_ids") or [])],
    }


def production_rule(environment: str | None, tier: str | None, pattern: str) -> str | None:
    """Why an environment counts as production, or ``None``: its name fully matches
    ``production_environment`` (case-insensitive), or GitLab says ``tier: production``."""
    if environment and re.fullmatch(pattern, environment, re.IGNORECASE):
        return f"environment '{environment}' matches production_environment '{pattern}'"
    if tier and tier.lower() == "production":
        return f"environment '{environment}' has tier production"
    return None


def deployment_status(status: str | None) -> DeployStatus | None:
    """GitLab's deployment status as a canonical one: success and failed count; canceled,
    skipped, blocked, running and created are no deployment (yet)."""
    return {"success": "success", "failed": "failure"}.get((status or "").lower())  # type: ignore[return-value]


def job_status(status: str | None) -> DeployStatus | None:
    """A CI job's status as a deployment's: success and failed count; skipped, canceled, manual
    and anything still running are no deployment."""
    return {"success": "success", "failed": "failure"}.get((status or "").lower())  # type: ignore[return-value]


def _match(pattern: str | None, value: str | None) -> bool:
    if pattern is None or pattern == "*":
        return True
    return value is not None and fnmatch.fnmatchcase(value.lower(), pattern.lower())


def job_rule(rules: Sequence[WorkflowRule], pipeline: Mapping[str, Any], job: Mapping[str, Any],
             default_branch: str) -> WorkflowRule | None:
    """The first ``jobs:`` rule a CI job matches: ``workflow`` against the pipeline's ``source``
    (push, schedule, web …) or its ``name``, ``job`` against the job name, ``branch`` against the
    pipeline's ref (default: the project's default branch)."""
    ref = str(pipeline.get("ref") or job.get("ref") or "")
    for rule in rules:
        workflow_ok = (_match(rule.workflow, pipeline.get("source"))
                       or _match(rule.workflow, pipeline.get("name")))
        if not workflow_ok or not _match(rule.job or "*", job.get("name")):
            continue
        if not _match(rule.branch or default_branch, ref):
            continue
        return rule
    return None


def describe_rule(rule: WorkflowRule, default_branch: str) -> str:
    return (f"jobs rule workflow '{rule.workflow}' job '{rule.job or '*'}' "
            f"branch '{rule.branch or default_branch}'")


def deployment_row(*, project: str, kind: str, key: str, service: str, started: datetime | None,
                   finished: datetime | None, status: DeployStatus, commits: Sequence[str],
                   rule: str, source: str, version: str | None = None,
                   environment: str = PRODUCTION_ENV) -> dict[str, Any]:
    """A canonical ``deployment`` row (production unless a ``jobs:`` rule names another
    environment; see :data:`PRODUCTION_ENV`)."""
    return {
        "id": f"{project}/{kind}/{key}", "service": service, "environment": environment,
        "started_at": started or finished, "finished_at": finished or started, "status": status,
        "commits": list(commits), "version": version, "source": source, "rule": rule,
    }


def deployment_times(d: Mapping[str, Any]) -> tuple[datetime | None, datetime | None]:
    """A GitLab deployment's start and end: its job's ``started_at``/``finished_at`` when it has
    a job (``deployable``), else ``created_at``/``updated_at``."""
    raw = d.get("deployable")
    job: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    started = instant(job.get("started_at")) or instant(d.get("created_at"))
    finished = instant(job.get("finished_at")) or instant(d.get("finished_at")) or instant(
        d.get("updated_at"))
    return started, finished


def row_to_json(row: Mapping[str, Any]) -> dict[str, Any]:
    """A row with its instants as text, to keep in a cursor (:func:`row_from_json` reverses it)."""
    return {k: (iso(v) if isinstance(v, datetime) else v) for k, v in row.items()}


def row_from_json(data: Mapping[str, Any]) -> dict[str, Any]:
    """A deployment row kept by :func:`row_to_json`, its instants as datetimes again."""
    return {k: (instant(v) if k in ("started_at", "finished_at") else v) for k, v in data.items()}


def table(kind: str, rows: Sequence[Mapping[str, Any]]) -> pa.Table:
    """Rows of one canonical type as an Arrow table in :data:`SCHEMAS` (extra keys ignored)."""
    schema = SCHEMAS[kind]
    return pa.Table.from_pylist([{f.name: r.get(f.name) for f in schema} for r in rows],
                                schema=schema)


# -- webhooks ------------------------------------------------------------------------------------

def hook_merge_request(payload: Mapping[str, Any]) -> dict[str, Any]:
    """A Merge Request Hook's ``object_attributes`` in the REST item's shape (``author`` from the
    hook's ``user`` when the author is the one acting, else only its id is known), so
    :func:`merge_request` reads both. Commits and notes are not in the hook: sync fetches them."""
    attrs = dict(payload.get("object_attributes") or {})
    if "author" not in attrs and isinstance(payload.get("user"), Mapping) and \
            payload["user"].get("id") == attrs.get("author_id"):
        attrs["author"] = {"username": payload["user"].get("username")}
    return attrs


def hook_pipeline(payload: Mapping[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A Pipeline Hook as a REST pipeline (``object_attributes``: id, ref, sha, status, source,
    name) and its jobs (``builds``: id, name, status, started_at, finished_at), for
    :func:`job_rule` and :func:`job_status`."""
    attrs = payload.get("object_attributes")
    pipeline = dict(attrs) if isinstance(attrs, Mapping) else {}
    builds = payload.get("builds")
    jobs = [dict(b) for b in builds if isinstance(b, Mapping)] if isinstance(builds, list) else []
    return pipeline, jobs


def hook_job(payload: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A Job Hook (``build_*`` fields, ``ref``, ``sha``, ``pipeline_id``) as a REST pipeline and
    job. The hook does not say the pipeline's source: a rule's ``workflow`` other than ``*`` needs
    the pipeline read from the API."""
    pipeline = {"id": payload.get("pipeline_id"), "ref": payload.get("ref"),
                "sha": payload.get("sha")}
    job = {"id": payload.get("build_id"), "name": payload.get("build_name"),
           "status": payload.get("build_status"), "stage": payload.get("build_stage"),
           "started_at": payload.get("build_started_at"),
           "finished_at": payload.get("build_finished_at")}
    return pipeline, job


def hook_deployment(payload: Mapping[str, Any]) -> dict[str, Any]:
    """A Deployment Hook (``status``, ``environment`` and ``environment_tier`` as text,
    ``deployment_id``, ``status_changed_at``) as a REST deployment for :func:`production_rule`,
    :func:`deployment_status` and :func:`deployment_times` (the hook has no start time)."""
    return {"id": payload.get("deployment_id"), "status": payload.get("status"),
            "environment": {"name": payload.get("environment"),
                            "tier": payload.get("environment_tier")},
            "created_at": payload.get("status_changed_at"),
            "updated_at": payload.get("status_changed_at"),
            "deployable": {"id": payload.get("deployable_id")}}


def hook_release(payload: Mapping[str, Any]) -> dict[str, Any]:
    """A Release Hook (``tag``, ``released_at``, ``commit.id``) as a REST release."""
    commit = payload.get("commit")
    return {"tag_name": payload.get("tag"), "released_at": payload.get("released_at"),
            "commit": {"id": commit.get("id")} if isinstance(commit, Mapping) else {},
            "upcoming_release": False}


def hook_push_commits(payload: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A Push Hook's ``commits`` as REST commits (``timestamp`` as both dates, no stats and no
    parents: :func:`commit` gives them ``None`` lines, so they are read from the API instead)."""
    out = []
    for c in payload.get("commits") or []:
        if isinstance(c, Mapping):
            raw = c.get("author")
            author: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
            out.append({"id": c.get("id"), "author_email": author.get("email"),
                        "author_name": author.get("name"), "authored_date": c.get("timestamp"),
                        "committed_date": c.get("timestamp")})
    return out


def hook_project_path(payload: Mapping[str, Any]) -> str | None:
    """The project path a webhook payload is about (``project.path_with_namespace``; a Job Hook
    and a Deployment Hook also carry it under ``project``; old hooks: ``repository.homepage``)."""
    project = payload.get("project")
    if isinstance(project, Mapping) and project.get("path_with_namespace"):
        return str(project["path_with_namespace"])
    name = payload.get("project_path_with_namespace")
    if name:
        return str(name)
    return None
