"""``/healthz`` (the process answers) and ``/readyz`` (the store opens at the current schema)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from shipwise.http.probes import liveness, readiness
from shipwise.http.security import State

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, Any]:
    """Liveness: the process is up."""
    return liveness()


@router.get("/readyz")
def readyz(state: State) -> dict[str, Any]:
    """Readiness: the store opens, its migrations are current, the worker runs."""
    return readiness(state)
