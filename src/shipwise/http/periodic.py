"""Work the server does on a schedule: a thread that runs a job every ``interval`` seconds, the
first time when it is due (e.g. the last prevention scan is an interval old), and stops at once
on shutdown (a job under way finishes first)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class Periodic:
    """Runs ``job`` every ``interval`` seconds in a daemon thread; ``first_delay`` says how long
    to wait before the first run (default: a whole interval). A failing job is logged and tried
    again at the next interval."""

    def __init__(self, job: Callable[[], object], interval: float, *,
                 first_delay: Callable[[], float] | None = None, name: str = "shipwise-periodic"):
        if interval <= 0:
            raise ValueError("interval must be positive")
        self._job = job
        self.interval = interval
        self._first_delay = first_delay
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        #: how many runs finished (successfully or not), and the last failure
        self.runs = 0
        self.failures = 0

    def start(self) -> None:
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _delay(self) -> float:
        if self._first_delay is None:
            return self.interval
        try:
            return max(0.0, float(self._first_delay()))
        except Exception as exc:  # e.g. the store not ready: the next regular run
            log.warning("%s: could not tell when the next run is due (%s); in %.0f s",
                        self._thread.name, exc, self.interval)
            return self.interval

    def _loop(self) -> None:
        delay = self._delay()
        while not self._stop.wait(delay):
            try:
                self._job()
            except Exception as exc:
                self.failures += 1
                log.warning("%s failed: %s", self._thread.name, exc)
            self.runs += 1
            delay = self.interval

    def stop(self, timeout: float | None = None) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
