"""Git ingest: read a repository incrementally and import its commits and tags."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from shipwise.app.context import open_for_ingest
from shipwise.app.ingest import import_tables_into
from shipwise.config import Settings
from shipwise.ingest.loader import ImportReport

CONNECTOR = "git"


@dataclass
class GitIngestResult:
    repo: str
    commits_read: int
    tags_read: int
    incremental: bool
    report: ImportReport


def default_repo_name(path: Path) -> str:
    p = path.resolve()
    name = p.name if p.name != ".git" else p.parent.name
    return name[:-4] if name.endswith(".git") else name


def ingest_git(
    settings: Settings,
    path: str | Path,
    repo: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> GitIngestResult:
    """Import the commits not seen before (hidden behind the last run's ref tips) and all tags."""
    from shipwise.connectors.git.connector import read_repository

    name = repo or default_repo_name(Path(path))
    with open_for_ingest(settings) as (store, pseudo):
        row = store.con.execute(
            "SELECT cursor FROM sync_state WHERE connector = ? AND scope = ?", [CONNECTOR, name]
        ).fetchone()
        known = list(json.loads(row[0]).get("tips", {}).values()) if row else []
        batch = read_repository(path, name, known, progress)
        report = import_tables_into(
            store, pseudo, {"commit": batch.commits, "tag": batch.tags}, f"git:{name}", kind="git",
            limits=settings.ingest,
        )
        # The cursor moves only after the data is in: a crash before here re-reads, idempotently.
        with store.transaction():
            store.con.execute(
                "INSERT OR REPLACE INTO sync_state VALUES (?, ?, ?, ?)",
                [CONNECTOR, name, json.dumps({"tips": batch.tips, "path": str(Path(path).resolve())}),
                 datetime.now(UTC).replace(tzinfo=None)],
            )
    return GitIngestResult(name, batch.commits.num_rows, batch.tags.num_rows, bool(known), report)
