"""Benchmark: a prevention scan over 1,000 stored investigations (goal: <= 5 s wall).

Usage::

    python bench/bench_prevention.py [--investigations 1000] [--alarms 3000] [--repeat 3]

Builds a store in a temporary folder: the demo organisation at ``--scale`` (teams, services,
deployments, imported incidents, SLOs), ``--investigations`` stored investigation records shaped
like the engine's (root-cause faults over every kind, customers and duration, evidence gaps,
permission details; a third with a responder's verdict) and ``--alarms`` alarm intake rows
(some flapping). Then times ``shipwise.app.prevention.scan`` as the local administrator — the
first scan (every recommendation new) and ``--repeat`` re-scans (updates, no duplicates) — and
writes ``bench/results/prevention.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from shipwise.app import prevention
from shipwise.app.caller import local_caller
from shipwise.app.owner import run_demo
from shipwise.config import Settings
from shipwise.store import investigations as inv_table
from shipwise.store import verdicts as verdict_table
from shipwise.store.duckdb_store import Store

HERE = Path(__file__).parent
RESULTS = HERE / "results" / "prevention.json"
FAULTS = ("bad_deploy", "config_change", "permission_revoked", "manual_host_session",
          "instance_churn", "traffic_surge", "memory_leak", "queue_backlog", "slow_dependency",
          "dependency_errors")
GAPS = ("metrics", "logs", "topology", "changes")
PERMISSIONS = ("s3:GetObject", "kms:Decrypt", "sqs:SendMessage", "dynamodb:PutItem")


def investigations(store: Store, n: int, rng: random.Random) -> None:
    services = [r["id"] for r in store.query("SELECT id FROM service ORDER BY id")]
    hot = services[: max(5, len(services) // 3)]  # recurring trouble concentrates
    end = datetime(2026, 9, 30, tzinfo=UTC)
    marked = 0
    for i in range(n):
        svc = rng.choice(hot) if rng.random() < 0.7 else rng.choice(services)
        fault = rng.choice(FAULTS)
        at = end - timedelta(days=rng.uniform(0, 300))
        found = rng.random() < 0.85
        gaps = [{"source": g, "what": f"no {g}", "how": f"connect {g}"}
                for g in GAPS if rng.random() < 0.15]
        record = {
            "id": f"inv-bench-{i:05d}",
            "alarm": {"entity": svc, "metric": "error_rate", "time": at.timestamp()},
            "status": "root_cause_found" if found else "inconclusive",
            "root_cause": {"entity": svc, "kind": fault, "fault": fault,
                           "statement": f"{fault} on {svc}", "confidence": 0.7,
                           "event": {"details": {"permission": rng.choice(PERMISSIONS)}}
                           if fault == "permission_revoked" else None} if found else None,
            "impact": {"window": {"minutes": round(rng.uniform(5, 240), 1)},
                       "services": [{"entity": svc, "error_rate_during": rng.uniform(0, 0.5)}],
                       **({"traces": {"customers_affected": rng.randint(1, 500)}}
                          if rng.random() < 0.6 else {})},
            "gaps": gaps, "seconds": {"total": 1.0}}
        inv_table.save(store, inv_table.Investigation(
            id=record["id"], created_at=at, alarm_id=None, entity=svc, metric="error_rate",
            alarm_at=at, status=record["status"], root_cause_entity=svc if found else None,
            root_cause_kind=fault if found else None, confidence=0.7, summary=None,
            seconds=1.0, record=json.dumps(record)))
        if found and rng.random() < 0.33:
            verdict_table.mark(store, record["id"], rng.choice(("right", "right", "partly",
                                                                "wrong")),
                               None, at + timedelta(hours=2), "lead/web")
            marked += 1


def alarms(store: Store, n: int, rng: random.Random) -> None:
    services = [r["id"] for r in store.query("SELECT id FROM service ORDER BY id")]
    end = datetime(2026, 9, 30, tzinfo=UTC)
    rows = []
    for i in range(n):
        svc = rng.choice(services)
        at = end - timedelta(days=rng.uniform(0, 300))
        if rng.random() < 0.3:  # bursts: the same alarm again within minutes
            at = end - timedelta(days=float(hash(svc) % 300), minutes=rng.uniform(0, 600))
        key = f"generic:bench-{i}"
        alarm = {"entity": svc, "metric": rng.choice(("error_rate", "latency_p99")),
                 "time": at.timestamp()}
        rows.append(["alm-" + hashlib.sha256(key.encode()).hexdigest()[:16], at, "generic",
                     "investigated", "{}", hashlib.sha256(b"{}").hexdigest(), json.dumps(alarm),
                     key])
    with store.transaction() as con:
        con.executemany("INSERT INTO alarm_intake (id, received_at, source_kind, status, payload, "
                        "payload_sha256, alarm, alarm_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--investigations", type=int, default=1000)
    ap.add_argument("--alarms", type=int, default=3000)
    ap.add_argument("--scale", type=float, default=0.2, help="of the demo organisation")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(db=Path(tmp) / "bench.duckdb")
        t = time.perf_counter()
        run_demo(settings, seed=args.seed, scale=args.scale)
        with Store.open(settings.db) as store:
            investigations(store, args.investigations, rng)
            alarms(store, args.alarms, rng)
            counts = {t: store.count(t) for t in ("investigation", "investigation_verdict",
                                                   "incident", "alarm_intake", "service",
                                                   "deployment")}
        build = time.perf_counter() - t
        with local_caller(settings) as c:
            t = time.perf_counter()
            first = prevention.scan(c, trigger="bench")
            first_s = time.perf_counter() - t
            again: list[float] = []
            for _ in range(args.repeat):
                t = time.perf_counter()
                res = prevention.scan(c, trigger="bench")
                again.append(time.perf_counter() - t)
            rows = c.store.query("SELECT count(*) AS n, count(DISTINCT key) AS keys "
                                 "FROM prevention_recommendation")[0]
            by_category = {r["category"]: r["n"] for r in c.store.query(
                "SELECT category, count(*) AS n FROM prevention_recommendation GROUP BY 1")}
    out = {
        "benchmark": "prevention_scan", "measured_at": datetime.now(UTC).isoformat(),
        "machine": {"python": platform.python_version(), "cpu": platform.machine()},
        "inputs": counts, "build_seconds": round(build, 2),
        "first_scan_seconds": round(first_s, 3),
        "rescan_seconds": {"best": round(min(again), 3),
                           "median": round(statistics.median(again), 3), "runs": len(again)},
        "goal_seconds": 5.0, "goal_met": max(first_s, *again) <= 5.0,
        "recommendations": len(first.recommendations), "new_first": first.scan.new,
        "new_on_rescan": res.scan.new, "rows": rows["n"], "distinct_keys": rows["keys"],
        "by_category": by_category,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
