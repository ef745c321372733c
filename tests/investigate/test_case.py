"""The investigation case format: reading what an alarm comes with, never the answer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shipwise.errors import InputError
from shipwise.investigate.case import load_case, load_truth, parse_time


def write(case: Path, metrics: str, alarm: dict | None = None) -> Path:  # type: ignore[type-arg]
    case.mkdir()
    (case / "alarm.json").write_text(json.dumps(alarm or {
        "entity": "api", "metric": "latency", "time": "2025-07-01T10:05:00Z", "source": {"x": 1}}))
    (case / "topology.json").write_text(json.dumps({
        "nodes": [{"id": "api", "kind": "service"}, {"id": "db", "kind": "table"}],
        "edges": [{"source": "api", "target": "db", "relation": "calls"}]}))
    (case / "metrics.csv").write_text(metrics)
    (case / "truth.yaml").write_text("root_cause: db\n")
    return case


def test_case_reads_alarm_topology_and_long_metrics(tmp_path: Path) -> None:
    case = load_case(write(tmp_path / "c", (
        "timestamp,entity,metric,value\n"
        "1751364300,db,latency,9\n1751364000,db,latency,1\n"
        "2025-07-01T10:00:00Z,api,latency,2\n1751364300,api,latency,\n")))
    assert case.alarm.entity == "api" and case.alarm.time == parse_time("2025-07-01T10:05:00Z")
    assert list(case.topology.edges(data="relation")) == [("api", "db", "calls")]
    db = case.metrics[("db", "latency")]
    assert list(db.timestamps) == [1751364000.0, 1751364300.0] and list(db.values) == [1.0, 9.0]
    assert list(case.metrics[("api", "latency")].values) == [2.0]  # the empty value is dropped
    assert case.entities() == ["api", "db"]
    assert load_truth(tmp_path / "c") == {"root_cause": "db"}  # only evaluation reads this


def test_malformed_alarms_and_times_get_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="malformed alarm"):
        load_case(write(tmp_path / "c", "timestamp,entity,metric,value\n", {"metric": "x"}))
    with pytest.raises(InputError, match="not a case directory"):
        load_case(tmp_path)
    with pytest.raises(InputError, match="without an offset"):
        parse_time("2025-07-01T10:00:00")
