"""How anomaly sizes weigh in the investigation: a dependency explains its caller only when its
anomaly is comparably large, the strongest "deepest" anomaly is the likelier origin, and an onset
leaves a normal to measure against."""

from __future__ import annotations

import networkx as nx
import numpy as np

from shipwise.investigate.case import Alarm, Series
from shipwise.investigate.detect import Deviation, find_onset
from shipwise.investigate.evidence import Evidence
from shipwise.investigate.hypotheses import generate
from shipwise.investigate.rank import MetricScore
from shipwise.investigate.triage import Context, EntityAnomaly

T0 = 10_000.0
STEP = 5.0


def _context(calls: list[tuple[str, str]], anomalies: dict[str, tuple[str, float]]) -> Context:
    """A triaged context: ``front`` alarmed on latency, ``calls`` (caller → callee), and every
    entity's top metric and its deviation in robust σ (all starting at the alarm)."""
    topo = nx.DiGraph()
    for a, b in calls:
        topo.add_edge(a, b, relation="calls")
    ctx = Context(Alarm("front", "latency", T0), Evidence(topology=topo), T0, STEP, T0 + 600,
                  nx.DiGraph(topo), cut=8.0)
    for e, (metric, z) in anomalies.items():
        s = MetricScore(e, metric, Deviation(z, T0, z), T0, "robust-σ")
        ctx.scores.append(s)
        ctx.entities[e] = EntityAnomaly(e, "service", z, T0, [s], anomalous=z >= ctx.cut)
    return ctx


def test_a_small_anomaly_below_does_not_explain_a_huge_one_above() -> None:
    # front's own memory is 12,000 σ off; the service it calls barely passes the cut (20 σ):
    # that dependency cannot account for front, so front itself is the origin — a memory hog
    ctx = _context([("front", "api")], {"front": ("memory", 12_000.0), "api": ("cpu", 20.0)})
    top = generate(ctx)[0]
    assert (top.entity, top.kind, top.fault) == ("front", "saturation", "memory_hog")
    api = next(h for h in generate(ctx) if h.entity == "api")
    assert not any("explains" in o.text for o in api.observations)


def test_a_comparable_anomaly_below_still_explains_its_caller() -> None:
    # a dependency as far off as its caller accounts for it: the caller is no root candidate
    ctx = _context([("front", "api")], {"front": ("latency", 300.0), "api": ("latency", 250.0)})
    hyps = generate(ctx)
    assert hyps[0].entity == "api"
    assert "front" not in {h.entity for h in hyps if h.kind == "dependency_failure"}


def test_the_largest_of_the_deepest_anomalies_comes_first() -> None:
    # two leaves are each "the deepest anomalous dependency"; the one barely anomalous has more
    # callers (front and mid) but the one 5,000 σ off is the likelier origin
    ctx = _context([("front", "mid"), ("mid", "leaf"), ("front", "hog")],
                   {"front": ("latency", 15.0), "mid": ("latency", 12.0), "leaf": ("cpu", 10.0),
                    "hog": ("memory", 5_000.0)})
    assert generate(ctx)[0].entity == "hog"


def test_the_onset_leaves_a_normal_before_it() -> None:
    # a start-up transient in the first samples is a bigger jump than the real change at sample
    # 70, but a change point needs a normal before it: the onset is the real change
    rng = np.random.default_rng(3)
    n = 80
    ts = T0 + np.arange(n) * STEP
    x = rng.normal(0.0, 1.0, n)
    x[:4] += 40.0
    x[70:] += 12.0
    onset = find_onset([(ts, x)], alarm_time=float(ts[72]))
    assert abs(onset.time - ts[70]) <= 2 * STEP


def test_an_anomaly_dwarfing_the_alarm_path_is_not_ruled_out_for_being_off_it() -> None:
    # front (alarmed, 20 σ) calls api (not anomalous); hog, called by another service only, is
    # 12,000 σ off: the path does not account for the alarm, so the topology is likely
    # incomplete and "not a dependency of front" counts only a little against hog
    ctx = _context([("front", "api"), ("other", "hog")],
                   {"front": ("latency", 20.0), "api": ("latency", 5.0), "hog": ("memory", 12_000.0)})
    hyps = generate(ctx)
    assert hyps[0].entity == "hog"
    against = next(o for o in hyps[0].observations if "not a dependency" in o.text)
    assert -3 < against.weight < -0.5


def test_an_off_path_anomaly_no_larger_than_the_alarm_path_stays_ruled_out() -> None:
    ctx = _context([("front", "api"), ("other", "hog")],
                   {"front": ("latency", 300.0), "api": ("latency", 5.0), "hog": ("memory", 400.0)})
    hyps = generate(ctx)
    assert hyps[0].entity == "front"
    hog = next(h for h in hyps if h.entity == "hog")
    assert hog.score < 0


def _with(ctx: Context, entity: str, metric: str, z: float, onset: float = T0) -> Context:
    """``ctx`` with one more scored metric of ``entity`` (starting at ``onset``)."""
    s = MetricScore(entity, metric, Deviation(z, onset, z), onset, "robust-σ")
    ctx.scores.append(s)
    a = ctx.entities[entity]
    if z > a.score:
        a.score, a.top = z, [s, *a.top]
    return ctx


def _resource(ctx: Context) -> dict[str, str]:
    return {h.entity: h.fault for h in generate(ctx) if h.kind == "saturation"}


def test_the_process_eating_its_machine_is_named_over_the_slow_callers() -> None:
    # a CPU hog on the leaf: its callers slowed (their latency moved more, in σ, than its own),
    # and their CPU wobbled a little as they waited; the hog is the cause, named as such
    ctx = _context([("front", "mid"), ("mid", "leaf")],
                   {"front": ("latency", 900.0), "mid": ("latency", 2_000.0),
                    "leaf": ("latency", 300.0)})
    _with(ctx, "leaf", "cpu_usage", 2_500.0)
    _with(ctx, "mid", "cpu@mid-7d4b9c-x2k4q", 12.0)
    top = generate(ctx)[0]
    assert (top.entity, top.fault) == ("leaf", "cpu_hog")
    assert _resource(ctx) == {"leaf": "cpu_hog"}  # a 12 σ wobble beside a hog: load passed on


def test_a_resource_jump_that_is_no_cause_gives_no_hypothesis() -> None:
    ctx = _context([("front", "api")], {"front": ("latency", 5_000.0), "api": ("latency", 30.0)})
    # small beside the incident's largest anomaly (13 σ against 5,000 σ): load passed on
    assert _resource(_with(ctx, "api", "cpu_utilisation", 13.0)) == {}
    # large, but it began ten minutes after the alarm fired: it did not set it off
    ctx = _context([("front", "api")], {"front": ("latency", 5_000.0), "api": ("latency", 30.0)})
    assert _resource(_with(ctx, "api", "mem_usage", 4_000.0, onset=T0 + 600)) == {}
    # a configured bound moving is not use, and a drop of use is no hog
    ctx = _context([("front", "api")], {"front": ("latency", 5_000.0), "api": ("latency", 30.0)})
    _with(ctx, "api", "cpu_limit", 4_000.0)
    ctx.scores.append(MetricScore("api", "memory", Deviation(-4_000.0, T0, 4_000.0), T0, "robust-σ"))
    assert _resource(ctx) == {}


def test_a_share_of_capacity_is_judged_by_its_level() -> None:
    # cpu_utilisation jumped 40 σ from 30 % to 45 %: far from its normal, but nothing is starved;
    # from 30 % to 95 % it is (the saturation detector names it: one hypothesis, not two)
    for after, hog in ((0.45, False), (0.95, True)):
        ctx = _context([("front", "api")], {"front": ("latency", 500.0), "api": ("latency", 100.0)})
        ts = T0 + STEP * np.arange(-60, 60)
        ctx.evidence.metrics[("api", "cpu_utilisation")] = Series(ts, np.where(ts < T0, 0.30, after))
        _with(ctx, "api", "cpu_utilisation", 40.0)
        assert len([h for h in generate(ctx) if h.kind == "saturation"]) == int(hog)
