"""Benchmark: incremental recompute after importing one more day of events, at >= 10 M events.

Usage::

    python bench/bench_incremental.py            # on bench/.data/dora_s50.duckdb (bench_dora builds it)
    python bench/bench_incremental.py --src PATH

Steps, on a copy of the store (the source is never written):

1. Full recompute: ``facts.refresh(store)`` rebuilds every fact table (seconds per table).
2. A flow request (quarter, one team) decides suppression for the organisation: the cold figure,
   then the cached one — what a running server holds before the import.
3. One more day: every event of the store's last day but six (commits, pull requests,
   deployments with their commits, incidents, pages) again, a week later, under new ids (a
   deployment or pull request keeps naming older commits), imported through the canonical
   importer (``import_tables_into``); then the incremental refresh (``refresh(store,
   incremental=True)``, seconds per table), the first flow request after it (suppression
   decided again, people recounted only from the first changed day), the next one (cached), and
   the same request with nothing cached (counted and decided from scratch).
4. The same for a day of delivery events only (commits, deployments, incidents): flow facts do
   not change, and the flow request after it is served from the kept decision.
5. Check: the incrementally refreshed fact tables equal a full rebuild (as multisets of rows),
   whose time is the full recompute figure after the import.

Results are printed and written to ``bench/results/incremental.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

RESULTS = HERE / "results" / "incremental.json"
#: record type -> the instant column that places a record on a day
DAY_OF = {"commit": "committed_at", "pull_request": "created_at", "deployment": "finished_at",
          "incident": "opened_at", "page": '"at"'}
#: ids made new for the copied day (the key of each type); references to them follow
NEW_ID = {"commit": "sha", "pull_request": "id", "deployment": "id", "incident": "id",
          "page": "id"}
SHIFT_DAYS = 7


def _peak_rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    return 0.0


def _copy(src: Path, folder: Path) -> Path:
    db = folder / src.name
    shutil.copy(src, db)
    key = src.with_name(src.name + ".key")
    if key.exists():
        shutil.copy(key, db.with_name(db.name + ".key"))
    return db


def day_tables(store: Any, types: tuple[str, ...], tag: str) -> dict[str, Any]:
    """One day's events (the last day but six) as canonical Arrow tables, SHIFT_DAYS later under
    new ids (prefix ``tag``)."""
    from shipwise.domain.schema import RECORD_TYPES, Kind

    con = store.con
    row = con.execute("SELECT CAST(max(finished_at) AS DATE) FROM deployment").fetchone()
    assert row and row[0] is not None
    day = row[0].toordinal() - 6
    src_day = datetime.fromordinal(day).date()
    out = {}
    # the copied day's keys, so that references to them follow the copy
    for rt in RECORD_TYPES:
        if rt.name not in types:
            continue
        con.execute(f"CREATE OR REPLACE TEMP TABLE _day_{rt.name} AS SELECT {NEW_ID[rt.name]} AS k "
                    f'FROM "{rt.table}" WHERE CAST({DAY_OF[rt.name]} AS DATE) = ?', [src_day])
    for rt in RECORD_TYPES:
        if rt.name not in types:
            continue
        cols = []
        for f in rt.fields:
            c = f'r."{f.name}"'
            if f.name in rt.children:
                child, col = rt.children[f.name]
                parent = f"{rt.name}_id"
                ref = "commit" if col == "sha" else None
                mapped = (f"CASE WHEN c.{col} IN (SELECT k FROM _day_{ref}) THEN '{tag}' || c.{col} "
                          f"ELSE c.{col} END") if ref in types else f"c.{col}"
                cols.append(f"(SELECT list({mapped} ORDER BY c.{col}) FROM {child} c "
                            f'WHERE c."{parent}" = r."{rt.key[0]}") AS "{f.name}"')
            elif f.name == NEW_ID[rt.name]:
                cols.append(f"'{tag}' || {c} AS \"{f.name}\"")
            elif f.references and f.references[0] in types and f.references[0] != rt.name:
                cols.append(f"CASE WHEN {c} IN (SELECT k FROM _day_{f.references[0]}) "
                            f"THEN '{tag}' || {c} ELSE {c} END AS \"{f.name}\"")
            elif f.kind is Kind.INSTANT:
                cols.append(f"strftime({c} + INTERVAL {SHIFT_DAYS} DAY, '%Y-%m-%dT%H:%M:%SZ') "
                            f'AS "{f.name}"')
            elif f.name == "number":
                cols.append(f'{c} + 10000000 AS "{f.name}"')
            else:
                cols.append(f'CAST({c} AS VARCHAR) AS "{f.name}"')
        out[rt.name] = con.execute(  # the DB-API cursor: parameters
            f'SELECT {", ".join(cols)} FROM "{rt.table}" r '
            f"WHERE CAST(r.{DAY_OF[rt.name]} AS DATE) = ?", [src_day]).to_arrow_table()
    for name in types:
        con.execute(f"DROP TABLE IF EXISTS _day_{name}")
    return out


#: seconds spent counting people and deciding suppression, during the last flow request
SPENT: dict[str, float] = {}


def _instrument() -> None:
    """Time the two halves of the suppression decision: the people counts (SQL) and the
    decision over the equations (Python)."""
    from shipwise.app import diagnostics

    def timed(name: str, fn: Any) -> Any:
        def wrapper(*a: Any, **k: Any) -> Any:
            t = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                SPENT[name] = SPENT.get(name, 0.0) + time.perf_counter() - t
        return wrapper

    diagnostics.people_counts = timed("people_counts", diagnostics.people_counts)
    diagnostics.touch_table = timed("people_counts", diagnostics.touch_table)
    diagnostics.suppressed = timed("decide", diagnostics.suppressed)
    diagnostics._equations = timed("equations", diagnostics._equations)


def _flow_request(store: Any, settings: Any) -> dict[str, float]:
    from shipwise.app.diagnostics import DiagnosticRequest, diagnostic_rows
    from shipwise.metrics.strain import Hours

    team = str(store.con.execute("SELECT min(id) FROM team").fetchone()[0])
    SPENT.clear()
    t = time.perf_counter()
    diagnostic_rows(store, DiagnosticRequest("flow", "quarter", "team", (team,)),
                    min_group_size=settings.privacy.min_group_size,
                    hours=Hours.from_settings(settings.strain))
    return {"seconds": round(time.perf_counter() - t, 3),
            **{f"{k}_seconds": round(v, 3) for k, v in SPENT.items()}}


def _import_day(store: Any, settings: Any, types: tuple[str, ...], tag: str) -> dict[str, Any]:
    from shipwise.app.context import pseudonymiser_for
    from shipwise.app.ingest import import_tables_into
    from shipwise.metrics import facts

    tables = day_tables(store, types, tag)
    rows = {k: v.num_rows for k, v in tables.items()}
    t = time.perf_counter()
    report = import_tables_into(store, pseudonymiser_for(store, settings), tables,
                                f"bench:{tag}", refresh=False, limits=settings.ingest)
    imported = time.perf_counter() - t
    t = time.perf_counter()
    timings = facts.refresh(store, incremental=True)
    refresh = time.perf_counter() - t
    return {"rows": rows, "quarantined": report.quarantined, "import_seconds": round(imported, 2),
            "refresh_seconds": round(refresh, 3), "incremental": timings.pop("incremental") == 1.0,
            "refresh_tables": {k: round(v, 3) for k, v in timings.items()},
            "first_flow_request_seconds": _flow_request(store, settings),
            "next_flow_request_seconds": _flow_request(store, settings),
            "cold_flow_request_seconds": _cold_flow_request(store, settings)}


def _cold_flow_request(store: Any, settings: Any) -> dict[str, float]:
    """The same request with nothing cached: everything counted and decided from scratch."""
    from shipwise.app import diagnostics

    kept = (diagnostics._COUNTED, diagnostics._MEMOS, diagnostics._EQUATIONS)
    with diagnostics._HIDDEN_LOCK:
        diagnostics._HIDDEN.clear()
        cached = [dict(c) for c in kept]
        for c in kept:
            c.clear()
    try:
        return _flow_request(store, settings)
    finally:  # what the next import starts from, as on a running server
        with diagnostics._HIDDEN_LOCK:
            for c, before in zip(kept, cached, strict=True):
                c.clear()
                c.update(before)


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--src", type=Path, default=HERE / ".data" / "dora_s50.duckdb")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--memory-limit", default=None,
                    help="the store's DuckDB memory limit (the `memory_limit` setting), e.g. 1GB")
    ap.add_argument("--skip-check", action="store_true",
                    help="skip step 5 (the incremental facts against a full rebuild)")
    args = ap.parse_args()

    from shipwise.config import load_settings
    from shipwise.domain.schema import RECORD_TYPES
    from shipwise.metrics import facts
    from shipwise.store.duckdb_store import Store

    _instrument()
    work = Path(tempfile.mkdtemp(prefix="bench-incr-", dir=args.src.parent))
    results: dict[str, Any] = {}
    try:
        db = _copy(args.src, work)
        settings = load_settings(db=db)
        with Store.open(db, memory_limit=args.memory_limit) as store:
            events = sum(int(store.con.execute(f'SELECT count(*) FROM "{t.table}"').fetchone()[0])
                         for t in RECORD_TYPES)
            teams = int(store.con.execute("SELECT count(*) FROM team").fetchone()[0])
            print(f"{events:,} events, {teams} teams", flush=True)
            t = time.perf_counter()
            timings = facts.refresh(store)
            results["full_refresh"] = {"seconds": round(time.perf_counter() - t, 2),
                                       "tables": {k: round(v, 2) for k, v in timings.items()}}
            print("full refresh", results["full_refresh"], flush=True)
            results["flow_request_cold"] = _flow_request(store, settings)
            results["flow_request_cached"] = _flow_request(store, settings)
            print("flow request cold / cached", results["flow_request_cold"],
                  results["flow_request_cached"], flush=True)
            results["one_more_day"] = _import_day(
                store, settings, ("commit", "pull_request", "deployment", "incident", "page"), "x1-")
            print("one more day", results["one_more_day"], flush=True)
            results["one_more_day_delivery_only"] = _import_day(
                store, settings, ("commit", "deployment", "incident"), "x2-")
            print("delivery only", results["one_more_day_delivery_only"], flush=True)
            if not args.skip_check:
                # the incremental facts against a full rebuild
                fact_tables = [*(t for t, _ in facts.FACTS), *(t for t, _, _ in facts.RETAINED_FACTS)]
                for table in fact_tables:
                    store.con.execute(f"CREATE TEMP TABLE inc_{table} AS SELECT * FROM {table}")
                t = time.perf_counter()
                timings = facts.refresh(store)
                results["full_refresh_after"] = {"seconds": round(time.perf_counter() - t, 2),
                                                 "tables": {k: round(v, 2) for k, v in timings.items()}}
                mismatches = {}
                for table in fact_tables:
                    row = store.con.execute(
                        f"SELECT (SELECT count(*) FROM (SELECT * FROM inc_{table} EXCEPT ALL "
                        f"SELECT * FROM {table})) + (SELECT count(*) FROM (SELECT * FROM {table} "
                        f"EXCEPT ALL SELECT * FROM inc_{table}))").fetchone()
                    mismatches[table] = int(row[0]) if row else -1
                results["mismatched_rows_incremental_vs_full"] = mismatches
                print("full refresh after", results["full_refresh_after"], "mismatches", mismatches,
                      flush=True)
        results["peak_rss_mib"] = round(_peak_rss_mib(), 1)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    out = {"events": events, "teams": teams, "store": str(args.src), "cpus": os.cpu_count(),
           "memory_limit": args.memory_limit,
           "python": sys.version.split()[0], "machine": platform.machine(),
           "measured_at": datetime.now(UTC).isoformat(timespec="seconds"), "results": results}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
