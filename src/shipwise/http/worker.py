"""Background threads, so webhook answers never wait: investigations of alarms, in order, and
syncs of the repositories GitHub/GitLab webhooks name, coalesced."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


class InvestigationWorker:
    """A single worker thread fed by a queue of intake id batches."""

    def __init__(self, run: Callable[[list[str]], object], *, name: str = "shipwise-investigations"):
        self._run = run
        self._queue: queue.Queue[list[str] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._busy = threading.Event()

    def start(self) -> None:
        self._thread.start()

    def submit(self, ids: list[str]) -> None:
        if ids:
            self._queue.put(list(ids))

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    @property
    def pending(self) -> int:
        """Batches queued or running."""
        return self._queue.qsize() + (1 if self._busy.is_set() else 0)

    def stop(self, timeout: float | None = None) -> bool:
        """Finish what is queued, then stop; False when ``timeout`` passed first (the thread is a
        daemon, and rows left ``accepted``/``investigating`` resume on the next start)."""
        if not self._thread.is_alive():
            return True
        self._queue.put(None)
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("investigation worker still busy after %.0f s; %d batch(es) left for the "
                        "next start", timeout or 0, self.pending)
            return False
        return True

    def _loop(self) -> None:
        while True:
            ids = self._queue.get()
            if ids is None:
                return
            self._busy.set()
            try:
                self._run(ids)
            except Exception:
                log.exception("investigating %s failed", ", ".join(ids))
            finally:
                self._busy.clear()


class SyncWorker:
    """One background thread that syncs the repositories webhooks name, coalescing bursts.

    A push, its workflow runs and their deployment statuses arrive as a dozen deliveries within
    seconds; each names the same repository. The worker waits ``delay`` seconds after the first
    one, then syncs every distinct (source, scope) queued meanwhile once.
    """

    def __init__(self, run: Callable[[str, str], object], *, delay: float = 2.0,
                 name: str = "shipwise-webhook-sync"):
        self._run = run
        self._delay = delay
        self._queue: queue.Queue[tuple[str, str] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._busy = threading.Event()

    def start(self) -> None:
        self._thread.start()

    def submit(self, source: str, scope: str) -> None:
        self._queue.put((source, scope))

    @property
    def pending(self) -> int:
        return self._queue.qsize() + (1 if self._busy.is_set() else 0)

    def stop(self, timeout: float | None = None) -> bool:
        if not self._thread.is_alive():
            return True
        self._queue.put(None)
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            self._busy.set()
            keys = {first}
            stop = False
            deadline = time.monotonic() + self._delay
            while (left := deadline - time.monotonic()) > 0:
                try:
                    more = self._queue.get(timeout=left)
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                keys.add(more)
            for source, scope in sorted(keys):
                try:
                    self._run(source, scope)
                except Exception:
                    log.exception("syncing %s %s after a webhook failed", source, scope)
            self._busy.clear()
            if stop:
                return
