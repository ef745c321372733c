"""The sync loop: run a :class:`~.base.Connector` over one scope, keeping its cursor in the store.

::

    state = sync_state.get(store, connector.name, scope.key)     # where the last run stopped
    for batch in connector.sync(scope, cursor):
        commit(batch)                                            # import the records
        sync_state.put(store, connector.name, scope.key, ...)    # then, and only then, the cursor

Resumable: a run killed between two batches restarts after the last committed one. Idempotent:
a run killed between ``commit`` and ``put`` reads that batch again next time and the importer's
upserts make the second copy a no-op. A failure is recorded as the scope's last status
(``transient``, ``terminal``, or ``failed`` for anything that is not a ``ShipwiseError``) and
re-raised; the cursor keeps the last committed batch.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, TypeVar

import pyarrow as pa

from shipwise.connectors.base import Batch, Connector, Cursor, Scope
from shipwise.errors import ShipwiseError, TerminalError, TransientError
from shipwise.store import sync_state
from shipwise.store.duckdb_store import Store

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass
class SyncRun(Generic[T]):
    """What one run of :func:`sync_scope` did."""

    source: str
    scope: Scope
    #: the cursor the run started from (:attr:`Cursor.is_start` on a first sync)
    started_from: Cursor
    #: the last committed cursor (``started_from`` if no batch came)
    cursor: Cursor
    #: what ``commit`` returned for each batch, in order
    committed: list[T] = field(default_factory=list)

    @property
    def incremental(self) -> bool:
        """True when this run continued from a cursor committed before."""
        return not self.started_from.is_start


def failure_status(exc: BaseException) -> sync_state.Status:
    """How a failure is recorded: ``transient``, ``terminal``, or ``failed`` (a bug)."""
    if isinstance(exc, TransientError):
        return "transient"
    if isinstance(exc, TerminalError):
        return "terminal"
    return "failed"


def one_line(exc: BaseException) -> str:
    """The error as the CLI shows it: message, then the hint in brackets."""
    text = str(exc) or type(exc).__name__
    if isinstance(exc, ShipwiseError) and exc.hint:
        text += f" ({exc.hint})"
    return text


def coalesce(batches: Iterable[Batch], max_rows: int, max_seconds: float = 30.0,
             monotonic: Callable[[], float] = time.monotonic) -> Iterator[Batch]:
    """Consecutive batches merged into batches of about ``max_rows`` records.

    A connector yields a batch per page so that a kill loses little; committing each costs an
    import (validation, upserts, the run's bookkeeping), which dominates when pages are small
    (a compare of three commits, a page of ten runs). Merged, the records of batches k … m are
    committed together with batch m's cursor — valid, since it holds once m and every batch
    before it are committed. A merged batch is also let go after ``max_seconds`` of reading, so
    a slow source still commits its progress.
    """
    held: list[Batch] = []
    rows = 0
    since = monotonic()
    for batch in batches:
        held.append(batch)
        rows += batch.rows
        if rows >= max_rows or monotonic() - since >= max_seconds:
            yield _merged(held)
            held, rows, since = [], 0, monotonic()
    if held:
        yield _merged(held)


def _merged(batches: list[Batch]) -> Batch:
    if len(batches) == 1:
        return batches[0]
    tables: dict[str, list[pa.Table]] = {}
    for batch in batches:
        for name, table in batch.records.items():
            if table.num_rows:
                tables.setdefault(name, []).append(table)
    records = {name: ts[0] if len(ts) == 1 else pa.concat_tables(ts, promote_options="permissive")
               for name, ts in tables.items()}
    return Batch(records, batches[-1].cursor)


def sync_scope(
    store: Store,
    connector: Connector,
    scope: Scope,
    commit: Callable[[Batch], T],
    *,
    clock: Callable[[], datetime] | None = None,
    max_rows: int | None = None,
) -> SyncRun[T]:
    """Sync ``scope`` from its stored cursor, committing batch after batch.

    ``commit`` writes a batch's records to ``store`` (normally
    :func:`shipwise.app.ingest.import_tables_into`) and returns what it wants reported; the
    cursor of a batch is stored after ``commit`` returns. ``clock`` gives the (UTC) instants
    written to ``sync_state`` (now, by default). With ``max_rows``, consecutive batches are
    committed together up to about that many records (:func:`coalesce`).
    """
    source = connector.name
    state = sync_state.get(store, source, scope.key)
    start = Cursor.from_json(state.cursor if state else None)
    run: SyncRun[T] = SyncRun(source, scope, start, start)
    try:
        batches: Iterable[Batch] = connector.sync(scope, run.cursor)
        if max_rows is not None:
            batches = coalesce(batches, max_rows)
        for batch in batches:
            run.committed.append(commit(batch))
            sync_state.put(store, source, scope.key, batch.cursor.to_json(),
                           at=clock() if clock else None)
            run.cursor = batch.cursor
        if not run.committed:  # nothing new: still a successful attempt
            sync_state.put(store, source, scope.key, run.cursor.to_json(),
                           at=clock() if clock else None)
    except Exception as exc:
        _record(store, source, scope, exc, clock)
        raise
    return run


def _record(
    store: Store, source: str, scope: Scope, exc: Exception, clock: Callable[[], datetime] | None
) -> None:
    try:
        sync_state.record_failure(store, source, scope.key, failure_status(exc), one_line(exc),
                                  at=clock() if clock else None)
    except Exception:  # the store itself may be what failed: never hide the first error
        log.warning("could not record the failed sync of %s/%s", source, scope.key, exc_info=True)
