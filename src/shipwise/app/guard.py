"""The one guard every door of the application layer goes through.

:func:`guard` wraps a function whose first argument is a :class:`~shipwise.app.caller.Caller`:
before it runs, the caller's principal is checked against :mod:`shipwise.governance.access` and
the attempt is written to ``access_log`` — one row per user action, allowed or refused; after it
runs, the charter's audience is applied to every figure in the result (a metric whose charter
entry does not name the reader's role is withheld, with the reason) and the charter entry of every
metric id in the result is attached. A door called from inside another door checks again but
writes a row only for a refusal; a page that reads several doors is one action
(:func:`one_action`), one row.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ParamSpec, TypeVar

from pydantic import BaseModel

from shipwise.app.caller import Caller
from shipwise.app.results import Charted, MetricRow
from shipwise.errors import ForbiddenError
from shipwise.governance import charter as charter_rules
from shipwise.governance.charter import Charter
from shipwise.metrics.registry import REGISTRY
from shipwise.store import access_log

P = ParamSpec("P")
R = TypeVar("R")

#: while a door (or a page of several doors, :func:`one_action`) runs: the accesses its inner doors
#: were allowed, which it logs as one row (or not at all: a door inside a door)
_SCOPE: ContextVar[list[tuple[Access, bool]] | None] = ContextVar("shipwise_scope", default=None)


@dataclass(frozen=True)
class Access:
    """One thing a door does: a policy action, on what (for the log), for which team."""

    action: str
    subject: str | None = None
    team: str | None = None


def _log(caller: Caller, action: str, subject: str | None, *, allowed: bool,
         people_derived: bool) -> None:
    p = caller.principal
    access_log.append(caller.store, access_log.Entry(
        read_at=datetime.now(UTC), token_id=p.token_id, role=p.role, interface=caller.interface,
        action=action, subject=subject, allowed=allowed, people_derived=people_derived,
        reader=p.name or None))


def authorize(caller: Caller, accesses: Iterable[Access], *,
              people_derived: bool = False, log_allowed: bool = True) -> None:
    """Check every access. A refusal is logged (the first refused access) and raised as
    :class:`ForbiddenError` with the policy's reason; an allowed read is one row — or, inside a
    door or a page, part of that action's row; none with ``log_allowed=False`` (a check before
    a door that logs the action itself)."""
    accesses = list(accesses)
    principal = caller.principal
    refused = next((a for a in accesses if not principal.can(a.action, a.team)), None)
    if refused is not None:
        _log(caller, refused.action, refused.subject, allowed=False,
             people_derived=people_derived)
        principal.require(refused.action, refused.team)  # raises with the reason
        raise ForbiddenError(f"not allowed: {refused.action}")  # pragma: no cover
    if not log_allowed:
        return
    scope = _SCOPE.get()
    if scope is not None:
        scope.extend((a, people_derived) for a in accesses)
        return
    subjects = list(dict.fromkeys(a.subject for a in accesses if a.subject))
    _log(caller, accesses[0].action, ",".join(subjects) or None, allowed=True,
         people_derived=people_derived)


@contextmanager
def one_action(caller: Caller, subject: str) -> Iterator[None]:
    """Several doors behind one user action (a web page): each door checks as always and a
    refusal is logged at once; the action itself is one row — the first door's action, this
    subject, people-derived when any door read people-derived figures."""
    outer = _SCOPE.get()
    scope: list[tuple[Access, bool]] = []
    token = _SCOPE.set(scope)
    try:
        yield
    finally:
        _SCOPE.reset(token)
    if outer is not None:
        outer.extend(scope)
    elif scope:
        _log(caller, scope[0][0].action, subject, allowed=True,
             people_derived=any(pd for _, pd in scope))


def guard(action: str, subject: str | None = None, *, team: str | None = None,
          people_derived: bool = False,
          accesses: Callable[[Caller, Mapping[str, Any]], Iterable[Access]] | None = None
          ) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Guard a door: ``action`` from the policy; ``subject`` a template over the door's arguments
    for the log (``"team:{team}:dora"``); ``team`` the argument naming the team the action is on;
    or ``accesses`` for a door that touches several teams (each is checked, one row is logged).
    ``people_derived`` marks reads of figures computed from people's activity."""

    def wrap(fn: Callable[P, R]) -> Callable[P, R]:
        signature = inspect.signature(fn)

        @functools.wraps(fn)
        def door(*args: P.args, **kwargs: P.kwargs) -> R:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            arguments = bound.arguments
            caller = arguments.pop(next(iter(arguments)))
            assert isinstance(caller, Caller), f"{fn.__qualname__}: a Caller comes first"
            if accesses is not None:
                checks = list(accesses(caller, arguments))
            else:
                checks = [Access(action, subject.format(**arguments) if subject else action,
                                 arguments[team] if team else None)]
            authorize(caller, checks, people_derived=people_derived)
            inner = _SCOPE.set(_SCOPE.get() if _SCOPE.get() is not None else [])
            try:
                result = fn(*args, **kwargs)
            finally:
                _SCOPE.reset(inner)
            return present(result, caller)

        door.__guarded__ = action  # type: ignore[attr-defined]
        return door

    return wrap


def present(result: R, caller: Caller) -> R:
    """Apply the charter's audience to every figure in ``result`` and attach the charter entries
    of the metric ids it holds (for results that carry a ``charter`` map)."""
    charter = charter_rules.load_charter()  # read per call: a changed charter applies at once
    ids: set[str] = set()
    for row in _rows(result, ids):
        for mid in list(row.metrics):
            entry = charter.entries.get(mid)
            if entry is not None and caller.principal.role not in entry.audience:
                row.metrics[mid] = None
                row.withheld = {**row.withheld, mid: (  # assigned: a set field, so it is shown
                    f"not for the {caller.principal.role} role (charter v{charter.version} "
                    f"audience: {', '.join(entry.audience)})")}
    if isinstance(result, Charted):
        result.charter = charter_map(ids, charter)
    return result


def charter_map(ids: Iterable[str], charter: Charter | None = None) -> dict[str, dict[str, Any]]:
    """The charter entry (:meth:`Charter.summary`) of each metric id: what every interface shows
    beside a number."""
    charter = charter or charter_rules.load_charter()
    return {i: charter.summary(i) for i in sorted(set(ids)) if i in charter.entries}


def _rows(x: Any, ids: set[str]) -> Iterator[MetricRow]:
    """Every :class:`MetricRow` in ``x``, collecting into ``ids`` every metric id named as a key
    or a value anywhere in it."""
    stack = [x]
    while stack:
        item = stack.pop()
        if isinstance(item, BaseModel):
            if isinstance(item, MetricRow):
                yield item
            stack.extend(item.__dict__.values())
            stack.extend((item.__pydantic_extra__ or {}).values())
        elif isinstance(item, dict):
            ids.update(k for k in item if isinstance(k, str) and k in REGISTRY)
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
        elif isinstance(item, str) and item in REGISTRY:
            ids.add(item)


def metric_ids(data: Any) -> set[str]:
    """Every metric id named as a key or a value anywhere in ``data`` (dicts, lists, models)."""
    ids: set[str] = set()
    for _ in _rows(data, ids):
        pass
    return ids
