"""Benchmark: commands while ``shipwise serve`` holds the store (docs/architecture.md).

Usage::

    python bench/bench_relay.py                 # demo at scale 1 (~280 k events), 5 repetitions
    python bench/bench_relay.py --scale 2 --repeat 3

Steps, on a demo store built into a temporary folder:

1. ``shipwise teams --format json`` and ``shipwise metrics dora --grain quarter --format json``
   in a fresh process, with no server (the command opens the store itself) and while a real
   ``shipwise serve`` holds it (the command is relayed): median wall time of each, so the
   relay's own cost is visible.
2. One more quarter of the demo's canonical files (a second demo seed's deployments, re-keyed)
   imported three ways: ``shipwise import`` with no server, ``shipwise import`` relayed, and
   ``POST /api/v1/imports`` streamed — wall time of each.
3. While the relayed import runs, ``GET /api/v1/teams`` in a loop: answers, p50 and p99 latency,
   against the same loop with the server idle — the dashboard keeps serving.

Results are printed and written to ``bench/results/relay.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
SRC = str(HERE.parent / "src")
RESULTS = HERE / "results" / "relay.json"


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIPWISE_")}
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _run(cwd: Path, *args: str) -> float:
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "shipwise", *args], cwd=cwd, env=_env(),
                          capture_output=True, text=True)
    elapsed = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"shipwise {' '.join(args)} failed: {proc.stderr[-2000:]}")
    return elapsed


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, cwd: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen([sys.executable, "-m", "shipwise", "serve", "--port",
                                      str(self.port)], cwd=cwd, env=_env(),
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(self.url + "/readyz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise SystemExit("the server did not start")
            time.sleep(0.1)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=120)


def _poll(url: str, token: str, stop: threading.Event, out: list[float]) -> None:
    with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
        while not stop.is_set():
            t = time.perf_counter()
            res = client.get(url + "/api/v1/teams")
            if res.status_code != 200:
                raise SystemExit(f"GET /api/v1/teams answered {res.status_code}")
            out.append(time.perf_counter() - t)


def _latency(samples: list[float]) -> dict[str, Any]:
    ordered = sorted(samples)
    return {"answers": len(ordered),
            "p50_ms": round(1000 * ordered[len(ordered) // 2], 1) if ordered else None,
            "p99_ms": round(1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], 1)
            if ordered else None}


def _more_deployments(src: Path, dst: Path) -> Path:
    """The demo's deployments again under new ids: records the store has not seen."""
    out = dst / "more_deployments.jsonl"
    with (src / "deployment.jsonl").open() as fin, out.open("w") as fout:
        for line in fin:
            rec = json.loads(line)
            rec["id"] = "more-" + rec["id"]
            if rec.get("version"):
                rec["version"] = "more-" + rec["version"]
            fout.write(json.dumps(rec) + "\n")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()

    root = Path(tempfile.mkdtemp(prefix="shipwise-bench-relay-"))
    try:
        print(f"building the demo (scale {args.scale:g}) …", flush=True)
        _run(root, "demo", "--scale", str(args.scale))
        files = root / "files"
        _run(root, "demo", "--scale", str(args.scale), "--out", str(files), "--no-import")
        more = _more_deployments(files, root)
        lines = sum(1 for _ in more.open())
        token = subprocess.run([sys.executable, "-m", "shipwise", "token", "create", "--name",
                                "bench", "--role", "admin"], cwd=root, env=_env(),
                               capture_output=True, text=True).stdout.split()[0]
        reads = {"teams": ["teams", "--format", "json"],
                 "dora": ["metrics", "dora", "--grain", "quarter", "--format", "json"]}
        direct = {k: statistics.median(_run(root, *a) for _ in range(args.repeat))
                  for k, a in reads.items()}
        backup = root / "before-import.duckdb"
        shutil.copy(root / "shipwise.duckdb", backup)
        import_direct = _run(root, "import", str(more))
        shutil.copy(backup, root / "shipwise.duckdb")

        server = Server(root)
        try:
            idle: list[float] = []
            stop = threading.Event()
            poller = threading.Thread(target=_poll, args=(server.url, token, stop, idle))
            poller.start()
            time.sleep(5)
            stop.set()
            poller.join()
            relayed = {k: statistics.median(_run(root, *a) for _ in range(args.repeat))
                       for k, a in reads.items()}
            during: list[float] = []
            stop = threading.Event()
            poller = threading.Thread(target=_poll, args=(server.url, token, stop, during))
            poller.start()
            import_relayed = _run(root, "import", str(more))
            stop.set()
            poller.join()
            # as many new records again, streamed to the API
            api_more = root / "api_deployments.jsonl"
            api_more.write_text(more.read_text().replace('"more-', '"api-'))
            t = time.perf_counter()
            with api_more.open("rb") as fh:
                res = httpx.post(server.url + "/api/v1/imports",
                                 params={"name": "deployments.jsonl"}, content=fh,
                                 headers={"Authorization": f"Bearer {token}"}, timeout=None)
            import_api = time.perf_counter() - t
            if res.status_code != 200:
                raise SystemExit(f"the API import failed: {res.status_code} {res.text[:500]}")
        finally:
            server.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)

    out = {
        "benchmark": "commands while shipwise serve holds the store",
        "command": " ".join(["python", "bench/bench_relay.py", *sys.argv[1:]]),
        "scale": args.scale,
        "repeat": args.repeat,
        "cpus": os.cpu_count(),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "read_seconds_median": {k: {"no_server": round(direct[k], 2),
                                    "relayed": round(relayed[k], 2)} for k in reads},
        "import_deployments": {"records": lines, "no_server_s": round(import_direct, 2),
                               "relayed_s": round(import_relayed, 2),
                               "api_stream_s": round(import_api, 2)},
        "api_teams_latency": {"idle": _latency(idle), "during_relayed_import": _latency(during)},
    }
    for k in reads:
        print(f"  {k:6} no server {direct[k]:.2f} s, relayed {relayed[k]:.2f} s")
    print(f"  import of {lines:,} deployments: no server {import_direct:.2f} s, relayed "
          f"{import_relayed:.2f} s, API stream {import_api:.2f} s")
    print(f"  GET /api/v1/teams idle {out['api_teams_latency']['idle']}, during the relayed "
          f"import {out['api_teams_latency']['during_relayed_import']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
