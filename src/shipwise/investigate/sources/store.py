"""Deployments from the shipwise store, with the commits they shipped and, when the service's git
repository is configured, the diff between the previous deployment and this one (pygit2)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from shipwise.investigate.evidence import Event, Evidence, Scope
from shipwise.investigate.settings import StoreSourceSettings
from shipwise.investigate.sources.base import EvidenceSource

#: the diff shown for one deployment is cut after this many characters
MAX_DIFF_CHARS = 20000


class StoreDeployments(EvidenceSource):
    name = "store"

    def __init__(self, db: Path, settings: StoreSourceSettings) -> None:
        self.db = Path(db)
        self.settings = settings

    def describe(self) -> str:
        return f"store: {self.db} ({self.settings.environment} deployments)"

    def check(self) -> list[str]:
        if not self.settings.enabled:
            return ["disabled in settings"]
        if not self.db.is_file():
            return [f"{self.db}: no store (run shipwise init / import first)"]
        return [f"repository for {s} not found: {p}" for s, p in self.settings.repos.items()
                if not Path(p).expanduser().exists()]

    def fetch(self, scope: Scope) -> Evidence:
        import duckdb

        con = duckdb.connect(str(self.db))  # shares a running server's connection
        try:
            rows = con.execute(
                """
                WITH d AS (
                  SELECT id, service, version, kind, status, finished_at,
                         lag(version) OVER (PARTITION BY service ORDER BY finished_at, id) AS prev_version,
                         lag(id) OVER (PARTITION BY service ORDER BY finished_at, id) AS prev_id
                  FROM deployment WHERE environment = ? AND status = 'success')
                SELECT d.id, d.service, d.version, d.prev_version, d.kind, epoch(d.finished_at),
                       list(c.sha ORDER BY c.committed_at) FILTER (WHERE c.sha IS NOT NULL),
                       coalesce(sum(c.additions), 0), coalesce(sum(c.deletions), 0),
                       (SELECT max(pc.sha) FROM deployment_commit pc WHERE pc.deployment_id = d.prev_id)
                FROM d LEFT JOIN deployment_commit dc ON dc.deployment_id = d.id
                       LEFT JOIN "commit" c ON c.sha = dc.sha
                WHERE epoch(d.finished_at) BETWEEN ? AND ?
                GROUP BY ALL ORDER BY 6
                """, [self.settings.environment, scope.changes_from, scope.end]).fetchall()
        finally:
            con.close()
        events = []
        for dep_id, svc, ver, prev, kind, t, shas, adds, dels, prev_sha in rows:
            if scope.entities is not None and svc not in scope.entities:
                continue
            details: dict[str, Any] = {"version": ver, "previous_version": prev, "kind": kind,
                                       "commits": list(shas or []), "additions": int(adds),
                                       "deletions": int(dels)}
            repo = self.settings.repos.get(svc)
            if repo and shas:
                details.update(_diff(repo, prev_sha, shas[-1]))
            events.append(Event(f"deployment:{dep_id}", float(t), "deployment", str(svc),
                                "pipeline", f"{svc} {prev or '?'} → {ver or '?'}", details,
                                f"store:deployment/{dep_id}"))
        return Evidence(events=events)


def _diff(repo_path: str, old: str | None, new: str) -> dict[str, Any]:
    import pygit2

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
