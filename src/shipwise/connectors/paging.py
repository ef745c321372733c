"""Offset paging, shared by the connectors whose lists are read by ``offset`` and ``limit``
(PagerDuty's ``offset``/``more``, Jira Data Center's ``startAt``/``total``, ServiceNow's
``sysparm_offset`` with its ``Link``/``X-Total-Count`` headers).

:func:`offset_pages` asks ``fetch(offset)`` for one page at a time and moves the offset by the
items it got. With ``overlap``, each page starts that many items before the previous one ended:
when an item read earlier moves to the end of the order while we page (it was updated), the items
after it shift one place towards the start, and without the overlap one of them would fall
between two pages. Items read twice are the caller's to skip (by key and updated instant).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

__all__ = ["OffsetPage", "offset_pages"]


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
