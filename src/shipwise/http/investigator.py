"""The investigation worker process: ``python -m shipwise.http.investigator``.

Started by the server (:class:`shipwise.http.worker.InvestigationPool`), never by hand. It never
opens the store (the server holds it; DuckDB lets no other process open it meanwhile) and writes
nothing anywhere: it reads jobs from stdin and answers on stdout, one JSON document a line.

- first line: ``{"investigate": <InvestigateSettings>}``;
- then one job a line: ``{"id": alarm id, "alarm": stored alarm, "slice": StoreSlice | null}``,
  answered ``{"id", "record": {...}}`` or ``{"id", "error": "Type: message (hint)"}``.

The engine runs against the live sources of the settings (Prometheus, files) and the store slice
the server read for it, at a lower CPU priority than the server (``nice`` 10). It stops at the
end of stdin, and within half a second of its parent going away (a server killed with -9 leaves
no orphan behind).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
import time
from typing import IO, Any

from shipwise.app.investigate import investigate_slice
from shipwise.errors import ShipwiseError
from shipwise.investigate.alarms import alarm_from_dict
from shipwise.investigate.settings import InvestigateSettings
from shipwise.investigate.sources import StoreSlice

#: how often the parent's presence is checked (seconds)
PARENT_POLL = 0.5
#: investigations are background work: when CPU is short, the server's requests go first
NICE = 10


def answer(opts: InvestigateSettings, job: dict[str, Any]) -> dict[str, Any]:
    """One job's answer (an engine failure is an answer too, never a crash)."""
    try:
        data = None if job.get("slice") is None else StoreSlice.from_json(job["slice"])
        record = investigate_slice(opts, alarm_from_dict(job["alarm"]), job["id"], data)
    except Exception as exc:
        message = f"{type(exc).__name__}: {exc}"
        if isinstance(exc, ShipwiseError) and exc.hint:
            message += f" ({exc.hint})"
        return {"id": job["id"], "error": message}
    return {"id": job["id"], "record": record}


def _watch_parent(parent: int) -> None:
    while True:
        if os.getppid() != parent:  # re-parented: the server is gone
            os._exit(3)
        time.sleep(PARENT_POLL)


def serve(jobs: IO[str], answers: IO[str]) -> None:
    header = jobs.readline()
    if not header:
        return
    opts = InvestigateSettings.model_validate(json.loads(header)["investigate"])
    for line in jobs:
        if not line.strip():
            continue
        out = answer(opts, json.loads(line))
        answers.write(json.dumps(out, default=str) + "\n")
        answers.flush()


def main() -> None:
    parent = int(os.environ.get("SHIPWISE_WORKER_PARENT", os.getppid()))
    with contextlib.suppress(OSError):
        os.nice(NICE)
    threading.Thread(target=_watch_parent, args=(parent,), name="parent-watch", daemon=True).start()
    # the answers get their own descriptor; anything printed goes to stderr (the server's log)
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    with contextlib.suppress(BrokenPipeError):  # the server went away mid-answer
        serve(sys.stdin, answers)
    os._exit(0)


if __name__ == "__main__":
    main()
