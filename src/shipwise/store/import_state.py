"""Whether the last import finished: a marker written when an import starts, cleared when it ends.

An import commits one record type at a time, so a process killed half-way leaves whole types and
no more: the store is consistent but holds part of the input (deployments without their
incidents, say). :func:`begin` commits a marker (``meta.import_in_progress``) before the first
record is written and :func:`finish` removes it in the transaction that records the finished run.
A marker left by a process that is gone means the last import did not finish, and every read of
figures (:func:`check_finished`, called where derived facts are made ready) says so and what to
run, instead of quietly answering from partial data. Running the same import again completes it
(imports are idempotent) and clears the marker.
"""

from __future__ import annotations

import json
import shlex
import threading
import uuid
from datetime import UTC, datetime

from shipwise.errors import StoreError
from shipwise.store.duckdb_store import Store

KEY = "import_in_progress"

#: runs started by this process and not finished yet: their own marker is no interruption
_RUNNING: set[str] = set()
_LOCK = threading.Lock()


class ImportUnfinishedError(StoreError):
    """The last import stopped before it finished; figures would come from part of its input."""


def begin(store: Store, kind: str, sources: list[str]) -> str:
    """Commit the marker of a starting import (replacing an interrupted one's); its run id."""
    run = uuid.uuid4().hex
    with _LOCK:
        _RUNNING.add(run)
    marker = {"run": run, "kind": kind, "sources": sources,
              "started_at": datetime.now(UTC).isoformat(timespec="seconds")}
    with store.transaction():
        store.set_meta(KEY, json.dumps(marker))
    return run


def finish(store: Store, run: str) -> None:
    """Remove the marker (call inside the transaction that records the finished run)."""
    store.con.execute("DELETE FROM meta WHERE key = ?", [KEY])
    forget(run)


def forget(run: str) -> None:
    """This process no longer runs ``run`` (finished, or failed and left marked)."""
    with _LOCK:
        _RUNNING.discard(run)


def unfinished(store: Store) -> dict[str, object] | None:
    """The marker of an import that stopped before finishing (not one running in this process)."""
    raw = store.get_meta(KEY)
    if raw is None:
        return None
    try:
        marker = json.loads(raw)
    except ValueError:
        marker = {}
    if not isinstance(marker, dict):
        marker = {}
    with _LOCK:
        if marker.get("run") in _RUNNING:
            return None
    return marker


def rerun_hint(marker: dict[str, object]) -> str:
    kind, sources = marker.get("kind"), marker.get("sources")
    names = [str(s) for s in sources] if isinstance(sources, list) else []
    if kind == "import" and names:
        return ("run the same import again to finish it (records already in are not counted "
                "twice): shipwise import " + " ".join(shlex.quote(n) for n in names))
    if kind == "demo":
        return "run `shipwise demo` again to finish loading the demo organisation"
    if kind == "git":
        return ("run the same `shipwise ingest git` again to finish it (" + ", ".join(names) + ")")
    return f"run the same {kind or 'import'} again to finish it ({', '.join(names) or 'same input'})"


def check_finished(store: Store) -> None:
    """Refuse to compute figures from a store whose last import did not finish."""
    marker = unfinished(store)
    if marker is None:
        return
    started = marker.get("started_at") or "an unknown time"
    raise ImportUnfinishedError(
        f"the last import (started {started}) did not finish: the store holds only part of it, "
        "so figures would be wrong", hint=rerun_hint(marker))

