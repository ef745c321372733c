"""Importing canonical files and tables, and reading the quarantine."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from shipwise.app.caller import Caller
from shipwise.app.context import pseudonymiser_for
from shipwise.app.guard import Access, authorize, guard
from shipwise.app.results import ImportResult
from shipwise.config import IngestSettings
from shipwise.domain.schema import RECORD_TYPES, resolve_type
from shipwise.errors import InputError
from shipwise.governance.pseudonym import Pseudonymiser
from shipwise.governance.retention import reapply
from shipwise.ingest.loader import ImportReport, Loader
from shipwise.ingest.sources import Staging
from shipwise.metrics import facts
from shipwise.store import import_state, runs
from shipwise.store.duckdb_store import REFRESH_LOCK, Store


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _refresh(store: Store, progress: Callable[[str], None] | None) -> None:
    """Rebuild derived facts if this ingest changed their inputs (a no-op otherwise). Retention
    is applied again first, so an import never restores what a retention run removed."""
    with REFRESH_LOCK:  # one refresh at a time in a process, whichever connection asks
        if facts.is_stale(store):
            reapply(store)
            if progress:
                progress("refreshing derived facts")
            facts.refresh(store, incremental=True)


def _record_run(store: Store, kind: str, source: str, started: datetime, report: ImportReport,
                run: str) -> None:
    with store.transaction():
        runs.record_ingest(store, kind=kind, source=source, started_at=started, finished_at=_now(),
                           counts=report.as_dict())
        import_state.finish(store, run)  # the run is whole: reads need no warning any more


def import_paths_into(
    store: Store,
    pseudo: Pseudonymiser,
    paths: Iterable[str | Path],
    progress: Callable[[str], None] | None = None,
    limits: IngestSettings | None = None,
) -> ImportReport:
    """Import files. A file that cannot be read at all is reported in ``report.failed`` (and
    nothing of it imported) while the others are imported; :func:`import_paths` then raises."""
    started = _now()
    files = [Path(p) for p in paths]
    names = [str(p) for p in files]
    staging = Staging(store.con, limits=limits or IngestSettings())
    run = None
    try:
        for path in files:  # staging is temporary: nothing durable is written yet
            if progress:
                progress(f"reading {path.name}")
            staging.add_path(path)
        run = import_state.begin(store, "import", names)
        report = Loader(store, pseudo, limits).load(staging, progress=progress)
        report.failed = list(staging.failed)
        _refresh(store, progress)
        _record_run(store, "import", ", ".join(names), started, report, run)
    finally:
        staging.close()
        if run is not None:
            import_state.forget(run)
    return report


def import_tables_into(
    store: Store,
    pseudo: Pseudonymiser,
    tables: Mapping[str, pa.Table],
    source: str,
    kind: str = "import",
    progress: Callable[[str], None] | None = None,
    limits: IngestSettings | None = None,
    refresh: bool = True,
) -> ImportReport:
    """Import in-memory Arrow tables keyed by canonical type name (demo, connectors).

    ``refresh=False`` leaves the derived facts stale (marked so) for the caller to rebuild once
    after many batches (:func:`refresh_facts`): a sync of fifty repositories commits hundreds of
    batches, and rebuilding the facts after each would cost more than the sync."""
    started = _now()
    report = ImportReport()
    for name in tables:
        if resolve_type(name) is None:
            raise InputError(f"{source}: unknown record type '{name}'")
    run = import_state.begin(store, kind, [source])
    try:
        staging = Staging(store.con, limits=limits or IngestSettings())
        loader = Loader(store, pseudo, limits)
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
        if refresh:
            _refresh(store, progress)
        _record_run(store, kind, source, started, report, run)
    finally:
        import_state.forget(run)
    return report


def refresh_facts(store: Store, progress: Callable[[str], None] | None = None) -> None:
    """Rebuild the derived facts if an ingest changed their inputs (retention re-applied first)."""
    _refresh(store, progress)


@guard("admin.ingest", "import")
def import_paths(caller: Caller, paths: Iterable[str | Path],
                 progress: Callable[[str], None] | None = None) -> ImportReport:
    """Import canonical files (JSONL, CSV, Parquet; folders whole) into the caller's store. A
    file that cannot be read is reported and the others imported (:class:`FilesFailedError`)."""
    pseudo = pseudonymiser_for(caller.store, caller.settings)
    report = import_paths_into(caller.store, pseudo, paths, progress, caller.settings.ingest)
    if report.failed:
        raise FilesFailedError(report)
    return report


def may_import(caller: Caller) -> None:
    """Refuse (and log) a caller who may not import, before an upload is received."""
    authorize(caller, [Access("admin.ingest", "import")], log_allowed=False)


@guard("admin.ingest", "import")
def import_upload(caller: Caller, path: Path, name: str) -> ImportResult:
    """Import one uploaded file (received whole at ``path``; ``name`` is what the sender
    called it), as :func:`import_paths` does."""
    report = import_paths(caller, [path])
    result = ImportResult.model_validate(report.as_dict())
    result.sources = [name if s == str(path) else s for s in result.sources]
    return result


class FilesFailedError(InputError):
    """Some files could not be read at all; the others were imported (``report``)."""

    def __init__(self, report: ImportReport) -> None:
        n, total = len(report.failed), len(report.sources)
        listing = "; ".join(why for _, why in report.failed)
        super().__init__(
            f"{n} of {total} file(s) could not be read and nothing of them was imported: {listing}. "
            f"The other {total - n} file(s) were imported",
            hint="fix or replace the file(s) and run the same import again (records already in "
                 "are not counted twice)")
        self.report = report


@guard("admin.quarantine", "quarantine")
def quarantine_list(caller: Caller, *, type_name: str | None = None,
                    limit: int = 50) -> dict[str, Any]:
    """Rejected records kept verbatim with their reason (raw lines can hold personal data)."""
    return dict(runs.quarantine(caller.store, type_name=type_name, limit=limit))
