"""retry(): back-off with jitter for TransientError only, retry_after honoured, no real waiting."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from shipwise.connectors.retry import backoff_delay, retry
from shipwise.errors import (
    InputError,
    RetriesExhaustedError,
    ShipwiseError,
    TerminalError,
    TransientError,
    UnauthorizedError,
)


class FakeTime:
    """A clock that moves only when slept on; records every wait."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.waits: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


class FixedRandom(random.Random):
    def __init__(self, u: float) -> None:
        super().__init__(0)
        self.u = u

    def random(self) -> float:
        return self.u


def failing(*errors: Exception, result: str = "done") -> tuple[Callable[[], str], list[int]]:
    """A function raising ``errors`` one per call, then returning ``result``; and its call count."""
    calls = [0]

    def fn() -> str:
        calls[0] += 1
        if calls[0] <= len(errors):
            raise errors[calls[0] - 1]
        return result

    return fn, calls


@pytest.mark.parametrize(
    ("attempt", "u", "expected"),
    [
        (1, 0.0, 0.5),  # base 1 s, lower half bound
        (1, 0.999, 0.9995),
        (2, 0.0, 1.0),
        (3, 0.5, 3.0),  # ceiling 4 s, three quarters of it
        (4, 0.0, 4.0),
        (6, 0.0, 5.0),  # ceiling capped at max_delay 10 s
        (30, 0.999, 9.995),  # never above max_delay
    ],
)
def test_backoff_doubles_with_equal_jitter_and_a_cap(attempt: int, u: float, expected: float) -> None:
    assert backoff_delay(attempt, 1.0, 10.0, u) == pytest.approx(expected)


def test_transient_failures_are_retried_with_growing_waits() -> None:
    t = FakeTime()
    fn, calls = failing(TransientError("timeout"), TransientError("502"), TransientError("503"))
    assert retry(fn, attempts=5, base_delay=2.0, max_delay=60.0, sleep=t.sleep, clock=t.clock,
                 rng=FixedRandom(0.0)) == "done"
    assert calls[0] == 4
    assert t.waits == [1.0, 2.0, 4.0]


def test_jitter_spreads_the_waits_within_the_upper_half() -> None:
    t = FakeTime()
    fn, _ = failing(*[TransientError("503") for _ in range(6)])
    retry(fn, attempts=7, base_delay=1.0, max_delay=8.0, sleep=t.sleep, clock=t.clock,
          rng=random.Random(42))
    ceilings = [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert all(c / 2 <= w < c for w, c in zip(t.waits, ceilings, strict=True))
    assert len(set(t.waits)) == len(t.waits)


def test_retry_after_is_honoured_even_beyond_max_delay() -> None:
    t = FakeTime()
    fn, _ = failing(TransientError("rate limited", retry_after=30.0),
                    TransientError("rate limited", retry_after=0.1))
    retry(fn, attempts=3, base_delay=1.0, max_delay=5.0, sleep=t.sleep, clock=t.clock,
          rng=FixedRandom(0.0))
    assert t.waits == [30.0, 1.0]  # never sooner than asked; the back-off when it asks for less


def test_terminal_errors_and_bugs_are_not_retried() -> None:
    for exc in (UnauthorizedError("bad token"), InputError("no such repository"), ValueError("bug")):
        t = FakeTime()
        fn, calls = failing(exc)
        with pytest.raises(type(exc)) as info:
            retry(fn, attempts=5, sleep=t.sleep, clock=t.clock)
        assert info.value is exc and calls[0] == 1 and t.waits == []
    assert issubclass(UnauthorizedError, TerminalError) and issubclass(InputError, TerminalError)


def test_giving_up_says_what_how_often_and_why() -> None:
    t = FakeTime()
    last = TransientError("GitHub answered 503", hint="see githubstatus.com")
    fn, calls = failing(TransientError("GitHub answered 502"), TransientError("timeout"), last)
    with pytest.raises(RetriesExhaustedError) as info:
        retry(fn, attempts=3, base_delay=1.0, sleep=t.sleep, clock=t.clock, rng=FixedRandom(0.0),
              what="GET /repos/acme/payments/pulls")
    err = info.value
    assert calls[0] == 3 and t.waits == [0.5, 1.0]
    assert str(err) == ("GET /repos/acme/payments/pulls still failing after 3 attempts over 1.5 s: "
                        "GitHub answered 503")
    assert err.__cause__ is last and err.last is last and err.attempts == 3
    assert err.hint == "see githubstatus.com"
    assert isinstance(err, TransientError) and isinstance(err, ShipwiseError)  # a later sync may work


def test_a_single_attempt_does_not_wait() -> None:
    t = FakeTime()
    fn, _ = failing(TransientError("503"))
    with pytest.raises(RetriesExhaustedError, match=r"after 1 attempt over 0\.0 s: 503") as info:
        retry(fn, attempts=1, sleep=t.sleep, clock=t.clock)
    assert t.waits == [] and info.value.hint and "resumes" in info.value.hint


def test_a_wait_past_max_elapsed_is_not_started() -> None:
    t = FakeTime()
    fn, calls = failing(TransientError("503"), TransientError("rate limited", retry_after=3600))
    with pytest.raises(RetriesExhaustedError, match="past the 60 s allowed") as info:
        retry(fn, attempts=5, base_delay=1.0, max_elapsed=60, sleep=t.sleep, clock=t.clock,
              rng=FixedRandom(0.0))
    assert calls[0] == 2 and t.waits == [0.5]
    assert info.value.retry_after == 3600  # a caller can say when to come back


def test_retry_after_is_never_negative_and_arguments_are_checked() -> None:
    assert TransientError("x", retry_after=-3).retry_after == 0.0
    assert TransientError("x").retry_after is None
    fn, _ = failing()
    with pytest.raises(ValueError):
        retry(fn, attempts=0)
    with pytest.raises(ValueError):
        retry(fn, base_delay=-1)
