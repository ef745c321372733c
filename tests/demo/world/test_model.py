"""The metric model: stateless in time, propagating with a delay, noisy but reproducible."""

from __future__ import annotations

import numpy as np

from shipwise.demo.world import build_world, evaluate, plan_scenario
from shipwise.demo.world.baseline import PROPAGATION_DELAY_S
from shipwise.demo.world.model import METRICS

T0 = 1_795_000_000.0


def test_the_same_instant_gives_the_same_value_alone_or_in_a_grid() -> None:
    world = build_world(5)
    scn = plan_scenario(world, "bad_deploy", T0 + 600, 5)
    grid = T0 + np.arange(0.0, 1800.0, 15.0)
    full = evaluate(scn, grid).metrics
    for i in (3, 50, 100):
        one = evaluate(scn, grid[i:i + 1]).metrics
        for key, values in one.items():
            assert np.allclose(values[0], full[key][i], rtol=1e-12, equal_nan=True), key
    again = evaluate(scn, grid).metrics
    assert all(np.array_equal(full[k], again[k], equal_nan=True) for k in full)


def test_every_entity_has_the_metrics_of_its_kind() -> None:
    world = build_world(2)
    scn = plan_scenario(world, None, T0, 2)
    metrics = evaluate(scn, np.array([T0])).metrics
    for node in world.topology.nodes.values():
        assert {m for (e, m) in metrics if e == node.id} == set(METRICS[node.kind]), node.id


def test_a_failure_reaches_the_caller_a_sample_or_two_later() -> None:
    world = build_world(9)
    start = T0 + 300
    scn = plan_scenario(world, "permission_revoked", start, 9, target="orders-db.inventory")
    grid = T0 + np.arange(0.0, 900.0, 5.0)
    ev = evaluate(scn, grid, noise=False)

    def first(entity: str) -> float:
        x = ev.excess_error[entity]
        return float(grid[np.argmax(x > 0.02)])

    inv, checkout, gateway = first("inventory"), first("checkout"), first("gateway")
    assert start <= inv < checkout < gateway
    assert checkout - inv == PROPAGATION_DELAY_S
    # callers see a fraction of the callee's errors
    late = grid > start + 300
    assert (ev.excess_error["checkout"][late] < ev.excess_error["inventory"][late]).all()


def test_noise_is_realistic_and_seeded() -> None:
    a = plan_scenario(build_world(1), None, T0, 1)
    b = plan_scenario(build_world(2), None, T0, 2)
    grid = T0 + np.arange(0.0, 7200.0, 15.0)
    la = evaluate(a, grid).metrics[("checkout", "latency_p95_ms")]
    lb = evaluate(b, grid).metrics[("checkout", "latency_p95_ms")]
    assert not np.allclose(la, lb)
    cv = la.std() / la.mean()
    assert 0.02 < cv < 0.15
    lag1 = np.corrcoef(la[:-1], la[1:])[0, 1]
    assert lag1 > 0.2  # adjacent scrapes overlap: noise has a little memory


def test_traffic_flows_from_the_gateway_to_every_dependency() -> None:
    world = build_world(4)
    scn = plan_scenario(world, "traffic_surge", T0 + 600, 4)
    grid = T0 + np.arange(0.0, 1800.0, 15.0)
    m = evaluate(scn, grid, noise=False).metrics
    before, after = grid < T0 + 600, grid > T0 + 1200
    for e in ("gateway", "catalog", "inventory", "orders-worker", "notifications"):
        rps = m[(e, "requests_per_s")]
        assert rps[before].mean() > 0
        assert rps[after].mean() > 2.0 * rps[before].mean(), e
