"""GitLab webhooks: verify the secret token and name the project whose sync an event triggers.

GitLab sends the secret configured on the webhook verbatim in ``X-Gitlab-Token`` (no signature
of the body), and the event kind in ``X-Gitlab-Event``. An event never carries records into the
store by itself: it only says which project to sync, and the sync reads the API as usual (so a
forged or replayed event can at most cause a sync).

Deployments, pipelines and releases do not move the project's ``last_activity_at``, which the
connector's change probe reads; so :func:`scope_of` also notes, in this process, that such an
event arrived for the project, and the next sync of that project reads its deployments,
pipelines and releases even when the probe alone would skip them (:func:`announced_after`).
"""

from __future__ import annotations

import hmac
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from shipwise.connectors.gitlab.mapping import DEPLOYMENT_PENDING, JOB_PENDING, hook_project_path

#: The ``X-Gitlab-Event`` values that may trigger a sync.
EVENTS = frozenset({
    "Merge Request Hook", "Pipeline Hook", "Job Hook", "Deployment Hook", "Release Hook",
    "Push Hook", "Note Hook",
})


#: Events about deployments, pipelines, jobs and releases: what the change probe cannot see.
DEPLOY_EVENTS = frozenset({"Pipeline Hook", "Job Hook", "Deployment Hook", "Release Hook"})

_lock = threading.Lock()
_announced: dict[str, datetime] = {}


def _now() -> datetime:
    return datetime.now(UTC)


def announce(project: str, at: datetime | None = None) -> None:
    """Note that a deployment-like event arrived for ``project`` (at ``at``, default now)."""
    with _lock:
        _announced[project.lower()] = at or _now()


def announced_after(project: str, when: datetime | None) -> bool:
    """Whether a deployment-like event for ``project`` arrived after ``when`` in this process
    (``when`` None: whether one arrived at all)."""
    with _lock:
        at = _announced.get(project.lower())
    return at is not None and (when is None or at > when)


def verify(secret: str, token_header: str | None) -> bool:
    """Whether ``X-Gitlab-Token`` equals ``secret`` (constant-time; an empty secret never does)."""
    if not secret or token_header is None:
        return False
    return hmac.compare_digest(secret.encode("utf-8"), token_header.encode("utf-8"))


def _path(payload: Mapping[str, Any]) -> str | None:
    found = hook_project_path(payload)
    if found:
        return found
    repo = payload.get("repository")
    if isinstance(repo, Mapping):  # a Job Hook of an older GitLab: the project's web address
        homepage = repo.get("homepage")
        if isinstance(homepage, str) and homepage:
            path = urlsplit(homepage).path.strip("/")
            return path or None
    return None


def scope_of(event: str, payload: Mapping[str, Any]) -> str | None:
    """The project path (``group/proj``) whose sync ``event`` should trigger, or ``None`` when
    the event changes nothing the connector reads: a push to another branch than the default
    (merge request events cover those), a note on something else than a merge request, a
    pipeline, job or deployment still running (the hook of its end will come)."""
    if event not in EVENTS:
        return None
    attrs = payload.get("object_attributes")
    attrs = attrs if isinstance(attrs, Mapping) else {}
    if event == "Push Hook":
        project = payload.get("project")
        default = project.get("default_branch") if isinstance(project, Mapping) else None
        if not default or payload.get("ref") != f"refs/heads/{default}":
            return None
    if event == "Note Hook" and attrs.get("noteable_type") != "MergeRequest":
        return None
    status = {"Pipeline Hook": attrs.get("status"), "Job Hook": payload.get("build_status"),
              "Deployment Hook": payload.get("status")}.get(event)
    pending = DEPLOYMENT_PENDING if event == "Deployment Hook" else JOB_PENDING
    if status is not None and str(status) in pending:
        return None
    path = _path(payload)
    if path is not None and event in DEPLOY_EVENTS:
        announce(path)
    return path
