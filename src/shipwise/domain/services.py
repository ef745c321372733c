"""Which service a repository's deployments and pull requests belong to (from the organisation
file), as a value connectors are handed: they never read the store themselves."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass


@dataclass(frozen=True)
class ServiceTarget:
    """One way a repository's deployments reach a service (from the organisation file).

    ``repo`` is the repository's full name as its system names it (``acme/payments`` on GitHub,
    ``group/sub/project`` on GitLab, the folder name for a local repository), compared without
    case. ``environment`` and ``job`` are shell-style patterns (fnmatch, case-insensitive) on the
    deployment's environment and on the workflow/job name that deployed it; ``None`` matches any.
    A monorepo has several targets, told apart by these patterns.
    """

    service: str
    repo: str
    environment: str | None = None
    job: str | None = None

    def matches(self, repo: str, environment: str | None, job: str | None) -> bool:
        if self.repo.lower() != repo.lower():
            return False
        for pattern, value in ((self.environment, environment), (self.job, job)):
            if pattern is not None and (value is None or not fnmatch.fnmatchcase(
                    value.lower(), pattern.lower())):
                return False
        return True


@dataclass(frozen=True)
class ServiceMap:
    """Which service a repository's deployment (or pull request) belongs to.

    Built from the store (:func:`shipwise.store.org.service_map`) and handed to connectors, which
    never read the store themselves. The first matching target wins, most specific first (targets
    with both patterns, then one, then none). A repository named like a service belongs to that
    service when no target names the repository (as for ``service.repo`` in the canonical format).
    """

    targets: tuple[ServiceTarget, ...] = ()
    services: frozenset[str] = frozenset()
    #: (service, team owning it today), for connectors that know a service but not its team
    owners: tuple[tuple[str, str], ...] = ()
    #: every team of the organisation (for checking settings that name teams)
    teams: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        ordered = sorted(self.targets, key=lambda t: (t.environment is None) + (t.job is None))
        object.__setattr__(self, "targets", tuple(ordered))

    def resolve(self, repo: str, environment: str | None = None, job: str | None = None) -> str | None:
        """The service of ``repo`` (deploying to ``environment`` by ``job``), or ``None``."""
        named = False
        for target in self.targets:
            if target.repo.lower() == repo.lower():
                named = True
                if target.matches(repo, environment, job):
                    return target.service
        if named:
            return None
        short = repo.rsplit("/", 1)[-1]
        for candidate in (repo, short):
            if candidate in self.services:
                return candidate
        return None

    def owner(self, service: str) -> str | None:
        """The team that owns ``service`` today, or ``None``."""
        return next((t for s, t in self.owners if s == service), None)

    def repos(self) -> set[str]:
        """Every repository some target names."""
        return {t.repo for t in self.targets}
