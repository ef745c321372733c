"""Cloud bills (AWS CUR 2.0, FOCUS 1.x): import them, and read spend per team and month with
credits, refunds and the unmapped spend beside it (docs/cloud-cost.md)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shipwise.app.caller import Caller
from shipwise.app.guard import guard
from shipwise.errors import InputError
from shipwise.ingest.cloud_cost import CloudImportReport, import_cloud_cost
from shipwise.store import cloud_cost as table
from shipwise.store import runs


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@guard("admin.ingest", "import:cloud_cost")
def import_cloud(caller: Caller, paths: Iterable[str | Path], *, force: bool = False,
                 progress: Callable[[str], None] | None = None) -> CloudImportReport:
    """Import CUR 2.0 / FOCUS files or export folders; each month replaces the same month of the
    same billing account imported before (restatements), an unchanged file is skipped."""
    started = _now()
    names = [str(p) for p in paths]
    report = import_cloud_cost(caller.store, names, caller.settings.cost.cloud, force=force,
                               progress=progress)
    runs.record_ingest(caller.store, kind="cloud_cost", source=", ".join(names),
                       started_at=started, finished_at=_now(), counts=report.as_dict())
    return report


def _month(text: str | None, what: str) -> str | None:
    if text is None:
        return None
    try:
        return datetime.strptime(text, "%Y-%m").strftime("%Y-%m")
    except ValueError as exc:
        raise InputError(f"{what}: '{text}' is not a month", hint="use YYYY-MM") from exc


@guard("org.cost", "org:cloud_cost")
def cloud_report(caller: Caller, *, since: str | None = None, until: str | None = None,
                 teams: tuple[str, ...] = ()) -> dict[str, Any]:
    """Per team and month: spend on the configured basis, credits, refunds, discounts and
    adjustments (each its own figure); the unmapped spend per account and tag value; the
    file each month came from."""
    out = table.report(caller.store, caller.settings.cost.cloud.basis,
                       _month(since, "--since"), _month(until, "--until"), teams)
    out["tag_keys"] = list(caller.settings.cost.cloud.tag_keys)
    return out
