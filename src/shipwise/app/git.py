"""Git ingest: sync a local repository through its connector and import its commits and tags.

The connector (:class:`~shipwise.connectors.git.GitConnector`) reads; the sync loop
(:func:`~shipwise.connectors.sync.sync_scope`) imports each batch and only then moves the cursor
kept in ``sync_state``, so a re-run reads only commits not seen before and never counts one twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from shipwise.app.context import open_for_ingest
from shipwise.app.ingest import import_tables_into
from shipwise.config import Settings
from shipwise.connectors.base import Batch
from shipwise.connectors.git.connector import GitConnector, default_repo_name, known_tips
from shipwise.connectors.sync import sync_scope
from shipwise.ingest.loader import ImportReport

__all__ = ["CONNECTOR", "GitIngestResult", "default_repo_name", "ingest_git"]

CONNECTOR = GitConnector.name


@dataclass
class GitIngestResult:
    repo: str
    commits_read: int
    tags_read: int
    incremental: bool
    report: ImportReport


def ingest_git(
    settings: Settings,
    path: str | Path,
    repo: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> GitIngestResult:
    """Import the commits not seen before (hidden behind the last run's ref tips) and all tags."""
    connector = GitConnector(path, repo, progress)
    (scope,) = connector.scopes()
    read = {"commit": 0, "tag": 0}
    with open_for_ingest(settings) as (store, pseudo):

        def commit(batch: Batch) -> ImportReport:
            for kind in read:
                table = batch.records.get(kind)
                read[kind] += table.num_rows if table is not None else 0
            return import_tables_into(
                store, pseudo, batch.records, f"git:{scope.key}", kind=connector.kind,
                limits=settings.ingest,
            )

        run = sync_scope(store, connector, scope, commit)
    report = run.committed[-1] if run.committed else ImportReport()
    incremental = bool(known_tips(run.started_from))  # as before: some commits were read already
    return GitIngestResult(scope.key, read["commit"], read["tag"], incremental, report)
