"""The metric model: every metric of every entity at arbitrary instants, vectorised.

For instants ``t`` (a numpy array of epoch seconds):

1. **Load.** Entry traffic at the gateway is the world's mean rate × a diurnal curve × any traffic
   effect; each request edge passes ``weight`` of its source's load to its target; a queue's
   consumer processes what is published (times a consume factor when it stalls).
2. **Saturation.** A service's utilisation is load / capacity (capacity falls with instances out
   of service); latency grows as utilisation approaches 1 and load beyond capacity is shed as
   errors.
3. **Propagation.** With ``x(n)`` the excess error share of entity ``n`` (above its baseline),
   ``x(n) = 1 − (1 − own(n)) · Π_e (1 − w_e · f_e)`` over the request edges ``e = n → d``, where
   ``f_e = pass_e · (1 − (1 − x(d)) (1 − edge_error_e) (1 − timeouts_e))``. A dependency is
   evaluated at ``t − 20 s`` (one or two samples earlier) per hop, so trouble shows first where it
   starts. Latency excess travels the same way, capped at the caller's timeout; the share of calls
   beyond the timeout (log-normal tail of the dependency's latency) becomes the caller's errors.
4. **Noise.** Each (entity, metric) gets stateless noise from :mod:`noise` (a function of the seed,
   the names and the 15 s bucket), so evaluating the same instant twice gives the same value.

Besides the metrics, :func:`evaluate` returns the noise-free diagnostics that the log and trace
generators need (who fails, because of what, how slow).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from shipwise.demo.world.baseline import (
    NOISE_BUCKET_S,
    PROPAGATION_DELAY_S,
    World,
    lognormal_tail,
)
from shipwise.demo.world.effects import Effects, Fleet
from shipwise.demo.world.noise import smooth_normal, stable_u64, uniform_at
from shipwise.demo.world.topology import Edge, Topology

Key = tuple[str, str]
EdgeKey = tuple[str, str, str]
NoiseFn = Callable[[str, str], np.ndarray]
AddFn = Callable[[str, str, np.ndarray], None]

#: Metric names per entity kind (``docs/case-format.md``).
METRICS = {
    "gateway": ("requests_per_s", "error_rate", "latency_p95_ms", "cpu_utilisation", "memory_mb"),
    "service": ("requests_per_s", "error_rate", "latency_p95_ms", "cpu_utilisation", "memory_mb"),
    "cache": ("hit_rate", "latency_p95_ms", "evictions_per_s"),
    "table": ("latency_p95_ms", "errors_per_s", "throttled_per_s"),
    "queue": ("depth", "oldest_age_s"),
    "instance_group": ("instances_in_service", "launches_per_min", "terminations_per_min"),
    "instance": ("cpu_utilisation", "memory_mb"),
    "external": ("latency_p95_ms", "error_rate"),
}


class Effective(Protocol):
    """What the model evaluates: a world, its fleet and the effects of what goes wrong."""

    @property
    def world(self) -> World: ...

    @property
    def fleet(self) -> Fleet: ...

    def effects(self, t: np.ndarray) -> Effects: ...


@dataclass
class EdgeTrouble:
    """Noise-free shares of the calls along one edge that fail, by cause."""

    upstream: np.ndarray  # the dependency itself fails
    denied: np.ndarray  # edge-specific failure (a revoked permission)
    timeout: np.ndarray  # slower than the caller's timeout
    timeout_ms: np.ndarray


@dataclass
class Evaluation:
    t: np.ndarray
    metrics: dict[Key, np.ndarray]
    #: Noise-free excess error share, intrinsic share and saturation share per entity.
    excess_error: dict[str, np.ndarray] = field(default_factory=dict)
    intrinsic_error: dict[str, np.ndarray] = field(default_factory=dict)
    saturation_error: dict[str, np.ndarray] = field(default_factory=dict)
    utilisation: dict[str, np.ndarray] = field(default_factory=dict)
    latency_ms: dict[str, np.ndarray] = field(default_factory=dict)
    load: dict[str, np.ndarray] = field(default_factory=dict)
    edges: dict[EdgeKey, EdgeTrouble] = field(default_factory=dict)
    effects: Effects | None = None


def _q(u: np.ndarray) -> np.ndarray:
    """Queueing delay shape: u / (1 − u), continued linearly beyond u = 0.95."""
    uc = np.minimum(u, 0.95)
    return np.where(u <= 0.95, uc / (1 - uc), 19.0 + 60.0 * (u - 0.95))


class _Shifted:
    """Load, capacity and saturation at ``t − k·delay``."""

    def __init__(self, scn: Effective, t: np.ndarray) -> None:
        world, topo = scn.world, scn.world.topology
        self.fx = scn.effects(t)
        self.t = t
        entry = world.entry_rps * world.diurnal(t) * self.fx.traffic
        load = {n: np.zeros_like(t) for n in topo.nodes}
        load["gateway"] = entry
        for n in topo.request_order():
            if topo.kind(n) == "queue":
                consumer = topo.consumer_of(n)
                if consumer:
                    load[consumer] = load[consumer] + load[n] * self.fx.consume_factor.get(
                        consumer, 1.0)
                continue
            for e in topo.deps(n):
                load[e.target] = load[e.target] + load[n] * e.weight
        self.load = load
        self.util: dict[str, np.ndarray] = {}
        self.sat_err: dict[str, np.ndarray] = {}
        self.lat_mult: dict[str, np.ndarray] = {}
        self.inst_err: dict[str, np.ndarray] = {}
        for n in [*topo.services(), "gateway"]:
            cap = world.capacity_rps[n] * self.fx.capacity.get(n, 1.0)
            group = topo.group_of(n)
            if group:
                cap = cap * np.maximum(scn.fleet.capacity_factor(group, t), 1e-3)
                self.inst_err[n] = self._instance_error(scn.fleet, group, t)
            u = load[n] / np.maximum(cap, 1e-9)
            u0 = world.load(n) / world.capacity_rps[n]
            self.util[n] = u
            self.sat_err[n] = np.clip(1.0 - 1.0 / np.maximum(u, 1e-9), 0.0, 0.97)
            self.lat_mult[n] = 1.0 + 0.15 * (_q(u) - u0 / (1 - u0))

    def _instance_error(self, fleet: Fleet, group: str, t: np.ndarray) -> np.ndarray:
        share = np.zeros_like(t)
        n_in = np.maximum(fleet.in_service(group, t), 1.0)
        for inst in fleet.of(group):
            err = self.fx.instance_error.get(inst.id)
            if err is not None:
                share = share + inst.in_service(t) / n_in * err
        return share


class _Propagation:
    def __init__(self, scn: Effective, t: np.ndarray) -> None:
        self.world = scn.world
        self.topo = scn.world.topology
        self.depth = _depth(self.topo)
        self.at = [_Shifted(scn, t - k * PROPAGATION_DELAY_S) for k in range(self.depth + 1)]
        self._x: dict[tuple[str, int], np.ndarray] = {}
        self._lat: dict[tuple[str, int], np.ndarray] = {}
        self.edges: dict[EdgeKey, EdgeTrouble] = {}

    def own(self, n: str, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(intrinsic, saturation) error shares of ``n`` at shift ``k``."""
        s = self.at[k]
        intrinsic = s.fx.error.get(n, np.zeros_like(s.t))
        if n in s.inst_err:
            intrinsic = 1 - (1 - intrinsic) * (1 - s.inst_err[n])
        return intrinsic, s.sat_err.get(n, np.zeros_like(s.t))

    def latency(self, n: str, k: int) -> np.ndarray:
        if (n, k) in self._lat:
            return self._lat[(n, k)]
        s, base = self.at[k], self.world.latency_ms.get(n, 0.0)
        lat = base * s.fx.latency_factor.get(n, 1.0) * s.lat_mult.get(n, 1.0)
        lat = lat + s.fx.latency_add_ms.get(n, 0.0)
        kk = min(k + 1, self.depth)
        for e in self.topo.deps(n):
            if self.topo.kind(e.target) == "queue":
                continue
            excess = np.maximum(self.latency(e.target, kk) - self.world.latency_ms[e.target], 0.0)
            cap = s.fx.timeout_ms.get((n, e.target), e.timeout_ms or np.inf)
            lat = lat + min(1.0, 4 * e.weight) * np.minimum(excess, cap)
        self._lat[(n, k)] = np.broadcast_to(lat, s.t.shape).astype(np.float64)
        return self._lat[(n, k)]

    def trouble(self, e: Edge, k: int) -> EdgeTrouble:
        s, kk = self.at[k], min(k + 1, self.depth)
        zeros = np.zeros_like(s.t)
        up = self.excess(e.target, kk)
        denied = 1 - (1 - s.fx.edge_error.get((e.source, e.target, "*"), zeros)) * (
            1 - s.fx.edge_error.get((e.source, e.target, e.relation), zeros))
        default = e.timeout_ms or np.inf
        tmo = np.broadcast_to(s.fx.timeout_ms.get((e.source, e.target), default), s.t.shape)
        timeout = zeros
        if np.isfinite(default) and self.topo.kind(e.target) != "queue":
            timeout = lognormal_tail(self.latency(e.target, kk), tmo)
            if np.isfinite(default):
                base_tail = float(lognormal_tail(np.array([self.world.latency_ms[e.target]]),
                                                 default)[0])
                timeout = np.maximum(timeout - base_tail, 0.0)
        return EdgeTrouble(up, denied, timeout, tmo)

    def excess(self, n: str, k: int) -> np.ndarray:
        if (n, k) in self._x:
            return self._x[(n, k)]
        intrinsic, sat = self.own(n, k)
        survive = (1 - intrinsic) * (1 - sat)
        for e in self.topo.deps(n):
            tr = self.trouble(e, k)
            if k == 0:
                self.edges[(e.source, e.target, e.relation)] = tr
            fail = e.pass_through * (1 - (1 - tr.upstream) * (1 - tr.denied) * (1 - tr.timeout))
            survive = survive * (1 - e.weight * fail)
        self._x[(n, k)] = np.clip(1 - survive, 0.0, 1.0)
        return self._x[(n, k)]


def _depth(topo: Topology) -> int:
    depth: dict[str, int] = {}
    for n in reversed(topo.request_order()):
        depth[n] = 1 + max((depth[e.target] for e in topo.deps(n)), default=-1)
    return max(depth.values())


class _Noise:
    def __init__(self, world: World, fx: Effects, t: np.ndarray) -> None:
        self.seed, self.fx, self.t = world.seed, fx, t

    def __call__(self, entity: str, metric: str) -> np.ndarray:
        key = stable_u64("noise", self.seed, entity, metric)
        z = smooth_normal(key, self.t, NOISE_BUCKET_S)
        scale = self.fx.noise_scale.get((entity, metric))
        if scale is None:
            return z
        spikes = (uniform_at(key, self.t, NOISE_BUCKET_S) < 0.04) * (3.0 + 2.0 * np.abs(z))
        return z * scale + spikes


def evaluate(scn: Effective, t: np.ndarray, *, noise: bool = True) -> Evaluation:
    """Every metric of every entity at the instants ``t`` (NaN where an instance is not alive)."""
    t = np.asarray(t, dtype=np.float64)
    world, topo = scn.world, scn.world.topology
    prop = _Propagation(scn, t)
    now = prop.at[0]
    fx = now.fx
    nz: NoiseFn = _Noise(world, fx, t) if noise else (lambda e, m: np.zeros_like(t))
    out: dict[Key, np.ndarray] = {}
    ev = Evaluation(t, out, load=now.load, edges=prop.edges, effects=fx, utilisation=now.util)

    def add(entity: str, metric: str, value: np.ndarray) -> None:
        extra = fx.metric_add.get((entity, metric))
        out[(entity, metric)] = value if extra is None else value + extra

    for n in topo.nodes:
        kind = topo.kind(n)
        if kind in ("gateway", "service", "external", "table", "cache"):
            x = prop.excess(n, 0)
            ev.excess_error[n] = x
            ev.intrinsic_error[n], ev.saturation_error[n] = prop.own(n, 0)
            ev.latency_ms[n] = prop.latency(n, 0)
    for n in topo.nodes:
        kind = topo.kind(n)
        load = now.load[n]
        if kind in ("gateway", "service"):
            _service_metrics(scn, n, ev, nz, add)
        elif kind == "external":
            base = world.error_rate[n]
            add(n, "latency_p95_ms", ev.latency_ms[n] * np.exp(0.06 * nz(n, "latency_p95_ms")))
            err = base * np.exp(0.3 * nz(n, "error_rate")) + ev.excess_error[n]
            add(n, "error_rate", np.clip(err, 0.0, 1.0))
        elif kind == "cache":
            hit = world.hit_rate[n] + 0.006 * nz(n, "hit_rate")
            add(n, "hit_rate", np.clip(hit, 0.0, 1.0))
            add(n, "latency_p95_ms", ev.latency_ms[n] * np.exp(0.08 * nz(n, "latency_p95_ms")))
            ev_rate = load * 0.015 * np.exp(0.25 * nz(n, "evictions_per_s"))
            add(n, "evictions_per_s", ev_rate)
        elif kind == "table":
            add(n, "latency_p95_ms", ev.latency_ms[n] * np.exp(0.07 * nz(n, "latency_p95_ms")))
            denied = np.zeros_like(t)
            for e in topo.dependents(n):
                tr = prop.edges.get((e.source, n, e.relation))
                if tr is not None:
                    denied = denied + now.load[e.source] * e.weight * tr.denied
            errors = load * (0.0003 + ev.excess_error[n]) + denied
            z = nz(n, "errors_per_s")
            add(n, "errors_per_s", np.maximum(errors + 0.6 * np.sqrt(errors + 0.01) * z, 0.0))
            zt = nz(n, "throttled_per_s")
            add(n, "throttled_per_s", np.where(zt > 2.2, 0.2 * (zt - 2.0), 0.0))
        elif kind == "queue":
            add(n, "depth", np.maximum(load * 0.35 * np.exp(0.25 * nz(n, "depth")), 0.0))
            add(n, "oldest_age_s", 1.2 + 0.5 * np.abs(nz(n, "oldest_age_s")))
        elif kind == "instance_group":
            add(n, "instances_in_service", scn.fleet.in_service(n, t))
            add(n, "launches_per_min", scn.fleet.per_minute(n, t, "launches"))
            add(n, "terminations_per_min", scn.fleet.per_minute(n, t, "terminations"))
    return ev


def _service_metrics(scn: Effective, n: str, ev: Evaluation, nz: NoiseFn, add: AddFn) -> None:
    """Service (and gateway) metrics, and the metrics of the service's instances."""
    world, t = scn.world, ev.t
    fx = ev.effects
    assert fx is not None
    load, u = ev.load[n], ev.utilisation[n]
    base_err = world.error_rate[n]
    add(n, "requests_per_s", load * (1 + 0.03 * nz(n, "requests_per_s")))
    err = base_err * np.exp(0.35 * nz(n, "error_rate")) + ev.excess_error[n] * (
        1 + 0.06 * nz(n, "error_rate/x"))
    add(n, "error_rate", np.clip(err, 0.0, 1.0))
    add(n, "latency_p95_ms", ev.latency_ms[n] * np.exp(0.05 * nz(n, "latency_p95_ms")))
    cpu_clean = 0.04 + 0.78 * np.minimum(u, 1.15)
    group = world.topology.group_of(n)
    if not group:
        add(n, "cpu_utilisation", np.clip(cpu_clean + 0.012 * nz(n, "cpu_utilisation"), 0.01, 1.0))
        add(n, "memory_mb", world.memory_mb[n] + 5.0 * nz(n, "memory_mb"))
        return
    cpus, mems = [], []
    for i, inst in enumerate(scn.fleet.of(group)):
        alive = inst.alive(t)
        if not alive.any():
            continue
        boot = np.clip(1.0 - (t - inst.launched_at - inst.boot_s) / 120.0, 0.0, 1.0)
        booting = (t >= inst.launched_at) & (t < inst.launched_at + inst.boot_s + 120.0)
        cpu = cpu_clean + 0.015 * nz(inst.id, "cpu_utilisation")
        cpu = np.where(booting, np.maximum(cpu, 0.9 * boot + 0.02 * nz(inst.id, "boot")), cpu)
        cpu = cpu + fx.metric_add.get((inst.id, "cpu_utilisation"), 0.0)
        mem = world.memory_mb[n] * (1 + 0.03 * ((i % 3) - 1)) + 6.0 * nz(inst.id, "memory_mb")
        mem = mem + fx.metric_add.get((inst.id, "memory_mb"), 0.0)
        cpu = np.where(alive, np.clip(cpu, 0.01, 1.0), np.nan)
        mem = np.where(alive, mem, np.nan)
        ev.metrics[(inst.id, "cpu_utilisation")] = cpu
        ev.metrics[(inst.id, "memory_mb")] = mem
        in_svc = inst.in_service(t)
        cpus.append(np.where(in_svc, cpu, np.nan))
        mems.append(mem)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)
        svc_cpu = np.nanmean(np.vstack(cpus), axis=0) if cpus else cpu_clean
        svc_mem = np.nanmean(np.vstack(mems), axis=0) if mems else world.memory_mb[n]
    add(n, "cpu_utilisation", np.where(np.isnan(svc_cpu), cpu_clean, svc_cpu))
    add(n, "memory_mb", np.where(np.isnan(svc_mem), world.memory_mb[n], svc_mem))

