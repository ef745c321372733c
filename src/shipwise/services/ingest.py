"""Importing canonical files and tables, and reading the quarantine."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from shipwise.config import Settings
from shipwise.domain.schema import RECORD_TYPES, resolve_type
from shipwise.errors import InputError
from shipwise.governance.pseudonym import Pseudonymiser
from shipwise.ingest.loader import ImportReport, Loader
from shipwise.ingest.sources import Staging
from shipwise.metrics import facts
from shipwise.services.context import open_for_ingest, open_store
from shipwise.store.duckdb_store import Store


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _refresh(store: Store, progress: Callable[[str], None] | None) -> None:
    """Rebuild derived facts if this ingest changed their inputs (a no-op otherwise). Retention
    is applied again first, so an import never restores what a retention run removed."""
    from shipwise.governance.retention import reapply

    if facts.is_stale(store):
        reapply(store)
        if progress:
            progress("refreshing derived facts")
        facts.refresh(store)


def _record_run(store: Store, kind: str, source: str, started: datetime, report: ImportReport) -> None:
    with store.transaction():
        store.con.execute(
            "INSERT INTO ingest_run VALUES (?, ?, ?, ?, ?, ?)",
            [str(uuid.uuid4()), kind, source, started, _now(), json.dumps(report.as_dict())],
        )


def import_paths_into(
    store: Store,
    pseudo: Pseudonymiser,
    paths: Iterable[str | Path],
    progress: Callable[[str], None] | None = None,
) -> ImportReport:
    started = _now()
    staging = Staging(store.con)
    try:
        names = []
        for p in paths:
            path = Path(p)
            names.append(str(path))
            if progress:
                progress(f"reading {path.name}")
            staging.add_path(path)
        report = Loader(store, pseudo).load(staging, progress=progress)
    finally:
        staging.close()
    _refresh(store, progress)
    _record_run(store, "import", ", ".join(names), started, report)
    return report


def import_tables_into(
    store: Store,
    pseudo: Pseudonymiser,
    tables: Mapping[str, pa.Table],
    source: str,
    kind: str = "import",
    progress: Callable[[str], None] | None = None,
) -> ImportReport:
    """Import in-memory Arrow tables keyed by canonical type name (demo, connectors)."""
    started = _now()
    report = ImportReport()
    for name in tables:
        if resolve_type(name) is None:
            raise InputError(f"{source}: unknown record type '{name}'")
    staging = Staging(store.con)
    loader = Loader(store, pseudo)
    try:
        # One type at a time keeps staging small at benchmark scale.
        for rt in RECORD_TYPES:
            for name, table in tables.items():
                if resolve_type(name) is rt and table.num_rows:
                    staging.add_arrow(rt.name, table, f"{source}:{rt.name}")
            if staging.staged:
                loader.load(staging, report, progress=progress)
        report.sources = [source]
    finally:
        staging.close()
    _refresh(store, progress)
    _record_run(store, kind, source, started, report)
    return report


def import_paths(
    settings: Settings, paths: Iterable[str | Path], progress: Callable[[str], None] | None = None
) -> ImportReport:
    with open_for_ingest(settings) as (store, pseudo):
        return import_paths_into(store, pseudo, paths, progress)


def quarantine_list(
    settings: Settings, *, type_name: str | None = None, limit: int = 50
) -> dict[str, Any]:
    with open_store(settings, read_only=True) as store:
        where, params = "", []
        if type_name:
            where, params = "WHERE type = ?", [type_name]
        rows = store.query(
            f"SELECT type, reason, source, line, raw, quarantined_at FROM quarantine {where} "
            "ORDER BY quarantined_at DESC, source, line LIMIT ?",
            [*params, limit],
        )
        summary = store.query(
            f"SELECT type, reason, count(*) AS records FROM quarantine {where} "
            "GROUP BY ALL ORDER BY records DESC",
            params,
        )
        total = store.con.execute(f"SELECT count(*) FROM quarantine {where}", params).fetchone()
    return {"total": int(total[0]) if total else 0, "summary": summary, "records": rows}
