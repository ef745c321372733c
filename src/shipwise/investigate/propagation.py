"""Follow the symptom down the call graph: which dependency's own change the alarm is made of.

An SRE who gets "the front end is slow" opens the service map and walks down it: which of its
dependencies got slow *at the same time* as the front end, and which of those is slow *by
itself* rather than because something it calls is slow. This module does that walk on the
alarm's own signal (latency for a latency alarm, availability for an availability alarm):

1. **The same signal on every entity.** Each entity's series of the alarm's metric is compared
   with its own normal: median and MAD (× 1.4826, a robust σ) of the data before the window,
   the window starting :data:`WINDOW_STEPS` samples before the earlier of the alarm and the
   system onset. ``z`` is the largest deviation in the window in the metric's bad direction
   (:func:`~shipwise.investigate.detect.metric_direction`), ``delta`` the same in the metric's
   own units. An entity is anomalous at ``z ≥`` :data:`ANOMALOUS_Z`.
2. **It tracks the alarm.** A cause moves with its symptom: ``tracks`` is the Pearson correlation
   of the entity's deviations with the alarm's over the window (0 when negative; 0.5 — unknown —
   with fewer than three common samples). Something that was already off before the alarm and
   stayed off while the alarm recovered does not track it.
3. **Walk down the calls.** From the alarm's entity, follow the edges a caller waits on
   (:data:`WAITS_ON`: ``calls``, ``reads``, ``writes``, ``depends_on``, ``uses``; caller →
   callee) through anomalous entities only (the anomalous path the symptom travelled).
4. **Not explained by its own dependency.** An entity on that path is explained when one of its
   direct dependencies is anomalous, tracks the alarm (> 0.5) and changed at least
   :data:`EXPLAIN_SHARE` as much in the same units (a callee 2 ms slower does not explain a
   caller 450 ms slower; a callee as slow does). The unexplained entities on the path are the
   root candidates, best first by ``log(1 + min(z, Z_CAP)) × tracks × min(1, share / EXPLAIN_SHARE)``, where
   ``share`` is the candidate's change as a share of the alarm's own (in the same units): a
   dependency 2 ms slower is a poor account of a front end 90 ms slower, even when nothing
   below it explains it.
5. **Callers that changed alike share the cause.** Two or more root candidates that wait on one
   dependency which is no root candidate itself, and whose changes are within
   :data:`EXPLAIN_SHARE` of each other, are replaced by that dependency (it takes the best of
   their scores; they become explained by it): services do not slow down by the same amount at
   the same instant on their own, and a dependency measures its own work, not the way to it (a
   delay on its network shows only in its callers).

Everything is a handful of vector operations per entity (no loop per sample); with no
topology, or when the alarm's metric exists on the alarm's entity only, there is nothing to
walk (nor when the alarm's entity waits on nothing) and :func:`follow_symptom` returns ``None``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import networkx as nx
import numpy as np

from shipwise.investigate.case import Series
from shipwise.investigate.detect import metric_direction

#: an entity is anomalous on the alarm's signal at this many robust σ
ANOMALOUS_Z = 5.0
#: a dependency explains its caller when its own change is at least this share of the caller's
EXPLAIN_SHARE = 0.5
#: a dependency must track the alarm at least this well to explain its caller
EXPLAIN_TRACKS = 0.5
#: the window starts this many samples before the earlier of the alarm and the onset
WINDOW_STEPS = 3
#: a normal needs at least this many samples before the window
MIN_NORMAL = 10
#: deviations beyond this many robust σ score as this many (a series flat in its normal period
#: has a tiny spread, and any change is then "10¹⁶ σ")
Z_CAP = 1000.0
#: a walk whose best root candidate scores this much (e.g. 20 σ tracking the alarm at r = 1) is
#: fully convincing; weaker walks count for their share of it (:attr:`Walk.strength`)
WALK_FULL = 3.0
#: topology relations along which a caller waits on its callee (so the callee's slowness or
#: errors become the caller's)
WAITS_ON = ("calls", "reads", "writes", "depends_on", "uses")


def waits_on_graph(topology: nx.DiGraph) -> nx.DiGraph:
    """The edges of ``topology`` a caller waits on (:data:`WAITS_ON`), caller → callee."""
    g = nx.DiGraph()
    g.add_nodes_from(topology.nodes)
    g.add_edges_from((a, b) for a, b, rel in topology.edges(data="relation", default="calls")
                     if rel in WAITS_ON)
    return g


@dataclass(frozen=True)
class Signal:
    entity: str
    z: float  # largest deviation in the window, robust σ, bad direction
    delta: float  # the same in the metric's units
    tracks: float  # correlation with the alarm's deviations, clipped at 0 (0.5: unknown)
    times: np.ndarray
    zs: np.ndarray


@dataclass(frozen=True)
class Candidate:
    entity: str
    score: float
    path: tuple[str, ...]  # alarm entity ... entity
    signal: Signal
    explained_by: str = ""  # set for path entities explained by a dependency (not candidates)
    #: for a shared dependency (step 5): the callers that slowed alike on their calls to it
    callers: tuple[str, ...] = ()


@dataclass(frozen=True)
class Walk:
    metric: str
    signals: dict[str, Signal]
    roots: list[Candidate]  # best first
    explained: dict[str, Candidate]  # on the path, explained by the named dependency

    def best(self, beside: str = "") -> float:
        """The best root candidate's score (leaving out ``beside``, e.g. the alarm's entity)."""
        return max((c.score for c in self.roots if c.entity != beside), default=0.0)

    def strength(self, beside: str = "") -> float:
        """How convincing the walk is, 0..1: its best root's score over :data:`WALK_FULL`."""
        return min(1.0, self.best(beside) / WALK_FULL)

    def describe(self, c: Candidate) -> str:
        s = c.signal
        way = " → ".join(c.path)
        if c.callers:
            deltas = ", ".join(f"{x} {_signed(self.signals[x].delta)}" for x in c.callers)
            return (f"{self.metric} of {' and '.join(c.callers)}, which all wait on {c.entity}, "
                    f"changed alike at the same time ({deltas}) while {c.entity}'s own did not: "
                    f"the change is on the way to {c.entity} (its network) or in {c.entity}")
        return (f"{self.metric} rose along the calls {way}: {c.entity} deviated {s.z:.1f} robust-σ "
                f"({_signed(s.delta)}), tracks the alarm (r={s.tracks:.2f}) and none of its own "
                "dependencies accounts for it") if metric_direction(self.metric) >= 0 else (
                f"{self.metric} dropped along the calls {way}: {c.entity} deviated {s.z:.1f} "
                f"robust-σ ({_signed(-s.delta)}), tracks the alarm (r={s.tracks:.2f}) and none of "
                "its own dependencies accounts for it")


def _signed(x: float) -> str:
    return f"{x:+.3g}"


def follow_symptom(alarm_entity: str, alarm_metric: str, alarm_time: float, onset: float,
                   step: float, calls: nx.DiGraph,
                   metrics: Mapping[tuple[str, str], Series]) -> Walk | None:
    """The walk of the module docstring, or None when there is nothing to walk."""
    same = {e: s for (e, m), s in metrics.items() if m == alarm_metric and s.timestamps.size}
    if (alarm_entity not in same or len(same) < 2 or alarm_entity not in calls
            or calls.out_degree(alarm_entity) == 0):
        return None
    start = min(alarm_time, onset) - WINDOW_STEPS * step
    direction = metric_direction(alarm_metric)
    raw = {e: _deviation(s, start, direction) for e, s in same.items()}
    if raw[alarm_entity] is None:
        return None
    mine = raw[alarm_entity]
    assert mine is not None
    at, az = mine[2], mine[3]
    signals: dict[str, Signal] = {}
    for e, r in raw.items():
        if r is None:
            continue
        z, delta, ts, zs = r
        signals[e] = Signal(e, z, delta, _tracks(ts, zs, at, az), ts, zs)
    anomalous = {e for e, s in signals.items() if s.z >= ANOMALOUS_Z}
    paths = _anomalous_paths(calls, alarm_entity, anomalous)
    roots: list[Candidate] = []
    explained: dict[str, Candidate] = {}
    for e, path in paths.items():
        if e not in anomalous:
            continue
        s = signals[e]
        by = _explained_by(calls, e, s, signals, anomalous)
        alarm_delta = signals[alarm_entity].delta
        share = s.delta / alarm_delta if alarm_delta > 0 else 1.0
        cand = Candidate(e, math.log1p(min(s.z, Z_CAP)) * s.tracks * min(1.0, share / EXPLAIN_SHARE),
                         path, s, by)
        if by:
            explained[e] = cand
        else:
            roots.append(cand)
    _shared_dependencies(calls, alarm_entity, roots, explained, signals)
    roots.sort(key=lambda c: (-c.score, c.entity))
    return Walk(alarm_metric, signals, roots, explained)


def _shared_dependencies(calls: nx.DiGraph, alarm_entity: str, roots: list[Candidate],
                         explained: dict[str, Candidate], signals: dict[str, Signal]) -> None:
    """Step 5: root candidates that share a dependency and changed alike point to it.

    Two services do not become slower by the same amount at the same instant on their own: when
    two or more root candidates wait on one dependency whose own signal did not change (it
    measures its own work, not the way to it), and their changes are within
    :data:`EXPLAIN_SHARE` of each other, the common dependency replaces them as the root (the
    delay is in reaching it — its network — or in it beyond what it measures); they are then
    explained by it."""
    live = [c for c in roots if c.score > 0 and c.entity != alarm_entity]
    named = {c.entity for c in live}
    by_dep: dict[str, list[Candidate]] = {}
    for c in live:
        for d in calls.successors(c.entity):
            # a dependency that is itself a root candidate speaks for itself
            if d != alarm_entity and d not in named:
                by_dep.setdefault(d, []).append(c)
    for d, group in sorted(by_dep.items(), key=lambda kv: (-max(c.score for c in kv[1]), kv[0])):
        group = [c for c in group if c.entity not in explained]
        deltas = [c.signal.delta for c in group]
        if len(group) < 2 or min(deltas) < EXPLAIN_SHARE * max(deltas):
            continue
        best = max(group, key=lambda c: (c.score, c.entity))
        roots[:] = [c for c in roots if c.entity != d]
        explained.pop(d, None)
        sig = signals.get(d) or Signal(d, 0.0, 0.0, 0.0, best.signal.times, np.zeros(0))
        roots.append(Candidate(d, best.score, (*best.path, d), sig,
                               callers=tuple(sorted(c.entity for c in group))))
        for c in group:
            roots.remove(c)
            explained[c.entity] = Candidate(c.entity, c.score, c.path, c.signal, d)


def _deviation(s: Series, start: float,
               direction: int) -> tuple[float, float, np.ndarray, np.ndarray] | None:
    before = s.timestamps < start
    normal = s.values[before]
    if normal.size < MIN_NORMAL or not (~before).any():
        return None
    med = float(np.median(normal))
    mad = float(np.median(np.abs(normal - med))) * 1.4826
    if mad <= 0:
        mad = float(np.std(normal)) or max(abs(med), 1.0) * 1e-9
    dev = s.values[~before] - med
    bad = dev if direction > 0 else -dev if direction < 0 else np.abs(dev)
    zs = bad / mad
    return float(zs.max()), float(bad.max()), s.timestamps[~before], zs


def _tracks(ts: np.ndarray, zs: np.ndarray, at: np.ndarray, az: np.ndarray) -> float:
    common, i, j = np.intersect1d(ts, at, assume_unique=True, return_indices=True)
    if common.size < 3:
        return 0.5
    x, y = zs[i], az[j]
    if float(np.std(x)) == 0 or float(np.std(y)) == 0:
        return 0.0
    r = float(np.corrcoef(x, y)[0, 1])
    return max(0.0, r) if math.isfinite(r) else 0.0


def _anomalous_paths(calls: nx.DiGraph, source: str, anomalous: set[str]) -> dict[str, tuple[str, ...]]:
    """The shortest path from ``source`` to every entity reachable through anomalous ones."""
    paths: dict[str, tuple[str, ...]] = {source: (source,)}
    frontier = [source]
    while frontier:
        nxt = []
        for x in frontier:
            for y in sorted(calls.successors(x)):
                if y in anomalous and y not in paths:
                    paths[y] = (*paths[x], y)
                    nxt.append(y)
        frontier = nxt
    return paths


def _explained_by(calls: nx.DiGraph, e: str, s: Signal, signals: dict[str, Signal],
                  anomalous: set[str]) -> str:
    best = ""
    for c in sorted(calls.successors(e)):
        cs = signals.get(c)
        if (c != e and c in anomalous and cs is not None and cs.tracks > EXPLAIN_TRACKS
                and cs.delta >= EXPLAIN_SHARE * s.delta
                and (not best or cs.delta > signals[best].delta)):
            best = c
    return best
