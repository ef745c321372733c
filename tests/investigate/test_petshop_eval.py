"""PetShop converter (on the real shared data) and AC@k / Avg@5 evaluation (with a fake ranker)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import networkx as nx
import numpy as np
import pytest

from shipwise.investigate.case import Alarm, Case, Series, load_case, load_truth
from shipwise.investigate.evaluate import accuracy, evaluate, format_table, rank_of
from shipwise.investigate.petshop import iter_cases, load_issue, read_graph, write_case

DATA = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "petshop" / "dataset"
needs_data = pytest.mark.skipif(not DATA.is_dir(), reason="PetShop dataset not available")


# ---------------------------------------------------------------- evaluation arithmetic


@dataclass(frozen=True)
class R:
    entity: str
    score: float = 0.0
    evidence: tuple[str, ...] = ()


def _case(name: str, scenario: str) -> Case:
    return Case(name, Alarm("a", "latency:Average", 0.0, {"scenario": scenario}), nx.DiGraph(), {})


def test_rank_of_first_distinct_position() -> None:
    assert rank_of(["a", "b", "c"], "a") == 1
    assert rank_of(["a", "a", "b"], "b") == 2
    assert rank_of(["a", "b"], "z") is None
    assert rank_of([], "z") is None


def test_accuracy_hand_computed() -> None:
    # positions 1, 2, 4, miss -> AC@1 .25, AC@2 .5, AC@3 .5, AC@4 .75, AC@5 .75
    acc = accuracy([1, 2, 4, None])
    assert acc["ac1"] == pytest.approx(0.25)
    assert acc["ac3"] == pytest.approx(0.5)
    assert acc["ac5"] == pytest.approx(0.75)
    assert acc["avg5"] == pytest.approx((0.25 + 0.5 + 0.5 + 0.75 + 0.75) / 5)
    assert accuracy([1])["avg5"] == 1.0
    assert accuracy([6])["avg5"] == 0.0
    assert math.isnan(accuracy([])["ac1"])


def test_evaluate_with_fake_ranker_per_group_and_overall() -> None:
    orders = {
        "good": ["t", "x", "y", "z", "w"],
        "bad": ["x", "y", "z", "w", "v", "t"],
    }
    cases = [(_case("c1", "s1"), "t"), (_case("c2", "s1"), "y"), (_case("c3", "s2"), "t")]

    def fake_rank(case: Case, method: str) -> Sequence[R]:
        return [R(e) for e in orders[method]]

    ticks = iter(range(100))
    res = evaluate(cases, fake_rank, ["good", "bad"], clock=lambda: float(next(ticks)))
    assert res["methods"] == ["good", "bad"]
    assert set(res["groups"]) == {"s1", "s2"}
    # good: truth positions c1=1, c2=3, c3=1
    s1g = res["groups"]["s1"]["good"]
    assert s1g["n"] == 2
    assert (s1g["ac1"], s1g["ac3"], s1g["ac5"]) == (0.5, 1.0, 1.0)
    assert s1g["avg5"] == pytest.approx((0.5 + 0.5 + 1 + 1 + 1) / 5)
    og = res["overall"]["good"]
    assert og["n"] == 3
    assert og["ac1"] == pytest.approx(2 / 3)
    assert og["seconds_per_case"] == pytest.approx(1.0)  # each call takes one fake tick
    # bad: c1=6 (miss in top 5), c2=2, c3=6
    ob = res["overall"]["bad"]
    assert (ob["ac1"], ob["ac3"], ob["ac5"]) == (0.0, pytest.approx(1 / 3), pytest.approx(1 / 3))
    assert ob["avg5"] == pytest.approx((0 + 1 / 3 * 4) / 5)
    assert [c["ranks"]["bad"] for c in res["cases"]] == [6, 2, 6]

    md = format_table(res)
    assert md.splitlines()[0].startswith("| scenario | method |")
    assert "| overall | good | 3 | 0.67 | 1.00 | 1.00 |" in md
    txt = format_table(res, markdown=False)
    assert "overall" in txt and "|" not in txt


def test_evaluate_empty() -> None:
    res = evaluate([], lambda c, m: [], ["naive"])
    assert res["groups"] == {} and res["overall"]["naive"]["n"] == 0
    assert "overall" in format_table(res, markdown=False)


# ---------------------------------------------------------------- PetShop converter


@needs_data
def test_graph_orientation_caller_to_callee() -> None:
    g = read_graph(DATA / "low_traffic" / "graph.csv")
    assert g.has_edge("PetSite", "PetSearch_AWS::ECS::Fargate")
    assert not g.has_edge("PetSearch_AWS::ECS::Fargate", "PetSite")
    assert g.has_edge("PetSearch_client", "PetSearch_AWS::ECS::Fargate")
    assert g.has_edge("lambdastatusupdater_AWS::Lambda::Function", "petInfo_AWS::DynamoDB::Table")
    assert g.out_degree("S3_AWS::S3") == 0


@needs_data
def test_every_issue_converts() -> None:
    pairs = list(iter_cases(DATA))
    assert len(pairs) == 68
    scenarios = {c.alarm.source["scenario"] for c, _ in pairs}
    assert scenarios == {"low_traffic", "high_traffic", "temporal_traffic1", "temporal_traffic2"}
    for case, truth in pairs:
        ents = set(case.entities())
        assert truth in ents, case.name
        assert case.alarm.entity in ents, case.name
        assert case.metrics, case.name
        assert (case.alarm.entity, case.alarm.metric) in case.metrics, case.name
        assert ":" in case.alarm.metric
        assert "root_cause" not in str(case.alarm.source)
        for s in case.metrics.values():
            assert len(s.timestamps) == len(s.values) > 0
            assert np.all(np.diff(s.timestamps) > 0)
    assert len(list(iter_cases(DATA, scenario="low_traffic", split="train"))) == 8


@needs_data
def test_history_prepended_before_issue_window() -> None:
    issue = DATA / "low_traffic" / "test" / "issue_0"
    case, truth = load_issue(issue)
    bare, _ = load_issue(issue, with_history=False)
    assert truth == "petInfo_AWS::DynamoDB::Table"
    hist = case.alarm.source["history"]
    assert hist["from"] == "noissue" and hist["points"] > 100
    key = (case.alarm.entity, case.alarm.metric)
    full, window = case.metrics[key], bare.metrics[key]
    assert len(full.timestamps) > len(window.timestamps)
    np.testing.assert_array_equal(full.timestamps[-len(window.timestamps):], window.timestamps)
    assert full.timestamps[-len(window.timestamps) - 1] == window.timestamps[0] - 300.0
    # temporal scenarios have no normal period: the window only
    tcase, _ = next(iter_cases(DATA, scenario="temporal_traffic1"))
    assert tcase.alarm.source["history"] == {"from": None}


@needs_data
def test_write_case_roundtrip(tmp_path: Path) -> None:
    case, truth = load_issue(DATA / "high_traffic" / "test" / "issue_3")
    out = write_case(case, tmp_path / "case", root_cause=truth)
    back = load_case(out)
    assert load_truth(out) == {"root_cause": truth}
    assert back.alarm == case.alarm
    assert set(back.metrics) == set(case.metrics)
    for k, s in case.metrics.items():
        np.testing.assert_array_equal(back.metrics[k].timestamps, s.timestamps)
        np.testing.assert_array_equal(back.metrics[k].values, s.values)
    assert set(back.topology.edges) == set(case.topology.edges)
    assert set(back.topology.nodes) == set(case.topology.nodes)


def test_write_case_small(tmp_path: Path) -> None:
    g = nx.DiGraph()
    g.add_edge("a", "b", relation="calls")
    m = {("b", "latency:p90"): Series(np.array([1.0, 2.0]), np.array([0.1, 0.30000000000000004]))}
    case = Case("x", Alarm("a", "latency:p90", 2.0, {"k": 1}), g, m)
    back = load_case(write_case(case, tmp_path / "x"))
    assert not (tmp_path / "x" / "truth.yaml").exists()
    assert back.metrics[("b", "latency:p90")].values.tolist() == [0.1, 0.30000000000000004]
    assert list(back.topology.edges) == [("a", "b")]
