"""Benchmark: the DORA, cost and flow definitions on DuckDB (the store) and on Spark (local mode,
over the store's canonical Parquet export), side by side in one run, with equality checked.

Usage::

    python bench/bench_spark.py                      # the demo (scale 1), Spark local[2]
    python bench/bench_spark.py --scale 5 --master 'local[2]'
    python bench/bench_spark.py --reuse              # reuse bench/.data/spark_s<scale>/

Steps:

1. Build (or reuse) the demo store at ``--scale`` in ``bench/.data/spark_s<scale>/`` (gitignored)
   and export its canonical tables (``shipwise export parquet``), timed.
2. DuckDB: rebuild the derived facts from the records (``facts.refresh``), then the workload —
   DORA per team for week, month and quarter and per service for the quarter, cost for quarter
   (yoy) and month (qoq) with the organisation roll-up, flow per team for month and per org unit
   for the quarter.
3. Spark: start a session (``--master``), register the Parquet files, build the same facts with
   the same SQL, then the same workload.
4. Every result of both engines must be equal (counts exactly, floats to 1e-9 relative): the
   script exits 1 and writes nothing otherwise.

Results are printed and written to ``bench/results/spark.json`` (with the machine's load
average, since Spark's fixed costs per stage grow with it).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from shipwise.app import spark as on_spark  # noqa: E402
from shipwise.app.context import open_store  # noqa: E402
from shipwise.app.cost import CostRequest, cost_rows_on  # noqa: E402
from shipwise.app.diagnostics import flow_figures_on  # noqa: E402
from shipwise.app.metrics import DoraRequest, dora_rows_on  # noqa: E402
from shipwise.app.owner import run_demo as owner_demo  # noqa: E402
from shipwise.config import Settings  # noqa: E402
from shipwise.metrics import facts  # noqa: E402
from shipwise.metrics.engines import DuckDBEngine, Engine  # noqa: E402
from shipwise.metrics.spark import session  # noqa: E402
from shipwise.store import parquet  # noqa: E402

WORKLOAD: list[tuple[str, Callable[[Engine], Any]]] = [
    ("dora week/team", lambda e: dora_rows_on(e, DoraRequest(grain="week"))),
    ("dora month/team", lambda e: dora_rows_on(e, DoraRequest(grain="month"))),
    ("dora quarter/team", lambda e: dora_rows_on(e, DoraRequest(grain="quarter"))),
    ("dora quarter/service", lambda e: dora_rows_on(e, DoraRequest(grain="quarter", by="service"))),
    ("cost quarter/yoy", lambda e: cost_rows_on(e, CostRequest(grain="quarter"))),
    ("cost month/qoq", lambda e: cost_rows_on(e, CostRequest(grain="month", baseline="qoq"))),
    ("flow month/team", lambda e: flow_figures_on(e, "month", "team")),
    ("flow quarter/org_unit", lambda e: flow_figures_on(e, "quarter", "org_unit")),
]


def diffs(a: Any, b: Any, path: str = "") -> list[str]:
    if isinstance(a, dict):
        if set(a) != set(b):
            return [f"{path}: keys differ"]
        return [d for k in a for d in diffs(a[k], b[k], f"{path}.{k}")]
    if isinstance(a, list | tuple):
        if len(a) != len(b):
            return [f"{path}: {len(a)} vs {len(b)}"]
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in diffs(x, y, f"{path}[{i}]")]
    if isinstance(a, float) or isinstance(b, float):
        if a is None and b is None:
            return []
        if a is None or b is None or not math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12):
            return [f"{path}: {a!r} vs {b!r}"]
        return []
    return [] if a == b else [f"{path}: {a!r} vs {b!r}"]


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--reuse", action="store_true")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "spark.json")
    args = ap.parse_args()
    data = ROOT / "bench" / ".data" / f"spark_s{args.scale:g}"
    settings = Settings(db=data / "store.duckdb")
    folder = data / "parquet"
    result: dict[str, Any] = {"scale": args.scale, "master": args.master}
    if not (args.reuse and settings.db.exists()):
        if data.exists():
            for p in sorted(data.rglob("*"), reverse=True):
                p.unlink() if p.is_file() else p.rmdir()
        data.mkdir(parents=True, exist_ok=True)
        result["build_seconds"], _ = timed(lambda: owner_demo(settings, seed=7, scale=args.scale))
    with open_store(settings) as store:
        facts.ensure_fresh(store)
        result["export_seconds"], exported = timed(lambda: parquet.export(store, folder))
        result["events"] = sum(v for k, v in exported.rows.items() if k != "calendar")
        result["parquet_bytes"] = sum(p.stat().st_size for p in folder.glob("*.parquet"))
        duck = DuckDBEngine(store)
        result["duckdb_facts_seconds"], _ = timed(lambda: facts.refresh(store))
        ours: dict[str, Any] = {}
        result["duckdb"] = {}
        for name, fn in WORKLOAD:
            result["duckdb"][name], ours[name] = timed(lambda fn=fn: fn(duck))
    t0 = time.perf_counter()
    spark = session(args.master)
    result["spark_session_seconds"] = time.perf_counter() - t0
    result["spark_facts_seconds"], engine = timed(lambda: on_spark.open_engine(folder,
                                                                               master=args.master))
    result["spark_facts"] = engine.timings
    result["spark"] = {}
    bad: list[str] = []
    for name, fn in WORKLOAD:
        result["spark"][name], theirs = timed(lambda fn=fn: fn(engine))
        bad += [f"{name}{d}" for d in diffs(ours[name], theirs)]
    if bad:
        print(f"MISMATCH ({len(bad)}):", *bad[:20], sep="\n  ")
        return 1
    result["mismatches"] = 0
    result["duckdb_workload_seconds"] = sum(result["duckdb"].values())
    result["spark_workload_seconds"] = sum(result["spark"].values())
    result["load_average"] = os.getloadavg()
    spark.stop()
    for k, v in result.items():
        print(f"{k}: {v if not isinstance(v, float) else round(v, 2)}")
    args.out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
