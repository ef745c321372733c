"""Group commit for webhook intake: bodies that arrive together are written in one transaction.

Each request hands its rows to :meth:`GroupCommit.run` and waits; one writer thread takes
everything queued (up to ``max_batch`` bodies), stores them with a few set-based statements
(:func:`shipwise.app.alarms.write_intake`) in a single transaction, commits, and only then
wakes the requests. So a 202 still means "stored durably", a failing transaction fails every
request in it (the senders retry; nothing is acknowledged and lost), and the cost of a commit is
shared by the batch instead of paid by every body.

With a commit delay (``server.intake_commit_delay_ms``, like PostgreSQL's ``commit_delay``) the
writer, having taken what is queued, waits up to that long for more bodies before committing —
but only while more requests are in flight than it holds (:meth:`GroupCommit.request`: being
read, or being answered, whose senders are about to send again under load). A lone sender never
waits: its own request is the only one in flight, so the writer commits at once. Under load the
bodies of requests that would have arrived just after a commit started share it instead, and
throughput goes up (fewer commits, each paying for its flush once).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from typing import Any

from shipwise.errors import StoreError
from shipwise.store.duckdb_store import Store, StoreSession

log = logging.getLogger(__name__)

Rows = list[tuple[Any, ...]]


class GroupCommit:
    def __init__(self, session: StoreSession,
                 apply: Callable[[Store, list[Rows]], list[Any]], *, max_batch: int = 512,
                 held_here: Callable[[], bool] = lambda: False, delay: float = 0.0) -> None:
        self._session = session
        self._apply = apply
        self._held_here = held_here
        self._max = max_batch
        #: seconds the writer may wait for requests in flight before it commits
        self._delay = delay
        self._in_flight = 0
        self._count_lock = threading.Lock()
        self._queue: queue.Queue[tuple[Rows, Future[Any]] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self.batches = 0
        self.bodies = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="intake-writer", daemon=True)
        self._thread.start()

    def run(self, rows: Rows, timeout: float = 30.0) -> Any:
        """Store ``rows`` in the next group transaction; the result once committed."""
        if self._held_here():  # the caller holds the store (an API request): write in place
            with self._session() as store, store.transaction():
                return self._apply(store, [rows])[0]
        return self.submit(rows).result(timeout=timeout)

    @contextmanager
    def request(self) -> Iterator[None]:
        """Count a request as in flight while it runs — from before it reads its body until its
        answer is sent: what the writer's commit delay waits for."""
        with self._count_lock:
            self._in_flight += 1
        try:
            yield
        finally:
            with self._count_lock:
                self._in_flight -= 1

    @property
    def in_flight(self) -> int:
        """Requests in flight (see :meth:`request`)."""
        return self._in_flight

    def submit(self, rows: Rows) -> Future[Any]:
        """Queue ``rows`` for the next group transaction (an event loop awaits the future)."""
        if self._stopping or self._thread is None:
            raise StoreError("the server is not accepting writes", hint="retry in a moment")
        fut: Future[Any] = Future()
        self._queue.put((rows, fut))
        return fut

    def stop(self) -> None:
        self._stopping = True
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=30)
            if self.batches:
                log.info("%s: %d bodies in %d commits", self._thread.name, self.bodies,
                         self.batches)

    def _loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            batch = [item]
            deadline: float | None = None
            while len(batch) < self._max:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    if self._delay <= 0 or self._in_flight <= len(batch):
                        break  # no other request is known: commit now
                    now = time.monotonic()
                    if deadline is None:
                        deadline = now + self._delay
                    if now >= deadline:
                        break
                    try:
                        nxt = self._queue.get(timeout=deadline - now)
                    except queue.Empty:
                        break
                if nxt is None:
                    self._queue.put(None)  # finish this batch, then stop
                    break
                batch.append(nxt)
            self._commit(batch)

    def _commit(self, batch: list[tuple[Rows, Future[Any]]]) -> None:
        try:
            with self._session() as store, store.transaction():
                results = self._apply(store, [rows for rows, _ in batch])
        except Exception as exc:  # the whole transaction rolled back: nobody is told "stored"
            log.warning("intake batch of %d failed: %s", len(batch), exc)
            for _, fut in batch:
                fut.set_exception(exc)
            return
        self.batches += 1
        self.bodies += len(batch)
        for (_, fut), res in zip(batch, results, strict=True):
            fut.set_result(res)
