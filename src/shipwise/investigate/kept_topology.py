"""The kept topology as a graph (pure: no store): what an investigation's evidence teaches it,
which of its edges an investigation may use, and the blast radius of an entity.

Relations are of two sorts. *Facts* (:data:`FACTS`: owned_by, part_of, built_from, deploys_to)
say who owns a service, where it is built from and deployed to; they are shown beside an
entity, never walked. Every other relation (calls, reads, writes, consumes, publishes, runs_on,
member_of…, as the sources gave it) is a *dependency*: the source entity needs the target; these
are merged into investigations (:class:`shipwise.investigate.sources.kept.KeptTopology`) and
walked for the blast radius. As in triage, ``member_of`` is turned round: a group depends on
its members.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shipwise.investigate.evidence import Evidence, trace_edges

FACTS = ("owned_by", "part_of", "built_from", "deploys_to")
#: evidence source name -> the origin its topology is kept under (a source not named here, such
#: as the kept topology itself, teaches nothing: kept edges must not confirm themselves)
ORIGINS = {"topology": "file", "traces": "traces", "prometheus": "prometheus", "telemetry": "traces"}


def learnt(parts: Iterable[tuple[str, Evidence]]) -> dict[str, list[list[str | None]]]:
    """What the evidence each source returned (``(source name, evidence)``) says about the
    topology, as plain JSON: ``{"edges": [[source, target, relation, origin]], "nodes":
    [[entity, kind]]}``. The calls seen in traces are learnt whichever source read the spans."""
    edges: set[tuple[str, str, str, str]] = set()
    nodes: dict[str, list[str | None]] = {}
    for name, ev in parts:
        origin = ORIGINS.get(name)
        if origin is None:
            continue
        for a, b, rel in ev.topology.edges(data="relation", default="calls"):
            edges.add((str(a), str(b), str(rel), origin))
        for n, attrs in ev.topology.nodes(data=True):
            if attrs.get("kind") or attrs.get("team"):
                team = attrs.get("team")
                nodes.setdefault(str(n), [str(attrs.get("kind") or "service"),
                                          str(team) if isinstance(team, str) else None])
        if len(ev.spans):
            for a, b in trace_edges(ev.spans):
                edges.add((a, b, "calls", "traces"))
                nodes.setdefault(a, ["service", None])
                nodes.setdefault(b, ["service", None])
    return {"edges": [list(e) for e in sorted(edges)],
            "nodes": [[n, *kt] for n, kt in sorted(nodes.items())]}


@dataclass(frozen=True)
class Link:
    """One edge of the kept topology (its origins merged)."""

    source: str
    target: str
    relation: str
    origins: tuple[str, ...]
    last_seen_at: datetime
    seen: int

    @property
    def dependent(self) -> str:
        return self.target if self.relation == "member_of" else self.source

    @property
    def dependency(self) -> str:
        return self.source if self.relation == "member_of" else self.target


def links(rows: Iterable[Mapping[str, Any]]) -> list[Link]:
    """Edge rows (one per origin, :func:`shipwise.store.topology.edges`) merged per
    (source, target, relation): its origins, last sighting, and distinct observations
    (``seen_any``; without it, the most any one origin saw)."""
    merged: dict[tuple[str, str, str], dict[str, Any]] = {}
    for r in rows:
        key = (str(r["source"]), str(r["target"]), str(r["relation"]))
        m = merged.setdefault(key, {"origins": set(), "last": r["last_seen_at"], "seen": 0})
        m["origins"].add(str(r["origin"]))
        m["last"] = max(m["last"], r["last_seen_at"])
        m["seen"] = max(m["seen"], int(r.get("seen_any") or r["seen"]))
    return [Link(s, t, rel, tuple(sorted(m["origins"])), m["last"], m["seen"])
            for (s, t, rel), m in sorted(merged.items())]


def component(links_: Sequence[Link], entity: str) -> list[Link]:
    """The dependency links connected (either way) to ``entity``."""
    adj: dict[str, list[Link]] = {}
    for ln in links_:
        if ln.relation not in FACTS:
            adj.setdefault(ln.source, []).append(ln)
            adj.setdefault(ln.target, []).append(ln)
    seen, todo, out = {entity}, [entity], set()
    while todo:
        n = todo.pop()
        for ln in adj.get(n, []):
            out.add(ln)
            for m in (ln.source, ln.target):
                if m not in seen:
                    seen.add(m)
                    todo.append(m)
    return sorted(out, key=lambda x: (x.source, x.target, x.relation))


@dataclass
class Reached:
    entity: str
    depth: int
    #: the entity one step nearer the root
    via: str
    relation: str
    origins: tuple[str, ...]
    last_seen_at: datetime
    seen: int


@dataclass
class BlastRadius:
    entity: str
    #: who is hurt if ``entity`` fails: what depends on it, transitively
    upstream: list[Reached] = field(default_factory=list)
    #: what ``entity`` depends on, transitively
    downstream: list[Reached] = field(default_factory=list)
    #: owner, repositories, deploy targets (direct facts, not walked)
    facts: list[Link] = field(default_factory=list)


def blast_radius(links_: Sequence[Link], entity: str, depth: int = 3) -> BlastRadius:
    """Breadth-first up to ``depth`` steps each way along the dependency links (the first path
    found to an entity is kept: its shortest)."""
    deps = [ln for ln in links_ if ln.relation not in FACTS]
    out = BlastRadius(entity, facts=[ln for ln in links_ if ln.relation in FACTS
                                     and entity in (ln.source, ln.target)])
    for direction, bucket in (("up", out.upstream), ("down", out.downstream)):
        step: dict[str, list[tuple[str, Link]]] = {}
        for ln in deps:
            a, b = (ln.dependency, ln.dependent) if direction == "up" else (ln.dependent,
                                                                             ln.dependency)
            step.setdefault(a, []).append((b, ln))
        seen = {entity}
        queue = deque([(entity, 0)])
        while queue:
            n, d = queue.popleft()
            if d >= depth:
                continue
            for m, ln in sorted(step.get(n, []), key=lambda x: x[0]):
                if m in seen:
                    continue
                seen.add(m)
                bucket.append(Reached(m, d + 1, n, ln.relation, ln.origins, ln.last_seen_at,
                                      ln.seen))
                queue.append((m, d + 1))
    return out
