"""Canonical import throughput per file format, and the cost of importing the same files again.

    python bench/bench_import.py [--scale 1] [--repeat 1]

Writes the demo organisation as JSONL, CSV and Parquet, then times ``shipwise import`` (the
service, in-process) into a new store and a second time into the same store (every record
unchanged). Results: bench/results/import.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb

from shipwise.app.context import init_store
from shipwise.app.owner import import_paths, run_demo
from shipwise.config import Settings

RESULTS = Path(__file__).resolve().parent / "results" / "import.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    out: dict[str, Any] = {"scale": args.scale, "formats": {}}
    load = [round(x, 2) for x in os.getloadavg()]
    with tempfile.TemporaryDirectory(prefix="shipwise-bench-import-") as tmp:
        root = Path(tmp)
        key = root / "k"
        for fmt in ("jsonl", "csv", "parquet"):
            files = root / fmt
            demo = run_demo(Settings(db=root / "x.duckdb", key_file=key), scale=args.scale,
                            out=files, fmt=fmt, load=False)
            size = sum(p.stat().st_size for p in files.iterdir())
            first, again = [], []
            for i in range(args.repeat):
                s = Settings(db=root / f"{fmt}{i}.duckdb", key_file=key)
                init_store(s)
                t0 = time.perf_counter()
                rep = import_paths(s, [files])
                first.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                rep2 = import_paths(s, [files])
                again.append(time.perf_counter() - t0)
                assert rep.quarantined == 0 and sum(c.inserted for c in rep2.counts.values()) == 0
            out["events"] = demo.events
            out["formats"][fmt] = {
                "bytes": size,
                "import_seconds": round(min(first), 3),
                "events_per_second": round(demo.events / min(first)),
                "reimport_unchanged_seconds": round(min(again), 3),
            }
            print(f"{fmt:8} {size / 1e6:8.1f} MB  import {min(first):6.2f}s "
                  f"({demo.events / min(first):,.0f} events/s)  again {min(again):6.2f}s")
    out["environment"] = {"python": platform.python_version(), "duckdb": duckdb.__version__,
                          "cpus": os.cpu_count(), "load_average_at_end": [
                              round(x, 2) for x in os.getloadavg()]}
    out["load_average_at_start"] = load
    out["measured_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    args.out.parent.mkdir(exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
