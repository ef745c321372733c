"""A scenario: the world, one fault, its red herrings, the fleet and every event, planned once."""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from shipwise.demo.world.baseline import World
from shipwise.demo.world.effects import Effects, Fleet, Instance
from shipwise.demo.world.events import Event, background_changes, finalise, iso, pod_name
from shipwise.demo.world.faults import FAULTS, Fault
from shipwise.demo.world.herrings import RedHerring, plan_herrings
from shipwise.demo.world.noise import rng_for

HOUR = 3600.0


def base_fleet(world: World) -> Fleet:
    """Every group's three instances, running since long before anything we look at."""
    topo = world.topology
    groups = topo.ids("instance_group")
    return Fleet({g: 3 for g in groups},
                 [Instance(i, g, float("-inf")) for g in groups for i in topo.members(g)])


@dataclass
class Scenario:
    world: World
    fleet: Fleet
    fault: Fault | None
    herrings: list[RedHerring] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    seed: int = 0

    @property
    def start(self) -> float:
        return self.fault.start if self.fault else float("inf")

    def effects(self, t: np.ndarray) -> Effects:
        fx = Effects.empty(t)
        if self.fault is not None:
            self.fault.apply(fx)
        for h in self.herrings:
            h.apply(fx)
        return fx

    def pod(self, service: str, t: float, k: int) -> str:
        """The name of replica ``k`` of a Kubernetes service at ``t``."""
        times = self._deploy_times.get(service, [])
        i = bisect.bisect_right(times, t)
        return pod_name(self.world.seed, service, times[i - 1] if i else 0.0, k)

    @cached_property
    def _deploy_times(self) -> dict[str, list[float]]:
        out: dict[str, list[float]] = {}
        for e in self.events:
            if e.kind == "deployment":
                out.setdefault(e.entity, []).append(e.time)
        return {k: sorted(v) for k, v in out.items()}

    def truth(self) -> dict[str, Any]:
        """The answer (``truth.yaml``): root cause, fault, causing event, instance, herrings."""
        out: dict[str, Any] = self.fault.truth() if self.fault else {}
        out["red_herrings"] = [h.name for h in self.herrings]
        out["red_herring_details"] = [h.detail() for h in self.herrings]
        if self.fault is not None:
            out["fault_start"] = iso(self.fault.start)
            out["description"] = self.fault.describe()
        return out

    def topology_json(self, start: float, end: float) -> dict[str, Any]:
        """topology.json: the shop, with every instance that was alive in ``[start, end]``."""
        topo = self.world.topology
        data = topo.to_json()
        alive = {i.id: i for i in self.fleet.alive_between(start, end)}
        nodes = [n for n in data["nodes"] if n["kind"] != "instance" or n["id"] in alive]
        edges = [e for e in data["edges"] if e["relation"] != "member_of" or e["source"] in alive]
        known = {n["id"] for n in nodes}
        for inst in alive.values():
            node = next((n for n in nodes if n["id"] == inst.id), None)
            if node is None:
                team = topo.nodes[inst.group].team
                node = {"id": inst.id, "kind": "instance", "team": team, "group": inst.group}
                nodes.append(node)
                edges.append({"source": inst.id, "target": inst.group, "relation": "member_of"})
                known.add(inst.id)
            if np.isfinite(inst.launched_at):
                node["launched_at"] = iso(inst.launched_at)
            if np.isfinite(inst.terminated_at) and inst.terminated_at <= end:
                node["terminated_at"] = iso(inst.terminated_at)
        return {"nodes": nodes, "edges": edges}


def plan_scenario(world: World, fault_kind: str | None, start: float, seed: int, *,
                  target: str | None = None, herrings: Sequence[str] | None = None,
                  background: bool = True) -> Scenario:
    """Plan a fault of ``fault_kind`` starting at ``start`` (None: a healthy world)."""
    fleet = base_fleet(world)
    if fault_kind is None:
        return Scenario(world, fleet, None, [], [], seed)
    if fault_kind not in FAULTS:
        raise ValueError(f"unknown fault kind {fault_kind!r} (one of {', '.join(FAULTS)})")
    fault = FAULTS[fault_kind](world, fleet, start, rng_for(seed, "fault", fault_kind), target)
    hs = plan_herrings(world, fleet, fault, rng_for(seed, "herrings"),
                       list(herrings) if herrings is not None else None)
    events = [*fault.events, *(e for h in hs for e in h.events)]
    if background:
        events += background_changes(world, start - 26 * HOUR, start - 0.5 * HOUR,
                                     fault.involved(), rng_for(seed, "background"))
    return Scenario(world, fleet, fault, hs, finalise(world, events), seed)
