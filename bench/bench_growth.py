"""Benchmark: the cost of growth — full recompute and requests at about 1 M, 10 M and 30 M events.

Usage::

    python bench/bench_growth.py                        # scales 3.7, 37 and 111 (~1 M, 10 M, 30 M)
    python bench/bench_growth.py --scales 3.7 37 --reuse

For each demo scale: build the store (``bench/.data/dora_s<scale>.duckdb``, reused with
``--reuse``), then, each in a fresh process so that its peak RSS (``VmHWM``) is its own, on
``SET threads = 2``:

* ``build``: generating and importing the demo (wall time; the importer's own process);
* ``full recompute``: rebuild every derived fact from the raw events (DORA, flow, strain) and
  compute the six DORA results (week/month/quarter x team/service) — bench_dora's
  ``refresh+query`` worker;
* ``query``: the six DORA results from the facts — what a request costs;
* ``pandas``: the pandas reference deriving the DORA facts and the six results (``--pandas``).

Results are printed and written to ``bench/results/growth.json``: per scale the event count,
seconds and peak MiB of each step, so the cost of growth is visible (time per million events).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

from bench_dora import (  # noqa: E402
    _peak_rss_mib,
    _run_worker,
    build_store,
    count_rows,
    prepare_store,
)

RESULTS = HERE / "results" / "growth.json"


def _build(db: Path, scale: float, seed: int) -> dict[str, Any]:
    """Build in a subprocess, so the build's peak memory is measured on its own."""
    cmd = [sys.executable, __file__, "--build-worker", str(db), "--scales", str(scale),
           "--seed", str(seed)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        raise SystemExit(f"building scale {scale} failed")
    line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))
    out: dict[str, Any] = json.loads(line[len("RESULT "):])
    return out


def _median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run of median wall time (an odd count: the middle one; even: the faster middle)."""
    ordered = sorted(runs, key=lambda r: r["wall"])
    return ordered[(len(ordered) - 1) // 2]


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--scales", type=float, nargs="+", default=[3.7, 37.0, 111.0])
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--reuse", action="store_true", help="reuse stores that exist")
    ap.add_argument("--pandas", action="store_true", help="also time the pandas reference")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--repeat", type=int, default=1,
                    help="runs of the full recompute and of the query per scale (median kept)")
    ap.add_argument("--build-worker", type=Path, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.build_worker is not None:
        built = build_store(args.build_worker, args.scales[0], args.seed)
        print("RESULT " + json.dumps({**built, "peak_rss_mib": _peak_rss_mib()}), flush=True)
        return

    points: list[dict[str, Any]] = []
    for scale in args.scales:
        tag = f"{scale:g}".replace(".", "_")
        db = HERE / ".data" / f"dora_s{tag}.duckdb"
        if args.reuse and db.exists():
            print(f"scale {scale:g}: reusing {db}", flush=True)
            build: dict[str, Any] | None = None
            prepare_store(db)
        else:
            print(f"scale {scale:g}: building {db} …", flush=True)
            build = _build(db, scale, args.seed)
            print(f"  built in {build['seconds']} s, peak {build['peak_rss_mib']:.0f} MiB",
                  flush=True)
        rows = count_rows(db)
        events = sum(v for k, v in rows.items()
                     if k not in ("deployment_commit", "pull_request_commit"))
        load = [round(x, 2) for x in os.getloadavg()]
        fulls, queries = [], []
        for _ in range(args.repeat):  # interleaved, so drift in machine load hits both
            fulls.append(_run_worker(db, "refresh", 2))
            queries.append(_run_worker(db, "query", 2))
        full = _median(fulls)
        query = _median(queries)
        point: dict[str, Any] = {
            "scale": scale,
            "events": events,
            "store_mib": round(db.stat().st_size / 2**20, 1),
            "load_average_at_start": load,
            "runs": args.repeat,
            "build": build and {"seconds": build["seconds"],
                                "peak_rss_mib": round(build["peak_rss_mib"], 1)},
            "full_recompute": {"seconds": round(full["wall"], 2),
                               "refresh_seconds": round(full["refresh"], 2),
                               "queries_seconds": round(full["queries"], 2),
                               "peak_rss_mib": round(full["peak_rss_mib"], 1)},
            "query": {"seconds": round(query["wall"], 2),
                      "peak_rss_mib": round(query["peak_rss_mib"], 1)},
        }
        line = (f"  {events:>12,} events: full recompute {full['wall']:6.2f} s "
                f"(refresh {full['refresh']:.2f} s) peak {full['peak_rss_mib']:.0f} MiB; "
                f"query {query['wall']:.2f} s peak {query['peak_rss_mib']:.0f} MiB")
        if args.pandas:
            pandas = _run_worker(db, "pandas")
            point["pandas"] = {"compute_seconds": round(pandas["compute"], 2),
                               "load_seconds": round(pandas["load"], 2),
                               "peak_rss_mib": round(pandas["peak_rss_mib"], 1)}
            line += f"; pandas {pandas['compute']:.2f} s peak {pandas['peak_rss_mib']:.0f} MiB"
        print(line, flush=True)
        points.append(point)

    for p in points:
        millions = p["events"] / 1e6
        p["full_recompute"]["seconds_per_million_events"] = round(
            p["full_recompute"]["seconds"] / millions, 3)
    out = {
        "benchmark": "growth: full recompute and DORA requests by store size",
        "command": " ".join(["python", "bench/bench_growth.py", *sys.argv[1:]]),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform()},
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "points": points,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
