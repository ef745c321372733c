"""Benchmark: spans per second ingested through ``POST /v1/traces`` (OTLP/HTTP protobuf) of a real
``shipwise serve`` (docs/otlp.md).

Usage::

    python bench/bench_otlp.py                        # 20 s per run, 4 senders, 512 spans a body
    python bench/bench_otlp.py --seconds 10 --senders 2 --batch 512

A fresh store (``shipwise init``) and ``shipwise serve`` in a subprocess; the senders are threads
of this process, each with its own keep-alive connection, posting pre-encoded
``ExportTraceServiceRequest`` bodies (the OpenTelemetry SDK's batch size, 512 spans, over six
services; every body new ids) as fast as the answers come back, for ``--seconds``. Runs: plain
protobuf, and gzip (as an SDK exports with ``OTEL_EXPORTER_OTLP_COMPRESSION=gzip``). Reported per
run: bodies and spans acknowledged (200), spans/s, request latency p50/p99, and the spans the
store holds afterwards (must equal those acknowledged: nothing acknowledged is lost). Also, in
this process: decoding alone (protobuf → columns) in spans/s, to show where the time goes.

The machine is small (2 cores shared by the server, the senders and anything else running):
figures are a floor. Results are printed and written to ``bench/results/otlp.json``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

HERE = Path(__file__).resolve().parent
SRC = str(HERE.parent / "src")
RESULTS = HERE / "results" / "otlp.json"
SECRET = "bench-otlp-secret-0123456789"
SERVICES = ("frontend", "cart", "checkout", "payments", "catalog", "shipping")


def body(seq: int, batch: int) -> bytes:
    """One export request: ``batch`` spans in traces of six spans (one per service)."""
    req = ExportTraceServiceRequest()
    per = {s: req.resource_spans.add() for s in SERVICES}
    scopes = {}
    for s, rs in per.items():
        kv = rs.resource.attributes.add()
        kv.key, kv.value.string_value = "service.name", s
        scopes[s] = rs.scope_spans.add()
    now = time.time_ns()
    for i in range(batch):
        trace, depth = divmod(i, len(SERVICES))
        service = SERVICES[depth]
        sp = scopes[service].spans.add()
        sp.trace_id = (seq * 1_000_000 + trace + 1).to_bytes(16, "big")
        sp.span_id = (seq * 1_000_000 + i + 1).to_bytes(8, "big")
        if depth:
            sp.parent_span_id = (seq * 1_000_000 + i).to_bytes(8, "big")
        sp.name = f"{service} handler"
        sp.kind = 2
        sp.start_time_unix_nano = now - (batch - i) * 1_000_000
        sp.end_time_unix_nano = sp.start_time_unix_nano + 20_000_000 + depth * 1_000_000
        if i % 50 == 0:
            sp.status.code = 2
        attr = sp.attributes.add()
        attr.key, attr.value.string_value = "customer.id", f"c{trace % 997}"
    return req.SerializeToString()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def env_for(db: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIPWISE_")}
    env.update(PYTHONPATH=SRC + os.pathsep + env.get("PYTHONPATH", ""), SHIPWISE_DB=str(db),
               SHIPWISE_WEBHOOK_SECRET=SECRET, SHIPWISE_CONFIG=str(db.parent / "shipwise.yaml"))
    return env


def serve(db: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    log = open(db.parent / "serve.log", "wb")  # noqa: SIM115 (closed with the process)
    proc = subprocess.Popen([sys.executable, "-m", "shipwise", "serve", "--port", str(port)],
                            env=env_for(db), cwd=db.parent, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("serve exited: " + (db.parent / "serve.log").read_text()[-2000:])
        try:
            if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit("serve did not become ready")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def run(url: str, bodies: list[bytes], senders: int, seconds: float, batch: int,
        gzipped: bool) -> dict[str, Any]:
    headers = {"Content-Type": "application/x-protobuf", "Authorization": f"Bearer {SECRET}"}
    if gzipped:
        headers["Content-Encoding"] = "gzip"
    latencies: list[float] = []
    counts = {"ok": 0, "failed": 0}
    lock = threading.Lock()
    next_body = iter(range(len(bodies)))
    end = time.monotonic() + seconds

    def sender() -> None:
        with httpx.Client(headers=headers, timeout=30) as client:
            while time.monotonic() < end:
                with lock:
                    i = next(next_body, None)
                if i is None:
                    return
                t0 = time.perf_counter()
                r = client.post(url + "/v1/traces", content=bodies[i])
                dt = time.perf_counter() - t0
                with lock:
                    latencies.append(dt)
                    counts["ok" if r.status_code == 200 else "failed"] += 1

    threads = [threading.Thread(target=sender) for _ in range(senders)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    latencies.sort()
    return {"bodies_ok": counts["ok"], "bodies_failed": counts["failed"],
            "spans_ok": counts["ok"] * batch, "seconds": round(wall, 2),
            "spans_per_s": round(counts["ok"] * batch / wall),
            "p50_ms": round(1000 * statistics.median(latencies), 1) if latencies else None,
            "p99_ms": round(1000 * latencies[int(0.99 * (len(latencies) - 1))], 1)
            if latencies else None,
            "body_bytes": len(bodies[0])}


def decode_only(bodies: list[bytes]) -> float:
    sys.path.insert(0, SRC)
    from shipwise.ingest.otlp import decode  # the bench's own import, after the path is set

    n = 0
    t0 = time.perf_counter()
    for b in bodies[:50]:
        n += len(decode("traces", b, "application/x-protobuf", time.time_ns()))
    return n / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--senders", type=int, default=4)
    ap.add_argument("--batch", type=int, default=512)
    args = ap.parse_args()
    n_bodies = 4000
    plain = [body(i, args.batch) for i in range(n_bodies)]
    out: dict[str, Any] = {
        "benchmark": "OTLP/HTTP spans ingested by shipwise serve",
        "command": f"python bench/bench_otlp.py --seconds {args.seconds:g} "
                   f"--senders {args.senders} --batch {args.batch}",
        "cpus": os.cpu_count(), "batch_spans": args.batch, "senders": args.senders,
        "measured_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "decode_only_spans_per_s": round(decode_only(plain)),
        "runs": {},
    }
    for name, gzipped in (("protobuf", False), ("protobuf_gzip", True)):
        with tempfile.TemporaryDirectory(prefix="shipwise-otlp-") as tmp:
            db = Path(tmp) / "shipwise.duckdb"
            (db.parent / "shipwise.yaml").write_text(json.dumps(
                {"server": {"prewarm": False, "access_log": False}}))
            subprocess.run([sys.executable, "-m", "shipwise", "init"], env=env_for(db), cwd=tmp,
                           check=True, capture_output=True)
            bodies = [gzip.compress(b, 6) for b in plain] if gzipped else plain
            proc, url = serve(db)
            try:
                res = run(url, bodies, args.senders, args.seconds, args.batch, gzipped)
            finally:
                stop(proc)
            import duckdb  # only here: the store is read once the server let go of it

            con = duckdb.connect(str(db), read_only=True)
            row = con.execute("SELECT count(*) FROM otel_span").fetchone()
            con.close()
            res["spans_stored"] = int(row[0]) if row else 0
            res["lost"] = max(0, res["spans_ok"] - res["spans_stored"])
            out["runs"][name] = res
            print(name, json.dumps(res))
    RESULTS.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
