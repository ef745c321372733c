"""Git ingest: sync a local repository through its connector and import its commits and tags
(and, with ``deployments_from_tags``, the deployments of matching tags).

The connector (:class:`~shipwise.connectors.git.GitConnector`) reads; the sync loop
(:func:`~shipwise.connectors.sync.sync_scope`) imports each batch and only then moves the cursor
kept in ``sync_state``, so a re-run reads only commits not seen before and never counts one twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from shipwise.app.caller import Caller
from shipwise.app.context import pseudonymiser_for
from shipwise.app.guard import guard
from shipwise.app.ingest import import_tables_into
from shipwise.connectors.base import Batch
from shipwise.connectors.git.connector import GitConnector, default_repo_name, known_tips
from shipwise.connectors.sync import sync_scope
from shipwise.ingest.loader import ImportReport
from shipwise.store import org

__all__ = ["CONNECTOR", "GitIngestResult", "default_repo_name", "ingest_git"]

CONNECTOR = GitConnector.name


@dataclass
class GitIngestResult:
    repo: str
    commits_read: int
    tags_read: int
    incremental: bool
    report: ImportReport
    #: deployments emitted from tags (0 without ``deployments_from_tags``)
    deployments_read: int = 0
    #: the service tag deployments were recorded for (None without ``deployments_from_tags``)
    deployment_service: str | None = None
    #: that service is not in the organisation: its deployments were quarantined
    #: (``unknown service``) — name it in the organisation file or pass ``service``
    unknown_service: bool = False


@guard("admin.ingest", "ingest:git")
def ingest_git(
    caller: Caller,
    path: str | Path,
    repo: str | None = None,
    progress: Callable[[int], None] | None = None,
    *,
    deployments_from_tags: str | None = None,
    service: str | None = None,
    environment: str = "production",
) -> GitIngestResult:
    """Import the commits not seen before (hidden behind the last run's ref tips) and all tags,
    into the caller's store. With ``deployments_from_tags`` (fnmatch, ``v*``) each matching tag
    not emitted before is also a deployment to ``environment`` of ``service``, else of the
    service the organisation maps the repository to, else of a service named like the
    repository (quarantined as ``unknown service`` when there is none)."""
    store, limits = caller.store, caller.settings.ingest
    connector = GitConnector(path, repo, progress, deployments_from_tags=deployments_from_tags,
                             service=service, services=org.service_map(store),
                             environment=environment, agents=caller.settings.ai.agents)
    (scope,) = connector.scopes()
    read = {"commit": 0, "tag": 0, "deployment": 0}
    pseudo = pseudonymiser_for(store, caller.settings)

    def commit(batch: Batch) -> ImportReport:
        for kind in read:
            table = batch.records.get(kind)
            read[kind] += table.num_rows if table is not None else 0
        return import_tables_into(store, pseudo, batch.records, f"git:{scope.key}",
                                  kind=connector.kind, limits=limits)

    run = sync_scope(store, connector, scope, commit)
    report = run.committed[-1] if run.committed else ImportReport()
    incremental = bool(known_tips(run.started_from))  # as before: some commits were read already
    target = connector.deployment_service if deployments_from_tags else None
    return GitIngestResult(scope.key, read["commit"], read["tag"], incremental, report,
                           deployments_read=read["deployment"], deployment_service=target,
                           unknown_service=target is not None
                           and not org.service_exists(store, target))
