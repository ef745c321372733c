"""One background thread that runs investigations in order, so webhook answers never wait for them."""

from __future__ import annotations

import logging
import queue
import threading
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
