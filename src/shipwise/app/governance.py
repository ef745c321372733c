"""Governance actions: retention runs and the charter, behind the same authorisation as views."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from shipwise.app.views import authorize
from shipwise.config import Settings
from shipwise.errors import InputError
from shipwise.governance.access import Principal
from shipwise.governance.charter import load_charter, validate
from shipwise.governance.retention import cutoffs, run
from shipwise.store.duckdb_store import Store

#: the days a retention run may be applied as of (the API's bounds): periods are subtracted
_AS_OF = (date(1970, 1, 1), date(9999, 1, 1))


def retention_apply(store: Store, principal: Principal, settings: Settings, *,
                    as_of: datetime | None = None, dry_run: bool = False,
                    interface: str = "cli") -> dict[str, Any]:
    """Apply the charter's retention periods (admins only); returns what was removed."""
    authorize(store, principal, "admin.retention", "retention:dry-run" if dry_run else "retention",
              None, interface)
    if as_of is not None and not _AS_OF[0] <= as_of.date() <= _AS_OF[1]:
        raise InputError(f"as of {as_of.date().isoformat()} is out of range",
                         hint=f"use a day from {_AS_OF[0].isoformat()} to {_AS_OF[1].isoformat()}")
    charter = load_charter()
    plan = cutoffs(charter, settings.retention.periods, as_of or datetime.now(UTC))
    report = run(store, plan, dry_run=dry_run)
    report["charter_version"] = charter.version
    report["as_of"] = (as_of or datetime.now(UTC)).isoformat()
    return report


def retention_runs(store: Store, principal: Principal, *, interface: str = "cli") -> list[dict[str, Any]]:
    authorize(store, principal, "admin.audit", "retention_runs", None, interface)
    return store.query("SELECT run_at, record_type, cutoff, action, rows FROM retention_run "
                       "ORDER BY run_at DESC, record_type")


def charter_report() -> dict[str, Any]:
    """The charter as JSON with its validation result."""
    charter = load_charter()
    return {"version": charter.version, "changes": charter.changes,
            "forbidden_uses": charter.forbidden_uses,
            "retention": {k: v.model_dump() for k, v in charter.retention.items()},
            "metrics": {k: v.model_dump() for k, v in charter.entries.items()},
            "problems": validate(charter)}
