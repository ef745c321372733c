"""Deployments from the shipwise store, with the commits they shipped and, when the service's git
repository is configured, the diff between the previous deployment and this one (pygit2)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pygit2

from shipwise.investigate.evidence import Event, Evidence, Scope
from shipwise.investigate.settings import StoreSourceSettings
from shipwise.investigate.sources.base import StoreReader
from shipwise.store.deployments import Shipped, shipped_between
from shipwise.store.duckdb_store import StoreSession

#: the diff shown for one deployment is cut after this many characters
MAX_DIFF_CHARS = 20000


class StoreDeployments(StoreReader):
    """Reads the store the process holds, lent for each query (``lend(store)`` for a store the
    caller has open; the server's shared session, so an investigation never holds its lock)."""

    name = "store"

    def describe(self) -> str:
        return f"store: {self.settings.environment} deployments"

    def check(self) -> list[str]:
        if not self.settings.enabled:
            return ["disabled in settings"]
        return [f"repository for {s} not found: {p}" for s, p in self.settings.repos.items()
                if not Path(p).expanduser().exists()]

    def read(self, scope: Scope) -> list[Shipped]:
        """The deployments of the scope's change window (one short query under the lock)."""
        with self.store() as store:
            return shipped_between(store, self.settings.environment, scope.changes_from, scope.end)

    def fetch(self, scope: Scope) -> Evidence:
        events = []
        for d in self.read(scope):
            if scope.entities is not None and d.service not in scope.entities:
                continue
            details: dict[str, Any] = {"version": d.version, "previous_version": d.previous_version,
                                       "kind": d.kind, "commits": list(d.commits),
                                       "additions": d.additions, "deletions": d.deletions}
            repo = self.settings.repos.get(d.service)
            if repo and d.commits:
                details.update(_diff(repo, d.previous_commit, d.commits[-1]))
            events.append(Event(f"deployment:{d.id}", d.finished_at, "deployment", d.service,
                                "pipeline",
                                f"{d.service} {d.previous_version or '?'} → {d.version or '?'}",
                                details, f"store:deployment/{d.id}"))
        return Evidence(events=events)


class StoreReadError(Exception):
    """The store could not be read when the investigation was prepared."""


@dataclass(frozen=True)
class StoreSlice:
    """What an investigation reads from the store, read beforehand by the process that holds it
    (the server) and handed to a worker process that cannot open the store: the deployments of
    one change window, or why they could not be read. Plain JSON both ways."""

    start: float
    end: float
    shipped: tuple[Shipped, ...] = ()
    error: str | None = None
    #: whether the alarm's entity is a service of the store (None: the store cannot tell)
    in_store: bool | None = None
    #: the kept topology around the alarm's entity (:func:`shipwise.investigate.sources.kept.
    #: read_kept`); None when it was not read
    topology: dict[str, Any] | None = None
    #: the spans and logs received over OTLP for the scope (:func:`shipwise.investigate.sources.
    #: telemetry.read_telemetry`); None when they were not read
    telemetry: dict[str, Any] | None = None

    @classmethod
    def read(cls, store: StoreSession, settings: StoreSourceSettings, scope: Scope) -> StoreSlice:
        try:
            shipped = StoreDeployments(store, settings).read(scope)
        except Exception as exc:  # recorded as the store source's failure, as in process
            return cls(scope.changes_from, scope.end, error=f"{type(exc).__name__}: {exc}")
        return cls(scope.changes_from, scope.end, tuple(shipped))

    def to_json(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "error": self.error,
                "shipped": [asdict(d) for d in self.shipped], "in_store": self.in_store,
                "topology": self.topology, "telemetry": self.telemetry}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StoreSlice:
        shipped = tuple(Shipped(**{**d, "commits": tuple(d["commits"])}) for d in data["shipped"])
        return cls(float(data["start"]), float(data["end"]), shipped, data.get("error"),
                   data.get("in_store"), data.get("topology"), data.get("telemetry"))


class SlicedDeployments(StoreDeployments):
    """:class:`StoreDeployments` over a :class:`StoreSlice` (an investigation in a worker
    process): the same events, the same diffs, no store connection."""

    def __init__(self, data: StoreSlice, settings: StoreSourceSettings) -> None:
        super().__init__(_no_store, settings)
        self.data = data

    def read(self, scope: Scope) -> list[Shipped]:
        if self.data.error is not None:
            raise StoreReadError(self.data.error)
        if scope.changes_from < self.data.start or scope.end > self.data.end:
            raise StoreReadError(f"the store slice covers {self.data.start}–{self.data.end}, "
                                 f"not {scope.changes_from}–{scope.end}")
        return [d for d in self.data.shipped
                if scope.changes_from <= d.finished_at <= scope.end]


def _no_store() -> Any:
    raise StoreReadError("no store in this process (a worker reads a slice)")


def _diff(repo_path: str, old: str | None, new: str) -> dict[str, Any]:
    repo = pygit2.Repository(str(Path(repo_path).expanduser()))
    try:
        new_c = repo.revparse_single(new).peel(pygit2.Commit)
        old_c = (repo.revparse_single(old).peel(pygit2.Commit) if old
                 else new_c.parents[0] if new_c.parents else None)
    except (KeyError, ValueError):
        return {}
    diff = repo.diff(old_c, new_c) if old_c is not None else new_c.tree.diff_to_tree(swap=True)
    files = [p.delta.new_file.path for p in diff if p is not None]
    return {"files": files, "diff": diff.patch[:MAX_DIFF_CHARS] if diff.patch else ""}
