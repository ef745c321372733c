"""The fault library: one class per fault kind (names as in ``docs/case-format.md``)."""

from __future__ import annotations

from shipwise.demo.world.faults.base import Fault
from shipwise.demo.world.faults.capacity import InstanceChurn, MemoryLeak, TrafficSurge
from shipwise.demo.world.faults.changes import (
    BadDeploy,
    ConfigChange,
    ManualHostSession,
    PermissionRevoked,
)
from shipwise.demo.world.faults.dependency import QueueBacklog, SlowDependency

FAULTS: dict[str, type[Fault]] = {f.kind: f for f in (
    BadDeploy, ConfigChange, PermissionRevoked, ManualHostSession, InstanceChurn, TrafficSurge,
    SlowDependency, MemoryLeak, QueueBacklog)}
FAULT_KINDS: tuple[str, ...] = tuple(FAULTS)

__all__ = ["FAULTS", "FAULT_KINDS", "Fault"]
