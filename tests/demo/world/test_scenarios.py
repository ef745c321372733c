"""Written cases: the contract of docs/case-format.md, determinism, and a truthful alarm."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from tests.demo.world.conftest import SEED, logs_of, truth_of

from shipwise.demo.world import FAULT_KINDS, generate_scenarios, write_world_case
from shipwise.investigate.case import load_case, parse_time

# with -n 2 (pyproject: --dist loadgroup) one worker writes the session's world cases for these tests
pytestmark = pytest.mark.xdist_group("world-cases")

CASE_FILES = {"alarm.json", "topology.json", "metrics.parquet", "logs.jsonl", "events.jsonl",
              "truth.yaml", "traces", "runbooks"}


def _files(case: Path) -> dict[str, bytes]:
    return {str(p.relative_to(case)): p.read_bytes() for p in sorted(case.rglob("*"))
            if p.is_file()}


def test_same_seed_gives_identical_files(tmp_path: Path, cases: dict[str, Path]) -> None:
    again = write_world_case(tmp_path / "again", "bad_deploy", SEED)
    assert _files(again) == _files(cases["bad_deploy"])
    other = write_world_case(tmp_path / "other", "bad_deploy", SEED + 1)
    assert _files(other)["metrics.parquet"] != _files(again)["metrics.parquet"]


@pytest.mark.parametrize("kind", FAULT_KINDS)
def test_every_fault_kind_writes_a_case_load_case_reads(kind: str, cases: dict[str, Path]) -> None:
    case_dir = cases[kind]
    assert {p.name for p in case_dir.iterdir()} >= CASE_FILES
    case = load_case(case_dir)
    truth = truth_of(case_dir)
    assert truth["fault"] == kind
    assert truth["root_cause"] in case.topology.nodes
    assert (case.alarm.entity, case.alarm.metric) in case.metrics
    series = case.metrics[(case.alarm.entity, case.alarm.metric)]
    step = np.diff(series.timestamps)
    assert np.allclose(step, 15.0)
    # 2 h of history before the alarm, about 2 min after it
    assert series.timestamps[0] == pytest.approx(case.alarm.time - 7200.0)
    assert series.timestamps[-1] == pytest.approx(case.alarm.time + 120.0)
    # topology edges point from dependent to dependency
    assert case.topology.has_edge("gateway", "checkout")
    assert case.topology.has_edge("checkout", "orders-queue")
    assert case.topology.has_edge("orders-worker", "orders-queue")


@pytest.mark.parametrize("kind", FAULT_KINDS)
def test_alarm_breaches_after_the_fault_starts_and_not_before(kind: str,
                                                              cases: dict[str, Path]) -> None:
    case = load_case(cases[kind])
    truth = truth_of(cases[kind])
    src = case.alarm.source
    assert src["kind"] == "alertmanager" and src["alertname"] == src["labels"]["alertname"]
    s = case.metrics[(case.alarm.entity, case.alarm.metric)]
    thr = float(src["threshold"])
    breach = s.values < thr if src["expr"].split()[-2] == "<" else s.values > thr
    start = parse_time(truth["fault_start"])
    assert start < case.alarm.time
    assert not breach[s.timestamps < start].any(), "the alarm metric breached before the fault"
    held = (s.timestamps >= case.alarm.time - src["for_seconds"]) & (
        s.timestamps <= case.alarm.time)
    assert breach[held].all(), "the alarm fired before its condition held for its `for`"


def test_alarms_are_usually_raised_where_monitoring_looks(cases: dict[str, Path]) -> None:
    entities = [load_case(c).alarm.entity for c in cases.values()]
    roots = [truth_of(c)["root_cause"] for c in cases.values()]
    assert sum(e in ("gateway", "checkout", "orders-queue") for e in entities) >= 4
    assert sum(e == r for e, r in zip(entities, roots, strict=True)) <= 4


def test_metric_names_follow_the_contract(cases: dict[str, Path]) -> None:
    case = load_case(cases["instance_churn"])
    kinds = {n: d["kind"] for n, d in case.topology.nodes(data=True)}
    expected = {"gateway": {"requests_per_s", "error_rate", "latency_p95_ms", "cpu_utilisation",
                            "memory_mb"},
                "cache": {"hit_rate", "latency_p95_ms", "evictions_per_s"},
                "table": {"latency_p95_ms", "errors_per_s", "throttled_per_s"},
                "queue": {"depth", "oldest_age_s"},
                "instance_group": {"instances_in_service", "launches_per_min",
                                   "terminations_per_min"},
                "instance": {"cpu_utilisation", "memory_mb"}}
    expected["service"] = expected["gateway"]
    for entity, kind in kinds.items():
        if kind in expected:
            assert set(case.metrics_of(entity)) == expected[kind], entity
    assert sum(k == "service" for k in kinds.values()) >= 8
    assert sum(k == "instance" for k in kinds.values()) > 12  # churn added instances


def test_logs_follow_the_contract(cases: dict[str, Path]) -> None:
    for case in cases.values():
        lines = logs_of(case)
        assert len(lines) > 500
        times = [parse_time(x["time"]) for x in lines]
        assert times == sorted(times)
        for x in lines:
            assert x["level"] in ("DEBUG", "INFO", "WARN", "ERROR")
            assert x["entity"] and x["message"]
            if "exception" in x:
                assert set(x["exception"]) == {"type", "message", "stack"}
        assert any("trace_id" in x for x in lines if x["level"] == "ERROR")


def test_events_follow_the_contract(cases: dict[str, Path]) -> None:
    required = {"deployment": {"version", "previous_version", "commit", "pipeline",
                               "last_good_run", "files", "diff"},
                "config_change": {"key", "old", "new", "source"},
                "permission_change": {"principal", "action", "permission", "policy_before",
                                      "policy_after"},
                "host_session": {"instance", "host", "user", "commands"},
                "scaling": {"from", "to", "reason"},
                "instance_launch": {"instance", "reason"},
                "instance_terminate": {"instance", "reason"},
                "traffic": {"campaign"}}
    seen = set()
    for case in cases.values():
        alarm = load_case(case).alarm.time
        for line in (case / "events.jsonl").read_text().splitlines():
            ev = json.loads(line)
            seen.add(ev["kind"])
            assert required[ev["kind"]] <= set(ev["details"]), ev
            assert ev["actor"].startswith(("p_", "pipeline:", "system:"))
            assert parse_time(ev["time"]) <= alarm + 120.0
    assert {"deployment", "config_change", "permission_change", "host_session",
            "instance_launch", "instance_terminate"} <= seen


def test_runbooks_have_front_matter(cases: dict[str, Path]) -> None:
    fitting = 0
    for case in cases.values():
        kind = truth_of(case)["fault"]
        books = sorted((case / "runbooks").glob("*.md"))
        assert 3 <= len(books) <= 4
        for book in books:
            text = book.read_text()
            assert text.startswith("---\n")
            head, body = text[4:].split("\n---\n", 1)
            meta = yaml.safe_load(head)
            assert meta["title"] and meta["services"] and body.strip()
            assert set(meta) <= {"title", "services", "alarms", "faults"}
            fitting += kind in meta.get("faults", [])
    assert 0 < fitting < len(cases) + 1


@pytest.mark.slow
def test_generate_scenarios_cycles_through_every_kind_without_naming_it(tmp_path: Path) -> None:
    paths = generate_scenarios(len(FAULT_KINDS) + 2, seed=3, out_dir=tmp_path)
    kinds = [truth_of(p)["fault"] for p in paths]
    assert set(kinds) == set(FAULT_KINDS)
    assert all(not any(k in p.name for k in FAULT_KINDS) for p in paths)
    roots = {truth_of(p)["root_cause"] for p in paths}
    assert len(roots) >= 7


@pytest.mark.slow
def test_identical_across_processes_whatever_the_hash_seed(tmp_path: Path) -> None:
    import subprocess
    import sys

    from tests.conftest import cli_env

    outs = []
    for hash_seed in ("1", "2"):
        out = tmp_path / f"h{hash_seed}"
        subprocess.run([sys.executable, "-m", "shipwise", "demo", "world", "--out", str(out),
                        "--fault", "manual_host_session", "--seed", "12"], check=True,
                       capture_output=True, env=cli_env(PYTHONHASHSEED=hash_seed))
        outs.append(_files(out))
    assert outs[0] == outs[1]
