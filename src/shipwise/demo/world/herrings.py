"""Red herrings: things that look suspicious near the alarm and are not the cause.

- ``unrelated_deploy`` — another service deploys a harmless change minutes before the fault.
- ``fresh_instance_cpu`` — another group scales out; the new instance's CPU spikes while it boots.
- ``noisy_metric`` — a healthy service has a naturally noisy, spiky metric.
- ``benign_config_change`` — a harmless config tweak on another service within ~2 minutes of the
  fault (or of the change that caused it): two changes close together.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from shipwise.demo.world import diffs
from shipwise.demo.world.baseline import World
from shipwise.demo.world.effects import Effects, Fleet, Instance
from shipwise.demo.world.events import Event, benign_key, config_change, deployment
from shipwise.demo.world.faults import Fault
from shipwise.demo.world.faults.base import pick
from shipwise.demo.world.logtext import LogLine
from shipwise.demo.world.topology import instance_id

#: Entities that alarms are raised on: a noisy metric there would be a false alarm, not a herring.
_ALARMED = {"gateway", "checkout"}


class RedHerring:
    name: ClassVar[str]

    def __init__(self, world: World, fleet: Fleet, fault: Fault, rng: np.random.Generator) -> None:
        self.world, self.fleet, self.fault = world, fleet, fault
        self.topo = world.topology
        self.entity = ""
        self.metric: str | None = None
        self.events: list[Event] = []
        self.plan(rng)

    @classmethod
    def possible(cls, world: World, fault: Fault) -> bool:
        return bool(cls._choices(world, fault))

    @classmethod
    def _choices(cls, world: World, fault: Fault) -> list[str]:
        return [s for s in world.topology.services() if s not in fault.involved()]

    def plan(self, rng: np.random.Generator) -> None:
        raise NotImplementedError

    def apply(self, fx: Effects) -> None:
        """Herrings change no metric unless they say so."""

    def extra_logs(self, start: float, end: float, rng: np.random.Generator) -> list[LogLine]:
        return []

    def detail(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.name, "entity": self.entity}
        if self.events:
            out["event"] = self.events[-1].id
        if self.metric:
            out["metric"] = self.metric
        return out

    def _anchor(self) -> float:
        """The fault's causing change when it is close to the fault, else the fault's start."""
        cause = self.fault.cause
        if cause is not None and abs(cause.time - self.fault.start) < 900.0:
            return cause.time
        return self.fault.start


class UnrelatedDeploy(RedHerring):
    name = "unrelated_deploy"

    def plan(self, rng: np.random.Generator) -> None:
        self.entity = pick(rng, self._choices(self.world, self.fault))
        t = self._anchor() - float(rng.uniform(90.0, 540.0))
        patch = diffs.benign_change(self.entity, self.topo.nodes[self.entity].runtime, rng)
        self.events.append(deployment(self.world, self.entity, t, patch, f"herring:{self.name}"))

    def extra_logs(self, start: float, end: float, rng: np.random.Generator) -> list[LogLine]:
        ev = self.events[0]
        return [LogLine(ev.time + 14.0, self.entity, "INFO",
                        f"starting {self.entity} (commit {ev.details['commit'][:7]})")]


class FreshInstanceCpu(RedHerring):
    name = "fresh_instance_cpu"

    @classmethod
    def _choices(cls, world: World, fault: Fault) -> list[str]:
        return [g for g in world.topology.ids("instance_group") if g not in fault.involved()
                and world.topology.service_of(g) not in fault.involved()]

    def plan(self, rng: np.random.Generator) -> None:
        group = pick(rng, self._choices(self.world, self.fault))
        self.group = group
        self.service = self.topo.service_of(group)
        t = self.fault.start + float(rng.uniform(-240.0, 150.0))
        n = len([i for i in self.fleet.of(group) if i.launched_at < t < i.terminated_at]) + 1
        inst = Instance(instance_id(self.world.seed, group, 50), group, t,
                        float(rng.uniform(60.0, 100.0)), launch_reason="scale_out")
        self.fleet.instances.append(inst)
        self.entity, self.metric = inst.id, "cpu_utilisation"
        tag = f"herring:{self.name}"
        self.events.append(Event(t - 4.0, "scaling", group, "system:autoscaler",
                                 f"{group} desired {n - 1} → {n}",
                                 {"from": n - 1, "to": n,
                                  "reason": "scheduled_action:evening-peak"},
                                 tag))
        self.events.append(Event(t, "instance_launch", group, "system:autoscaler",
                                 f"launch {inst.id}", {"instance": inst.id, "reason": "scale_out"},
                                 tag))
        self.instance = inst

    def extra_logs(self, start: float, end: float, rng: np.random.Generator) -> list[LogLine]:
        ready = self.instance.launched_at + self.instance.boot_s
        return [LogLine(ready - 20.0, self.service, "INFO",
                        f"starting {self.service} on {self.instance.id}", self.instance.id),
                LogLine(ready + 5.0, self.service, "INFO",
                        "warming local cache: 48213 entries loaded", self.instance.id)]

    def detail(self) -> dict[str, Any]:
        return {**super().detail(), "group": self.group}


class NoisyMetric(RedHerring):
    name = "noisy_metric"

    @classmethod
    def _choices(cls, world: World, fault: Fault) -> list[str]:
        return [s for s in super()._choices(world, fault) if s not in _ALARMED]

    def plan(self, rng: np.random.Generator) -> None:
        self.entity = pick(rng, self._choices(self.world, self.fault))
        # an instance-group service's CPU is the mean of its instances': keep to its latency
        on_group = self.topo.group_of(self.entity) is not None
        self.metric = ("latency_p95_ms" if on_group or rng.random() < 0.7
                       else "cpu_utilisation")
        self.scale = float(rng.uniform(3.5, 5.0))

    def apply(self, fx: Effects) -> None:
        assert self.metric is not None
        fx.noise_scale[(self.entity, self.metric)] = self.scale


class BenignConfigChange(RedHerring):
    name = "benign_config_change"

    def plan(self, rng: np.random.Generator) -> None:
        self.entity = pick(rng, self._choices(self.world, self.fault))
        offset = float(rng.uniform(20.0, 120.0)) * (1 if rng.random() < 0.5 else -1)
        key, old, new = benign_key(rng)
        self.events.append(config_change(self.world, self.entity, self._anchor() + offset, key,
                                         old, new, f"herring:{self.name}"))


HERRINGS: dict[str, type[RedHerring]] = {h.name: h for h in (
    UnrelatedDeploy, FreshInstanceCpu, NoisyMetric, BenignConfigChange)}


def plan_herrings(world: World, fleet: Fleet, fault: Fault, rng: np.random.Generator,
                  names: list[str] | None = None) -> list[RedHerring]:
    """1–3 red herrings chosen for this fault (or exactly ``names``)."""
    if names is None:
        possible = [n for n, h in HERRINGS.items() if h.possible(world, fault)]
        k = min(len(possible), int(rng.integers(1, 4)))
        names = [str(n) for n in rng.choice(possible, size=k, replace=False)]
    out = []
    for name in names:
        if name not in HERRINGS:
            raise ValueError(f"no such red herring {name!r} (one of {', '.join(HERRINGS)})")
        cls = HERRINGS[name]
        if not cls.possible(world, fault):
            raise ValueError(f"red herring {name!r} is not possible with {fault.describe()}")
        out.append(cls(world, fleet, fault, rng))
    return out
