"""Application logs (``logs.jsonl``): background chatter and the failures the model implies.

- **Background**: every service (and the gateway) logs INFO lines about requests, caches and
  housekeeping at a modest rate that follows its traffic, a few WARN lines (slow requests,
  retried throttles) and rare business ERRORs (declined cards, bad tokens) that exist on a healthy
  day too.
- **Failures**: for each 15 s step, each entity logs failed requests in proportion to each share
  of its excess errors, by cause: its own fault (the fault's mechanism-specific line, with a stack
  trace), saturation (shed load), a dependency failing (5xx), a denied call, a timeout naming the
  dependency. Every failure seen in a sampled trace gets its own line with the ``trace_id``.
- **Fault and herring extras**: restarts, health checks, config reloads, service start-ups.
"""

from __future__ import annotations

import numpy as np

from shipwise.demo.world import logtext
from shipwise.demo.world.logtext import LogLine
from shipwise.demo.world.model import Evaluation
from shipwise.demo.world.plan import Scenario
from shipwise.demo.world.traces import SpanFailure, TraceSet

#: Background line rate per entity at its mean load (lines per second).
BACKGROUND_RATE = 1 / 40.0
#: Failure lines per step per unit of error share, and the cap per step and cause.
FAILURE_GAIN, FAILURE_CAP = 50.0, 5.0

_COMMON = [
    ("INFO", "{verb} {route} 200 in {ms} ms"),
    ("INFO", "{verb} {route} 200 in {ms} ms"),
    ("INFO", "{verb} {route} 200 in {ms} ms"),
    ("INFO", "health: ok (uptime {up} s)"),
    ("INFO", "refreshed feature flags (14 flags, 0 changed)"),
    ("WARN", "slow request: {verb} {route} took {slow} ms"),
]
_SPECIFIC: dict[str, list[tuple[str, str]]] = {
    "gateway": [("INFO", "upstream pool stats: 212 active, 36 idle"),
                ("WARN", "client closed connection before response (499) on {route}")],
    "auth": [("WARN", "token rejected: signature expired"),
             ("WARN", "login failed: invalid credentials for {customer}")],
    "catalog": [("INFO", "cache hit ratio over 60s: 0.9{d}"),
                ("WARN", "retrying DynamoDB Query (attempt 2/3): ProvisionedThroughputExceeded")],
    "search": [("INFO", "index snapshot v{n} loaded (48213 documents)")],
    "cart": [("INFO", "cart {n} merged after login")],
    "checkout": [("INFO", "order {order} placed"), ("WARN", "payment retry for order {order}")],
    "payments": [("ERROR", "payment declined by provider: card_expired (order {order})"),
                 ("INFO", "authorised order {order}")],
    "inventory": [("INFO", "reserved {n} units of sku-{sku}")],
    "recommendations": [("INFO", "model v{n} scores served from cache")],
    "orders-worker": [("INFO", "order {order} persisted and confirmation queued")],
    "notifications": [("INFO", "confirmation email sent for order {order}"),
                      ("WARN", "email bounced for {customer}")],
}


class _Writer:
    def __init__(self, scn: Scenario, ev: Evaluation, rng: np.random.Generator) -> None:
        self.scn, self.ev, self.rng = scn, ev, rng
        self.topo = scn.world.topology
        self.lines: list[LogLine] = []

    def place(self, entity: str, t: float) -> tuple[str | None, str | None]:
        """(instance, pod) of the replica that wrote a line."""
        group = self.topo.group_of(entity)
        if group:
            live = [i.id for i in self.scn.fleet.of(group) if i.launched_at <= t < i.terminated_at]
            return (live[int(self.rng.integers(0, len(live)))] if live else None), None
        replicas = 2 if entity == "gateway" else 3
        return None, self.scn.pod(entity, t, int(self.rng.integers(0, replicas)))

    def add(self, line: LogLine) -> None:
        if line.instance is None and line.pod is None:
            line.instance, line.pod = self.place(line.entity, line.time)
        elif line.instance is None and self.topo.group_of(line.entity) is None and not line.pod:
            line.pod = self.place(line.entity, line.time)[1]
        self.lines.append(line)

    def background(self, entity: str, start: float, end: float) -> None:
        rng, world = self.rng, self.scn.world
        mean = max(world.load(entity), 1e-9)
        step = float(self.ev.t[1] - self.ev.t[0])
        load = self.ev.load[entity] / mean
        keep = (self.ev.t >= start) & (self.ev.t < end)
        counts = rng.poisson(BACKGROUND_RATE * step * np.sqrt(np.clip(load, 0.05, 10.0)) * keep)
        templates = _COMMON + _SPECIFIC.get(entity, []) * 2
        for i in np.flatnonzero(counts):
            for _ in range(int(counts[i])):
                level, tpl = templates[int(rng.integers(0, len(templates)))]
                t = float(self.ev.t[i]) + float(rng.uniform(0.0, step))
                self.add(LogLine(t, entity, level, self._fill(tpl, entity)))

    def _fill(self, tpl: str, entity: str) -> str:
        rng, world = self.rng, self.scn.world
        fields = {
            "verb": lambda: "GET", "route": lambda: f"/v1/{logtext.handler(entity)}",
            "ms": lambda: int(world.latency_ms.get(entity, 20.0) * rng.uniform(0.3, 0.9)),
            "slow": lambda: int(rng.uniform(800, 2400)), "up": lambda: int(rng.uniform(3e4, 9e5)),
            "customer": lambda: world.customer(int(rng.integers(0, world.n_customers))),
            "order": lambda: f"o-{int(rng.integers(10_000_000, 99_999_999))}",
            "sku": lambda: int(rng.integers(1000, 99999)), "n": lambda: int(rng.integers(10, 999)),
            "d": lambda: int(rng.integers(0, 6))}
        used = {k: f() for k, f in fields.items() if "{" + k + "}" in tpl}
        return tpl.format(**used)

    def failure(self, entity: str, t: float, cause: str, dep: str | None,
                timeout_ms: float | None = None, instance: str | None = None,
                pod: str | None = None, trace_id: str | None = None) -> None:
        fault = self.scn.fault
        runtime = self.topo.nodes[entity].runtime
        line: LogLine | None = None
        if cause == "intrinsic" or cause == "denied":
            if fault is not None:
                line = fault.error_line(entity, instance, t, self.rng,
                                        dep if cause == "denied" else None)
        else:
            if cause == "saturation":
                msg, exc = logtext.overload_error(entity, runtime)
            elif cause == "timeout" and dep is not None:
                msg, exc = logtext.timeout_error(entity, runtime, dep, self.topo.kind(dep),
                                                 timeout_ms or 1000.0)
            elif dep is not None and self.topo.kind(dep) in ("service", "external"):
                msg, exc = logtext.upstream_error(entity, runtime, dep)
            else:
                return
            line = LogLine(t, entity, "ERROR", msg, instance, exception=exc)
        if line is None:
            return
        if trace_id:
            line.trace_id = trace_id
        if pod and not line.pod and not line.instance:
            line.pod = pod
        self.add(line)

    def failures(self, entity: str, start: float, end: float) -> None:
        """Rate-based failure lines of ``entity`` by cause (see the module docstring)."""
        ev, rng = self.ev, self.rng
        step = float(ev.t[1] - ev.t[0])
        keep = (ev.t >= start) & (ev.t < end)
        causes: list[tuple[str, str | None, np.ndarray, np.ndarray | None]] = []
        intrinsic = ev.intrinsic_error.get(entity)
        if intrinsic is not None:
            causes.append(("intrinsic", None, intrinsic, None))
        if entity in ev.saturation_error:
            causes.append(("saturation", None, ev.saturation_error[entity], None))
        for e in self.topo.deps(entity):
            tr = ev.edges.get((e.source, e.target, e.relation))
            if tr is None:
                continue
            w = e.weight * e.pass_through
            causes.append(("upstream", e.target, w * tr.upstream, None))
            causes.append(("denied", e.target, w * tr.denied, None))
            causes.append(("timeout", e.target, w * tr.timeout,
                           np.broadcast_to(tr.timeout_ms, ev.t.shape)))
        for cause, dep, share, tmo in causes:
            lam = np.minimum(FAILURE_GAIN * np.clip(share, 0.0, 1.0), FAILURE_CAP) * keep
            lam = np.where(share > 0.002, lam, 0.0)
            counts = rng.poisson(lam)
            for i in np.flatnonzero(counts):
                for _ in range(int(counts[i])):
                    t = float(ev.t[i]) + float(rng.uniform(0.0, step))
                    self.failure(entity, t, cause, dep,
                                 float(tmo[i]) if tmo is not None else None)


def generate_logs(scn: Scenario, ev: Evaluation, start: float, end: float,
                  rng: np.random.Generator, traces: TraceSet | None = None) -> list[LogLine]:
    """Every log line in ``[start, end)``, sorted by time."""
    w = _Writer(scn, ev, rng)
    emitters = ["gateway", *scn.world.topology.services()]
    for entity in emitters:
        w.background(entity, start, end)
        w.failures(entity, start, end)
    for f in traces.failures if traces else []:
        _traced(w, f)
    extras = scn.fault.extra_logs(start, end, rng) if scn.fault else []
    for h in scn.herrings:
        extras += h.extra_logs(start, end, rng)
    for line in extras:
        if start <= line.time < end:
            w.add(line)
    w.lines.sort(key=lambda x: (x.time, x.entity, x.message))
    return w.lines


def _traced(w: _Writer, f: SpanFailure) -> None:
    w.failure(f.entity, f.time, f.cause, f.dep, f.timeout_ms, f.instance, f.pod, f.trace_id)
