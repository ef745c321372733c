"""Flow, strain, SLOs, the fairness audit and retention at scale.

    python bench/bench_humane.py [--db bench/.data/dora_s50.duckdb] [--scale 50] [--repeat 3]
                                 [--out bench/results/humane.json]

Builds (or reuses) a scaled demo store (``run_demo`` at ``--scale``: the 15-team block repeated;
scale 50 ≈ 11 M events), copies it, and times in this process, each the median (and best) of
``--repeat`` runs after one warm-up:

- refreshing the derived facts (all of them, including flow_pr_fact and strain_page_fact);
- ``diagnostic_rows`` for flow and strain at quarter and week grain: the first request with
  nothing cached, as after the server starts (people counted and suppression decided for every
  team, org unit and period of the organisation, then one team's rows; the request after an
  import, which reuses what is kept, is ``bench_incremental``'s), a further team (suppression reused), and every team;
- ``slo_rows`` for every team with monthly history, and ``release_appetite``;
- ``fairness_audit`` (all flags, attributes, correlations, org-unit variance);
- ``retention apply`` on a fresh copy (one run; it changes the store), in a child process so
  that its peak memory is its own.

Prints a table and writes the figures as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
EVENT_TABLES = ("commit", "pull_request", "deployment", "incident", "page", "cost", "headcount",
                "sli", "person", "tag", "investment", "slo", "ticket_status")


def _copy(src: Path, dst_dir: Path) -> Path:
    dst = dst_dir / "bench.duckdb"
    shutil.copy(src, dst)
    for extra in src.parent.glob(src.name + ".*"):
        shutil.copy(extra, dst_dir / extra.name.replace(src.name, dst.name))
    return dst


def _time(fn: Callable[[], Any], repeat: int) -> dict[str, float]:
    fn()  # warm-up
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t0)
    return {"median_s": statistics.median(runs), "best_s": min(runs), "runs": len(runs)}


def _peak_rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _retention(db: Path) -> dict[str, Any]:
    """``retention apply`` with the charter's default rules, in this (child) process: seconds,
    rows removed, and the peak memory of the run itself (the facts are made fresh first and the
    peak counter reset after, so the refresh an import left pending is not counted)."""
    from shipwise.governance.charter import load_charter
    from shipwise.governance.retention import cutoffs, run
    from shipwise.metrics import facts
    from shipwise.store.duckdb_store import Store

    with Store.open(db) as store:
        facts.ensure_fresh(store)
        Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
        plan = cutoffs(load_charter(), {}, datetime.now(UTC))
        load = [round(x, 2) for x in os.getloadavg()]
        t0 = time.perf_counter()
        rep = run(store, plan)
        seconds = time.perf_counter() - t0
    return {"seconds": seconds, "peak_rss_mib": round(_peak_rss_mib(), 1),
            "load_average_at_start": load,
            "removed": {r["record_type"]: r["rows"] for r in rep["records"]}}


def _retention_in_child(db: Path) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, __file__, "--retention-worker", str(db)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        raise SystemExit("the retention run failed")
    line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))
    out: dict[str, Any] = json.loads(line[len("RESULT "):])
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", type=Path, default=None, help="Reuse this demo store (copied first).")
    ap.add_argument("--scale", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "humane.json")
    ap.add_argument("--retention-worker", type=Path, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.retention_worker is not None:
        print("RESULT " + json.dumps(_retention(args.retention_worker)), flush=True)
        return 0

    from shipwise.app.diagnostics import DiagnosticRequest, diagnostic_rows
    from shipwise.app.fairness import fairness_audit
    from shipwise.app.owner import run_demo
    from shipwise.app.slo import release_appetite, slo_rows
    from shipwise.config import load_settings
    from shipwise.metrics import facts
    from shipwise.metrics.strain import Hours
    from shipwise.store.duckdb_store import Store

    src = args.db or HERE / ".data" / f"dora_s{args.scale}.duckdb"
    if not src.exists():
        src.parent.mkdir(parents=True, exist_ok=True)
        print(f"building the scale-{args.scale} demo store at {src} (minutes)…", flush=True)
        run_demo(load_settings(db=src), scale=args.scale)
    work = Path(tempfile.mkdtemp(prefix="bench-humane-"))
    try:
        db = _copy(src, work)
        settings = load_settings(db=db)
        results: dict[str, Any] = {}
        with Store.open(db) as store:
            events = sum(int(store.con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0])  # type: ignore[index]
                         for t in EVENT_TABLES)
            teams = int(store.con.execute("SELECT count(*) FROM team").fetchone()[0])  # type: ignore[index]
            results["refresh_facts"] = _time(lambda: facts.refresh(store), 1)
            k = settings.privacy.min_group_size
            hours = Hours.from_settings(settings.strain)
            from shipwise.app import diagnostics

            team = str(store.con.execute("SELECT min(id) FROM team").fetchone()[0])  # type: ignore[index]
            for fam in ("flow", "strain"):
                for grain in ("quarter", "week"):
                    one = DiagnosticRequest(fam, grain, "team", (team,))

                    def cold(one: DiagnosticRequest = one) -> object:
                        # decide suppression for the organisation from scratch, as the first
                        # request after the server starts (nothing counted or kept)
                        for kept in (diagnostics._HIDDEN, diagnostics._COUNTED,
                                     diagnostics._MEMOS, diagnostics._EQUATIONS):
                            kept.clear()
                        return diagnostic_rows(store, one, min_group_size=k, hours=hours)

                    results[f"{fam}_{grain}_first_request"] = _time(cold, args.repeat)
                    results[f"{fam}_{grain}_one_team"] = _time(
                        lambda one=one: diagnostic_rows(store, one, min_group_size=k, hours=hours),
                        args.repeat)
                    every = DiagnosticRequest(fam, grain)
                    results[f"{fam}_{grain}_every_team"] = _time(
                        lambda every=every: diagnostic_rows(store, every, min_group_size=k,
                                                            hours=hours), 1)
            results["slo_all_teams_month_history"] = _time(
                lambda: slo_rows(store, settings.slo, grain="month"), args.repeat)
            results["release_appetite"] = _time(lambda: release_appetite(store, settings.slo),
                                                args.repeat)
            results["fairness_audit"] = _time(lambda: fairness_audit(store, settings), 1)
        (work / "r").mkdir()
        db2 = _copy(src, work / "r")
        results["retention_apply"] = _retention_in_child(db2)
        out = {"events": events, "teams": teams, "store": str(src), "cpus": os.cpu_count(),
               "python": sys.version.split()[0], "machine": platform.machine(),
               "measured_at": datetime.now(UTC).isoformat(timespec="seconds"), "results": results}
        print(f"{events:,} events, {teams} teams")
        for name, r in results.items():
            if "median_s" in r:
                print(f"  {name:<34} median {r['median_s']:7.3f} s   best {r['best_s']:7.3f} s")
            else:
                print(f"  {name:<34} {r['seconds']:7.3f} s   peak {r['peak_rss_mib']:.0f} MiB"
                      f"   removed {r['removed']}")
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(out, indent=2) + "\n")
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
