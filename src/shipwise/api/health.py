"""``/healthz`` (the process answers) and ``/readyz`` (the store opens at the current schema)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from shipwise import __version__
from shipwise.http.errors import ApiError
from shipwise.http.security import State
from shipwise.store.duckdb_store import migrations

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, Any]:
    """Liveness: the process is up."""
    return {"status": "ok", "version": __version__}


@router.get("/readyz")
def readyz(state: State) -> dict[str, Any]:
    """Readiness: the store opens, its migrations are current, the worker runs."""
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
