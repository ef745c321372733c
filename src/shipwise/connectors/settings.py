"""The ``sources:`` of ``shipwise.yaml``: which outside systems ``shipwise sync`` reads, and how.

::

    sources:
      - kind: github
        repos: [acme/payments, acme/search]
        token_env: GITHUB_TOKEN              # the token's *name*: never the token itself
      - kind: gitlab
        name: gitlab-internal
        base_url: https://gitlab.acme.internal
        projects: [platform/billing]
        token_file: /run/secrets/gitlab_token
      - kind: git
        path: /srv/repos/legacy
        deployments_from_tags: "v*"

Secrets are read from an environment variable or a file at the moment they are needed, held as
:class:`~pydantic.SecretStr` and never written to the YAML, the store, a log or an error message.
"""

from __future__ import annotations

import os
import re
from datetime import date
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from shipwise.errors import ConfigError

#: The default pattern (a regular expression, case-insensitive, matched against the whole name)
#: of a production environment: ``production``, ``prod``, ``prod-eu``, ``production/us-east-1``.
PRODUCTION = r"(prod|production)([-_ /.].*)?"


def _check_regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"not a valid regular expression ({exc})") from exc
    return value


class SourceBase(BaseModel):
    """What every source has: a name (its cursors in ``sync_state`` are kept under it) and,
    for HTTP sources, where its secret comes from."""

    model_config = ConfigDict(extra="forbid")
    #: This source's name (``shipwise sync NAME``); default: its kind. Unique among sources.
    name: str | None = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    #: The environment variable holding the token (its name, never its value).
    token_env: str | None = None
    #: A file holding the token (e.g. a mounted secret); used when ``token_env`` is not set.
    token_file: Path | None = None
    timeout_seconds: Annotated[float, Field(gt=0)] = 30.0
    #: Attempts per request on a transient failure (timeouts, 5xx, rate limits) before giving up.
    max_attempts: Annotated[int, Field(ge=1, le=20)] = 5
    #: The first sync reads nothing older than this (default: everything the API gives).
    since: date | None = None

    @property
    def id(self) -> str:
        return self.name or str(getattr(self, "kind", "source"))

    def token(self, *, required: bool = True) -> SecretStr | None:
        """The secret, from ``token_env`` (if that variable is set) or ``token_file``.

        Raises :class:`ConfigError` naming the variable or file — never the value — when
        ``required`` and none is found.
        """
        if self.token_env and os.environ.get(self.token_env, "").strip():
            return SecretStr(os.environ[self.token_env].strip())
        if self.token_file is not None:
            path = Path(os.path.expanduser(str(self.token_file)))
            if path.is_file():
                text = path.read_text().strip()
                if text:
                    return SecretStr(text)
        if not required:
            return None
        where = " or ".join(w for w in (
            f"the environment variable {self.token_env}" if self.token_env else "",
            f"the file {self.token_file}" if self.token_file is not None else "") if w)
        raise ConfigError(
            f"source '{self.id}': no token found in {where or 'token_env or token_file'}",
            hint=(f"export {self.token_env}=<token>" if self.token_env else
                  "set token_env or token_file on the source in shipwise.yaml"))


class WorkflowRule(BaseModel):
    """A GitHub Actions job (or GitLab CI job) whose successful run is a deployment.

    Patterns are shell-style (fnmatch, case-insensitive). A run counts when its workflow name,
    job name and branch all match; a skipped, cancelled or failed production job is a failed
    attempt or nothing — never a deployment.
    """

    model_config = ConfigDict(extra="forbid")
    workflow: str = "*"
    job: str | None = None
    #: default: the repository's default branch
    branch: str | None = None
    environment: str = "production"


class GitHubSource(SourceBase):
    """github.com, or GitHub Enterprise Server with ``base_url: https://HOST/api/v3``."""

    kind: Literal["github"] = "github"
    base_url: str = "https://api.github.com"
    token_env: str | None = "GITHUB_TOKEN"
    #: ``owner/name`` of each repository to read.
    repos: list[str] = Field(default_factory=list)
    #: Regular expression (case-insensitive, whole name) of production environment names.
    production_environment: str = PRODUCTION
    #: Workflow runs that are deployments (for repositories without GitHub deployments).
    workflows: list[WorkflowRule] = Field(default_factory=list)
    #: Releases as deployments: ``auto`` when a repository has no deployments and no workflow rule.
    releases_as_deployments: Literal["auto", "always", "never"] = "auto"
    #: Tags matching this pattern (fnmatch) as deployments, like releases (``v*``).
    deployments_from_tags: str | None = None
    #: The environment variable holding the webhook secret (``X-Hub-Signature-256``).
    webhook_secret_env: str | None = "GITHUB_WEBHOOK_SECRET"

    @field_validator("production_environment")
    @classmethod
    def _regex(cls, v: str) -> str:
        return _check_regex(v)

    @field_validator("repos")
    @classmethod
    def _full_names(cls, v: list[str]) -> list[str]:
        for repo in v:
            if not re.fullmatch(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", repo):
                raise ValueError(f"'{repo}' is not owner/name")
        return v


class GitLabSource(SourceBase):
    """gitlab.com, or a self-managed GitLab with ``base_url: https://HOST``."""

    kind: Literal["gitlab"] = "gitlab"
    base_url: str = "https://gitlab.com"
    token_env: str | None = "GITLAB_TOKEN"
    #: Full paths of the projects to read (``group/subgroup/project``).
    projects: list[str] = Field(default_factory=list)
    production_environment: str = PRODUCTION
    #: CI jobs that are deployments (for projects without GitLab deployments).
    jobs: list[WorkflowRule] = Field(default_factory=list)
    releases_as_deployments: Literal["auto", "always", "never"] = "auto"
    deployments_from_tags: str | None = None
    #: The environment variable holding the webhook secret token (``X-Gitlab-Token``).
    webhook_secret_env: str | None = "GITLAB_WEBHOOK_TOKEN"

    @field_validator("production_environment")
    @classmethod
    def _regex(cls, v: str) -> str:
        return _check_regex(v)


class GitSource(SourceBase):
    """A local git repository (commits, merges, tags)."""

    kind: Literal["git"] = "git"
    path: Path
    #: The repository's id in the store (``commit.repo``); default: the folder name.
    repo: str | None = None
    #: Tags matching this pattern (fnmatch) are production deployments of the repository's service.
    deployments_from_tags: str | None = None


Source = Annotated[GitHubSource | GitLabSource | GitSource, Field(discriminator="kind")]


def check_unique(sources: list[GitHubSource | GitLabSource | GitSource]) -> None:
    """Raise ValueError when two sources share a name (their cursors would mix)."""
    seen: set[str] = set()
    for source in sources:
        if source.id in seen:
            raise ValueError(f"two sources are named '{source.id}': give each its own `name:`")
        seen.add(source.id)
