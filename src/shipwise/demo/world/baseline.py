"""The healthy world: the topology with the baseline of every entity, seeded.

A :class:`World` knows how busy, fast and reliable each entity is when nothing is wrong. The load
of an entity is derived from the entry traffic at the gateway and the edge weights, so a traffic
change anywhere upstream reaches every dependency; latency baselines are p95 in milliseconds of
the whole request at that entity (its own work and its calls). Capacities are set so that services
run at 15–35 % utilisation at the daily peak, as a sanely provisioned shop does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

from shipwise.demo.world.noise import hex_id, rng_for
from shipwise.demo.world.topology import Topology, build_topology

DAY = 86_400.0
#: How far a failure travels per hop before a dependent shows it (one or two 15 s samples).
PROPAGATION_DELAY_S = 20.0
#: Noise is constant within a bucket: evaluating the same instant twice gives the same value.
NOISE_BUCKET_S = 15.0

_LATENCY_MS = {"gateway": 0.0, "auth": 22.0, "catalog": 38.0, "search": 70.0, "cart": 28.0,
               "checkout": 150.0, "payments": 210.0, "inventory": 16.0, "recommendations": 95.0,
               "orders-worker": 60.0, "notifications": 35.0, "cart-cache": 1.4,
               "catalog-cache": 1.2, "orders-db.orders": 9.0, "orders-db.inventory": 7.0,
               "users-db.accounts": 6.0, "catalog-db.products": 8.0,
               "payments-db.transactions": 10.0, "payment-provider": 160.0}
_MEMORY_MB = {"gateway": 180.0, "auth": 900.0, "catalog": 620.0, "search": 780.0, "cart": 1100.0,
              "checkout": 1300.0, "payments": 1200.0, "inventory": 380.0,
              "recommendations": 1400.0, "orders-worker": 450.0, "notifications": 300.0}
_MEMORY_LIMIT_MB = {"jvm": 2048.0, "python": 1536.0, "go": 512.0}


@dataclass
class World:
    """A seeded shop in its healthy state."""

    seed: int
    topology: Topology
    #: Requests per second entering at the gateway at the daily mean.
    entry_rps: float
    #: Baseline p95 latency (ms) of services, gateway, caches, tables and the external API.
    latency_ms: dict[str, float]
    #: Baseline error fraction of services, gateway and the external API.
    error_rate: dict[str, float]
    #: Requests per second each service (and the gateway) can serve at full utilisation.
    capacity_rps: dict[str, float]
    memory_mb: dict[str, float]
    memory_limit_mb: dict[str, float]
    #: Requests per second at each entity per request per second at the gateway.
    load_share: dict[str, float]
    hit_rate: dict[str, float]
    diurnal_phase: float
    n_customers: int = 4000

    def load(self, entity: str) -> float:
        """Mean requests per second at ``entity`` (healthy, daily mean)."""
        return self.entry_rps * self.load_share.get(entity, 0.0)

    def diurnal(self, t: np.ndarray) -> np.ndarray:
        """Traffic multiplier: a daily curve and a slow 90-minute wave."""
        day = np.sin(2 * np.pi * (t / DAY - self.diurnal_phase))
        wave = np.sin(2 * np.pi * t / 5400.0 + self.seed % 7)
        return 1.0 + 0.28 * day + 0.04 * wave

    def customer(self, i: int) -> str:
        """The pseudonymous id of customer ``i`` (``c_`` and 12 hex digits)."""
        return "c_" + hex_id(12, "customer", self.seed, i)

    def instance_services(self) -> list[str]:
        return [s for s in self.topology.services() if self.topology.group_of(s)]


def _load_shares(topo: Topology) -> dict[str, float]:
    share = {n: 0.0 for n in topo.nodes}
    share["gateway"] = 1.0
    for n in topo.request_order():
        if topo.kind(n) == "queue":
            consumer = topo.consumer_of(n)
            if consumer:
                share[consumer] += share[n]
            continue
        for e in topo.deps(n):
            share[e.target] += share[n] * e.weight
    return share


def build_world(seed: int = 7) -> World:
    """The healthy shop for a seed (the same seed gives the same world)."""
    topo = build_topology(seed)
    rng = rng_for(seed, "baseline")
    shares = _load_shares(topo)
    entry = float(rng.uniform(160.0, 280.0))
    latency = {k: v * float(rng.uniform(0.85, 1.2)) for k, v in _LATENCY_MS.items()}
    # The gateway's own p95 is its work plus what its busiest callee paths add.
    latency["gateway"] = 6.0 + sum(min(1.0, 4 * e.weight) * latency[e.target] * 0.35
                                   for e in topo.deps("gateway"))
    errors: dict[str, float] = {}
    capacity: dict[str, float] = {}
    for n in [*topo.services(), "gateway"]:
        errors[n] = float(rng.uniform(0.0008, 0.004))
        peak_util = float(rng.uniform(0.15, 0.32))
        capacity[n] = max(entry * shares[n] * 1.3 / peak_util, 4.0)
    errors["gateway"] = 0.0015
    errors["payment-provider"] = 0.003
    memory = {k: v * float(rng.uniform(0.9, 1.15)) for k, v in _MEMORY_MB.items()}
    limits = {n: max(_MEMORY_LIMIT_MB[topo.nodes[n].runtime], 256.0 * math.ceil(m * 1.5 / 256.0))
              for n, m in memory.items()}
    hit = {c: float(rng.uniform(0.88, 0.95)) for c in topo.ids("cache")}
    phase = float(rng.uniform(0.0, 1.0))
    return World(seed, topo, entry, latency, errors, capacity, memory, limits, shares, hit, phase)


def lognormal_tail(p95_ms: np.ndarray, timeout_ms: float | np.ndarray,
                   sigma: float = 0.45) -> np.ndarray:
    """Share of calls slower than ``timeout_ms`` when latency is log-normal with this p95."""

    median = np.maximum(p95_ms, 1e-6) / math.exp(1.645 * sigma)
    z = (np.log(timeout_ms) - np.log(median)) / sigma
    return np.asarray(1.0 - ndtr(z))
