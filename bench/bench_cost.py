"""Cost to serve at ≥ 10 million events: derived facts refresh, every cost result, attribution.

    python bench/bench_cost.py [--db bench/.data/dora_s50.duckdb] [--repeat 3]

Uses the demo store built by ``bench/bench_dora.py --scale 50`` (run that first). Times, with
``SET threads = 2``: the derived-facts refresh (DORA facts + pull-request delivery), the cost
results for quarter and month grains with the organisation roll-up, and initiative attribution.
Peak RSS is the process's high-water mark. Results: bench/results/cost.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import time
from pathlib import Path
from typing import Any

import duckdb

from shipwise.app.cost import CostRequest, cost_rows, initiatives_rows
from shipwise.metrics import facts
from shipwise.store import Store

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, default=HERE / ".data" / "dora_s50.duckdb")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if not args.db.exists():
        raise SystemExit(f"{args.db} missing: run `python bench/bench_dora.py --scale 50` first")
    store = Store.open(args.db)
    store.con.execute("SET threads = 2")
    events = sum(
        store.count(t) for t in ("commit", "pull_request", "deployment", "incident", "page", "cost",
                                 "headcount", "sli", "person", "tag", "investment", "slo")
    )
    runs: dict[str, list[float]] = {"refresh": [], "quarter": [], "month": [], "initiatives": []}
    rows: dict[str, int] = {}
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        facts.refresh(store)
        runs["refresh"].append(time.perf_counter() - t0)
        for grain in ("quarter", "month"):
            t0 = time.perf_counter()
            res = cost_rows(store, CostRequest(grain=grain))
            runs[grain].append(time.perf_counter() - t0)
            rows[grain] = len(res["rows"])
        t0 = time.perf_counter()
        ini = initiatives_rows(store)
        runs["initiatives"].append(time.perf_counter() - t0)
        rows["initiatives"] = len(ini["initiatives"])
    teams = store.count("team")
    store.close()
    out: dict[str, Any] = {
        "command": "python bench/bench_cost.py",
        "events": events, "teams": teams, "result_rows": rows,
        "seconds_median": {k: round(statistics.median(v), 3) for k, v in runs.items()},
        "seconds_runs": {k: [round(x, 3) for x in v] for k, v in runs.items()},
        "queries_without_refresh_seconds": round(
            sum(statistics.median(runs[k]) for k in ("quarter", "month", "initiatives")), 3),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "environment": {"python": platform.python_version(), "duckdb": duckdb.__version__, "threads": 2},
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "cost.json").write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
