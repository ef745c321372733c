"""What the server's probes check: the process answers; the store opens at the schema this
shipwise needs and the investigation worker runs."""

from __future__ import annotations

from typing import Any

from shipwise import __version__
from shipwise.http.errors import ApiError
from shipwise.http.state import ServerState
from shipwise.store.duckdb_store import migrations


def liveness() -> dict[str, Any]:
    return {"status": "ok", "version": __version__}


def readiness(state: ServerState) -> dict[str, Any]:
    """Ready, with the schema version and the queue; else a 503 that says what to do."""
    with state.store.session() as store:  # StoreError -> 503 with what to do
        version = store.schema_version()
    latest = migrations()[-1][0]
    if version != latest:
        raise ApiError(503, f"store schema version {version}, this shipwise needs {latest}",
                       hint="restart `shipwise serve` to migrate the store")
    if not state.worker.alive:
        raise ApiError(503, "the investigation worker is not running", hint="see the server log")
    return {"status": "ready", "schema_version": version, "investigations_queued":
            state.worker.pending, "webhooks": state.webhook_auth}
