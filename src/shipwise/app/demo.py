"""The demo: a synthetic organisation written as canonical files and/or imported into the store."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from shipwise.app.caller import Caller
from shipwise.app.context import pseudonymiser_for
from shipwise.app.guard import guard
from shipwise.app.ingest import import_tables_into
from shipwise.demo.generator import generate
from shipwise.errors import InputError
from shipwise.ingest.loader import ImportReport
from shipwise.ingest.sql import q

FILE_FORMATS = ("jsonl", "csv", "parquet")


@dataclass
class DemoResult:
    seed: int
    scale: float
    events: int
    story: dict[str, Any]
    written: list[str] = field(default_factory=list)
    report: ImportReport | None = None


def write_canonical(tables: dict[str, pa.Table], out: Path, fmt: str) -> list[str]:
    """Write one canonical file per record type (``deployment.jsonl`` …) into ``out``."""
    if fmt not in FILE_FORMATS:
        raise InputError(f"unknown format '{fmt}'", hint="use jsonl, csv or parquet")
    out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    written = []
    for name, table in tables.items():
        if not table.num_rows:
            continue  # a type the demo has no records of (exchange rates: one currency)
        con.register("t", table)
        cols = []
        for f in table.schema:
            c = q(f.name)
            if pa.types.is_timestamp(f.type) and fmt != "parquet":
                cols.append(f"strftime({c}, '%Y-%m-%dT%H:%M:%S.%fZ') AS {c}")
            elif pa.types.is_list(f.type) and fmt == "csv":
                cols.append(f"array_to_string({c}, ';') AS {c}")
            elif f.name == "attributes" and fmt == "jsonl":
                cols.append(f"json({c}) AS {c}")
            else:
                cols.append(c)
        if fmt == "jsonl":
            cols.insert(0, f"'{name}' AS type")
        path = out / f"{name}.{fmt}"
        options = {"jsonl": "FORMAT json", "csv": "FORMAT csv, HEADER", "parquet": "FORMAT parquet"}[fmt]
        con.execute(f"COPY (SELECT {', '.join(cols)} FROM t) TO '{path}' ({options})")
        con.unregister("t")
        written.append(str(path))
    con.close()
    return written


def write_demo(out: Path, *, seed: int = 7, scale: float = 1.0, fmt: str = "jsonl",
               progress: Callable[[str], None] | None = None) -> DemoResult:
    """Generate the organisation and write it as canonical files to ``out`` (no store)."""
    demo = _generate(seed, scale, progress)
    result = DemoResult(seed, scale, demo.event_count(), dict(demo.story))
    if progress:
        progress(f"writing {fmt} files to {out}")
    result.written = write_canonical(demo.tables, out, fmt)
    return result


@guard("admin.ingest", "demo")
def run_demo(
    caller: Caller,
    *,
    seed: int = 7,
    scale: float = 1.0,
    out: Path | None = None,
    fmt: str = "jsonl",
    progress: Callable[[str], None] | None = None,
) -> DemoResult:
    """Generate the organisation and import it into the caller's store (and write it as files
    to ``out`` if given)."""
    demo = _generate(seed, scale, progress)
    result = DemoResult(seed, scale, demo.event_count(), dict(demo.story))
    if out is not None:
        if progress:
            progress(f"writing {fmt} files to {out}")
        result.written = write_canonical(demo.tables, out, fmt)
    result.report = import_tables_into(
        caller.store, pseudonymiser_for(caller.store, caller.settings), demo.tables,
        f"demo:seed={seed},scale={scale}", kind="demo", progress=progress,
        limits=caller.settings.ingest)
    return result


def _generate(seed: int, scale: float, progress: Callable[[str], None] | None) -> Any:
    if scale <= 0:
        raise InputError("--scale must be positive")
    if progress:
        progress("generating the organisation")
    return generate(seed=seed, scale=scale)
