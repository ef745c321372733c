"""Syncing a fake GitHub organisation, and GitHub webhook intake, over real HTTP on loopback.

    python bench/bench_github_sync.py [--repos 50] [--prs 2000] [--deliveries 3000]
                                      [--clients 16] [--out bench/results/github_sync.json]

The fake GitHub (``tests/fakes/github.py``: a ThreadingHTTPServer executing GraphQL with
graphql-core against a subset of GitHub's schema, REST with Link pagination and ETags) serves a
generated organisation of ``--repos`` repositories × ``--prs`` pull requests, with their commit
graphs, reviews, deployments with statuses, workflow runs with jobs and releases.

(a) First sync: ``shipwise sync`` as a separate process (the CLI a user runs) into a store that
knows the organisation (teams, services and their repositories); wall time, requests the fake
answered (by kind), and the sync process's peak RSS (``wait4``).
(b) Second sync with nothing new: requests (goal: ≤ 1 per repository) and wall time.
(c) The synced store's DORA (per service and team, week and month) and flow figures compared with
those of a store that imported the same organisation written as canonical files (the world's own
truth): they must be equal.
(d) Webhook intake: ``shipwise serve`` as a separate process; ``--clients`` concurrent clients
post ``--deliveries`` signed ``push`` deliveries (distinct delivery ids) for the repositories;
requests/s, and afterwards the ``webhook_delivery`` rows counted (nothing may be lost). The
deliveries trigger syncs of the repositories named (coalesced), which find nothing new.

The fake runs in this process: its own cost (graphql-core is pure Python) is part of the wall
time, so the figures are an upper bound of shipwise's own.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fakes.figures import figures  # noqa: E402
from tests.fakes.github import FakeGitHub, World  # noqa: E402

from shipwise.app.context import init_store  # noqa: E402
from shipwise.app.owner import import_paths  # noqa: E402
from shipwise.config import Settings, load_settings  # noqa: E402
from shipwise.store import Store  # noqa: E402

TOKEN_ENV = "BENCH_GH_TOKEN"
HOOK_ENV = "BENCH_GH_HOOK"
HOOK_SECRET = "bench-github-webhook-secret-0123"


def _env(token: str) -> dict[str, str]:
    env = {**os.environ, TOKEN_ENV: token, HOOK_ENV: HOOK_SECRET}
    env.pop("SHIPWISE_PSEUDONYM_KEY", None)
    env.pop("SHIPWISE_TOKEN", None)
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _store(folder: Path) -> Settings:
    folder.mkdir(parents=True)
    settings = load_settings(db=folder / "shipwise.duckdb")
    init_store(settings)
    return settings


def _jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def _config(folder: Path, gh: FakeGitHub, world: World) -> Path:
    path = folder / "shipwise.yaml"
    path.write_text(yaml.safe_dump({
        "webhooks": {"sync_delay_seconds": float(os.environ.get("BENCH_SYNC_DELAY", "2"))},
        "sources": [{"kind": "github", "base_url": gh.base_url, "repos": world.names,
                     "token_env": TOKEN_ENV, "webhook_secret_env": HOOK_ENV,
                     # the fake world's deploy workflow (repositories without deployments)
                     "workflows": [{"workflow": "deploy", "job": "ship-*"}]}]}))
    return path


def _timed_sync(settings: Settings, config: Path, gh: FakeGitHub) -> dict[str, Any]:
    gh.reset_counts()
    out_file = config.parent / "sync.out"
    t0 = time.perf_counter()
    with out_file.open("wb") as out, (config.parent / "sync.err").open("wb") as err:
        proc = subprocess.Popen([sys.executable, "-m", "shipwise", "--db", str(settings.db),
                                 "--config", str(config), "sync", "--format", "json"],
                                stdout=out, stderr=err, env=_env(gh.token or ""))
        _, status, usage = os.wait4(proc.pid, 0)  # the child's own peak RSS
    seconds = time.perf_counter() - t0
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"sync failed ({code}): "
                         f"{(config.parent / 'sync.err').read_text()[-2000:]}")
    report = json.loads(out_file.read_text())
    kinds = Counter(_kind(r.path) for r in gh.requests)
    rss = usage.ru_maxrss
    return {"seconds": round(seconds, 2), "requests": len(gh.requests),
            "requests_by_kind": dict(kinds.most_common()),
            "requests_per_repository": round(len(gh.requests) / len(report["scopes"]), 2),
            "records": sum(s.get("records", 0) for s in report["scopes"]),
            "inserted": sum(s.get("inserted", 0) for s in report["scopes"]),
            "updated": sum(s.get("updated", 0) for s in report["scopes"]),
            "quarantined": sum(s.get("quarantined", 0) for s in report["scopes"]),
            "failed_scopes": [s["scope"] for s in report["scopes"] if s["status"] != "ok"],
            "peak_rss_mb": round(rss / 1024, 1)}


def _kind(path: str) -> str:
    if path.endswith("graphql"):
        return "graphql"
    for part in ("/compare/", "/actions/runs", "/releases", "/tags", "/rate_limit", "/events"):
        if part in path:
            return part.strip("/")
    return "other"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _post(url: str, world: World, n: int, clients: int, tag: str) -> dict[str, Any]:
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(n):
        queue.put_nowait(i)
    statuses: Counter[int] = Counter()
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:

        async def worker() -> None:
            while not queue.empty():
                i = queue.get_nowait()
                repo = world.names[i % len(world.names)]
                body = json.dumps({"ref": "refs/heads/main", "repository": {"full_name": repo},
                                   "commits": []}).encode()
                sig = "sha256=" + hmac.new(HOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
                res = await client.post("/webhooks/github", content=body, headers={
                    "X-GitHub-Event": "push", "X-GitHub-Delivery": f"{tag}-{i}",
                    "X-Hub-Signature-256": sig, "Content-Type": "application/json"})
                statuses[res.status_code] += 1

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        seconds = time.perf_counter() - t0
    return {"deliveries": n, "clients": clients, "seconds": round(seconds, 3),
            "requests_per_second": round(n / seconds, 1),
            "statuses": {str(k): v for k, v in sorted(statuses.items())}}


def intake(settings: Settings, config: Path, gh: FakeGitHub, world: World, n: int,
           clients: int) -> dict[str, Any]:
    port = _free_port()
    log = (config.parent / "serve.log").open("wb")  # read by nobody: a pipe would fill and block
    proc = subprocess.Popen([sys.executable, "-m", "shipwise", "--db", str(settings.db),
                             "--config", str(config), "serve", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=log, env=_env(gh.token or ""))
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SystemExit("serve did not start: "
                                 + (config.parent / "serve.log").read_text()[-2000:])
            time.sleep(0.2)
        tag = f"bench{int(time.time())}"
        gh.reset_counts()
        result = asyncio.run(_post(url, world, n, clients, tag))
        time.sleep(settings.webhooks.sync_delay_seconds + 1)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=120)
        log.close()
    with Store.open(settings.db) as store:
        rows = store.query("SELECT status, count(*) AS n FROM webhook_delivery "
                           "WHERE delivery_id LIKE ? GROUP BY 1", [f"{tag}-%"])
    stored = {str(r["status"]): int(r["n"]) for r in rows}
    result.update(stored=sum(stored.values()), by_status=stored, lost=n - sum(stored.values()),
                  github_requests_by_the_syncs=len(gh.requests))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repos", type=int, default=50)
    parser.add_argument("--prs", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--deliveries", type=int, default=3000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "github_sync.json")
    args = parser.parse_args()
    os.environ.pop("SHIPWISE_PSEUDONYM_KEY", None)
    result: dict[str, Any] = {
        "benchmark": "GitHub sync of a fake organisation and GitHub webhook intake, loopback",
        "command": "python bench/bench_github_sync.py " + " ".join(sys.argv[1:]),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "platform": platform.platform()},
        "target": {"second_sync_requests_per_repository": 1},
    }
    t0 = time.perf_counter()
    world = World.generate(repos=args.repos, prs=args.prs, seed=args.seed)
    result["world"] = {"repositories": args.repos, "pull_requests": args.repos * args.prs,
                       "commits": sum(len(r.commits) for r in world.repos),
                       "deployments": sum(len(r.deployments) for r in world.repos),
                       "workflow_runs": sum(len(r.runs) for r in world.repos),
                       "releases": sum(len(r.releases) for r in world.repos),
                       "generated_seconds": round(time.perf_counter() - t0, 1)}
    print(json.dumps(result["world"]), file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="bench-gh-") as tmp:
        root = Path(tmp)
        synced, truth = _store(root / "synced"), _store(root / "truth")
        import_paths(synced, [_jsonl(root / "org.jsonl", world.canonical_org())])
        with FakeGitHub(world) as gh:
            config = _config(root, gh, world)
            result["first_sync"] = _timed_sync(synced, config, gh)
            print("first", json.dumps(result["first_sync"]), file=sys.stderr)
            result["second_sync"] = _timed_sync(synced, config, gh)
            print("second", json.dumps(result["second_sync"]), file=sys.stderr)
            # incidents come from another system: the same file into both stores
            incidents = _jsonl(root / "incidents.jsonl", list(world.canonical_incidents()))
            import_paths(synced, [incidents])
            t0 = time.perf_counter()
            import_paths(truth, [world.write_canonical(root / "truth-files")])
            result["canonical_import_seconds"] = round(time.perf_counter() - t0, 1)
            a, b = figures(synced), figures(truth)
            result["equal_to_canonical_files"] = {k: a[k] == b[k] for k in b}
            deployments = sum(r["counts"]["deployments"] for r in a["dora-service-month"])
            result["compared"] = {"deployments": deployments,
                                  "flow_rows": len(a["flow-month"])}
            print(json.dumps(result["equal_to_canonical_files"]), file=sys.stderr)
            result["webhook_intake"] = intake(synced, config, gh, world, args.deliveries,
                                              args.clients)
            print(json.dumps(result["webhook_intake"]), file=sys.stderr)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
