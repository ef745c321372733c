"""Sampled request traces in OTLP/JSON (``traces/traces.json``).

Each trace is one request: the gateway's entry span (with the pseudonymous ``customer.id``) routes
to one service by the gateway's edge weights, and every service calls its dependencies with the
probability of the edge weight — a server span per service, a client span per call. Durations
come from the model's noise-free latency at that instant, failures from its error shares: a
service fails on its own (its intrinsic or saturation share, or its instance's share), a call
fails when the dependency fails, when it is denied, or when it outlasts the caller's timeout, and
a failed call fails the caller with the edge's pass-through probability.

Sampling is tail sampling that favours errors: of the candidate requests (three per ``every_s``
seconds) every failing one is kept and a third of the others; while some service fails, extra
candidates (one per two seconds, routed where the failures are) are tried and kept only when
they fail. Orders-worker consumer
traces (started from the queue, not the gateway) are included too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from shipwise.demo.world.model import Evaluation, _q
from shipwise.demo.world.plan import Scenario
from shipwise.demo.world.topology import Edge

SERVER, CLIENT, CONSUMER = 2, 3, 5
#: Where some service fails, one extra candidate request per this many seconds (kept if it fails).
FAILING_EVERY_S = 2.0
_ROUTES = {"auth": ("POST", "/api/login"), "catalog": ("GET", "/api/products/{sku}"),
           "search": ("GET", "/api/search"), "cart": ("GET", "/api/cart"),
           "checkout": ("POST", "/api/checkout"),
           "recommendations": ("GET", "/api/recommendations")}
_LANG = {"jvm": "java", "python": "python", "go": "go"}


@dataclass(frozen=True)
class SpanFailure:
    """A failure seen in a sampled trace, for the log line that goes with it."""

    time: float
    entity: str
    instance: str | None
    pod: str | None
    trace_id: str
    cause: str  # intrinsic | saturation | upstream | denied | timeout
    dep: str | None = None
    timeout_ms: float | None = None


@dataclass
class TraceSet:
    otlp: dict[str, Any]
    failures: list[SpanFailure] = field(default_factory=list)
    n_traces: int = 0
    customers: set[str] = field(default_factory=set)


def _attr(key: str, value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"key": key, "value": {"boolValue": value}}
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}
    if isinstance(value, float):
        return {"key": key, "value": {"doubleValue": value}}
    return {"key": key, "value": {"stringValue": str(value)}}


class _Builder:
    def __init__(self, scn: Scenario, ev: Evaluation, rng: np.random.Generator) -> None:
        self.scn, self.ev, self.rng = scn, ev, rng
        self.world, self.topo = scn.world, scn.world.topology
        self.fx = ev.effects
        self.step = float(ev.t[1] - ev.t[0]) if len(ev.t) > 1 else 15.0
        self.resources: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.failures: list[SpanFailure] = []
        self.root: dict[str, Any] = {}
        self.pending: list[tuple[tuple[str, str], dict[str, Any]]] = []
        self.pending_failures: list[SpanFailure] = []
        self.t0, self.n = float(ev.t[0]), len(ev.t)
        fx = ev.effects
        assert fx is not None
        lists = _lists
        self.sat = lists(ev.saturation_error)
        self.lat = lists(ev.latency_ms)
        self.excess = lists(ev.excess_error)
        self.own_err = lists(fx.error)
        self.inst_err = lists(fx.instance_error)
        self.factor = lists(fx.latency_factor)
        self.add = lists(fx.latency_add_ms)
        self.sat_mult: dict[str, list[float]] = {}
        for n, u in ev.utilisation.items():
            u0 = self.world.load(n) / self.world.capacity_rps[n]
            self.sat_mult[n] = (1.0 + 0.15 * np.maximum(_q(u) - u0 / (1 - u0), 0.0)).tolist()
        self.denied = {k: v.denied.tolist() for k, v in ev.edges.items()}
        self.timeout = {k: np.broadcast_to(v.timeout_ms, ev.t.shape).tolist()
                        for k, v in ev.edges.items()}
        self._ids: list[int] = []

    def idx(self, t: float) -> int:
        return min(max(round((t - self.t0) / self.step), 0), self.n - 1)

    def lognormal(self, p95: float) -> float:
        return float(p95 / np.exp(1.645 * 0.45) * np.exp(0.45 * self.rng.standard_normal()))

    def where(self, svc: str, t: float) -> tuple[str | None, str | None]:
        group = self.topo.group_of(svc)
        if group:
            live = [i.id for i in self.scn.fleet.of(group)
                    if i.launched_at + i.boot_s <= t < i.terminated_at]
            return (live[int(self.rng.integers(0, len(live)))] if live else None), None
        if svc == "gateway":
            return None, self.scn.pod("gateway", t, int(self.rng.integers(0, 2)))
        return None, self.scn.pod(svc, t, int(self.rng.integers(0, 3)))

    def span(self, sid: str, svc: str, where: str, trace: str, parent: str, name: str,
             kind: int, t0: float, ms: float, error: str | None,
             attrs: list[dict[str, Any]]) -> None:
        span: dict[str, Any] = {
            "traceId": trace, "spanId": sid, "parentSpanId": parent, "name": name, "kind": kind,
            "startTimeUnixNano": str(int(t0 * 1e9)),
            "endTimeUnixNano": str(int((t0 + ms / 1000.0) * 1e9)),
            "attributes": attrs, "status": {"code": 2, "message": error} if error else {"code": 0}}
        if error:
            span["events"] = [{"name": "exception", "timeUnixNano": span["endTimeUnixNano"],
                               "attributes": [_attr("exception.message", error)]}]
        self.pending.append(((svc, where), span))
        if not parent:
            self.root = span

    def new_id(self) -> str:
        if not self._ids:
            self._ids = self.rng.integers(1, 2**63, size=4096, dtype=np.int64).tolist()
        return f"{self._ids.pop():016x}"

    def commit(self, keep: bool) -> None:
        if keep:
            for key, span in self.pending:
                self.resources.setdefault(key, []).append(span)
            self.failures += self.pending_failures
        self.pending, self.pending_failures = [], []

    def own_p95(self, n: str, i: int) -> float:
        base = 0.4 * self.world.latency_ms.get(n, 5.0)
        f = self.factor[n][i] if n in self.factor else 1.0
        sat = self.sat_mult[n][i] if n in self.sat_mult else 1.0
        return base * f * sat + (self.add[n][i] if n in self.add else 0.0)

    def serve(self, n: str, t0: float, trace: str, parent: str, name: str,
              kind: int = SERVER) -> tuple[float, str | None]:
        """A server span of service ``n``; returns (duration ms, failure cause or None)."""
        i = self.idx(t0)
        inst, pod = self.where(n, t0)
        sid = self.new_id()
        p_own = self.own_err[n][i] if n in self.own_err else 0.0
        if inst is not None and inst in self.inst_err:
            p_own = 1 - (1 - p_own) * (1 - self.inst_err[inst][i])
        cause: str | None = None
        dep_of_cause: str | None = None
        if self.rng.random() < p_own:
            cause = "intrinsic"
        elif n in self.sat and self.rng.random() < self.sat[n][i]:
            cause = "saturation"
        own = self.lognormal(self.own_p95(n, i))
        cursor = t0 + own / 2000.0
        total = own
        attrs_where = inst or pod or ""
        calls: list[tuple[Edge, str | None, float]] = []
        for e in self.topo.deps(n):
            if self.rng.random() >= min(1.0, e.weight):
                continue
            ms, failed = self.call(n, attrs_where, e, cursor, trace, sid)
            calls.append((e, failed, ms))
            cursor += ms / 1000.0
            total += ms
            if failed and cause is None and self.rng.random() < e.pass_through:
                cause, dep_of_cause = failed, e.target
        error = None
        if cause is not None:
            error = {"intrinsic": "internal error", "saturation": "overloaded: request shed",
                     "upstream": f"dependency {dep_of_cause} failed",
                     "denied": f"access denied on {dep_of_cause}",
                     "timeout": f"timeout calling {dep_of_cause}"}[cause]
            tmo = None
            if cause == "timeout" and dep_of_cause:
                tmo = next((v[i] for (s, d, _), v in self.timeout.items()
                            if s == n and d == dep_of_cause), None)
            self.pending_failures.append(
                SpanFailure(t0, n, inst, pod, trace, cause, dep_of_cause, tmo))
        self.span(sid, n, attrs_where, trace, parent, name, kind, t0, total, error,
                  [_attr("http.route", name)])
        return total, ("upstream" if cause else None)

    def call(self, n: str, where: str, e: Edge, t0: float, trace: str,
             parent: str) -> tuple[float, str | None]:
        """A client span from ``n`` to ``e.target`` (and the callee's server span)."""
        csid = self.new_id()
        i, dep, kind = self.idx(t0), e.target, self.topo.kind(e.target)
        key = (e.source, e.target, e.relation)
        timeout = self.timeout[key][i] if key in self.timeout else float("inf")
        failed: str | None = None
        attrs: list[dict[str, Any]] = [_attr("peer.service", dep)]
        if kind == "service":
            op = "POST" if e.weight >= 1.0 else "GET"
            name = f"{op} {dep}"
            ms, sub = self.serve(dep, t0 + 0.0005, trace, csid, f"{op} /v1/{dep}")
            ms += 1.0  # the network around the callee's work
            failed = "upstream" if sub else None
        else:
            ms = self.lognormal(self.lat[dep][i] if dep in self.lat else 8.0)
            if kind == "table":
                op = "PutItem" if e.relation == "writes" else "GetItem"
                name = f"DynamoDB.{op}"
                attrs += [_attr("db.system", "dynamodb"), _attr("aws.dynamodb.table_names", dep)]
            elif kind == "cache":
                name = "SET" if e.relation == "writes" else "GET"
                attrs += [_attr("db.system", "redis")]
            elif kind == "queue":
                name, ms = f"{dep} publish", max(ms, 4.0)
                attrs += [_attr("messaging.system", "aws_sqs"),
                          _attr("messaging.destination.name", dep)]
            else:
                name = f"POST {dep}"
                p = self.excess[dep][i] if dep in self.excess else 0.0
                failed = "upstream" if self.rng.random() < p else None
            if key in self.denied and self.rng.random() < self.denied[key][i]:
                failed, ms = "denied", min(ms, 12.0)
        if ms > timeout:
            failed, ms = "timeout", timeout
        self.span(csid, n, where, trace, parent, name, CLIENT, t0, ms,
                  {"denied": "AccessDeniedException", "timeout": "deadline exceeded",
                   "upstream": "error response"}.get(failed or "") if failed else None,
                  attrs)
        return ms, failed


def generate_traces(scn: Scenario, ev: Evaluation, start: float, end: float,
                    rng: np.random.Generator, every_s: float = 20.0) -> TraceSet:
    """Sampled traces in ``[start, end)`` (about one per ``every_s`` seconds, plus failing ones)."""
    b = _Builder(scn, ev, rng)
    gw_edges = b.topo.deps("gateway")
    weights = np.array([e.weight for e in gw_edges])
    weights = weights / weights.sum()
    n_cand = int(rng.poisson(3.0 * (end - start) / every_s))
    base = rng.uniform(start, end, n_cand)
    # Tail sampling keeps every failing request: look harder where something fails.
    window = (ev.t >= start) & (ev.t < end)
    excess = np.max([ev.excess_error[n] for n in ("gateway", *b.topo.services())], axis=0)
    extra_n = rng.poisson(np.where(window & (excess > 0.01), b.step / FAILING_EVERY_S, 0.0))
    extra = np.repeat(ev.t, extra_n) + rng.uniform(0.0, b.step, int(extra_n.sum()))
    times = np.concatenate([base, extra])
    only_failed = np.concatenate([np.zeros(n_cand, bool), np.ones(len(extra), bool)])
    order = np.argsort(times, kind="stable")
    times, only_failed = times[order], only_failed[order]
    n = len(times)
    keep_ok = rng.random(n) < 1 / 3
    consumer = rng.random(n) < 0.08
    routes = rng.choice(len(gw_edges), size=n, p=weights)
    # the extra candidates go where the failures are: a route in proportion to how much fails
    # behind it, the consumer in proportion to its own failures
    hot = np.flatnonzero(only_failed)
    if hot.size:
        fails = np.array([np.interp(times[hot], ev.t, ev.excess_error[e.target])
                          for e in gw_edges] + [np.interp(times[hot], ev.t,
                                                          ev.excess_error["orders-worker"])])
        p = fails * np.append(weights, 0.08)[:, None] + 1e-9
        cum = np.cumsum(p / p.sum(axis=0), axis=0)
        pick = (rng.random(hot.size)[None, :] > cum).sum(axis=0)
        consumer[hot] = pick == len(gw_edges)
        routes[hot] = np.minimum(pick, len(gw_edges) - 1)
    who = rng.zipf(1.4, size=n) % scn.world.n_customers
    # where nothing fails, a request that would not be kept need not be built
    quiet = np.interp(times, ev.t, excess) < 0.002 if n else np.zeros(0, bool)
    kept, customers = 0, set()
    for i, t in enumerate(times.tolist()):
        if quiet[i] and not keep_ok[i]:
            continue
        trace = b.new_id() + b.new_id()
        if consumer[i]:
            _, failed = b.serve("orders-worker", t, trace, "", "orders-queue process", CONSUMER)
        else:
            e = gw_edges[int(routes[i])]
            method, route = _ROUTES.get(e.target, ("GET", f"/api/{e.target}"))
            _, failed = _entry(b, e, t, trace, method, route)
        keep = bool(failed) or (not only_failed[i] and bool(keep_ok[i]))
        if keep:
            customer = scn.world.customer(int(who[i]))
            b.root["attributes"].append(_attr("customer.id", customer))
            customers.add(customer)
            kept += 1
        b.commit(keep)
    return TraceSet(_otlp(b), b.failures, kept, customers)


def _lists(arrays: dict[Any, Any]) -> dict[Any, list[float]]:
    return {k: np.asarray(v, dtype=np.float64).tolist() for k, v in arrays.items()
            if np.ndim(v) == 1}


def _entry(b: _Builder, e: Edge, t: float, trace: str, method: str,
           route: str) -> tuple[float, str | None]:
    root = b.new_id()
    gw_where = b.where("gateway", t)[1] or ""
    ms, failed = b.call("gateway", gw_where, e, t + 0.0004, trace, root)
    i = b.idx(t)
    sat = b.sat["gateway"][i]
    if not failed and b.rng.random() < sat:
        failed = "saturation"
    failed = failed if failed and b.rng.random() < max(e.pass_through, 0.5) else None
    total = ms + b.lognormal(6.0)
    status = {"timeout": 504, "denied": 500}.get(failed or "", 503) if failed else 200
    b.span(root, "gateway", gw_where, trace, "", f"{method} {route}", SERVER, t, total,
           f"HTTP {status}" if failed else None,
           [_attr("http.request.method", method), _attr("http.route", route),
            _attr("http.response.status_code", status)])
    if failed:
        b.pending_failures.append(
            SpanFailure(t, "gateway", None, gw_where, trace, "upstream", e.target))
    return total, failed


def _otlp(b: _Builder) -> dict[str, Any]:
    out = []
    for (svc, where), spans in sorted(b.resources.items()):
        if not spans:
            continue
        node = b.topo.nodes[svc]
        attrs = [_attr("service.name", svc), _attr("deployment.environment.name", "prod"),
                 _attr("cloud.region", "eu-west-1"),
                 _attr("telemetry.sdk.language", _LANG.get(node.runtime, "python"))]
        if where.startswith("i-"):
            attrs.append(_attr("host.id", where))
        elif where:
            ns = (node.platform or {}).get("namespace", "shop")
            attrs += [_attr("k8s.namespace.name", ns), _attr("k8s.deployment.name", svc),
                      _attr("k8s.pod.name", where)]
        out.append({"resource": {"attributes": attrs},
                    "scopeSpans": [{"scope": {"name": "shop.telemetry", "version": "1.4.0"},
                                    "spans": spans}]})
    return {"resourceSpans": out}
