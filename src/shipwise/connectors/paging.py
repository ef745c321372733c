"""Offset pagination under a cap, and time windows split until each fits it.

PagerDuty (``offset + limit`` ≤ 10,000) and Opsgenie (≤ 20,000) both page lists with ``offset``
and ``limit`` and refuse to go past a fixed offset. A query that matches more than that is read
as two halves of its time window, each halved again while it still holds too many items:
:func:`split_window` does the splitting given a way to count a window and a way to read one;
:func:`offset_pages` reads one window page by page and stops before the cap.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, TypeVar

T = TypeVar("T")

#: One page: the objects read and whether the service says more follow.
Page = tuple[list[dict[str, Any]], bool]


def objects(value: Any) -> list[dict[str, Any]]:
    """The JSON objects of a list value (anything else: none)."""
    return [x for x in value if isinstance(x, dict)] if isinstance(value, list) else []


def offset_pages(fetch: Callable[[int, int], Page], *, limit: int, max_offset: int
                 ) -> Iterator[list[dict[str, Any]]]:
    """Every page of a list, ``fetch(offset, limit)`` at a time, while ``offset + limit`` stays
    within ``max_offset`` (a caller that may meet the cap splits its query first:
    :func:`split_window`)."""
    offset = 0
    while True:
        items, more = fetch(offset, limit)
        yield items
        if not more:
            return
        offset += limit
        if offset + limit > max_offset:
            return


def split_window(since: datetime, until: datetime, *, count: Callable[[datetime, datetime], int],
                 read: Callable[[datetime, datetime], Iterator[T]], fits: int,
                 min_seconds: float = 1.0) -> Iterator[T]:
    """``read(since, until)``, or, when ``count(since, until)`` is over ``fits``, the two halves
    of the window read the same way, oldest first. A window is not split below ``min_seconds``
    (one instant holding more than the cap is read as far as the cap allows)."""
    if (until - since).total_seconds() > min_seconds and count(since, until) > fits:
        middle = since + (until - since) / 2
        yield from split_window(since, middle, count=count, read=read, fits=fits,
                                min_seconds=min_seconds)
        yield from split_window(middle, until, count=count, read=read, fits=fits,
                                min_seconds=min_seconds)
        return
    yield from read(since, until)
