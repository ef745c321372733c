"""A live Prometheus exporter of the demo world, for end-to-end runs.

:func:`start_exporter` plans a fault that starts ``fault_after_seconds`` after the exporter starts
(the world's ``t0``) and serves ``GET /metrics`` in the Prometheus text exposition format 0.0.4,
evaluating the model at the wall-clock instant of each scrape::

    # TYPE world_error_rate gauge
    world_error_rate{entity="checkout",kind="service"} 0.0021

Instance metrics (``cpu_utilisation``, ``memory_mb`` of ``i-…`` entities) are exported while the
instance is alive. With ``out_dir`` the exporter also writes, up front, what an investigation
reads besides metrics: ``topology.json``, ``events.jsonl`` (events at their scheduled instants,
some in the near future), ``logs.jsonl`` and ``traces/traces.json`` covering the hour before
``t0`` to ``horizon_seconds`` after the fault, and ``runbooks/``. The answer is never written there
(it is :attr:`ExporterHandle.truth`). Standard library HTTP server in a daemon thread; stop it
with :meth:`ExporterHandle.stop` or a ``with`` block.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np

from shipwise.demo.world.alarm import alarm_json, alert_rules, calibrate, first_alarm
from shipwise.demo.world.baseline import World
from shipwise.demo.world.logs import generate_logs
from shipwise.demo.world.model import evaluate
from shipwise.demo.world.noise import rng_for
from shipwise.demo.world.plan import Scenario, plan_scenario
from shipwise.demo.world.runbooks import choose_runbooks
from shipwise.demo.world.traces import generate_traces

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_HELP = {
    "requests_per_s": "Requests per second.",
    "error_rate": "Share of requests that failed (0-1).",
    "latency_p95_ms": "95th percentile latency in milliseconds.",
    "cpu_utilisation": "CPU utilisation (0-1).",
    "memory_mb": "Resident memory in megabytes.",
    "hit_rate": "Share of cache lookups that hit (0-1).",
    "evictions_per_s": "Cache evictions per second.",
    "errors_per_s": "Failed table requests per second.",
    "throttled_per_s": "Throttled table requests per second.",
    "depth": "Messages waiting in the queue.",
    "oldest_age_s": "Age of the oldest message in the queue, seconds.",
    "instances_in_service": "Instances in service in the group.",
    "launches_per_min": "Instance launches in the last minute.",
    "terminations_per_min": "Instance terminations in the last minute.",
}


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def exposition(scn: Scenario, now: float) -> str:
    """The Prometheus text exposition (0.0.4) of every metric at ``now``."""
    ev = evaluate(scn, np.array([now], dtype=np.float64))
    topo = scn.world.topology
    by_metric: dict[str, list[tuple[str, float]]] = {}
    for (entity, metric), values in ev.metrics.items():
        v = float(values[0])
        if np.isnan(v):
            continue
        by_metric.setdefault(metric, []).append((entity, v))
    lines = []
    for metric in sorted(by_metric):
        name = f"world_{metric}"
        lines.append(f"# HELP {name} {_HELP.get(metric, metric)}")
        lines.append(f"# TYPE {name} gauge")
        for entity, v in sorted(by_metric[metric]):
            kind = topo.kind(entity) if entity in topo.nodes else "instance"
            lines.append(f'{name}{{entity="{_label(entity)}",kind="{kind}"}} {v:.6g}')
    return "\n".join(lines) + "\n"


@dataclass
class ExporterHandle:
    """A running exporter: where to scrape it, what it plays, how to stop it."""

    host: str
    port: int
    t0: float
    scenario: Scenario
    out_dir: Path | None
    _server: ThreadingHTTPServer = field(repr=False)
    _thread: threading.Thread = field(repr=False)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/metrics"

    @property
    def fault_start(self) -> float:
        return self.scenario.start

    @property
    def truth(self) -> dict[str, Any]:
        return self.scenario.truth()

    def expected_alarm(self, step_seconds: float = 15.0, horizon_seconds: float = 3600.0,
                       ) -> dict[str, Any] | None:
        """The alarm the world's alert rules raise (alarm.json form), evaluated on a grid."""
        if self.scenario.fault is None:
            return None
        start = self.scenario.start
        grid = np.arange(self.t0 - 1800.0, start + horizon_seconds, step_seconds)
        ev = evaluate(self.scenario, grid)
        rules = calibrate(alert_rules(self.scenario.world), grid, ev.metrics, start)
        fired = first_alarm(rules, grid, ev.metrics, start)
        return alarm_json(self.scenario.world, fired) if fired else None

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5.0)

    def __enter__(self) -> ExporterHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_exporter(world: World, host: str = "127.0.0.1", port: int = 0,
                   fault_kind: str | None = "bad_deploy", fault_after_seconds: float = 60.0, *,
                   out_dir: str | Path | None = None, seed: int | None = None,
                   target: str | None = None, history_seconds: float = 3600.0,
                   horizon_seconds: float = 1800.0,
                   clock: Callable[[], float] = time.time) -> ExporterHandle:
    """Serve the world's metrics at ``http://host:port/metrics`` (port 0: any free port).

    ``fault_kind`` None serves a healthy world.
    """
    t0 = clock()
    seed = world.seed if seed is None else seed
    scn = plan_scenario(world, fault_kind, t0 + fault_after_seconds, seed, target=target)
    out = Path(out_dir) if out_dir is not None else None
    if out is not None:
        _write_files(scn, out, t0 - history_seconds,
                     t0 + fault_after_seconds + horizon_seconds)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?")[0] != "/metrics":
                body, code, ctype = b"demo world exporter: see /metrics\n", 404, "text/plain"
            else:
                body = exposition(scn, clock()).encode()
                code, ctype = 200, CONTENT_TYPE
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="world-exporter", daemon=True)
    thread.start()
    return ExporterHandle(host, int(server.server_address[1]), t0, scn, out, server, thread)


def _write_files(scn: Scenario, out: Path, start: float, end: float) -> None:
    """topology, events, logs, traces and runbooks of the live scenario."""
    out.mkdir(parents=True, exist_ok=True)
    grid = np.arange(np.floor(start / 15.0) * 15.0, end, 15.0)
    ev = evaluate(scn, grid)
    traces = generate_traces(scn, ev, start, end, rng_for(scn.seed, "traces"))
    logs = generate_logs(scn, ev, start, end, rng_for(scn.seed, "logs"), traces)
    (out / "topology.json").write_text(json.dumps(scn.topology_json(start, end), indent=1) + "\n")
    (out / "events.jsonl").write_text("".join(json.dumps(e.to_json()) + "\n"
                                              for e in scn.events))
    (out / "logs.jsonl").write_text("".join(json.dumps(x.to_json()) + "\n" for x in logs))
    (out / "traces").mkdir(exist_ok=True)
    (out / "traces" / "traces.json").write_text(json.dumps(traces.otlp) + "\n")
    books = out / "runbooks"
    books.mkdir(exist_ok=True)
    for rb in choose_runbooks(scn, "", rng_for(scn.seed, "runbooks")):
        (books / f"{rb.slug}.md").write_text(rb.render())
