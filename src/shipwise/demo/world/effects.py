"""What faults and red herrings do to the world, as functions of time.

A fault does not write metrics: it adds *effects* (an intrinsic error share, a latency factor, a
capacity cut, a traffic multiplier…) for the instants it is asked about, and the model turns
effects into metrics and propagates them to dependents. Because effects are pure functions of
time, the model can ask for them at ``t − delay`` to make a dependent see its dependency's trouble
one or two samples late.

The :class:`Fleet` is the schedule of instances per instance group (launch, time in service,
termination): base members have run for days; churn and scale-out add short-lived ones.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

INF = float("inf")


def ramp(t: np.ndarray, start: float, rise_s: float) -> np.ndarray:
    """0 before ``start``, rising linearly to 1 over ``rise_s`` seconds."""
    return np.clip((t - start) / max(rise_s, 1e-9), 0.0, 1.0)


def window(t: np.ndarray, start: float, end: float) -> np.ndarray:
    """1.0 within [start, end), else 0.0."""
    return ((t >= start) & (t < end)).astype(np.float64)


@dataclass
class Effects:
    """Effects at the instants ``t``; absent keys mean "no effect"."""

    t: np.ndarray
    traffic: np.ndarray
    #: Intrinsic error share of an entity's requests (its own fault, not its dependencies').
    error: dict[str, np.ndarray] = field(default_factory=dict)
    #: Error share of one instance's requests (a damaged host).
    instance_error: dict[str, np.ndarray] = field(default_factory=dict)
    #: Error share of the calls along one edge only, e.g. a revoked permission:
    #: (source, target, relation), relation "*" for every edge between the two.
    edge_error: dict[tuple[str, str, str], np.ndarray] = field(default_factory=dict)
    latency_factor: dict[str, np.ndarray] = field(default_factory=dict)
    latency_add_ms: dict[str, np.ndarray] = field(default_factory=dict)
    capacity: dict[str, np.ndarray] = field(default_factory=dict)
    #: Client timeout overrides per edge (ms, per instant).
    timeout_ms: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)
    #: Share of the published messages a queue consumer manages to process.
    consume_factor: dict[str, np.ndarray] = field(default_factory=dict)
    #: Added straight to an emitted metric: (entity, metric).
    metric_add: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)
    #: Multiplies the noise of a metric (a naturally noisy series).
    noise_scale: dict[tuple[str, str], float] = field(default_factory=dict)

    @classmethod
    def empty(cls, t: np.ndarray) -> Effects:
        return cls(t=t, traffic=np.ones_like(t))

    def zeros(self) -> np.ndarray:
        return np.zeros_like(self.t)

    def add_error(self, entity: str, share: np.ndarray) -> None:
        old = self.error.get(entity)
        self.error[entity] = share if old is None else 1 - (1 - old) * (1 - share)

    def add_instance_error(self, instance: str, share: np.ndarray) -> None:
        old = self.instance_error.get(instance)
        self.instance_error[instance] = share if old is None else 1 - (1 - old) * (1 - share)

    def add_edge_error(self, source: str, target: str, share: np.ndarray,
                       relation: str = "*") -> None:
        key = (source, target, relation)
        old = self.edge_error.get(key)
        self.edge_error[key] = share if old is None else 1 - (1 - old) * (1 - share)

    def mul_latency(self, entity: str, factor: np.ndarray) -> None:
        self.latency_factor[entity] = self.latency_factor.get(entity, 1.0) * factor

    def add_latency(self, entity: str, ms: np.ndarray) -> None:
        self.latency_add_ms[entity] = self.latency_add_ms.get(entity, 0.0) + ms

    def mul_capacity(self, entity: str, factor: np.ndarray) -> None:
        self.capacity[entity] = self.capacity.get(entity, 1.0) * factor

    def mul_traffic(self, factor: np.ndarray) -> None:
        self.traffic = self.traffic * factor

    def mul_consume(self, consumer: str, factor: np.ndarray) -> None:
        self.consume_factor[consumer] = self.consume_factor.get(consumer, 1.0) * factor

    def add_metric(self, entity: str, metric: str, value: np.ndarray) -> None:
        self.metric_add[(entity, metric)] = self.metric_add.get((entity, metric), 0.0) + value


@dataclass
class Instance:
    id: str
    group: str
    launched_at: float
    #: Seconds from launch until it passes health checks and takes traffic.
    boot_s: float = 0.0
    terminated_at: float = INF
    launch_reason: str = "initial"
    terminate_reason: str | None = None

    def alive(self, t: np.ndarray) -> np.ndarray:
        return (t >= self.launched_at) & (t < self.terminated_at)

    def in_service(self, t: np.ndarray) -> np.ndarray:
        return (t >= self.launched_at + self.boot_s) & (t < self.terminated_at)


@dataclass
class Fleet:
    """Every instance of every instance group over the scenario's life."""

    desired: dict[str, int]
    instances: list[Instance] = field(default_factory=list)

    def of(self, group: str) -> list[Instance]:
        return [i for i in self.instances if i.group == group]

    def get(self, instance_id: str) -> Instance:
        for i in self.instances:
            if i.id == instance_id:
                return i
        raise KeyError(instance_id)

    def in_service(self, group: str, t: np.ndarray) -> np.ndarray:
        out = np.zeros_like(t)
        for i in self.of(group):
            out += i.in_service(t)
        return out

    def capacity_factor(self, group: str, t: np.ndarray) -> np.ndarray:
        return self.in_service(group, t) / float(self.desired[group])

    def per_minute(self, group: str, t: np.ndarray, what: str) -> np.ndarray:
        """Launches or terminations in the minute up to each instant."""
        out = np.zeros_like(t)
        for i in self.of(group):
            at = i.launched_at if what == "launches" else i.terminated_at
            if what == "launches" and i.launch_reason == "initial":
                continue
            out += (t >= at) & (t < at + 60.0)
        return out

    def alive_between(self, start: float, end: float) -> Iterator[Instance]:
        for i in self.instances:
            if i.launched_at < end and i.terminated_at > start:
                yield i
