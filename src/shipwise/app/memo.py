"""Results that only change when the data does: computed once per version of the facts.

Every import that changes data rebuilds the facts and so changes :func:`facts_version`; the key
also holds the store file, so two stores never share an entry. Authorisation and the access log
happen in :mod:`shipwise.app.guard` on every call, before a memoised result is returned."""

from __future__ import annotations

import copy
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

from shipwise.metrics.facts import ensure_fresh, facts_version
from shipwise.store.duckdb_store import Store

T = TypeVar("T")

_MEMO: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
_SIZE = 256
_LOCK = threading.Lock()


def memo(store: Store, view: str, args: tuple[Any, ...], compute: Callable[[], T]) -> T:
    """``compute()``, or a copy of its result for the same store, facts version and arguments."""
    ensure_fresh(store)
    key = (str(store.path), facts_version(store), view, args)
    with _LOCK:
        if key in _MEMO:
            _MEMO.move_to_end(key)
            cached: T = copy.deepcopy(_MEMO[key])
            return cached
    result = compute()
    with _LOCK:
        _MEMO[key] = copy.deepcopy(result)
        while len(_MEMO) > _SIZE:
            _MEMO.popitem(last=False)
    return result
