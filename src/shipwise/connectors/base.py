"""The connector protocol: what every connector (git, GitHub, GitLab, incidents, tickets, cost)
offers, and the values it exchanges with the sync loop in :mod:`.sync`.

A connector reads one outside system. It names the *scopes* it syncs (one repository, one
PagerDuty service, one cost account), checks its settings cheaply before any network call, and
syncs one scope from a :class:`Cursor` as a stream of :class:`Batch` es. Each batch carries the
canonical records read and the cursor that is valid **once those records are committed**: the
loop stores the cursor only after the batch is in (:func:`shipwise.connectors.sync.sync_scope`),
so a sync killed half-way resumes after the last committed batch, and a batch read twice is
imported twice without effect (imports are idempotent upserts).

A connector never touches the store: it reads, the loop writes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeAlias, runtime_checkable

import pyarrow as pa

from shipwise.domain.services import ServiceMap, ServiceTarget

__all__ = ["JSON", "Batch", "Connector", "Cursor", "Scope", "ServiceMap", "ServiceTarget"]

#: A JSON value (what :func:`json.dumps` writes and :func:`json.loads` reads back unchanged).
JSON: TypeAlias = bool | int | float | str | list["JSON"] | dict[str, "JSON"] | None


@dataclass(frozen=True)
class Cursor:
    """Where the last committed sync of one scope stopped, opaque to everyone but its connector.

    ``state`` is a JSON object chosen by the connector (the git connector keeps the ref tips it
    walked; an HTTP connector would keep an ``updated_since`` instant or a page token). It is
    normalised through JSON on construction, so a cursor is exactly what the store gives back
    (tuples become lists) and a value JSON cannot hold fails here, not at commit time. The empty
    cursor (:meth:`is_start`) means "from the beginning".
    """

    state: Mapping[str, JSON] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.state, Mapping):
            raise TypeError(f"a cursor's state is a JSON object, not {type(self.state).__name__}")
        object.__setattr__(self, "state", json.loads(self.to_json()))

    @property
    def is_start(self) -> bool:
        """True for the empty cursor: nothing has been committed for this scope yet."""
        return not self.state

    def to_json(self) -> str:
        return json.dumps(self.state, sort_keys=True, separators=(",", ":"), allow_nan=False)

    @classmethod
    def from_json(cls, text: str | None) -> Cursor:
        """The cursor stored as ``text`` (``None`` or empty: the start)."""
        if not text:
            return cls()
        value = json.loads(text)
        if not isinstance(value, dict):
            raise ValueError(f"a stored cursor is a JSON object, not {text[:80]!r}")
        return cls(value)


@dataclass(frozen=True)
class Scope:
    """One unit a connector syncs, with its own cursor.

    ``key`` is stable across runs and names the cursor in ``sync_state`` (``payments`` for a
    local repository, ``acme/payments`` for a GitHub one); ``label`` says where it reads from,
    for people (a path, a URL).
    """

    key: str
    label: str = ""


@dataclass(frozen=True)
class Batch:
    """Canonical records read in one step of a sync, and the cursor to keep once they are in.

    ``records`` maps a canonical record type (``commit``, ``pull_request``, ``incident`` …) to an
    Arrow table in that type's columns (see ``docs/canonical-format.md``); the importer
    validates, pseudonymises and upserts them, quarantining bad rows.
    """

    records: Mapping[str, pa.Table]
    cursor: Cursor

    @property
    def rows(self) -> int:
        return sum(t.num_rows for t in self.records.values())


@runtime_checkable
class Connector(Protocol):
    """What every connector offers. Errors are :class:`~shipwise.errors.TransientError` (try
    again: timeouts, 5xx, rate limits) or :class:`~shipwise.errors.TerminalError` (retrying cannot
    help: bad credentials, a configured repository that does not exist, invalid settings)."""

    @property
    def kind(self) -> str:
        """Which implementation this is (``git``, ``github``): the kind of its ingest runs."""
        ...

    @property
    def name(self) -> str:
        """This configured instance (``git``, ``github``, ``github-enterprise``): with a scope's
        key, it names a cursor in ``sync_state``. Usually the kind."""
        ...

    def scopes(self) -> Sequence[Scope]:
        """The scopes this connector is configured to sync."""
        ...

    def check(self) -> list[str]:
        """Problems with the settings, as sentences saying what to do; empty when all is well.

        Cheap checks first (settings present and well-formed, paths exist) and at most one cheap
        call to the outside system (who am I, does the repository exist). Never raises for a
        problem it can describe: ``shipwise doctor`` lists them all.
        """
        ...

    def sync(self, scope: Scope, cursor: Cursor) -> Iterator[Batch]:
        """Read ``scope`` from ``cursor`` on, one batch at a time, oldest first.

        Each batch's cursor must be valid once it and every batch before it are committed, and
        reading the same changes again must yield the same records (upserts make it harmless).
        The caller may stop iterating at any point (a crash, a kill): the next sync starts from
        the last committed cursor.
        """
        ...

