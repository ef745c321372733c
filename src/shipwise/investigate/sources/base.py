"""One interface for every evidence source, and gathering from many of them at once.

A source checks its settings first (cheap, no I/O beyond ``stat``) and only then queries. All
sources that pass their check are queried in parallel (threads: they wait on files and HTTP); one
that fails is recorded with its error and the investigation goes on with the others.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from shipwise.investigate.evidence import Evidence, Scope, SourceStatus
from shipwise.investigate.settings import StoreSourceSettings
from shipwise.store.duckdb_store import StoreSession


class EvidenceSource(ABC):
    #: short name shown in the record, e.g. "prometheus", "logs"
    name: str = "source"

    @abstractmethod
    def check(self) -> list[str]:
        """Problems with the settings (empty when the source can be queried). No network."""

    @abstractmethod
    def fetch(self, scope: Scope) -> Evidence:
        """The evidence this source holds for the scope."""

    def describe(self) -> str:
        return self.name


class StoreReader(EvidenceSource, ABC):
    """A source that reads the store the process holds, lent for each query (``lend(store)``
    for a store the caller has open; the server's shared session, so an investigation never
    holds its lock), as ``investigate.sources.store`` says."""

    def __init__(self, store: StoreSession, settings: StoreSourceSettings) -> None:
        self.store = store
        self.settings = settings


def no_store() -> Any:
    """The store session of a worker process: there is none (it reads a slice)."""
    raise RuntimeError("no store in this process (a worker reads a slice)")


class FromSlice(StoreReader, ABC):
    """A :class:`StoreReader` over what the process holding the store read for a worker
    process (``read`` returns it): the same evidence, no store connection. Put it first among
    the bases: ``class SlicedX(FromSlice, X)``."""

    def __init__(self, data: Any, settings: StoreSourceSettings) -> None:
        super().__init__(no_store, settings)
        self.data = data

    def read(self, scope: Scope) -> Any:
        return self.data


def gather(sources: list[EvidenceSource], scope: Scope, *, workers: int = 8) -> Evidence:
    """Check every source, query the healthy ones in parallel, merge what they returned."""
    out = Evidence()
    ready: list[EvidenceSource] = []
    for src in sources:
        problems = src.check()
        if problems:
            out.sources.append(SourceStatus(src.name, False, 0.0, src.describe(), "; ".join(problems)))
        else:
            ready.append(src)

    def run(src: EvidenceSource) -> Evidence:
        t0 = time.perf_counter()
        try:
            ev = src.fetch(scope)
        except Exception as exc:  # a failing source must not sink the investigation
            ev = Evidence()
            ev.sources.append(SourceStatus(src.name, False, time.perf_counter() - t0,
                                           src.describe(), f"{type(exc).__name__}: {exc}"))
            return ev
        ev.sources.append(SourceStatus(src.name, True, time.perf_counter() - t0, src.describe(),
                                       size=ev.size(), queries=ev.queries()))
        return ev

    if ready:
        with ThreadPoolExecutor(max_workers=min(workers, len(ready))) as pool:
            for ev in pool.map(run, ready):
                out.merge(ev)
    out.finish()
    return out
