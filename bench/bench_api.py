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

(c) Webhook intake while investigations run (``--investigating``, or alone with
``--only-investigating``): ``wrk -t2 -c32 -d<--seconds>s -s bench/intake_wrk.lua`` against
``shipwise serve`` on a fresh copy of the demo store, while a background client posts alarms of
a demo-world incident (``generate_scenarios``; 14 metrics x 36 entities, so every one opens an
investigation) at ``--investigation-rate`` per second. The server investigates with the real
engine from the incident's metrics, logs, traces, events, topology and runbooks files and the
store, so the investigation queue never empties (the wrk alarms are investigated too). Side by
side in one run, alternating ``--rounds`` times: ``thread`` (``server.investigation_workers: 0``,
the engine in a thread of the server: the design before issue 14) and ``process`` (1 worker
process, the default), plus ``quiet`` (no evidence source: every investigation ends at once).
After each run the server is stopped and every 2xx checked against the stored rows (lost = 2xx
responses without a row).

The server is a separate process (``python -m shipwise serve``), so client and server do not
share an interpreter.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import yaml

from shipwise.app.owner import run_demo
from shipwise.app.tokens import create_token
from shipwise.config import load_settings
from shipwise.demo.world.scenarios import generate_scenarios
from shipwise.investigate.case import load_alarm
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


def _wait_ready(url: str, proc: subprocess.Popen[Any], log: Any) -> None:
    """Until ``/readyz`` answers 200; SystemExit (with ``log()``) if the server exits or takes
    over two minutes."""
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(url + "/readyz", timeout=60).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the server did not start {log()}".rstrip())
        time.sleep(0.1)


@contextmanager
def server(db: Path, config: Path | None = None,
           secret: str = SECRET) -> Iterator[str]:
    port = _free_port()
    env = {**os.environ, "SHIPWISE_DB": str(db), "SHIPWISE_WEBHOOK_SECRET": secret,
           "PYTHONPATH": str(HERE.parent / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    if config is not None:
        env["SHIPWISE_CONFIG"] = str(config)
    env.pop("SHIPWISE_PSEUDONYM_KEY", None)
    proc = subprocess.Popen([sys.executable, "-m", "shipwise", "serve", "--port", str(port)],
                            env=env, cwd=db.parent, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, proc, lambda: "")
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


#: the secret bench/intake_wrk.lua sends
WRK_SECRET = "0123456789abcdef0123"
WRK_LUA = HERE / "intake_wrk.lua"


def _wrk(url: str, seconds: int) -> dict[str, Any]:
    out = subprocess.run(["wrk", "-t2", "-c32", f"-d{seconds}s", "-s", str(WRK_LUA), url],
                         capture_output=True, text=True, check=True).stdout
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {"requests": requests, "requests_per_second": rate,
            "non_2xx": int(non2xx.group(1)) if non2xx else 0,
            "socket_errors": errors.group(1) if errors else None}


def _world(root: Path) -> tuple[dict[str, Any], list[tuple[str, str]], float]:
    """A demo-world incident's files as the investigation sources; its (entity, metric) pairs and
    alarm time."""
    (case,) = generate_scenarios(1, 11, root / "cases")
    metrics = pd.read_parquet(case / "metrics.parquet")
    pairs = sorted({(str(e), str(m)) for e, m in zip(metrics["entity"], metrics["metric"],
                                                        strict=True)})
    sources = {"metrics": {"paths": [str(case / "metrics.parquet")]},
               "logs": {"paths": [str(case / "logs.jsonl")]},
               "events": {"paths": [str(case / "events.jsonl")]},
               "traces": {"paths": [str(case / "traces")]},
               "topology": {"path": str(case / "topology.json")},
               "runbooks": {"paths": [str(case / "runbooks")]}}
    return sources, pairs, float(load_alarm(case).time)


def _post_steadily(url: str, pairs: list[tuple[str, str]], t: float, rate: float,
                   stop: threading.Event, tag: str) -> dict[str, int]:
    """Alarms that each open an investigation, ``rate`` a second until ``stop``."""
    sent = {"posted": 0, "accepted": 0}
    with httpx.Client(base_url=url, timeout=30, headers={
            "Authorization": f"Bearer {WRK_SECRET}", "Content-Type": "application/json"}) as client:
        t0 = time.monotonic()
        while not stop.is_set() and sent["posted"] < len(pairs):
            entity, metric = pairs[sent["posted"]]
            body = {"id": f"{tag}-{sent['posted']}", "entity": entity, "metric": metric, "time": t}
            res = client.post("/webhooks/generic", json=body)
            sent["posted"] += 1
            sent["accepted"] += len(res.json().get("accepted", [])) if res.status_code == 202 else 0
            stop.wait(max(0.0, t0 + sent["posted"] / rate - time.monotonic()))
    return sent


def _investigating_run(demo: Path, work: Path, mode: str, sources: dict[str, Any],
                       pairs: list[tuple[str, str]], t: float, args: argparse.Namespace,
                       n: int) -> dict[str, Any]:
    db = work / f"{mode}-{n}" / "shipwise.duckdb"
    db.parent.mkdir(parents=True)
    shutil.copy(demo, db)
    for extra in demo.parent.glob(demo.name + ".*"):
        shutil.copy(extra, db.parent / extra.name)
    config = {"server": {"investigation_workers": 0 if mode == "thread" else 1,
                         "drain_seconds": 2, "prewarm": False, "access_log": False},
              "investigate": {"lookback_minutes": 60, "sources": (
                  {"store": {"enabled": False}} if mode == "quiet" else sources)}}
    (db.parent / "shipwise.yaml").write_text(yaml.safe_dump(config))
    stop = threading.Event()
    sent: dict[str, int] = {}
    tag = f"inv{n}{mode}"
    with server(db, db.parent / "shipwise.yaml", secret=WRK_SECRET) as url:
        poster = threading.Thread(target=lambda: sent.update(
            _post_steadily(url, pairs, t, args.investigation_rate, stop, tag)))
        poster.start()
        time.sleep(2)  # investigations under way before the measured run
        try:
            run = _wrk(url, args.seconds)
        finally:
            stop.set()
            poster.join()
    with Store.open(db) as store:
        rows = {str(r["status"]): int(r["n"]) for r in store.query(
            "SELECT status, count(*) AS n FROM alarm_intake WHERE alarm_key LIKE 'generic:wrk-%' "
            "GROUP BY 1")}
        # wrk's two threads send the same bodies (each Lua state has its own counter and the
        # same random sequence): a repeat is a delivery counted on the first one's row
        stored = int(store.query("SELECT coalesce(sum(deliveries), 0) AS n FROM alarm_intake "
                                 "WHERE alarm_key LIKE 'generic:wrk-%'")[0]["n"])
        done = store.query("SELECT count(*) AS n FROM investigation")[0]["n"]
    acked = run["requests"] - run["non_2xx"]
    return {**run, "stored": stored, "lost": max(0, acked - stored),
            "background_alarms": sent, "investigations_recorded": int(done),
            "wrk_rows_by_status": rows}


def intake_investigating(demo: Path, work: Path, args: argparse.Namespace) -> dict[str, Any]:
    if shutil.which("wrk") is None:
        return {"skipped": "wrk is not installed (apt-get install -y wrk)"}
    sources, pairs, t = _world(work)
    runs: dict[str, list[dict[str, Any]]] = {"quiet": [], "thread": [], "process": []}
    for n in range(args.rounds):
        for mode in runs:
            res = _investigating_run(demo, work, mode, sources, pairs, t, args, n)
            print(mode, json.dumps(res), file=sys.stderr)
            runs[mode].append(res)
    return {"command": f"wrk -t2 -c32 -d{args.seconds}s -s bench/intake_wrk.lua, plus "
                       f"{args.investigation_rate} investigation alarms/s",
            "summary": {m: {"requests_per_second": [r["requests_per_second"] for r in rs],
                            "lost": sum(r["lost"] for r in rs),
                            "investigations_recorded": [r["investigations_recorded"] for r in rs]}
                        for m, rs in runs.items()},
            "runs": runs}


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
    parser.add_argument("--investigating", action="store_true",
                        help="also measure intake while investigations run (c)")
    parser.add_argument("--only-investigating", action="store_true",
                        help="measure only (c); results in --out")
    parser.add_argument("--seconds", type=int, default=10, help="wrk duration for (c)")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each mode in (c)")
    parser.add_argument("--investigation-rate", type=float, default=2.0,
                        help="alarms a second that open investigations during (c)")
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
        if args.investigating or args.only_investigating:
            result["intake_investigating"] = intake_investigating(demo, Path(tmp), args)
            print(json.dumps(result["intake_investigating"]["summary"], indent=2), file=sys.stderr)
        if args.only_investigating:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(result, indent=2) + "\n")
            print(json.dumps(result, indent=2))
            return
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
