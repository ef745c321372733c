"""The same DORA, cost and flow definitions on Spark, over a folder of canonical Parquet files.

These doors read no store: they compute from the files of ``shipwise export parquet`` (an
admin-only, guarded door, :func:`shipwise.app.export.export_parquet`), which already hold the
records person by person — whoever holds the folder holds everything the figures are made from,
so the authority boundary is the export. DORA and cost are shaped exactly as the store's doors
shape them; flow is returned before small-group suppression (which needs the store's people
counts), for the analyst who holds the records (docs/spark.md).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from shipwise.app.cost import CostRequest, cost_rows_on
from shipwise.app.diagnostics import flow_figures_on
from shipwise.app.metrics import DoraRequest, dora_rows_on
from shipwise.app.results import CostResult, DoraResult
from shipwise.config import CostSettings
from shipwise.errors import InputError
from shipwise.metrics.engines import Engine, scalar_row
from shipwise.metrics.spark import SparkEngine, session
from shipwise.store import parquet


class FlowFigures(BaseModel):
    """Flow per team (or org unit) and period, unsuppressed (see the module)."""

    family: str
    grain: str
    level: str
    since: str | None = None
    until: str | None = None
    rows: list[dict[str, Any]]


#: engines already built in this process: (folder, manifest mtime, master, conf) -> engine
_ENGINES: dict[tuple[str, int, str, str], SparkEngine] = {}


def open_engine(data: Path, *, master: str = "local[2]",
                conf: dict[str, str] | None = None) -> SparkEngine:
    """A Spark session (``master``: ``local[2]``, ``spark://…``, ``yarn``, …) over the exported
    folder ``data``, with the derived facts built — once per folder and export in a process.
    Raises ConfigError without PySpark or Java, InputError for a folder that is no export."""
    try:
        parquet.read_manifest(data)
    except ValueError as e:
        raise InputError(str(e), hint="write one with `shipwise export parquet DIR`") from None
    key = (str(data.resolve()), (data / parquet.MANIFEST).stat().st_mtime_ns, master,
           repr(sorted((conf or {}).items())))
    engine = _ENGINES.get(key)
    if engine is None or engine.spark.sparkContext._jsc is None:
        for old in [k for k in _ENGINES if k[0] == key[0]]:
            _ENGINES.pop(old).close()
        engine = _ENGINES[key] = SparkEngine(session(master, conf=conf), data)
    return engine


def _check_window(engine: Engine, since: date | None, until: date | None) -> None:
    row = scalar_row(engine, "SELECT min(day), max(day) FROM calendar")
    first, last = row if row else (None, None)
    for name, day in (("since", since), ("until", until)):
        if day is not None and first is not None and not first <= day <= last:
            raise InputError(f"{name} {day.isoformat()} is outside shipwise's calendar",
                             hint=f"use days from {first.isoformat()} to {last.isoformat()}")


def dora(engine: Engine, req: DoraRequest) -> DoraResult:
    """DORA per team (or service) and period, as ``shipwise metrics dora`` computes it."""
    _check_window(engine, req.since, req.until)
    return DoraResult.model_validate(dora_rows_on(engine, req))


def cost(engine: Engine, req: CostRequest, tension: CostSettings | None = None) -> CostResult:
    """Cost to serve per team and period and the organisation roll-up, as ``shipwise cost``."""
    _check_window(engine, req.since, req.until)
    return CostResult.model_validate(cost_rows_on(engine, req, tension))


def flow(engine: Engine, *, grain: str = "quarter", level: str = "team",
         since: date | None = None, until: date | None = None,
         entities: tuple[str, ...] = ()) -> FlowFigures:
    """Flow per team (or org unit) and whole period, before suppression."""
    if grain not in ("week", "month", "quarter"):
        raise InputError(f"unknown grain '{grain}'", hint="use week, month or quarter")
    if level not in ("team", "org_unit"):
        raise InputError(f"unknown level {level!r}", hint="team or org_unit")
    _check_window(engine, since, until)
    return FlowFigures.model_validate(
        flow_figures_on(engine, grain, level, since, until, entities))
