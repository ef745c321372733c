"""Root-cause ranking on synthetic cases: A → B → C where C's latency steps up first."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from shipwise.errors import InputError
from shipwise.investigate.case import Alarm, Case, Series
from shipwise.investigate.detect import (
    bocpd_changepoint_probs,
    find_onset,
    metric_direction,
    robust_deviation,
    zscore_deviation,
)
from shipwise.investigate.rank import METHODS, Ranked, rank

T0 = 1_700_000_040.0  # a whole minute
STEP = 60.0
N = 180
ONSET = 120  # C's latency steps up here
ALARM = ONSET + 8


def _topology(edges: list[tuple[str, str]]) -> nx.DiGraph:
    g = nx.DiGraph()
    for a, b in edges:
        g.add_edge(a, b, relation="calls")
    return g


def make_case(seed: int = 0, *, a_jump: float = 30.0, topology: bool = True) -> Case:
    rng = np.random.default_rng(seed)
    ts = T0 + STEP * np.arange(N)

    def level(base: float, noise: float, jump: float, at: int) -> np.ndarray:
        x = base + rng.normal(0.0, noise, N)
        x[at:] += jump
        return x

    metrics = {
        ("C", "latency_p90"): level(100.0, 5.0, 60.0, ONSET),
        ("B", "latency_p90"): level(150.0, 8.0, 40.0, ONSET + 3),
        ("A", "latency_p90"): level(200.0, 10.0, a_jump, ONSET + 5),
        ("A", "availability"): np.clip(1.0 - np.abs(rng.normal(0, 0.001, N)), 0, 1),
        # red herrings: a big spike long before the onset, and a noisy but stationary metric
        ("D", "cpu"): level(40.0, 2.0, 0.0, 0),
        ("E", "queue_depth"): 10.0 + rng.standard_t(3, N) * 4.0,
    }
    metrics[("D", "cpu")][40] += 80.0
    g = _topology([("A", "B"), ("B", "C"), ("A", "D"), ("B", "E")]) if topology else nx.DiGraph()
    return Case("synthetic", Alarm("A", "latency_p90", float(ts[ALARM])), g,
                {k: Series(ts.copy(), v) for k, v in metrics.items()})


def names(ranked: list[Ranked]) -> list[str]:
    return [r.entity for r in ranked]


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("method", ["baro", "baro+topology"])
def test_baro_ranks_the_root_cause_first(method: str, seed: int) -> None:
    ranked = rank(make_case(seed), method)
    assert names(ranked)[0] == "C"
    assert sorted(names(ranked)) == ["A", "B", "C", "D", "E"]
    assert [r.score for r in ranked] == sorted((r.score for r in ranked), reverse=True)


def test_topology_prefers_the_earliest_deepest_dependency() -> None:
    # A's symptom is much louder than C's cause: metrics alone put A first, the call graph fixes it
    case = make_case(0, a_jump=300.0)
    assert names(rank(case, "baro"))[0] == "A"
    ranked = rank(case, "baro+topology")
    assert names(ranked)[0] == "C"
    by = {r.entity: r for r in ranked}
    assert any("demoted" in e and "C" in e for e in by["A"].evidence)
    assert any("deepest anomalous dependency" in e for e in by["C"].evidence)
    # explained callers are demoted but stay above the red herrings
    assert names(ranked)[1:3] == ["A", "B"]


def test_evidence_says_which_metric_how_much_and_when() -> None:
    top = rank(make_case(0), "baro")[0]
    first = top.evidence[0]
    assert first.startswith("latency_p90 rose ")
    assert "robust-σ" in first and "(onset)" in first
    assert "min before the alarm" in first


def test_naive_and_nsigma_score_every_entity() -> None:
    case = make_case(0)
    for method in ("naive", "nsigma"):
        ranked = rank(case, method)
        assert sorted(names(ranked)) == ["A", "B", "C", "D", "E"]
        assert all(r.score >= 0 and r.evidence for r in ranked)
    # n-sigma's normal window ends before the alarm, so C's step stands out from the red herrings
    order = names(rank(case, "nsigma"))
    assert order.index("C") < min(order.index("D"), order.index("E"))


def test_unknown_method_is_an_input_error() -> None:
    with pytest.raises(InputError):
        rank(make_case(0), "magic")
    assert "baro+topology" in METHODS


def test_empty_topology_equals_baro() -> None:
    case = make_case(1, topology=False)
    assert rank(case, "baro+topology") == rank(case, "baro")
    assert names(rank(case, "baro+topology"))[0] == "C"


def test_only_entities_with_metrics_are_ranked() -> None:
    case = make_case(0)
    case.topology.add_edge("C", "db", relation="calls")
    assert "db" not in names(rank(case))
    empty = Case("empty", case.alarm, case.topology, {})
    assert rank(empty) == []


def test_ranking_is_deterministic() -> None:
    for method in METHODS:
        assert rank(make_case(5), method) == rank(make_case(5), method)


def test_bocpd_finds_a_clean_step_within_two_samples() -> None:
    rng = np.random.default_rng(7)
    x = rng.normal(0.0, 1.0, 200)
    x[90:] += 5.0
    probs = bocpd_changepoint_probs(x[None, :])[0]
    assert abs(int(np.argmax(probs)) - 90) <= 2
    ts = STEP * np.arange(200)
    onset = find_onset([(ts, x)], alarm_time=float(ts[95]))
    assert abs(onset.time - ts[90]) <= 2 * STEP


def test_onset_ignores_an_earlier_spike() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(0.0, 1.0, 200)
    x[40] += 20.0
    x[120:] += 4.0
    ts = STEP * np.arange(200)
    assert abs(find_onset([(ts, x)], alarm_time=float(ts[126])).time - ts[120]) <= 2 * STEP


def test_robust_scorer_ignores_a_single_baseline_outlier() -> None:
    rng = np.random.default_rng(11)
    ts = np.arange(150.0)
    x = rng.normal(0.0, 1.0, 150)
    x[100:] += 6.0
    spiked = x.copy()
    spiked[30] = 500.0
    clean = robust_deviation(ts, x, 100.0, +1).score
    robust = robust_deviation(ts, spiked, 100.0, +1).score
    assert robust == pytest.approx(clean, rel=0.1)
    assert robust > 3.0
    # whereas the mean/σ scorer is blinded by the outlier
    assert zscore_deviation(ts, spiked, 100.0, 100.0, +1).score < 1.0


def test_an_availability_drop_is_anomalous_and_a_rise_is_not() -> None:
    assert metric_direction("availability") == -1
    assert metric_direction("success_rate") == -1
    assert metric_direction("throughput_rps") == -1
    assert metric_direction("latency_p90") == 1
    assert metric_direction("error_rate") == 1
    assert metric_direction("cpu") == 1
    assert metric_direction("widgets") == 0
    ts = np.arange(100.0)
    avail = np.ones(100)
    avail[70:] = 0.9  # constant baseline: IQR 0, guarded
    dev = robust_deviation(ts, avail, 70.0, metric_direction("availability"))
    assert dev.score > 10.0 and dev.signed < 0
    assert robust_deviation(ts, 2.0 - avail, 70.0, metric_direction("availability")).score == 0.0
    assert robust_deviation(ts, 2.0 - avail, 70.0, metric_direction("widgets")).score > 10.0


def test_availability_drop_ranks_its_entity() -> None:
    case = make_case(0)
    vals = case.metrics[("A", "availability")].values.copy()
    vals[ONSET - 2:] -= 0.2
    metrics = {k: v for k, v in case.metrics.items() if k[0] != "C"}
    metrics[("A", "availability")] = Series(case.metrics[("A", "availability")].timestamps, vals)
    top = rank(Case("avail", case.alarm, case.topology, metrics), "baro")[0]
    assert top.entity == "A"
    assert top.evidence[0].startswith("availability dropped")


def test_onset_is_searched_shortly_before_the_alarm_not_in_old_history() -> None:
    from shipwise.investigate.detect import find_onset

    rng = np.random.default_rng(3)
    n, step = 600, 300.0
    ts = np.arange(n) * step
    values = rng.normal(0, 1, n)
    values[100:130] += 25.0  # a big episode a day and a half before, long resolved
    values[590:] += 8.0  # the fault behind this alarm
    alarm = ts[594]
    onset = find_onset([(ts, values)], alarm)
    assert abs(onset.time - ts[590]) <= 2 * step
    everything = find_onset([(ts, values)], alarm, search_seconds=None)
    assert everything.time < ts[200]  # searching all history is fooled by the old episode
