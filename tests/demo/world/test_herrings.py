"""Red herrings are present as declared, look suspicious, and are not the cause."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tests.demo.world.conftest import events_of, truth_of

from shipwise.demo.world import RED_HERRINGS, write_world_case
from shipwise.investigate.case import load_case, parse_time

# with -n 2 (pyproject: --dist loadgroup) one worker writes the session's world cases for these tests
pytestmark = pytest.mark.xdist_group("world-cases")


@pytest.fixture(scope="module")
def herring_cases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every herring, planted next to a fault with a causing change and one without."""
    root = tmp_path_factory.mktemp("herrings")
    out = {}
    for kind in ("bad_deploy", "slow_dependency"):
        out[kind] = write_world_case(root / kind, kind, 77, herrings=list(RED_HERRINGS))
    return out


def _check(case: Path) -> None:
    truth = truth_of(case)
    declared = truth["red_herrings"]
    details = truth["red_herring_details"]
    assert [d["kind"] for d in details] == declared
    events = {e["id"]: e for e in events_of(case)}
    loaded = load_case(case)
    start = parse_time(truth["fault_start"])
    # herrings cluster around the causing change when it is close to the fault, else its start
    cause = parse_time(events[truth["event"]]["time"]) if "event" in truth else start
    anchor = cause if abs(cause - start) < 900 else start
    for d in details:
        assert d["entity"] != truth["root_cause"]
        if d["kind"] == "unrelated_deploy":
            ev = events[d["event"]]
            assert ev["kind"] == "deployment" and ev["entity"] == d["entity"]
            assert 0 < anchor - parse_time(ev["time"]) <= 600
            assert ev["details"]["diff"]
        elif d["kind"] == "benign_config_change":
            ev = events[d["event"]]
            assert ev["kind"] == "config_change" and ev["entity"] == d["entity"]
            assert abs(parse_time(ev["time"]) - anchor) <= 120
        elif d["kind"] == "fresh_instance_cpu":
            ev = events[d["event"]]
            assert ev["kind"] == "instance_launch" and ev["details"]["reason"] == "scale_out"
            assert ev["details"]["instance"] == d["entity"]
            assert loaded.topology.has_edge(d["entity"], d["group"])
            cpu = loaded.metrics[(d["entity"], "cpu_utilisation")]
            launched = parse_time(ev["time"])
            spike = cpu.values[(cpu.timestamps >= launched) & (cpu.timestamps < launched + 120)]
            settled = cpu.values[cpu.timestamps > launched + 300]
            assert spike.max() > 0.8 and (settled.size == 0 or settled.mean() < 0.5)
            assert cpu.timestamps[0] >= launched  # it did not exist before its launch
        elif d["kind"] == "noisy_metric":
            def spread(v: np.ndarray) -> float:
                q75, q25 = np.percentile(v[v > 0], [75, 25])
                return float((q75 - q25) / np.median(v[v > 0]))

            peers = [spread(loaded.metrics[(n, d["metric"])].values)
                     for n, k in loaded.topology.nodes(data="kind")
                     if k == "service" and n != d["entity"]]
            noisy = spread(loaded.metrics[(d["entity"], d["metric"])].values)
            assert noisy > 2.0 * float(np.median(peers))
        else:
            raise AssertionError(d["kind"])


@pytest.mark.parametrize("kind", ["bad_deploy", "slow_dependency"])
def test_every_herring_is_present_as_declared(kind: str, herring_cases: dict[str, Path]) -> None:
    truth = truth_of(herring_cases[kind])
    assert sorted(truth["red_herrings"]) == sorted(RED_HERRINGS)
    _check(herring_cases[kind])


def test_random_herrings_one_to_three_and_as_declared(cases: dict[str, Path]) -> None:
    counts = []
    for case in cases.values():
        counts.append(len(truth_of(case)["red_herrings"]))
        _check(case)
    assert min(counts) >= 1 and max(counts) <= 3


def test_an_impossible_herring_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"no such red herring"):
        write_world_case(tmp_path / "x", "bad_deploy", 1, herrings=["blame_the_intern"])
