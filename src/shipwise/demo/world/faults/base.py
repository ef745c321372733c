"""What every fault kind provides, and the helpers they share.

A fault is planned once (target, start, schedule, causing events) from a seeded generator and is
then a pure function of time: :meth:`Fault.apply` adds its effects for any instants, so the same
fault drives a written case and a live exporter alike.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from shipwise.demo.world.baseline import World
from shipwise.demo.world.effects import Effects, Fleet
from shipwise.demo.world.events import Event
from shipwise.demo.world.logtext import LogLine


class Fault:
    """One fault kind. Subclasses set ``kind`` and implement the planning and the effects."""

    kind: ClassVar[str]
    #: The alarm rules that are most likely to fire first, for the docs.
    summary: ClassVar[str] = ""

    def __init__(self, world: World, fleet: Fleet, start: float, rng: np.random.Generator,
                 target: str | None = None) -> None:
        self.world = world
        self.topo = world.topology
        self.fleet = fleet
        #: When the fault starts to hurt (its effects begin at or after this instant).
        self.start = start
        candidates = self.candidates(world)
        if target is not None and target not in candidates:
            raise ValueError(f"{self.kind}: {target!r} is not a possible target "
                             f"(choose from {', '.join(candidates)})")
        self.target = target or str(rng.choice(candidates))
        self.instance: str | None = None
        self.events: list[Event] = []
        self.plan(rng)

    @classmethod
    def candidates(cls, world: World) -> list[str]:
        """Entities this fault can be planted on (the root-cause entity)."""
        raise NotImplementedError

    def plan(self, rng: np.random.Generator) -> None:
        """Choose the details (severity, schedule, causing events)."""

    def apply(self, fx: Effects) -> None:
        """Add this fault's effects at the instants ``fx.t``."""
        raise NotImplementedError

    @property
    def cause(self) -> Event | None:
        """The change that caused the fault, when there is one."""
        for ev in self.events:
            if ev.tag == "cause":
                return ev
        return None

    def involved(self) -> set[str]:
        """Entities a red herring should stay away from (so it stays a red herring)."""
        out = {self.target}
        if self.cause is not None:
            out.add(self.cause.entity)
        group = self.topo.group_of(self.target)
        if group:
            out.add(group)
        if self.topo.kind(self.target) == "instance_group":
            out.add(self.topo.service_of(self.target))
        return out

    def error_line(self, entity: str, instance: str | None, t: float, rng: np.random.Generator,
                   dep: str | None = None) -> LogLine | None:
        """The log line of one failed request at ``entity`` caused by this fault itself
        (``dep`` set: a failure on the edge to ``dep``, such as a denied table call)."""
        return None

    def extra_logs(self, start: float, end: float, rng: np.random.Generator) -> list[LogLine]:
        """Lines that are not one-per-failed-request (restarts, health checks, reloads…)."""
        return []

    def truth(self) -> dict[str, Any]:
        out: dict[str, Any] = {"root_cause": self.target, "fault": self.kind}
        if self.cause is not None:
            out["event"] = self.cause.id
        if self.instance is not None:
            out["instance"] = self.instance
        return out

    def describe(self) -> str:
        """One sentence for people: what broke and how."""
        return f"{self.kind} on {self.target}"


def pick(rng: np.random.Generator, items: list[str]) -> str:
    return str(items[int(rng.integers(0, len(items)))])


def services_with(world: World, relation: str, kinds: tuple[str, ...]) -> list[str]:
    """Services with an edge of ``relation`` to an entity of one of ``kinds``."""
    topo = world.topology
    return sorted({e.source for e in topo.edges
                   if e.relation == relation and topo.kind(e.target) in kinds
                   and topo.kind(e.source) == "service"})


def instance_for(fleet: Fleet, group: str | None, t: float, rng: np.random.Generator) -> str | None:
    """A random instance of ``group`` in service at ``t`` (None for Kubernetes services)."""
    if group is None:
        return None
    ids = [i.id for i in fleet.of(group) if i.launched_at + i.boot_s <= t < i.terminated_at]
    return pick(rng, ids) if ids else None
