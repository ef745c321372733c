"""traces/traces.json: OTLP/JSON that parses, whole traces, customers on entry spans."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from tests.demo.world.conftest import logs_of, truth_of

from shipwise.investigate.case import parse_time

# with -n 2 (pyproject: --dist loadgroup) one worker writes the session's world cases for these tests
pytestmark = pytest.mark.xdist_group("world-cases")


def _spans(case: Path) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    doc = json.loads((case / "traces" / "traces.json").read_text())
    out = []
    for rs in doc["resourceSpans"]:
        res = {a["key"]: next(iter(a["value"].values())) for a in rs["resource"]["attributes"]}
        for ss in rs["scopeSpans"]:
            out += [(res, sp) for sp in ss["spans"]]
    return out


def _attrs(span: dict[str, Any]) -> dict[str, Any]:
    return {a["key"]: next(iter(a["value"].values())) for a in span["attributes"]}


def test_otlp_json_is_whole_traces_with_customer_ids(cases: dict[str, Path]) -> None:
    case = cases["manual_host_session"]
    spans = _spans(case)
    assert len(spans) > 500
    by_trace: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for res, sp in spans:
        assert res["service.name"]
        assert re.fullmatch(r"[0-9a-f]{32}", sp["traceId"])
        assert re.fullmatch(r"[0-9a-f]{16}", sp["spanId"])
        assert int(sp["endTimeUnixNano"]) >= int(sp["startTimeUnixNano"])
        assert sp["status"]["code"] in (0, 2)
        by_trace[sp["traceId"]].append(sp)
    customers = set()
    for trace in by_trace.values():
        ids = {s["spanId"] for s in trace}
        roots = [s for s in trace if not s["parentSpanId"]]
        assert len(roots) == 1
        assert all(s["parentSpanId"] in ids for s in trace if s["parentSpanId"])
        customer = _attrs(roots[0]).get("customer.id")
        assert customer and re.fullmatch(r"c_[0-9a-f]{12}", customer)
        customers.add(customer)
    assert len(customers) > 50


def test_failing_spans_appear_after_the_fault_and_link_to_logs(cases: dict[str, Path]) -> None:
    case = cases["manual_host_session"]
    truth = truth_of(case)
    start = parse_time(truth["fault_start"])
    spans = _spans(case)
    failing = [(res, sp) for res, sp in spans if sp["status"]["code"] == 2]
    assert failing
    assert all(int(sp["startTimeUnixNano"]) / 1e9 >= start - 60 for res, sp in failing
               if res["service.name"] == truth["root_cause"])
    on_root = [res for res, sp in failing if res["service.name"] == truth["root_cause"]]
    assert {r.get("host.id") for r in on_root} == {truth["instance"]}
    trace_ids = {sp["traceId"] for _, sp in spans}
    linked = [x for x in logs_of(case) if "trace_id" in x]
    assert linked and all(x["trace_id"] in trace_ids for x in linked)
