"""The REST API and webhook intake over real HTTP on loopback, against ``shipwise serve``.

    python bench/bench_api.py [--big-db bench/.data/dora_s50.duckdb] [--requests 200]
                              [--alarms 5000] [--clients 32] [--out bench/results/api.json]

(a) Latency of the team-page data endpoints (GET /api/v1/teams/{team}/dora and /cost, admin
token, one keep-alive client, sequential requests after a warm-up) at demo scale and, when the
big store exists, at ≥ 10 million events (``--big-db``; build one with
``python bench/bench_dora.py --scale 50``, several minutes). The big store is copied first: the
server migrates it and writes tokens and the access log. Target: p95 ≤ 100 ms.

(b) Webhook intake throughput: ``--clients`` concurrent asyncio clients post ``--alarms``
distinct generic alarms to /webhooks/generic with the shared secret; afterwards the server is
stopped and the alarm_intake rows counted (nothing may be lost). The server's investigation
worker runs for each alarm; no evidence sources are configured, so each investigation ends
quickly (failed or empty) — the figure is intake, not investigation. Target: ≥ 1,000 requests/s.

The server is a separate process (``python -m shipwise serve``), so client and server do not
share an interpreter.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from shipwise.app.owner import run_demo
from shipwise.app.tokens import create_token
from shipwise.config import load_settings
from shipwise.store import Store

HERE = Path(__file__).resolve().parent
SECRET = "bench-webhook-secret-0123456789"
EVENT_TABLES = ("commit", "pull_request", "deployment", "incident", "page", "cost", "headcount",
                "sli", "person", "tag", "investment", "slo")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prepare(db: Path) -> dict[str, Any]:
    """An admin token, a team with data and one of its services; the store's event count."""
    with Store.open(db) as store:
        token = create_token(store, "bench", "admin")["token"]
        team = store.query("SELECT s.team, count(*) AS n FROM deployment d JOIN service s "
                           "ON s.id = d.service GROUP BY 1 ORDER BY n DESC, 1 LIMIT 1")[0]["team"]
        service = store.query("SELECT min(id) AS s FROM service WHERE team = ?", [team])[0]["s"]
        events = sum(store.count(t) for t in EVENT_TABLES)
    return {"token": token, "team": str(team), "service": str(service), "events": events}


@contextmanager
def server(db: Path) -> Iterator[str]:
    port = _free_port()
    env = {**os.environ, "SHIPWISE_DB": str(db), "SHIPWISE_WEBHOOK_SECRET": SECRET,
           "PYTHONPATH": str(HERE.parent / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env.pop("SHIPWISE_PSEUDONYM_KEY", None)
    proc = subprocess.Popen([sys.executable, "-m", "shipwise", "serve", "--port", str(port)],
                            env=env, cwd=db.parent, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(url + "/readyz", timeout=60).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the server did not start")
            time.sleep(0.1)
        yield url
    finally:
        proc.send_signal(signal.SIGINT)  # graceful: the worker drains, the store closes
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _stats(samples: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in samples)
    return {"n": len(ms), "p50_ms": round(statistics.median(ms), 2),
            "p95_ms": round(ms[max(0, round(0.95 * len(ms)) - 1)], 2),
            "max_ms": round(ms[-1], 2), "mean_ms": round(statistics.fmean(ms), 2)}


def latency(url: str, info: dict[str, Any], requests: int) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {info['token']}"}
    team = info["team"]
    out: dict[str, Any] = {}
    with httpx.Client(base_url=url, headers=headers, timeout=120) as client:
        for name, path, params in (
                ("dora_quarter", f"/api/v1/teams/{team}/dora", {}),
                ("dora_week", f"/api/v1/teams/{team}/dora", {"grain": "week"}),
                ("cost_quarter", f"/api/v1/teams/{team}/cost", {})):
            for _ in range(5):
                client.get(path, params=params).raise_for_status()
            samples = []
            for _ in range(requests):
                t0 = time.perf_counter()
                res = client.get(path, params=params)
                samples.append(time.perf_counter() - t0)
                res.raise_for_status()
            out[name] = {**_stats(samples), "rows": len(res.json()["rows"]),
                         "bytes": len(res.content)}
    return out


async def _post_all(url: str, service: str, alarms: int, clients: int,
                    tag: str) -> dict[str, Any]:
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(alarms):
        queue.put_nowait(i)
    statuses: dict[int, int] = {}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60, headers={
            "Authorization": f"Bearer {SECRET}", "Content-Type": "application/json"}) as client:

        async def worker() -> None:
            while not queue.empty():
                i = queue.get_nowait()
                body = json.dumps({"id": f"{tag}-{i}", "entity": service, "metric": "error_rate",
                                   "time": 1788000000 + i}).encode()
                res = await client.post("/webhooks/generic", content=body)
                statuses[res.status_code] = statuses.get(res.status_code, 0) + 1

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        seconds = time.perf_counter() - t0
    return {"alarms": alarms, "clients": clients, "seconds": round(seconds, 3),
            "requests_per_second": round(alarms / seconds, 1),
            "statuses": {str(k): v for k, v in sorted(statuses.items())}}


def intake(db: Path, alarms: int, clients: int) -> dict[str, Any]:
    info = prepare(db)
    tag = f"bench{int(time.time())}"
    with server(db) as url:
        result = asyncio.run(_post_all(url, info["service"], alarms, clients, tag))
    with Store.open(db) as store:
        rows = store.query("SELECT status, count(*) AS n FROM alarm_intake "
                           "WHERE alarm_key LIKE ? GROUP BY 1", [f"generic:{tag}-%"])
    stored = {str(r["status"]): int(r["n"]) for r in rows}
    result.update(stored=sum(stored.values()), by_status=stored,
                  lost=alarms - sum(stored.values()))
    return result


def run_store(db: Path, requests: int) -> dict[str, Any]:
    info = prepare(db)
    with server(db) as url:
        lat = latency(url, info, requests)
    return {"events": info["events"], "team": info["team"], "endpoints": lat}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--big-db", type=Path, default=HERE / ".data" / "dora_s50.duckdb")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--alarms", type=int, default=5000)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--skip-big", action="store_true")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "api.json")
    args = parser.parse_args()
    os.environ.pop("SHIPWISE_PSEUDONYM_KEY", None)
    result: dict[str, Any] = {
        "benchmark": "REST API latency (team page data) and webhook intake throughput, loopback",
        "command": "python bench/bench_api.py " + " ".join(sys.argv[1:]),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "platform": platform.platform()},
        "target": {"p95_ms": 100, "webhooks_per_second": 1000},
    }
    with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp:
        demo = Path(tmp) / "demo" / "shipwise.duckdb"
        demo.parent.mkdir()
        t0 = time.perf_counter()
        run_demo(load_settings(db=demo))
        print(f"demo store built in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        result["demo"] = run_store(demo, args.requests)
        print(json.dumps(result["demo"], indent=2), file=sys.stderr)
        result["intake"] = intake(demo, args.alarms, args.clients)
        print(json.dumps(result["intake"], indent=2), file=sys.stderr)
        if args.skip_big:
            result["big"] = "skipped (--skip-big)"
        elif not args.big_db.exists():
            result["big"] = (f"{args.big_db} missing: build it with "
                             "`python bench/bench_dora.py --scale 50` (several minutes)")
        else:
            big = Path(tmp) / "big" / "shipwise.duckdb"
            big.parent.mkdir()
            t0 = time.perf_counter()
            shutil.copy(args.big_db, big)
            for extra in args.big_db.parent.glob(args.big_db.name + ".*"):
                if extra.suffix in (".key",):
                    shutil.copy(extra, big.parent / (big.name + extra.suffix))
            print(f"big store copied in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
            result["big"] = run_store(big, args.requests)
            print(json.dumps(result["big"], indent=2), file=sys.stderr)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
