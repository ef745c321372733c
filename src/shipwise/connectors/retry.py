"""Retrying transient failures with exponential back-off and jitter.

Only :class:`~shipwise.errors.TransientError` is retried. A
:class:`~shipwise.errors.TerminalError` (and anything that is not a ``ShipwiseError``: a bug)
propagates at once. A connector's ``client.py`` turns what its HTTP library raises into one of
the two kinds (timeouts, 5xx and 429 into ``TransientError`` with ``retry_after`` from the
``Retry-After`` header or the rate limit's reset time; 401/403/404 of configured things into a
``TerminalError``) and calls :func:`retry` around each request, not around a whole sync: a page
that succeeded is never fetched again because a later one failed.

Waiting is injected (``sleep``, ``clock``, ``rng``) so tests never wait.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

from shipwise.errors import RetriesExhaustedError, TransientError

log = logging.getLogger(__name__)

T = TypeVar("T")


def backoff_delay(attempt: int, base_delay: float, max_delay: float, u: float) -> float:
    """The wait after failed attempt number ``attempt`` (1, 2, …) with no ``retry_after``.

    Exponential (``base_delay``, twice that, four times …) capped at ``max_delay``, then
    "equal jitter": a uniformly random point in the upper half (``u`` in [0, 1)), so that many
    clients failing together do not come back together, yet none comes back almost at once.
    """
    ceiling = min(max_delay, base_delay * 2.0 ** (attempt - 1))
    return ceiling * (0.5 + 0.5 * u)


def retry(
    fn: Callable[[], T],
    *,
    attempts: int = 5,
    base_delay: float = 1.0,
    max_delay: float = 60.0,
    max_elapsed: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    rng: random.Random | None = None,
    what: str = "the request",
) -> T:
    """Call ``fn`` until it returns, retrying it after a :class:`TransientError`.

    At most ``attempts`` calls. Between them, :func:`backoff_delay`; when the error carries
    ``retry_after`` the wait is at least that (the other side said when to come back, so never
    sooner, even beyond ``max_delay``). With ``max_elapsed`` (seconds, measured on ``clock``), a
    wait that would end past it is not started: the last error is reported instead.

    A :class:`~shipwise.errors.TerminalError` or any other exception propagates at once. When
    the attempts (or ``max_elapsed``) run out, :class:`~shipwise.errors.RetriesExhaustedError`
    (itself transient: a later sync may succeed) names ``what``, how many attempts over how long,
    and the last failure, which is its ``__cause__``.
    """
    if attempts < 1:
        raise ValueError(f"attempts must be at least 1, not {attempts}")
    if base_delay < 0 or max_delay < 0:
        raise ValueError("delays cannot be negative")
    rand = rng.random if rng is not None else random.random
    started = clock()
    attempt = 0
    while True:
        attempt += 1
        try:
            return fn()
        except TransientError as exc:
            elapsed = clock() - started
            if attempt >= attempts:
                raise _exhausted(what, exc, attempt, elapsed, "") from exc
            delay = backoff_delay(attempt, base_delay, max_delay, rand())
            if exc.retry_after is not None:
                delay = max(delay, exc.retry_after)
            if max_elapsed is not None and elapsed + delay > max_elapsed:
                why = f"; the next try would be after {elapsed + delay:.1f} s, past the {max_elapsed:g} s allowed"
                raise _exhausted(what, exc, attempt, elapsed, why) from exc
            log.info("%s failed (attempt %d of %d): %s; retrying in %.1f s",
                     what, attempt, attempts, exc, delay)
            sleep(delay)


def _exhausted(
    what: str, last: TransientError, attempt: int, elapsed: float, why: str
) -> RetriesExhaustedError:
    tries = "1 attempt" if attempt == 1 else f"{attempt} attempts"
    return RetriesExhaustedError(
        f"{what} still failing after {tries} over {elapsed:.1f} s{why}: {last}",
        last=last,
        attempts=attempt,
        hint=last.hint or "the service may be down or rate-limiting: run the same sync again "
        "later; it resumes where it stopped",
    )
