"""Re-scoping an investigation from a follow-up question (docs/ask.md).

"focus on the most recent wave", "only us-east", "what about the database?", "last 30 minutes":
:func:`parse_narrowing` reads the question against the record and says how to narrow it — a
shorter window, or a subset of the entities — and :meth:`Narrowing.scope` and
:meth:`Narrowing.apply` narrow a new investigation's window and the evidence it gathered. Pure:
no I/O (the application layer gathers the evidence and stores the child record).
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

import networkx as nx
import numpy as np

from shipwise.investigate.evidence import Evidence, Scope, Spans
from shipwise.investigate.rank import clock

Kind = Literal["window", "wave", "entities", "region"]
#: onsets further apart than this belong to different waves
WAVE_GAP_SECONDS = 600.0
#: the quiet time kept before a wave (the baseline its anomalies are judged against)
WAVE_BASELINE_SECONDS = 900.0
#: a window narrower than this leaves no baseline to judge an anomaly against
MIN_WINDOW_SECONDS = 300.0

#: words naming a kind of entity, and the entity kinds (and name parts) they mean
KIND_WORDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    r"\b(?:databases?|dbs?|tables?|sql|postgres(?:ql)?|mysql)\b":
        (("table", "database", "db"), ("-db", "db.", "database", "postgres", "mysql")),
    r"\bcaches?\b|\bredis\b|\bmemcached?\b": (("cache",), ("cache", "redis")),
    r"\bqueues?\b|\bkafka\b|\bsqs\b|\brabbit(?:mq)?\b": (("queue", "topic"), ("queue", "kafka")),
    r"\b(?:instances?|hosts?|nodes?|vms?|machines?)\b": (("instance", "host", "node"), ("i-",)),
    r"\bgateways?\b|\bingress\b|\bedge\b": (("gateway", "ingress"), ("gateway",)),
}
_REGION = re.compile(r"\b((?:us|eu|ap|sa|ca|me|af|il|mx)-(?:gov-)?(?:north|south|east|west|central|"
                     r"northeast|southeast|northwest|southwest)(?:-\d)?)\b", re.I)
_WINDOW = re.compile(r"\b(?:last|past|final|latest)\s+(\d+(?:\.\d+)?)\s*"
                     r"(minutes?|mins?|m|hours?|hrs?|h)\b", re.I)
_WAVE = re.compile(r"\b(?:most\s+recent|latest|last|newest|final|second|current)\s+"
                   r"(?:wave|spike|burst|peak|episode|occurrence)\b", re.I)
_FOCUS = re.compile(r"\b(?:what\s+about|how\s+about|focus(?:ing)?\s+on|zoom\s+in(?:to|\s+on)?|"
                    r"only|just|restrict(?:ed)?\s+to|narrow(?:ed)?\s+to|look\s+at)\b", re.I)


@dataclass(frozen=True)
class Narrowing:
    """How a follow-up question narrows an investigation."""

    kind: Kind
    text: str
    start: float | None = None
    end: float | None = None
    entities: tuple[str, ...] = ()
    region: str = ""

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["entities"] = list(self.entities)
        return d

    def child_id(self, parent_id: str) -> str:
        """The re-scoped record's id: the parent's, plus a digest of the narrowing (the same
        narrowing of the same record gets the same id, so asking again replaces it)."""
        key = f"{self.kind}|{self.start}|{self.end}|{','.join(self.entities)}|{self.region}"
        return f"{parent_id}-s{hashlib.sha256(key.encode()).hexdigest()[:6]}"

    def scope(self, base: Scope) -> Scope:
        """``base`` (the investigation's usual window) narrowed to this window, if any."""
        if self.start is None and self.end is None:
            return base
        start = max(base.start, self.start) if self.start is not None else base.start
        end = min(base.end, self.end) if self.end is not None else base.end
        return replace(base, start=start, end=end)

    def apply(self, evidence: Evidence, alarm_entity: str) -> tuple[Evidence, list[str]]:
        """The evidence narrowed to the entities this narrowing keeps (all of it for a window),
        and the entities kept (empty: nothing of the scope was in the evidence)."""
        if self.kind == "region":
            focus = region_entities(evidence.topology, self.region)
        elif self.kind == "entities":
            focus = {e for e in self.entities if e in evidence.topology
                     or any(k[0] == e for k in evidence.metrics)}
        else:
            return evidence, []
        if not focus - {alarm_entity}:
            return evidence, []
        keep = _connect(evidence.topology, alarm_entity, focus)
        return filter_evidence(evidence, keep), sorted(keep)


def region_entities(topology: nx.DiGraph, region: str) -> set[str]:
    """Entities of ``topology`` in ``region``: a ``region`` (or ``zone``) attribute, of the node or
    of its ``platform``, starting with it (``us-east`` matches ``us-east-1``)."""
    want = region.lower()
    out = set()
    for n, attrs in topology.nodes(data=True):
        platform = attrs.get("platform") if isinstance(attrs.get("platform"), dict) else {}
        for v in (attrs.get("region"), attrs.get("zone"), platform.get("region"),
                  platform.get("zone")):
            if isinstance(v, str) and v.lower().startswith(want):
                out.add(str(n))
    return out


def _connect(topology: nx.DiGraph, alarm_entity: str, focus: set[str]) -> set[str]:
    """``focus``, the alarm's entity, the entities on a shortest path between them (either
    way) and what they run on (instances, groups)."""
    keep = set(focus) | {alarm_entity}
    undirected = topology.to_undirected(as_view=True)
    for f in focus:
        if f in undirected and alarm_entity in undirected:
            with contextlib.suppress(nx.NetworkXNoPath):
                keep.update(nx.shortest_path(undirected, alarm_entity, f))
    for n in list(keep):
        if n in topology:
            for m in topology.successors(n):
                if topology.edges[n, m].get("relation") in ("runs_on", "member_of"):
                    keep.add(m)
            for m in topology.predecessors(n):
                if topology.edges[m, n].get("relation") in ("runs_on", "member_of"):
                    keep.add(m)
    return keep


def filter_evidence(evidence: Evidence, keep: set[str]) -> Evidence:
    """Only what concerns the entities of ``keep`` (runbooks and source statuses are kept)."""
    spans = evidence.spans
    if len(spans):
        mask = np.isin(spans.service.astype(str), list(keep))
        spans = Spans(spans.trace_id[mask], spans.span_id[mask], spans.parent_id[mask],
                      spans.service[mask], spans.start[mask], spans.error[mask],
                      spans.customer[mask], spans.refs)
    return Evidence(
        topology=evidence.topology.subgraph([n for n in evidence.topology if n in keep]).copy(),
        metrics={k: v for k, v in evidence.metrics.items() if k[0] in keep},
        metric_refs={k: v for k, v in evidence.metric_refs.items() if k[0] in keep},
        logs=[x for x in evidence.logs if x.entity in keep or x.instance in keep],
        spans=spans,
        events=[e for e in evidence.events if e.entity in keep
                or str(e.details.get("instance", "")) in keep],
        runbooks=list(evidence.runbooks), sources=list(evidence.sources))


def known_entities(record: dict[str, Any]) -> dict[str, str]:
    """Every entity the record names, with its kind when known."""
    out: dict[str, str] = {}
    learnt = record.get("topology_learnt") or {}
    for row in learnt.get("nodes") or []:
        if row and row[0]:
            out.setdefault(str(row[0]), str(row[1] or ""))
    for n in (record.get("topology") or {}).get("nodes") or []:
        out[str(n["id"])] = str(n.get("kind") or out.get(str(n["id"]), ""))
    for t in record.get("triage") or []:
        out.setdefault(str(t["entity"]), str(t.get("kind") or ""))
    for row in learnt.get("edges") or []:
        for n in row[:2]:
            if n:
                out.setdefault(str(n), "")
    for item in record.get("timeline") or []:
        if item.get("entity"):
            out.setdefault(str(item["entity"]), "")
    return out


def mentioned_entities(question: str, record: dict[str, Any]) -> list[str]:
    """Entities of the record named in ``question`` (longest names first, none inside another
    one already found), e.g. ``catalog-db.products`` before ``catalog``."""
    q = question.lower()
    found: list[str] = []
    for name in sorted(known_entities(record), key=lambda n: (-len(n), n)):
        low = name.lower()
        if len(low) < 3:
            continue
        if re.search(rf"(?<![\w.-]){re.escape(low)}(?![\w-])", q) and not any(
                low in f.lower() for f in found):
            found.append(name)
    return found


def kind_entities(question: str, record: dict[str, Any]) -> tuple[str, list[str]]:
    """The kind word in ``question`` ('database', 'cache'…) and the record's entities of that
    kind ('', [] when the question names no kind)."""
    entities = known_entities(record)
    for pattern, (kinds, name_parts) in KIND_WORDS.items():
        m = re.search(pattern, question, re.I)
        if m is None:
            continue
        hits = sorted(n for n, k in entities.items()
                      if k in kinds or any(p in n.lower() for p in name_parts))
        return m.group(0).lower(), hits
    return "", []


def waves(record: dict[str, Any]) -> list[tuple[float, float]]:
    """The waves of the incident: (first, last) instants of groups of onsets (series onsets,
    first errors, the change point) no more than :data:`WAVE_GAP_SECONDS` apart."""
    times = sorted({float(s["onset"]) for s in record.get("anomalous_series") or []
                    if s.get("onset") is not None}
                   | {float(i["time"]) for i in record.get("timeline") or []
                      if str(i.get("what", "")).startswith(("first error", "anomaly onset"))})
    out: list[tuple[float, float]] = []
    for t in times:
        if out and t - out[-1][1] <= WAVE_GAP_SECONDS:
            out[-1] = (out[-1][0], t)
        else:
            out.append((t, t))
    return out


def parse_narrowing(question: str, record: dict[str, Any]) -> Narrowing | None:
    """How ``question`` narrows the investigation ``record`` (None: it asks about the record
    as it is). Checked in order: a window ("last 30 minutes"), a wave ("the most recent wave"),
    a region ("only us-east"), named entities or a kind of entity ("what about the database?")
    after a focusing phrase."""
    window = record.get("window") or {}
    end = float(window.get("end") or record["alarm"]["time"])
    m = _WINDOW.search(question)
    if m:
        n = float(m.group(1))
        unit = m.group(2).lower()
        seconds = n * (3600 if unit.startswith("h") else 60)
        seconds = max(seconds, MIN_WINDOW_SECONDS)
        label = f"{m.group(1)} {'hours' if unit.startswith('h') else 'minutes'}"
        return Narrowing("window", f"the last {label} of the window (from {clock(end - seconds)}"
                                   f" to {clock(end)} UTC)", start=end - seconds, end=end)
    if _WAVE.search(question):
        found = waves(record)
        if found:
            first, _ = found[-1]
            start = first - WAVE_BASELINE_SECONDS
            if len(found) > 1:
                start = max(start, found[-2][1] + 60)
            return Narrowing("wave", f"the most recent wave (onsets from {clock(first)}, "
                                     f"{len(found)} wave{'s' if len(found) > 1 else ''} in the "
                                     f"record; read from {clock(start)} UTC)",
                             start=start, end=end)
    region = _REGION.search(question)
    if region and (_FOCUS.search(question) or re.search(r"\bin\s+" + re.escape(region.group(1)),
                                                        question, re.I)):
        r = region.group(1).lower()
        return Narrowing("region", f"only the entities in {r}", region=r)
    if _FOCUS.search(question):
        named = mentioned_entities(question, record)
        if named:
            return Narrowing("entities", "only " + ", ".join(named) + " and the path from "
                             f"{record['alarm']['entity']} to "
                             + ("it" if len(named) == 1 else "them"),
                             entities=tuple(named))
        word, hits = kind_entities(question, record)
        if hits:
            return Narrowing("entities", f"only the {word} entities ({', '.join(hits)}) and the "
                             f"path from {record['alarm']['entity']} to them",
                             entities=tuple(hits))
    return None
