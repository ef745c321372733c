"""Changes and actions (``events.jsonl``): deployments, config and permission changes, host
sessions, scaling and instance launches/terminations.

Faults and red herrings create events without version numbers; :func:`finalise` sorts every event
of a scenario by time, numbers them ``ev-0001…`` and gives each deployment its version, previous
version, pipeline run and last good run in the order they happened.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from shipwise.demo.world import diffs
from shipwise.demo.world.baseline import World
from shipwise.demo.world.noise import hex_id, rng_for


def iso(t: float) -> str:
    """ISO-8601 UTC with milliseconds and a Z."""
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@functools.lru_cache(maxsize=4096)
def pod_name(seed: int, service: str, deployed_at: float, k: int) -> str:
    """A Kubernetes pod name; the replica-set hash changes with every deployment."""
    rs = hex_id(10, "replicaset", seed, service, round(deployed_at, 3))[:9]
    return f"{service}-{rs}-{hex_id(5, 'pod', seed, service, rs, k)}"


def person(seed: int, who: str) -> str:
    """A pseudonymous actor (``p_`` and 8 hex digits)."""
    return "p_" + hex_id(8, "person", seed, who)


@dataclass
class Event:
    time: float
    kind: str
    entity: str
    actor: str
    summary: str
    details: dict[str, Any] = field(default_factory=dict)
    #: Why the generator made it: "cause", "herring:<name>", "context" (never written).
    tag: str = "context"
    id: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "time": iso(self.time), "kind": self.kind, "entity": self.entity,
                "actor": self.actor, "summary": self.summary, "details": self.details}


def deployment(world: World, service: str, t: float, patch: diffs.Patch, tag: str) -> Event:
    files, diff, title = patch
    node = world.topology.nodes[service]
    pipeline = str(node.attrs.get("pipeline", f"{service}-deploy"))
    commit = hex_id(40, "commit", world.seed, service, t, title)
    return Event(t, "deployment", service, f"pipeline:{pipeline}", title, {
        "commit": commit, "pipeline": pipeline, "files": files, "diff": diff,
        "author": person(world.seed, f"{service}-dev-{int(t) % 5}"), "title": title}, tag)


def config_change(world: World, service: str, t: float, key: str, old: Any, new: Any, tag: str,
                  actor: str | None = None) -> Event:
    node = world.topology.nodes[service]
    plat = node.platform or {}
    if plat.get("type") == "kubernetes":
        source = f"configmap {plat.get('namespace', 'shop')}/{service}-config"
    else:
        source = f"ssm:/shop/{service}/{key.replace('.', '/')}"
    who = actor or person(world.seed, f"{service}-oncall")
    return Event(t, "config_change", service, who, f"{service}: {key} {old} → {new}",
                 {"key": key, "old": old, "new": new, "source": source}, tag)


def finalise(world: World, events: list[Event]) -> list[Event]:
    """Sort by time, number the events and version the deployments in order."""
    events = sorted(events, key=lambda e: (e.time, e.kind, e.entity))
    rng = rng_for(world.seed, "versions")
    version: dict[str, list[int]] = {}
    run: dict[str, int] = {}
    for i, ev in enumerate(events, start=1):
        ev.id = f"ev-{i:04d}"
        if ev.kind != "deployment":
            continue
        svc = ev.entity
        if svc not in version:
            version[svc] = [int(rng.integers(1, 4)), int(rng.integers(3, 30)), 0]
            run[svc] = int(rng.integers(80, 400))
        prev = ".".join(map(str, version[svc]))
        version[svc] = [version[svc][0], version[svc][1] + 1, 0]
        run[svc] += 1
        ver = ".".join(map(str, version[svc]))
        ev.details = {"version": ver, "previous_version": prev, **ev.details,
                      "run": f"run-{run[svc]}", "last_good_run": f"run-{run[svc] - 1}"}
        ev.summary = f"{svc} {prev} → {ver}: {ev.details.get('title', '')}".rstrip(": ")
    return events


def background_changes(world: World, start: float, end: float, avoid: set[str],
                       rng: np.random.Generator) -> list[Event]:
    """Everyday deployments and config tweaks in ``[start, end)``, none on ``avoid``."""
    services = [s for s in world.topology.services() if s not in avoid]
    n = int(rng.integers(3, 7))
    out: list[Event] = []
    for t in np.sort(rng.uniform(start, end, n)):
        svc = str(rng.choice(services))
        runtime = world.topology.nodes[svc].runtime
        if rng.random() < 0.75:
            out.append(deployment(world, svc, float(t), diffs.benign_change(svc, runtime, rng),
                                  "context"))
        else:
            key, old, new = _BENIGN_KEYS[int(rng.integers(0, len(_BENIGN_KEYS)))]
            out.append(config_change(world, svc, float(t), key, old, new, "context"))
    return out


#: Config changes that do not change how a service behaves under load.
_BENIGN_KEYS: list[tuple[str, Any, Any]] = [
    ("log.level", "INFO", "DEBUG"),
    ("feature_flags.show_eco_badge", False, True),
    ("feature_flags.new_product_cards", "10%", "25%"),
    ("tracing.sample_ratio", 0.05, 0.1),
    ("metrics.histogram_buckets", "default", "latency-fine"),
]


def benign_key(rng: np.random.Generator) -> tuple[str, Any, Any]:
    return _BENIGN_KEYS[int(rng.integers(0, len(_BENIGN_KEYS)))]
