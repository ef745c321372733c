"""The store's owner acting on a store file directly — scripts, benchmarks and tests that hold a
:class:`~shipwise.config.Settings` rather than a caller. Each function opens the store, acts as
the local administrator through the same guarded door as the CLI (so it is authorised and logged
like every action), and closes the store."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from shipwise.app import delivery, demo, git, incidents, ingest
from shipwise.app import investigate as engine
from shipwise.app.caller import local_caller
from shipwise.app.context import init_store
from shipwise.app.cost import CostRequest
from shipwise.app.metrics import DoraRequest
from shipwise.app.results import dump
from shipwise.config import Settings
from shipwise.ingest.loader import ImportReport


def import_paths(settings: Settings, paths: Iterable[str | Path],
                 progress: Callable[[str], None] | None = None) -> ImportReport:
    """:func:`shipwise.app.ingest.import_paths` as the store's owner."""
    with local_caller(settings) as c:
        return ingest.import_paths(c, paths, progress)


def quarantine_list(settings: Settings, **kw: Any) -> dict[str, Any]:
    """:func:`shipwise.app.ingest.quarantine_list` as the store's owner."""
    with local_caller(settings) as c:
        return ingest.quarantine_list(c, **kw)


def ingest_git(settings: Settings, path: str | Path, repo: str | None = None,
               progress: Callable[[int], None] | None = None) -> git.GitIngestResult:
    """:func:`shipwise.app.git.ingest_git` as the store's owner."""
    with local_caller(settings) as c:
        return git.ingest_git(c, path, repo, progress)


def run_demo(settings: Settings, *, seed: int = 7, scale: float = 1.0, out: Path | None = None,
             fmt: str = "jsonl", load: bool = True,
             progress: Callable[[str], None] | None = None) -> demo.DemoResult:
    """The demo into the settings' store (created if missing), as its owner; with
    ``load=False`` only written as files to ``out``."""
    if not load:
        assert out is not None, "the demo goes somewhere: a store, or files"
        return demo.write_demo(out, seed=seed, scale=scale, fmt=fmt, progress=progress)
    init_store(settings)
    with local_caller(settings) as c:
        return demo.run_demo(c, seed=seed, scale=scale, out=out, fmt=fmt, progress=progress)


def investigate_case(settings: Settings, path: str | Path) -> dict[str, Any]:
    """A case directory investigated from its own files, the record stored in the settings'
    store as its owner (:func:`shipwise.app.incidents.store_investigation`)."""
    record = engine.investigate_case(path, settings)
    with local_caller(settings) as c:
        incidents.store_investigation(c, record)
    return record


def dora(settings: Settings, req: DoraRequest) -> dict[str, Any]:
    """:func:`shipwise.app.delivery.dora` as the store's owner, as plain data."""
    with local_caller(settings) as c:
        return dict(dump(delivery.dora(c, req)))


def cost(settings: Settings, req: CostRequest) -> dict[str, Any]:
    """:func:`shipwise.app.delivery.cost` as the store's owner (its settings' tension), as
    plain data."""
    with local_caller(settings) as c:
        return dict(dump(delivery.cost(c, req, settings.cost)))


def initiatives(settings: Settings, **kw: Any) -> dict[str, Any]:
    """:func:`shipwise.app.delivery.initiatives` as the store's owner, as plain data."""
    with local_caller(settings) as c:
        return dict(dump(delivery.initiatives(c, **kw)))
