"""Deployments as evidence: what each successful deployment of an environment shipped."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from shipwise.store.duckdb_store import Store


@dataclass(frozen=True)
class Shipped:
    """A successful deployment with the one before it on the same service and its commits."""

    id: str
    service: str
    version: str | None
    previous_version: str | None
    kind: str
    finished_at: float  # epoch seconds
    commits: tuple[str, ...]  # oldest first
    additions: int
    deletions: int
    previous_commit: str | None  # a commit the previous deployment shipped (to diff from)


def shipped_between(store: Store, environment: str, start: float, end: float) -> list[Shipped]:
    """The successful deployments of ``environment`` that finished from ``start`` to ``end``
    (epoch seconds), in the order they finished."""
    rows = store.con.execute(
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
        """, [environment, start, end]).fetchall()
    return [Shipped(str(i), str(svc), ver, prev, str(kind), float(t), tuple(shas or ()),
                    int(adds), int(dels), prev_sha)
            for i, svc, ver, prev, kind, t, shas, adds, dels, prev_sha in rows]


def existing(store: Store, ids: Collection[str]) -> set[str]:
    """Which of ``ids`` name a deployment in the store (a connector sets an incident's
    ``caused_by`` only to one of these: the importer refuses an unknown reference)."""
    if not ids:
        return set()
    rows = store.con.execute("SELECT id FROM deployment WHERE id IN (SELECT unnest(?))",
                             [sorted(ids)]).fetchall()
    return {str(r[0]) for r in rows}
