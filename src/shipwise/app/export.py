"""Writing the store's canonical records out: a folder of Parquet files for a distributed engine
(docs/spark.md). The records are person-level (pseudonymised), so only an admin may."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from shipwise.app.caller import Caller
from shipwise.app.guard import guard
from shipwise.metrics import facts
from shipwise.store import parquet


class ExportResult(BaseModel):
    folder: str
    rows: dict[str, int]
    retained: dict[str, str]


@guard("admin.export", "export:parquet")
def export_parquet(caller: Caller, out: Path) -> ExportResult:
    """Every canonical table (and the calendar) as ``out/<table>.parquet`` with a manifest.
    The facts are refreshed first when stale: the teams' incident link rules they materialise
    are exported with the records."""
    facts.ensure_fresh(caller.store)
    return ExportResult.model_validate(parquet.export(caller.store, out).as_dict())
