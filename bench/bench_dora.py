"""Benchmark: recomputing every DORA metric over the demo at >= 10 million events.

Usage::

    python bench/bench_dora.py                     # build the scale-50 demo store, then measure
    python bench/bench_dora.py --reuse             # measure an existing store again
    python bench/bench_dora.py --scale 5 --repeat 1

Steps:

1. Build (or, with ``--reuse``, reuse) a demo store: ``shipwise.app.demo.run_demo`` at
   ``--scale`` into ``bench/.data/dora_s<scale>.duckdb`` (gitignored), and count its events (rows
   of every canonical record table). A reused store is migrated and its derived DORA facts are
   rebuilt if they are stale or missing.
2. Verify: the pandas reference (``bench/reference_pandas.py``) must equal shipwise on every
   row -- all six results (week/month/quarter x team/service), every metric, trend and count,
   within 1e-6 relative -- and on every raw column of the SQL. The script fails loudly (exit 1,
   nothing written) otherwise.
3. Time, each repetition in a fresh Python subprocess so that peak RSS (the subprocess's own
   high-water mark, ``VmHWM``) belongs to one approach only. shipwise derives the event-level
   DORA facts once per ingest (``shipwise.metrics.facts.refresh``) and its queries aggregate
   them, so it is measured both ways:

   * ``shipwise query``: open the store and call ``dora_rows`` six times (week, month, quarter;
     per team and per service) -- what ``shipwise dora`` costs per request -- with DuckDB's
     default thread count, ``SET threads = 2`` and ``SET threads = 1``;
   * ``shipwise refresh+query``: rebuild the derived facts from the raw events, then the same six
     calls -- the full recomputation, what an ingest plus the six requests cost;
   * ``shipwise sql``: the six ``dora_sql`` queries fetched without the Python around them
     (metric rows, trends, levels), to tell the two apart;
   * ``pandas``: read the tables from the store into DataFrames (load, timed on its own), derive
     the same facts (facts) and aggregate the six results (aggregate).

   Like for like: pandas facts + aggregate against shipwise refresh+query (both from raw events);
   pandas aggregate against shipwise query (both from derived facts). Times exclude interpreter
   start-up and imports; each figure is the median (and best) of ``--repeat`` runs.

Results are printed and written to ``bench/results/dora.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

RESULTS = HERE / "results" / "dora.json"
GRAINS = ("week", "month", "quarter")
ENTITIES = ("team", "service")
REL = 1e-6

#: Targets from the issue.
TARGET_SECONDS = 10.0
TARGET_RATIO = 10.0
TARGET_RSS_MIB = 2048.0

#: shipwise configurations timed: name -> (mode, SET threads or None for DuckDB's default)
CONFIGS: dict[str, tuple[str, int | None]] = {
    "query, default threads": ("query", None),
    "query, threads=2": ("query", 2),
    "query, threads=1": ("query", 1),
    "refresh+query, default threads": ("refresh", None),
    "refresh+query, threads=2": ("refresh", 2),
    "sql only, threads=2": ("sql", 2),
}


def _one(con: Any, sql: str) -> tuple[Any, ...]:
    row = con.execute(sql).fetchone()
    assert row is not None, sql
    return tuple(row)


def _peak_rss_mib() -> float:
    """This process's peak resident set size.

    ``VmHWM`` (Linux) is the high-water mark of this process's own address space. ``ru_maxrss``
    is the fallback elsewhere; on Linux it is not used because it survives ``execve`` and so
    would include the parent's RSS at fork time (e.g. after building the demo store in-process).
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0  # kB
    except OSError:
        pass
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1024.0 * 1024.0) if sys.platform == "darwin" else rss / 1024.0


# --------------------------------------------------------------------------------------------
# workers (each runs in its own fresh process and prints one JSON line)


def worker_shipwise(db: str, mode: str, threads: int | None) -> dict[str, Any]:
    """All six DORA results through shipwise; see the module docstring for ``mode``."""
    from shipwise.app.metrics import DoraRequest, dora_rows
    from shipwise.metrics import facts
    from shipwise.metrics.dora import DoraQuery, data_span_sql, dora_sql
    from shipwise.store.duckdb_store import Store

    t0 = time.perf_counter()
    store = Store.open(db, read_only=mode != "refresh")
    if threads is not None:
        store.con.execute(f"SET threads = {int(threads)}")
    effective = _one(store.con, "SELECT current_setting('threads')")[0]
    refresh = None
    if mode == "refresh":
        facts.refresh(store)
        refresh = time.perf_counter() - t0
    elif facts.is_stale(store):
        raise SystemExit("derived facts are stale: run without --reuse or refresh them")
    t1 = time.perf_counter()
    per: dict[str, float] = {}
    rows = 0
    for grain in GRAINS:
        for by in ENTITIES:
            t = time.perf_counter()
            if mode == "sql":
                since, until = _one(store.con, data_span_sql())
                sql, params = dora_sql(DoraQuery(grain, by, since, until))
                rows += len(store.con.execute(sql, params).fetchall())
            else:
                rows += len(dora_rows(store, DoraRequest(grain=grain, by=by))["rows"])
            per[f"{grain}/{by}"] = round(time.perf_counter() - t, 4)
    store.close()
    t2 = time.perf_counter()
    return {
        "wall": t2 - t0,
        "refresh": refresh,
        "queries": t2 - t1,
        "per_query": per,
        "rows": rows,
        "threads": int(effective),
        "peak_rss_mib": _peak_rss_mib(),
    }


def worker_pandas(db: str) -> dict[str, Any]:
    from reference_pandas import all_dora, load_tables, prepare_facts
    from shipwise.store.duckdb_store import Store

    t0 = time.perf_counter()
    store = Store.open(db, read_only=True)
    tables = load_tables(store.con)
    store.close()
    t1 = time.perf_counter()
    facts = prepare_facts(tables)
    t2 = time.perf_counter()
    frames = all_dora(facts)
    t3 = time.perf_counter()
    return {
        "load": t1 - t0,
        "facts": t2 - t1,
        "aggregate": t3 - t2,
        "compute": t3 - t1,
        "wall": t3 - t0,
        "rows": sum(len(f) for f in frames.values()),
        "input_rows": {k: len(v) for k, v in tables.items()},
        "peak_rss_mib": _peak_rss_mib(),
    }


def worker_verify(db: str) -> dict[str, Any]:
    from reference_pandas import (
        all_dora,
        compare_with_rows,
        compare_with_sql,
        load_tables,
        prepare_facts,
    )
    from shipwise.app.metrics import DoraRequest, dora_rows
    from shipwise.metrics.dora import DoraQuery, data_span_sql, dora_sql
    from shipwise.store.duckdb_store import Store

    store = Store.open(db, read_only=True)
    frames = all_dora(prepare_facts(load_tables(store.con)))
    since, until = _one(store.con, data_span_sql())
    checked: dict[str, Any] = {}
    problems: list[str] = []
    for grain in GRAINS:
        for by in ENTITIES:
            frame = frames[(grain, by)]
            rows = dora_rows(store, DoraRequest(grain=grain, by=by))["rows"]
            sql, params = dora_sql(DoraQuery(grain, by, since, until))
            raw = store.con.execute(sql, params).df()
            p = compare_with_rows(frame, rows, by, REL) + compare_with_sql(frame, raw, REL)
            checked[f"{grain}/{by}"] = {"rows": len(rows), "mismatches": len(p)}
            problems += [f"{grain}/{by}: {x}" for x in p[:20]]
    store.close()
    return {"checked": checked, "problems": problems, "since": str(since), "until": str(until)}


def _worker_main(args: argparse.Namespace) -> None:
    if args.worker == "pandas":
        out = worker_pandas(args.db)
    elif args.worker == "verify":
        out = worker_verify(args.db)
    else:
        out = worker_shipwise(args.db, args.worker, args.threads)
    print("RESULT " + json.dumps(out, default=str), flush=True)


def _run_worker(db: Path, kind: str, threads: int | None = None) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--worker", kind, "--db", str(db)]
    if threads is not None:
        cmd += ["--threads", str(threads)]
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    elapsed = time.perf_counter() - t
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout + proc.stderr)
        raise SystemExit(f"worker {kind} failed (exit {proc.returncode})")
    line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))
    out: dict[str, Any] = json.loads(line[len("RESULT ") :])
    out["process_seconds"] = elapsed  # including interpreter start-up and imports
    return out


# --------------------------------------------------------------------------------------------
# the store


def build_store(db: Path, scale: float, seed: int) -> dict[str, Any]:
    from shipwise.app.owner import run_demo
    from shipwise.config import Settings

    for p in (db, db.with_name(db.name + ".wal"), db.with_name(db.name + ".key")):
        p.unlink(missing_ok=True)
    db.parent.mkdir(parents=True, exist_ok=True)
    settings = Settings(db=db, key_file=db.with_name(db.name + ".key"))
    t = time.perf_counter()
    res = run_demo(
        settings,
        seed=seed,
        scale=scale,
        progress=lambda m: print(f"  [{time.perf_counter() - t:6.1f} s] {m}", flush=True),
    )
    return {"seconds": round(time.perf_counter() - t, 1), "generator_events": res.events}


def prepare_store(db: Path) -> dict[str, Any]:
    """Migrate a reused store and rebuild its derived facts if stale or missing."""
    from shipwise.metrics import facts
    from shipwise.store.duckdb_store import Store

    with Store.open(db) as store:
        empty = not _one(store.con, "SELECT count(*) FROM dora_deploy_fact")[0]
        has_data = bool(_one(store.con, "SELECT count(*) FROM deployment")[0])
        if facts.is_stale(store) or (empty and has_data):
            t = time.perf_counter()
            facts.refresh(store)
            return {"refreshed_facts_seconds": round(time.perf_counter() - t, 1)}
    return {"refreshed_facts_seconds": None}


def count_rows(db: Path) -> dict[str, int]:
    import duckdb

    from shipwise.domain.schema import RECORD_TYPES

    con = duckdb.connect(str(db), read_only=True)
    tables = [t.table for t in RECORD_TYPES if t.table] + ["deployment_commit", "pull_request_commit"]
    out = {t: int(_one(con, f'SELECT count(*) FROM "{t}"')[0]) for t in tables}
    con.close()
    return out


# --------------------------------------------------------------------------------------------


def _summary(runs: list[dict[str, Any]], key: str) -> dict[str, Any]:
    vals = [r[key] for r in runs]
    return {
        "median": round(statistics.median(vals), 3),
        "best": round(min(vals), 3),
        "runs": [round(v, 3) for v in vals],
    }


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return sorted(runs, key=lambda r: r["wall"])[(len(runs) - 1) // 2]


def _git() -> dict[str, Any]:
    def run(*a: str) -> str:
        p = subprocess.run(["git", *a], cwd=HERE.parent, capture_output=True, text=True)
        return p.stdout.strip()

    return {"commit": run("rev-parse", "HEAD"), "src_dirty": bool(run("status", "--porcelain", "src"))}


def _machine() -> dict[str, Any]:
    import duckdb
    import numpy
    import pandas

    try:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        mem = None
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cores": cores,
        "cpu_count": os.cpu_count(),
        "memory_gib": round(mem, 1) if mem else None,
        "machine": platform.machine(),
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "pandas": pandas.__version__,
        "numpy": numpy.__version__,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--scale", type=float, default=50.0)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument(
        "--db", type=Path, default=None, help="default: bench/.data/dora_s<scale>.duckdb"
    )
    ap.add_argument("--reuse", action="store_true", help="reuse the store at --db if it exists")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument(
        "--worker", choices=("query", "refresh", "sql", "pandas", "verify"), help=argparse.SUPPRESS
    )
    ap.add_argument("--threads", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        _worker_main(args)
        return

    scale_tag = f"{args.scale:g}".replace(".", "_")
    db: Path = args.db or HERE / ".data" / f"dora_s{scale_tag}.duckdb"
    machine = _machine()
    build = None
    if args.reuse and db.exists():
        print(f"reusing {db}")
        build = prepare_store(db)
    else:
        print(f"building the demo store at scale {args.scale:g} (seed {args.seed}) into {db}")
        build = build_store(db, args.scale, args.seed)
        print(f"  built in {build['seconds']} s")
    rows = count_rows(db)
    events = sum(
        v for k, v in rows.items() if k not in ("deployment_commit", "pull_request_commit")
    )
    dora_input = sum(rows[k] for k in ("deployment", "deployment_commit", "commit", "incident"))
    print(
        f"events: {events:,} (DORA reads {dora_input:,} rows of deployment, deployment_commit, "
        f"commit, incident)"
    )

    print("verifying pandas reference == shipwise on every row of all six results …", flush=True)
    ver = _run_worker(db, "verify")
    for name, c in ver["checked"].items():
        print(f"  {name:16} {c['rows']:>8,} rows  {c['mismatches']} mismatches")
    if ver["problems"]:
        print("\n".join("  " + p for p in ver["problems"][:60]), file=sys.stderr)
        raise SystemExit("FAILED: the pandas reference and shipwise disagree (nothing written)")

    load_at_start = [round(x, 2) for x in os.getloadavg()]
    ship: dict[str, list[dict[str, Any]]] = {name: [] for name in CONFIGS}
    pand: list[dict[str, Any]] = []
    for i in range(args.repeat):  # interleaved, so drift in machine load hits every approach
        for name, (mode, threads) in CONFIGS.items():
            r = _run_worker(db, mode, threads)
            ship[name].append(r)
            extra = f"(refresh {r['refresh']:.2f} s + queries {r['queries']:.2f} s)" if r["refresh"] else ""
            print(
                f"  run {i + 1}: shipwise {name:31} {r['wall']:7.2f} s  "
                f"peak {r['peak_rss_mib']:6.0f} MiB {extra}",
                flush=True,
            )
        r = _run_worker(db, "pandas")
        pand.append(r)
        print(
            f"  run {i + 1}: pandas load {r['load']:.2f} s, facts {r['facts']:.2f} s, aggregate "
            f"{r['aggregate']:.2f} s  peak {r['peak_rss_mib']:6.0f} MiB",
            flush=True,
        )
    load_at_end = [round(x, 2) for x in os.getloadavg()]

    result_rows = ship["query, threads=2"][0]["rows"]
    for name, runs in ship.items():
        if runs[0]["rows"] != result_rows:
            raise SystemExit(f"FAILED: {name} returned {runs[0]['rows']} rows, not {result_rows}")
    if pand[0]["rows"] != result_rows:
        raise SystemExit(f"FAILED: row counts differ: pandas {pand[0]['rows']} vs {result_rows}")
    shipwise: dict[str, Any] = {}
    for name, runs in ship.items():
        entry: dict[str, Any] = {
            "mode": CONFIGS[name][0],
            "threads": runs[0]["threads"],
            "wall_seconds": _summary(runs, "wall"),
        }
        if CONFIGS[name][0] == "refresh":
            entry["refresh_seconds"] = _summary(runs, "refresh")
            entry["queries_seconds"] = _summary(runs, "queries")
        entry["process_seconds"] = _summary(runs, "process_seconds")
        entry["per_query_seconds_median_run"] = _median_run(runs)["per_query"]
        entry["peak_rss_mib"] = round(max(r["peak_rss_mib"] for r in runs), 1)
        shipwise[name] = entry
    pandas_ = {
        "load_seconds": _summary(pand, "load"),
        "facts_seconds": _summary(pand, "facts"),
        "aggregate_seconds": _summary(pand, "aggregate"),
        "compute_seconds": _summary(pand, "compute"),
        "load_plus_compute_seconds": _summary(pand, "wall"),
        "process_seconds": _summary(pand, "process_seconds"),
        "peak_rss_mib": round(max(r["peak_rss_mib"] for r in pand), 1),
    }

    def med(d: dict[str, Any], k: str) -> float:
        return float(d[k]["median"])

    query2 = med(shipwise["query, threads=2"], "wall_seconds")
    full2 = med(shipwise["refresh+query, threads=2"], "wall_seconds")
    ratios = {
        "full_recompute: pandas facts+aggregate / shipwise refresh+query": round(
            med(pandas_, "compute_seconds") / full2, 2
        ),
        "full_recompute_with_load: pandas load+facts+aggregate / shipwise refresh+query": round(
            med(pandas_, "load_plus_compute_seconds") / full2, 2
        ),
        "per_request: pandas aggregate / shipwise query": round(
            med(pandas_, "aggregate_seconds") / query2, 2
        ),
        "pandas facts+aggregate / shipwise query": round(med(pandas_, "compute_seconds") / query2, 2),
    }
    peak = max(v["peak_rss_mib"] for k, v in shipwise.items() if v["mode"] != "sql")
    out = {
        "benchmark": "recompute all DORA metrics (week, month, quarter x team, service)",
        "command": " ".join(["python", "bench/bench_dora.py", *sys.argv[1:]]),
        "scale": args.scale,
        "seed": args.seed,
        "events": events,
        "table_rows": rows,
        "dora_input_rows": dora_input,
        "result_rows": result_rows,
        "since": ver["since"],
        "until": ver["until"],
        "verified": {"rel_tolerance": REL, "results": ver["checked"]},
        "repeat": args.repeat,
        "shipwise": shipwise,
        "pandas": pandas_,
        "ratios": ratios,
        "targets": {
            "query_le_10_s_on_2_threads": {"seconds": query2, "met": query2 <= TARGET_SECONDS},
            "refresh_plus_query_le_10_s_on_2_threads": {
                "seconds": full2, "met": full2 <= TARGET_SECONDS,
            },
            "ratio_ge_10_full_recompute": {
                "ratio": ratios["full_recompute: pandas facts+aggregate / shipwise refresh+query"],
                "met": ratios["full_recompute: pandas facts+aggregate / shipwise refresh+query"]
                >= TARGET_RATIO,
            },
            "ratio_ge_10_per_request": {
                "ratio": ratios["per_request: pandas aggregate / shipwise query"],
                "met": ratios["per_request: pandas aggregate / shipwise query"] >= TARGET_RATIO,
            },
            "peak_rss_le_2_gib": {"peak_mib": peak, "met": peak <= TARGET_RSS_MIB},
        },
        "build": build,
        "git": _git(),
        "machine": {**machine, "load_average_start": load_at_start, "load_average_end": load_at_end},
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")

    print()
    print(f"events {events:,}; result rows {result_rows:,}; median of {args.repeat}")
    for name, v in shipwise.items():
        print(
            f"  shipwise {name:31} {med(v, 'wall_seconds'):7.2f} s  peak {v['peak_rss_mib']:6.0f} MiB"
        )
    print(f"  pandas load                 {med(pandas_, 'load_seconds'):7.2f} s")
    print(f"  pandas facts                {med(pandas_, 'facts_seconds'):7.2f} s")
    print(
        f"  pandas aggregate            {med(pandas_, 'aggregate_seconds'):7.2f} s  "
        f"peak {pandas_['peak_rss_mib']:6.0f} MiB"
    )
    for k, v in ratios.items():
        print(f"  ratio {k}: {v:.2f}x")
    for k, v in out["targets"].items():
        print(f"  target {k}: {'met' if v['met'] else 'NOT met'}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
