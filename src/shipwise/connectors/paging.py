"""Paging shared by the connectors: offset paging under a cap, time windows split until each fits
it, and reading incrementally by an "updated" instant.

Offset-paged lists (PagerDuty's ``offset``/``more`` with ``offset + limit`` ≤ 10,000, Opsgenie's
``offset``/``paging.next`` with ≤ 20,000, Jira Data Center's ``startAt``/``total``, ServiceNow's
``sysparm_offset`` with its ``Link``/``X-Total-Count`` headers) are read by :func:`offset_pages`,
which asks ``fetch(offset)`` for one page at a time and moves the offset by the items it got. With
``overlap``, each page starts that many items before the previous one ended: when an item read
earlier moves to the end of the order while we page (it was updated), the items after it shift one
place towards the start, and without the overlap one of them would fall between two pages. Items
read twice are the caller's to skip (by key and updated instant): :class:`Watermark` does that for
the connectors that read by an "updated" instant. A query that matches more than a service's cap
is read as two halves of its time window, each halved again while it still holds too many items
(:func:`split_window`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

T = TypeVar("T")

__all__ = ["OffsetPage", "Watermark", "objects", "offset_pages", "split_window"]


def objects(value: Any) -> list[dict[str, Any]]:
    """The JSON objects of a list value (anything else: none)."""
    return [x for x in value if isinstance(x, dict)] if isinstance(value, list) else []


@dataclass(frozen=True)
class OffsetPage(Generic[T]):
    """One page of an offset-paged list: its items and whether the service has more."""

    items: list[T]
    more: bool


def offset_pages(fetch: Callable[[int], OffsetPage[T]], *, overlap: int = 0,
                 max_offset: int | None = None, limit: int = 0) -> Iterator[list[T]]:
    """The items of every page, a list per page, from offset 0 until a page says no more (or
    is empty). ``max_offset``: the service refuses ``offset + limit`` beyond it (PagerDuty's
    10,000), so paging stops there. ``overlap`` is at most half a page, so paging always moves."""
    offset = 0
    while True:
        page = fetch(offset)
        yield page.items
        if not page.more or not page.items:
            return
        offset += len(page.items) - min(overlap, len(page.items) // 2)
        if max_offset is not None and offset + limit > max_offset:
            return


class Watermark:
    """Reading incrementally by an "updated" instant with an overlap (Jira's ``updated``,
    ServiceNow's ``sys_updated_on``).

    Each sync asks for everything updated at or after ``updated - overlap``, so records
    committed late or within the query's resolution are not missed; ``seen`` (key → the
    updated value read) remembers the records read within the overlap, so reading them again
    imports nothing, and :meth:`fresh` also skips a record read twice within one run (a page
    boundary read again). ``parse`` turns an updated value into an aware instant.
    """

    def __init__(self, updated: datetime | None, seen: Mapping[str, Any], *,
                 overlap: timedelta, parse: Callable[[Any], datetime | None],
                 margin: timedelta = timedelta(0)) -> None:
        self.updated = updated
        self.seen: dict[str, Any] = dict(seen)
        self.overlap = overlap
        self.margin = margin
        self._parse = parse
        self._read: dict[str, Any] = {}

    def fresh(self, key: str, updated: Any) -> bool:
        """True the first time ``key`` is read at ``updated`` (noting it, and moving the
        watermark); False for a record read before unchanged."""
        if self.seen.get(key) == updated or self._read.get(key) == updated:
            return False
        self.seen[key] = self._read[key] = updated
        at = self._parse(updated)
        if at is not None and (self.updated is None or at > self.updated):
            self.updated = at
        return True

    def kept(self) -> dict[str, Any]:
        """``seen`` without the records older than the overlap (and ``margin``) before the
        watermark: the part worth keeping in the cursor."""
        if self.updated is not None:
            bound = self.updated - self.overlap - self.margin
            self.seen = {k: v for k, v in self.seen.items()
                         if (self._parse(v) or self.updated) >= bound}
        return dict(self.seen)


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
