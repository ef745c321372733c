"""Root-cause ranking: which entity most likely caused the alarm of a :class:`Case`.

Methods (``METHODS``), all scoring each metric and giving an entity the max over its metrics:

- ``naive`` — the naive per-metric scorer: ``max |z|`` after the alarm, with mean and standard
  deviation of the data before the alarm.
- ``nsigma`` — the N-Sigma baseline of RCAEval (Pham et al., "RCAEval: A Benchmark for Root Cause
  Analysis of Microservice Systems", WWW 2025) and BARO: mean/σ over a normal window ending
  ``margin`` before the alarm, ``max |x − μ| / σ`` over the rest (direction-aware).
- ``baro`` — BARO (Pham, Ha, Zhang, "BARO: Robust Root Cause Analysis for Microservices via
  Multivariate Bayesian Online Change Point Detection", FSE 2024): Bayesian online change point
  detection (Adams & MacKay 2007) over the standardised metrics finds the onset ``t*``
  (:func:`shipwise.investigate.detect.find_onset`), then the RobustScorer gives each metric
  ``max |x − median| / IQR`` after ``t*`` with median and IQR from before ``t*``.
- ``baro+topology`` — BARO re-ranked with the ``calls`` graph (caller → callee). An entity is
  *anomalous* when its score ≥ ``max(ANOMALOUS_MIN, ANOMALOUS_REL × top score)``. An anomalous
  entity with an anomalous (transitive) callee whose onset is earlier or equal (within two
  samples) is *explained* by it: its excess over the anomaly threshold is multiplied by
  ``DEMOTE`` (so it stays above the non-anomalous entities). Otherwise it is a root
  candidate: its score is multiplied by ``1 + share of the other anomalous entities that are its
  (transitive) callers with an onset no earlier than its own``. So the deepest anomalous
  dependency whose anomaly starts first and explains its callers comes first. With no topology
  this is exactly ``baro``.

Direction: a drop is anomalous for availability/success/throughput, a rise for latency/errors/
cpu/memory, either way for other names (:func:`shipwise.investigate.detect.metric_direction`;
``naive`` ignores direction). Ties break by entity name, so results are deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import networkx as nx
import numpy as np

from shipwise.errors import InputError
from shipwise.investigate.case import Case
from shipwise.investigate.detect import (
    Deviation,
    Onset,
    find_onset,
    metric_direction,
    robust_deviation,
    zscore_deviation,
)
from shipwise.investigate.propagation import follow_symptom, waits_on_graph

METHODS = ("naive", "nsigma", "baro", "baro+topology", "traversal")

#: nsigma's normal window ends this many sampling intervals before the alarm.
NSIGMA_MARGIN_STEPS = 5
#: baro+topology: an entity is anomalous at ≥ max(ANOMALOUS_MIN, ANOMALOUS_REL × top score).
ANOMALOUS_MIN = 3.0
ANOMALOUS_REL = 0.2
#: baro+topology: factor on the excess score of an entity explained by an earlier callee.
DEMOTE = 0.5
#: onsets this many sampling intervals apart count as simultaneous.
ONSET_TOLERANCE_STEPS = 2


@dataclass(frozen=True)
class Ranked:
    entity: str
    score: float
    evidence: tuple[str, ...]


@dataclass(frozen=True)
class MetricScore:
    entity: str
    metric: str
    dev: Deviation
    onset: float | None  # change point of this metric (baro) or None
    unit: str


def rank(case: Case, method: str = "baro+topology") -> list[Ranked]:
    """Entities with metrics, most likely root cause first."""
    if method not in METHODS:
        raise InputError(f"unknown ranking method {method!r}",
                         hint=f"use one of: {', '.join(METHODS)}")
    keys = sorted(k for k, s in case.metrics.items() if s.timestamps.size > 0)
    if not keys:
        return []
    step = sampling_step(case, keys)
    if method == "traversal":
        return _traversal(case, keys, step)
    if method == "naive":
        scores = _naive(case, keys)
    elif method == "nsigma":
        scores = _nsigma(case, keys, step)
    else:
        scores, _ = _baro(case, keys)
    ranked = _aggregate(case, scores)
    if method == "baro+topology":
        ranked = _topology_rerank(case, ranked, scores, step)
    return sorted(ranked, key=lambda r: (-r.score, r.entity))


def _traversal(case: Case, keys: list[tuple[str, str]], step: float) -> list[Ranked]:
    """The symptom followed down the calls (:mod:`shipwise.investigate.propagation`), its root
    candidates first; then BARO's order for everything else (and BARO alone when there is
    nothing to walk)."""

    scores, onset = _baro(case, keys)
    baro = sorted(_aggregate(case, scores), key=lambda r: (-r.score, r.entity))
    walk = follow_symptom(case.alarm.entity, case.alarm.metric, case.alarm.time,
                          onset.time, step, waits_on_graph(case.topology), case.metrics)
    if walk is None:
        return baro
    top = (baro[0].score if baro else 0.0) + 1.0
    first = [Ranked(c.entity, top + c.score, (walk.describe(c),)) for c in walk.roots]
    named = {r.entity for r in first}
    rest = [r for r in baro if r.entity not in named]
    return first + rest


def sampling_step(case: Case, keys: list[tuple[str, str]]) -> float:
    diffs = [np.diff(case.metrics[k].timestamps) for k in keys]
    pos = np.concatenate(diffs) if diffs else np.empty(0)
    pos = pos[pos > 0]
    return float(np.median(pos)) if pos.size else 60.0


def _naive(case: Case, keys: list[tuple[str, str]]) -> list[MetricScore]:
    t = case.alarm.time
    out = []
    for e, m in keys:
        s = case.metrics[(e, m)]
        out.append(MetricScore(e, m, zscore_deviation(s.timestamps, s.values, t, t, 0), None, "σ"))
    return out


def _nsigma(case: Case, keys: list[tuple[str, str]], step: float) -> list[MetricScore]:
    margin_cut = case.alarm.time - NSIGMA_MARGIN_STEPS * step
    out = []
    for e, m in keys:
        s = case.metrics[(e, m)]
        # A short window leaves no normal data before the margin: fall back to the alarm time,
        # rather than scoring every metric zero.
        cut = margin_cut if int((s.timestamps < margin_cut).sum()) >= 2 else case.alarm.time
        dev = zscore_deviation(s.timestamps, s.values, cut, cut, metric_direction(m))
        out.append(MetricScore(e, m, dev, None, "σ"))
    return out


def baro_scores(case: Case) -> tuple[list[MetricScore], Onset | None]:
    """BARO's per-metric scores and the system onset (None when the case has no metrics)."""
    keys = sorted(k for k, s in case.metrics.items() if s.timestamps.size > 0)
    if not keys:
        return [], None
    return _baro(case, keys)


def _baro(case: Case, keys: list[tuple[str, str]]) -> tuple[list[MetricScore], Onset]:
    series = [(case.metrics[k].timestamps, case.metrics[k].values) for k in keys]
    onset = find_onset(series, case.alarm.time)
    out = []
    for (e, m), (ts, vals), own in zip(keys, series, onset.metric_onsets, strict=True):
        dev = robust_deviation(ts, vals, onset.time, metric_direction(m))
        out.append(MetricScore(e, m, dev, own, "robust-σ"))
    return out, onset


def _aggregate(case: Case, scores: list[MetricScore]) -> list[Ranked]:
    by_entity: dict[str, list[MetricScore]] = {}
    for s in scores:
        by_entity.setdefault(s.entity, []).append(s)
    out = []
    for entity, items in sorted(by_entity.items()):
        items.sort(key=lambda s: (-s.dev.score, s.metric))
        best = items[0].dev.score
        shown = [s for s in items if s.dev.score > 0][:3]
        evidence = tuple(describe_score(s, case.alarm.time) for s in shown) or (
            "no metric deviated from its normal window",)
        out.append(Ranked(entity, float(best), evidence))
    return out


def describe_score(s: MetricScore, alarm: float) -> str:
    verb = "rose" if s.dev.signed > 0 else "dropped" if s.dev.signed < 0 else "deviated"
    when, label = (s.onset, "onset") if s.onset is not None else (s.dev.peak_time, "peak")
    if when is None:
        return f"{s.metric} {verb} {s.dev.score:.1f} {s.unit}"
    return (f"{s.metric} {verb} {s.dev.score:.1f} {s.unit} at {clock(when)} ({label}), "
            f"{relative(when, alarm)}")


def clock(t: float) -> str:
    dt = datetime.fromtimestamp(t, tz=UTC)
    return dt.strftime("%H:%M" if dt.second == 0 else "%H:%M:%S")


def iso(t: float) -> str:
    """ISO-8601 UTC with a Z."""
    return datetime.fromtimestamp(t, tz=UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def relative(t: float, alarm: float) -> str:
    delta = alarm - t
    if abs(delta) < 1:
        return "at the alarm time"
    side = "before" if delta > 0 else "after"
    mag = abs(delta)
    if mag < 60:
        amount = f"{mag:.0f} s"
    elif mag % 60 == 0:
        amount = f"{mag / 60:.0f} min"
    else:
        amount = f"{mag / 60:.1f} min"
    return f"{amount} {side} the alarm"


def _calls_graph(case: Case) -> nx.DiGraph:
    g = nx.DiGraph()
    g.add_nodes_from(case.topology.nodes)
    g.add_edges_from((a, b) for a, b, rel in case.topology.edges(data="relation", default="calls")
                     if rel == "calls")
    return g


def _topology_rerank(case: Case, ranked: list[Ranked], scores: list[MetricScore],
                     step: float) -> list[Ranked]:
    g = _calls_graph(case)
    if g.number_of_edges() == 0 or not ranked:
        return ranked
    top = max(r.score for r in ranked)
    cut = max(ANOMALOUS_MIN, ANOMALOUS_REL * top)
    onset: dict[str, float] = {}
    for s in sorted(scores, key=lambda s: (-s.dev.score, s.metric)):
        if s.dev.score >= cut and s.onset is not None:
            onset[s.entity] = min(onset.get(s.entity, s.onset), s.onset)
    anomalous = {r.entity for r in ranked if r.score >= cut and r.entity in onset}
    tol = ONSET_TOLERANCE_STEPS * step
    out = []
    for r in ranked:
        if r.entity not in anomalous or r.entity not in g:
            out.append(r)
            continue
        mine = onset[r.entity]
        callees = sorted(d for d in nx.descendants(g, r.entity) if d in anomalous)
        earlier = [d for d in callees if onset[d] <= mine + tol]
        if earlier:
            first = min(earlier, key=lambda d: (onset[d], d))
            note = (f"demoted: its callee {first} was anomalous first "
                    f"(onset {clock(onset[first])}), which explains it")
            demoted = cut + (r.score - cut) * DEMOTE  # still above the non-anomalous ones
            out.append(Ranked(r.entity, demoted, (*r.evidence, note)))
            continue
        callers = sorted(a for a in nx.ancestors(g, r.entity)
                         if a in anomalous and onset[a] >= mine - tol)
        if not callers:
            out.append(r)
            continue
        share = len(callers) / max(1, len(anomalous) - 1)
        note = (f"deepest anomalous dependency: explains {len(callers)} anomalous caller(s) "
                f"({', '.join(callers)}) whose anomaly started at or after its own")
        out.append(Ranked(r.entity, r.score * (1.0 + share), (*r.evidence, note)))
    return out
