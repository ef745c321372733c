"""Following the alarm's signal down the calls: the dependency whose own change the alarm is made of."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest

from shipwise.investigate.case import Alarm, Case, Series
from shipwise.investigate.propagation import follow_symptom, waits_on_graph
from shipwise.investigate.rank import rank

STEP = 60.0
N_NORMAL = 120
N_WINDOW = 8


def _series(rng: np.random.Generator, level: float, noise: float, window: list[float]) -> Series:
    ts = np.arange(N_NORMAL + N_WINDOW, dtype=float) * STEP
    vals = np.concatenate([level + rng.normal(0, noise, N_NORMAL), np.array(window)])
    return Series(ts, vals)


def _case(*, with_tiny_db: bool = True, relation: str = "calls") -> Case:
    """front → api → search (the culprit: +400 ms of its own), api → db (2 ms slower, also
    anomalous against its very quiet normal), front → batch (already slow before the alarm and
    still slow after the alarm recovered: it does not track it)."""
    rng = np.random.default_rng(7)
    # the alarm fires at window sample 3; the incident covers samples 2..5
    bump = [0, 0, 1, 1, 1, 1, 0, 0]
    metrics = {
        ("front", "latency"): _series(rng, 0.10, 0.005, [0.10 + 0.42 * b for b in bump]),
        ("api", "latency"): _series(rng, 0.06, 0.004, [0.06 + 0.41 * b for b in bump]),
        ("search", "latency"): _series(rng, 0.02, 0.002, [0.02 + 0.40 * b for b in bump]),
        ("batch", "latency"): _series(rng, 0.30, 0.01, [0.9, 0.92, 0.88, 0.91, 0.89, 0.9, 0.93, 0.9]),
    }
    if with_tiny_db:
        metrics[("db", "latency")] = _series(rng, 0.004, 0.0001, [0.004 + 0.002 * b for b in bump])
    topo = nx.DiGraph()
    for a, b in (("front", "api"), ("api", "search"), ("front", "batch")):
        topo.add_edge(a, b, relation="calls")
    topo.add_edge("api", "db", relation=relation)
    alarm = Alarm("front", "latency", float((N_NORMAL + 3) * STEP))
    return Case("chain", alarm, topo, metrics)


def _walk(case: Case):  # type: ignore[no-untyped-def]
    walk = follow_symptom(case.alarm.entity, case.alarm.metric, case.alarm.time, case.alarm.time,
                          STEP, waits_on_graph(case.topology), case.metrics)
    assert walk is not None
    return walk


def test_the_deepest_dependency_that_accounts_for_the_alarm_comes_first() -> None:
    walk = _walk(_case())
    assert walk.roots[0].entity == "search"
    assert walk.roots[0].path == ("front", "api", "search")
    # api and front changed as much as search, which they wait on: they are explained
    assert walk.explained["api"].explained_by == "search"
    assert walk.explained["front"].explained_by == "api"
    assert "search deviated" in walk.describe(walk.roots[0])


def test_a_tiny_change_below_does_not_explain_a_large_one_above() -> None:
    """db is anomalous against its quiet normal, but 2 ms cannot account for 410 ms: it neither
    explains api nor outranks search."""
    walk = _walk(_case())
    db = next(c for c in walk.roots if c.entity == "db")
    assert db.signal.z >= 5
    assert db.score < walk.roots[0].score / 10
    assert walk.explained["api"].explained_by == "search"


def test_what_was_off_before_the_alarm_and_stayed_off_does_not_track_it() -> None:
    walk = _walk(_case())
    batch = walk.signals["batch"]
    assert batch.z >= 5 and batch.tracks < 0.3
    assert all(c.entity != "batch" or c.score < walk.roots[0].score / 10 for c in walk.roots)


def test_reads_and_writes_are_waited_on_but_runs_on_is_not() -> None:
    reads = _walk(_case(relation="reads"))
    assert "db" in reads.signals and any(c.entity == "db" for c in reads.roots)
    runs_on = _walk(_case(relation="runs_on"))
    assert all(c.entity != "db" for c in runs_on.roots)


def test_nothing_to_walk_without_topology_or_without_the_signal_elsewhere() -> None:
    case = _case()
    alone = Case("alone", case.alarm, nx.DiGraph(), case.metrics)
    assert follow_symptom("front", "latency", case.alarm.time, case.alarm.time, STEP,
                          waits_on_graph(alone.topology), alone.metrics) is None
    only_front = {k: v for k, v in case.metrics.items() if k[0] == "front"}
    assert follow_symptom("front", "latency", case.alarm.time, case.alarm.time, STEP,
                          waits_on_graph(case.topology), only_front) is None


@pytest.mark.parametrize("method", ["traversal"])
def test_the_traversal_ranker_puts_the_walk_first(method: str) -> None:
    ranked = rank(_case(), method)
    assert ranked[0].entity == "search"
    assert {r.entity for r in ranked} >= {"front", "api", "search", "db", "batch"}


def test_the_investigation_names_the_walks_root() -> None:
    """The full investigation on the same case: search is the root cause, and api (which a
    dependency accounts for) is not."""
    from shipwise.investigate.engine import analyse
    from shipwise.investigate.evidence import Evidence, Scope

    case = _case()
    rec = analyse(case.alarm, Evidence(topology=case.topology, metrics=case.metrics),
                  Scope(case.alarm, 0.0, float((N_NORMAL + N_WINDOW) * STEP)))
    assert rec["status"] == "root_cause_found"
    assert rec["root_cause"]["entity"] == "search"
    api = [h for h in rec["hypotheses"] if h["entity"] == "api"]
    assert all(h["score"] < rec["hypotheses"][0]["score"] for h in api)


def test_an_alarm_entity_that_waits_on_nothing_has_nothing_to_walk() -> None:
    """Entities listed in a topology with no edges around the alarm (a dataset's service list)
    are no topology: no walk, and every entity may still be on the alarm's path."""
    from shipwise.investigate.evidence import Evidence
    from shipwise.investigate.triage import triage

    case = _case()
    bare = nx.DiGraph()
    bare.add_nodes_from(case.topology.nodes)
    assert follow_symptom("front", "latency", case.alarm.time, case.alarm.time, STEP,
                          waits_on_graph(bare), case.metrics) is None
    ctx = triage(case.alarm, Evidence(topology=bare, metrics=case.metrics), case.alarm.time + 600)
    assert ctx.walk is None and ctx.on_alarm_path("search") and ctx.on_alarm_path("db")


def test_a_flat_normal_does_not_make_an_absurd_score() -> None:
    """A series constant in its normal period deviates by ~10¹⁶ σ at its first wobble; it scores
    as Z_CAP σ, so that ten orders of magnitude of nothing cannot outweigh how well a candidate
    tracks the alarm."""
    case = _case()
    flat = Series(case.metrics[("batch", "latency")].timestamps,
                  np.concatenate([np.full(N_NORMAL, 0.05),
                                  [0.05, 0.05, 0.5, 0.5, 0.45, 0.5, 0.05, 0.05]]))
    metrics = {**case.metrics, ("batch", "latency"): flat}
    walk = _walk(Case("flat", case.alarm, case.topology, metrics))
    batch = next(c for c in walk.roots if c.entity == "batch")
    assert batch.signal.z > 1e6
    assert batch.score <= math.log1p(1e4)  # uncapped it would be log1p(1e16) ≈ 37
    assert walk.strength() == 1.0 and 0 < walk.strength("search") <= 1.0


def test_an_inconclusive_records_ranking_starts_with_the_withheld_candidates() -> None:
    from shipwise.app.investigate import investigation_ranking

    rec = {"status": "inconclusive", "root_cause": {"entity": "front"},
           "hypotheses": [{"entity": "search", "score": 3.0}, {"entity": "batch", "score": -1.0}],
           "triage": [{"entity": "db"}]}
    assert investigation_ranking(rec) == ["search", "front", "batch", "db"]
    rec["status"] = "root_cause_found"
    assert investigation_ranking(rec) == ["front", "search", "batch", "db"]


def _siblings(second: float) -> Case:
    """front → r1, front → r2, both → shared. r1 slows by 0.40 s and r2 by ``second`` at the same
    time; shared's own latency (its own work) does not move."""
    rng = np.random.default_rng(11)
    bump = [0, 0, 1, 1, 1, 1, 0, 0]
    metrics = {
        ("front", "latency"): _series(rng, 0.10, 0.005, [0.10 + 0.42 * b for b in bump]),
        ("r1", "latency"): _series(rng, 0.05, 0.004, [0.05 + 0.40 * b for b in bump]),
        ("r2", "latency"): _series(rng, 0.05, 0.004, [0.05 + second * b for b in bump]),
        ("shared", "latency"): _series(rng, 0.01, 0.001, [0.01] * N_WINDOW),
    }
    topo = nx.DiGraph()
    for a, b in (("front", "r1"), ("front", "r2"), ("r1", "shared"), ("r2", "shared")):
        topo.add_edge(a, b, relation="calls")
    return Case("siblings", Alarm("front", "latency", float((N_NORMAL + 3) * STEP)), topo, metrics)


def test_callers_slowing_alike_point_to_the_dependency_they_share() -> None:
    walk = _walk(_siblings(0.39))
    assert walk.roots[0].entity == "shared"
    assert walk.roots[0].callers == ("r1", "r2")
    assert {walk.explained["r1"].explained_by, walk.explained["r2"].explained_by} == {"shared"}
    assert "changed alike" in walk.describe(walk.roots[0])


def test_callers_slowing_by_different_amounts_stay_their_own_roots() -> None:
    walk = _walk(_siblings(0.10))
    assert "shared" not in {c.entity for c in walk.roots if c.score > 0}
    assert walk.roots[0].entity == "r1"
