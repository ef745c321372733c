"""The network rule: calls that slowed on the way — as their callers saw them, while the callee's
own latency did not — all sharing one endpoint name that endpoint's network (a mesh's per-call
latencies, e.g. MicroIRC's ``call.csv``)."""

from __future__ import annotations

import networkx as nx
import numpy as np

from shipwise.investigate.case import Alarm, Series
from shipwise.investigate.evidence import Evidence
from shipwise.investigate.hypotheses import generate
from shipwise.investigate.mitigation import mitigation_plan
from shipwise.investigate.triage import Context

T0 = 10_000.0
STEP = 5.0
TS = T0 + STEP * np.arange(-150, 80)


def _step(before: float, after: float) -> Series:
    rng = np.random.default_rng(int(before * 1000 + after) % 2**32)
    base = np.where(TS < T0, before, after)
    return Series(TS, base * (1 + 0.02 * rng.standard_normal(TS.size)))


def _ctx(calls: dict[tuple[str, str], tuple[float, float]],
         own: dict[str, tuple[float, float]]) -> Context:
    """``calls``: (caller, callee) → p99 before/after as the caller saw it; ``own``: each
    service's own p99 before/after. ``front`` alarmed on its latency at T0."""
    topo = nx.DiGraph()
    for (a, b), (x, y) in calls.items():
        topo.add_edge(a, b, relation="calls", latency={"p99": _step(x, y)})
    metrics = {(e, "latency_p99"): _step(x, y) for e, (x, y) in own.items()}
    return Context(Alarm("front", "latency_p99", T0), Evidence(topology=topo, metrics=metrics),
                   T0, STEP, T0 + 400, nx.DiGraph(topo), cut=8.0)


def _network(ctx: Context) -> list[str]:
    return [h.entity for h in generate(ctx) if h.fault == "network_delay"]


SERVICES = {"front": (20.0, 20.0), "api": (10.0, 10.0), "db": (5.0, 5.0), "cache": (1.0, 1.0)}


def test_one_slow_call_into_a_callee_with_healthy_own_latency_names_the_callee() -> None:
    # front → db is 50× slower as front sees it, db's own latency did not move, front's other
    # calls are fine: the time is lost on the way to db (its network), not in front or in db's work
    ctx = _ctx({("front", "api"): (10, 10), ("front", "db"): (50, 2_500), ("api", "cache"): (1, 1)},
               {**SERVICES, "front": (20.0, 2_500.0)})
    assert _network(ctx) == ["db"]
    top = generate(ctx)[0]
    assert (top.entity, top.fault) == ("db", "network_delay")
    assert "front → db p99" in top.support[0].text
    steps = mitigation_plan(top, ctx, "front latency_p99")
    assert any("retransmits" in s["text"] for s in steps["pre_validate"])


def test_every_call_out_of_one_service_slow_names_that_service() -> None:
    ctx = _ctx({("front", "api"): (10, 2_500), ("front", "db"): (5, 2_500), ("api", "cache"): (1, 1)},
               {**SERVICES, "front": (20.0, 2_600.0)})
    assert _network(ctx) == ["front"]


def test_a_slow_call_the_callee_own_latency_accounts_for_is_no_network_delay() -> None:
    # api's own latency rose as much as the call to it: the time went into api's work
    ctx = _ctx({("front", "api"): (10, 2_500), ("front", "db"): (5, 5)},
               {**SERVICES, "front": (20.0, 2_500.0), "api": (10.0, 2_480.0)})
    assert _network(ctx) == []


def test_a_blip_beside_the_incident_or_an_even_split_names_nothing() -> None:
    # a call 3× slower (one histogram bucket) is no network delay
    ctx = _ctx({("front", "api"): (10, 30), ("front", "db"): (5, 5)},
               {**SERVICES, "front": (20.0, 2_500.0)})
    assert _network(ctx) == []
    # one slow call between two services that each have one other healthy call: either end
    # could be it — the rule names neither
    ctx = _ctx({("front", "api"): (10, 10), ("api", "db"): (5, 2_500), ("db", "cache"): (1, 1)},
               {**SERVICES, "front": (20.0, 2_500.0)})
    assert _network(ctx) == []


def test_without_the_callee_own_latency_nothing_tells_the_network_from_its_work() -> None:
    ctx = _ctx({("front", "db"): (5, 2_500)}, {"front": (20.0, 2_500.0)})
    assert _network(ctx) == []
