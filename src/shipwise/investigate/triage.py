"""Triage: which entities around an alarm are anomalous, since when, and how they depend on each
other — the shared facts every hypothesis is judged against (:class:`Context`).

Anomaly scores are BARO's (:func:`shipwise.investigate.rank.baro_scores`): a Bayesian online
change point gives the system onset ``t*``; each metric is scored by its robust deviation after
``t*``. An entity is anomalous when its best metric reaches ``max(ANOMALOUS_MIN,
ANOMALOUS_REL × top)``. Dependencies come from the topology with every edge pointing from the
dependent to its dependency (``member_of`` is turned round, so a group "depends on" its
instances and a fault on one instance is on the path of the service that runs on the group).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

import networkx as nx
import numpy as np

from shipwise.investigate.case import Alarm, Case
from shipwise.investigate.evidence import Event, Evidence, LogLine
from shipwise.investigate.propagation import Walk, follow_symptom, waits_on_graph
from shipwise.investigate.rank import MetricScore, baro_scores, clock, sampling_step

ANOMALOUS_MIN = 3.0
ANOMALOUS_REL = 0.15
#: one extreme series (a queue depth at 3,000 σ) must not hide every other anomaly
ANOMALOUS_CAP = 8.0


@dataclass
class EntityAnomaly:
    entity: str
    kind: str
    score: float
    onset: float | None
    top: list[MetricScore]
    anomalous: bool = False


@dataclass
class Context:
    alarm: Alarm
    evidence: Evidence
    onset: float
    step: float
    end: float
    deps: nx.DiGraph
    entities: dict[str, EntityAnomaly] = field(default_factory=dict)
    scores: list[MetricScore] = field(default_factory=list)
    #: a metric at or above this many robust-σ is anomalous (see :func:`triage`)
    cut: float = ANOMALOUS_MIN
    #: the alarm's signal followed down the calls (None: nothing to walk)
    walk: Walk | None = None

    # -- topology -------------------------------------------------------------------------
    def kind(self, entity: str) -> str:
        return str(self.deps.nodes[entity].get("kind", "service")) if entity in self.deps else "service"

    def node(self, entity: str) -> dict:
        return dict(self.deps.nodes[entity]) if entity in self.deps else {}

    def dependencies(self, entity: str) -> set[str]:
        return set(nx.descendants(self.deps, entity)) if entity in self.deps else set()

    def dependents(self, entity: str) -> set[str]:
        return set(nx.ancestors(self.deps, entity)) if entity in self.deps else set()

    def on_alarm_path(self, entity: str) -> bool:
        """Can a failure of ``entity`` reach the alarm's entity (or is it that entity)?"""
        a = self.alarm.entity
        if a not in self.deps or self.deps.degree(a) == 0:
            return True  # no topology around the alarm: nothing says it cannot
        if entity == a or entity not in self.deps:
            return entity == a
        return entity in self.dependencies(a)

    def connected(self, entity: str) -> bool:
        """Strictly: is ``entity`` the alarm's entity, or on a path of the topology to or from it
        (a dependency whose failure reaches it, or a dependent whose load does)? Without a
        topology around the alarm only the alarm's own entity is connected."""
        a = self.alarm.entity
        if entity == a:
            return True
        if a not in self.deps or entity not in self.deps:
            return False
        return entity in self.dependencies(a) or entity in self.dependents(a)

    def instances_of(self, entity: str) -> set[str]:
        return {n for n in self.dependencies(entity) if self.kind(n) == "instance"}

    def services_on(self, group: str) -> set[str]:
        return {a for a, b, rel in self.deps.edges(data="relation") if b == group and rel == "runs_on"}

    # -- anomalies ------------------------------------------------------------------------
    def anomalous(self, entity: str) -> bool:
        a = self.entities.get(entity)
        return bool(a and a.anomalous)

    def entity_onset(self, entity: str) -> float | None:
        a = self.entities.get(entity)
        return a.onset if a and a.anomalous else None

    def metric(self, entity: str, metric: str) -> MetricScore | None:
        for s in self.scores:
            if s.entity == entity and s.metric == metric:
                return s
        return None

    def tol(self) -> float:
        """Instants this close count as simultaneous: two samples, and at least 30 s (an event's
        timestamp and the first sample showing its effect are not aligned)."""
        return max(2 * self.step, 30.0)

    # -- logs -----------------------------------------------------------------------------
    def errors(self, entity: str | None = None, start: float | None = None,
               end: float | None = None) -> list[LogLine]:
        lo = -np.inf if start is None else start
        hi = np.inf if end is None else end
        return [x for x in self.evidence.logs if x.level in ("ERROR", "FATAL", "CRITICAL")
                and (entity is None or x.entity == entity) and lo <= x.time <= hi]

    def new_errors(self, entity: str, since: float) -> tuple[list[LogLine], Counter[str]]:
        """Errors on ``entity`` after ``since`` whose type never appeared before it, by type."""
        before = {_signature(x) for x in self.errors(entity, end=since)}
        after = [x for x in self.errors(entity, start=since) if _signature(x) not in before]
        return after, Counter(_signature(x) for x in after)

    def events(self, *kinds: str) -> list[Event]:
        return [e for e in self.evidence.events if not kinds or e.kind in kinds]


def _signature(x: LogLine) -> str:
    """An error's type: the exception type, or its message with numbers and ids blanked."""
    return x.exc_type or re.sub(r"[0-9a-f]{6,}|\d+", "#", x.message)[:80]


def dependency_graph(evidence: Evidence) -> nx.DiGraph:
    g = nx.DiGraph()
    g.add_nodes_from(evidence.topology.nodes(data=True))
    for a, b, rel in evidence.topology.edges(data="relation", default="calls"):
        if rel == "member_of":
            g.add_edge(b, a, relation="has_member")
        elif rel == "consumes":  # the consumer needs the queue, and the queue needs it drained
            g.add_edge(a, b, relation=rel)
            g.add_edge(b, a, relation="drained_by")
        else:
            g.add_edge(a, b, relation=rel)
    return g


def triage(alarm: Alarm, evidence: Evidence, end: float) -> Context:
    """Score every entity with metrics and mark the anomalous ones."""
    deps = dependency_graph(evidence)
    case = Case("investigation", alarm, evidence.topology, evidence.metrics)
    scores, onset = baro_scores(case)
    keys = sorted(evidence.metrics)
    step = sampling_step(case, keys) if keys else 15.0
    ctx = Context(alarm, evidence, onset.time if onset else alarm.time, step, end, deps, scores=scores)
    by_entity: dict[str, list[MetricScore]] = {}
    for s in scores:
        by_entity.setdefault(s.entity, []).append(s)
    top = max((s.dev.score for s in scores), default=0.0)
    cut = max(ANOMALOUS_MIN, min(ANOMALOUS_REL * top, ANOMALOUS_CAP))
    ctx.cut = cut
    for entity, items in by_entity.items():
        items.sort(key=lambda s: (-s.dev.score, s.metric))
        hot = [s for s in items if s.dev.score >= cut]
        onsets = [s.onset for s in hot if s.onset is not None]
        ctx.entities[entity] = EntityAnomaly(
            entity, ctx.kind(entity), items[0].dev.score, min(onsets) if onsets else None,
            items[:3], anomalous=bool(hot))
    ctx.walk = follow_symptom(alarm.entity, alarm.metric, alarm.time, ctx.onset, step,
                              waits_on_graph(evidence.topology), evidence.metrics)
    return ctx


def describe_anomaly(ctx: Context, entity: str) -> str:
    a = ctx.entities[entity]
    s = a.top[0]
    verb = "rose" if s.dev.signed > 0 else "dropped" if s.dev.signed < 0 else "deviated"
    when = f" from {clock(a.onset)}" if a.onset is not None else ""
    return f"{entity} {s.metric} {verb} {s.dev.score:.1f} robust-σ{when}"
