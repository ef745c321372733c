"""The server's scheduler (shipwise.http.periodic): runs a job every interval, keeps going after a
failure, and stops on shutdown."""

from __future__ import annotations

import threading
import time

import pytest

from shipwise.http.periodic import Periodic


def wait_for(check: object, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not check() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.01)
    assert check(), "timed out"  # type: ignore[operator]


def test_a_job_runs_every_interval_and_keeps_going_after_a_failure() -> None:
    calls: list[int] = []

    def job() -> None:
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("the store is busy")

    p = Periodic(job, 0.01, first_delay=lambda: 0)
    p.start()
    wait_for(lambda: p.runs >= 4)
    p.stop(5)
    assert not p.alive and p.failures == 1 and len(calls) >= 4
    stopped_at = len(calls)
    time.sleep(0.05)
    assert len(calls) == stopped_at  # nothing after stop


def test_the_first_run_waits_for_its_delay_and_stop_does_not() -> None:
    ran = threading.Event()
    p = Periodic(ran.set, 3600, first_delay=lambda: 3600)
    p.start()
    started = time.monotonic()
    p.stop(5)
    assert not ran.is_set() and not p.alive and time.monotonic() - started < 5


def test_an_interval_must_be_positive() -> None:
    with pytest.raises(ValueError):
        Periodic(lambda: None, 0)
