"""Readers for public benchmark layouts (RCAEval, RCD, MicroIRC, span CSVs) and `rca eval DIR`.

Every dataset here is a small synthetic sample written in the real layout: a few services, one
clear injected fault (a CPU jump on the faulty service far larger than anything else)."""

from __future__ import annotations

import csv
import json
import math
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from shipwise.cli.main import cli
from shipwise.investigate.case import Alarm, Case
from shipwise.investigate.evaluate import evaluate, format_reliability, reliability
from shipwise.investigate.layouts import (
    detect_layout,
    find_cases,
    parse_instant,
    pod_service,
    read_microirc,
    read_rcaeval,
    read_rcd,
    read_spans,
    resolve_entity,
    split_columns,
    split_fault,
)

T0 = 1_700_000_000  # epoch seconds
N, INJECT_AT = 120, 90  # rows; the fault starts at row 90


def _wide(path: Path, columns: dict[str, list[float]], times: list[float | str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["time", *columns])
        for i, t in enumerate(times):
            w.writerow([t, *(repr(v[i]) for v in columns.values())])


def _signal(rng: np.random.Generator, base: float, jump: float, n: int = N,
            at: int = INJECT_AT) -> list[float]:
    v = base + rng.normal(0, 1, n)
    v[at:] += jump
    return [float(x) for x in v]


def _sock_columns(rng: np.random.Generator, faulty: str) -> dict[str, list[float]]:
    """front-end calls carts and orders; ``faulty``'s CPU jumps by 60 σ, the front end's latency
    rises by 4 σ; ``carts_mem_usage`` is a metric with an underscore, ``carts_lat_90`` a
    percentile."""
    cols: dict[str, list[float]] = {}
    for svc in ("front-end", "carts", "orders", "carts-db"):
        cols[f"{svc}_cpu"] = _signal(rng, 10, 60 if svc == faulty else 0)
        cols[f"{svc}_mem"] = _signal(rng, 100, 0)
    cols["carts_mem_usage"] = _signal(rng, 50, 0)
    cols["carts_lat_90"] = _signal(rng, 20, 0)
    cols["front-end_latency-90"] = _signal(rng, 30, 4)
    return cols


# -- naming rules -------------------------------------------------------------------------------


def test_split_columns_last_underscore_percentiles_and_known_services() -> None:
    cols = ["carts_cpu", "carts-db_mem", "carts_lat_90", "carts_mem_usage", "front-end_latency-90",
            "cart_service_cpu", "time"]
    got = split_columns(cols)
    assert got["carts_cpu"] == ("carts", "cpu")
    assert got["carts-db_mem"] == ("carts-db", "mem")
    assert got["carts_lat_90"] == ("carts", "lat_90")
    assert got["carts_mem_usage"] == ("carts", "mem_usage")  # carts is a service: shortest prefix
    assert got["front-end_latency-90"] == ("front-end", "latency-90")
    assert got["cart_service_cpu"] == ("cart_service", "cpu")  # no service "cart"
    assert "time" not in got


def test_pod_rollup_rule() -> None:
    assert pod_service("details-v1-5f449bdbb9-abcde") == "details-v1"
    assert pod_service("details-v1-5f449bdbb9-abcde", strip_version=True) == "details"
    assert pod_service("reviews-v2-6ccf99c555-fqvhb") == "reviews-v2"
    assert pod_service("user-db-0") == "user-db"
    assert pod_service("carts") == "carts"
    assert pod_service("reviews-v1") == "reviews-v1"  # a version is no StatefulSet ordinal
    assert resolve_entity("details", {"details-v1", "reviews-v1", "reviews-v2"}) == "details-v1"
    assert resolve_entity("reviews", {"reviews-v1", "reviews-v2"}) == "reviews"  # ambiguous
    assert resolve_entity("reviews-v2", {"reviews-v1", "reviews-v2"}) == "reviews-v2"


def test_fault_folder_names() -> None:
    assert split_fault("checkoutservice_cpu", {"checkoutservice"}, "_") == ("checkoutservice", "cpu")
    assert split_fault("carts-db-mem", {"carts", "carts-db"}, "-") == ("carts-db", "mem")
    assert split_fault("details_net_latency", {"details-v1"}, "_") == ("details", "net_latency")
    assert split_fault("x-y-cpu", set(), "-") == ("x-y", "cpu")


def test_parse_instant_units() -> None:
    assert parse_instant("1700000000") == 1_700_000_000
    assert parse_instant("1700000000123") == pytest.approx(1_700_000_000.123)
    assert parse_instant("1700000000123456") == pytest.approx(1_700_000_000.123456)
    assert parse_instant("2023-11-14T22:13:20Z") == 1_700_000_000
    assert parse_instant("2023-11-14 22:13:20") == 1_700_000_000  # no offset: UTC


# -- RCAEval ------------------------------------------------------------------------------------


def _rcaeval(root: Path, seed: int = 1) -> Path:
    rng = np.random.default_rng(seed)
    d = root / "RE2-SS" / "carts_cpu" / "1"
    _wide(d / "data.csv", _sock_columns(rng, "carts"), [T0 + i for i in range(N)])
    (d / "inject_time.txt").write_text(f"{T0 + INJECT_AT}\n")
    return d


def test_rcaeval_case_truth_from_path_and_alarm_on_entry(tmp_path: Path) -> None:
    d = _rcaeval(tmp_path)
    (tmp_path / "RE2-SS" / "topology.json").write_text(json.dumps({"edges": [
        {"source": "front-end", "target": "carts"}, {"source": "front-end", "target": "orders"},
        {"source": "carts", "target": "carts-db"}]}))
    assert detect_layout(d) == "rcaeval"
    case, truth = read_rcaeval(d)
    assert truth == {"root_cause": "carts", "fault": "cpu", "system": "RE2-SS"}
    assert case.alarm.entity == "front-end" and case.alarm.metric == "latency-90"
    assert case.alarm.time == T0 + INJECT_AT
    assert ("carts", "mem_usage") in case.metrics and ("carts", "lat_90") in case.metrics
    assert case.topology.has_edge("front-end", "carts")
    assert "truth" not in json.dumps(case.alarm.source)


def test_alarm_without_topology_is_the_most_deviating_latency(tmp_path: Path) -> None:
    case, _ = read_rcaeval(_rcaeval(tmp_path))
    assert case.topology.number_of_edges() == 0
    # front-end's latency rose 4 σ; carts' latency did not move
    assert (case.alarm.entity, case.alarm.metric) == ("front-end", "latency-90")


# -- RCD ----------------------------------------------------------------------------------------


def _rcd(root: Path, faulty: str = "orders", n: int = 1, seed: int = 2) -> Path:
    rng = np.random.default_rng(seed)
    cols = _sock_columns(rng, faulty)
    d = root / "sock-shop-data" / f"{faulty}-cpu" / str(n)
    # RCD records the normal period days before the anomalous one
    _wide(d / "normal.csv", {k: v[:INJECT_AT] for k, v in cols.items()},
          [T0 - 3 * 86400 + i for i in range(INJECT_AT)])
    _wide(d / "anomalous.csv", {k: v[INJECT_AT:] for k, v in cols.items()},
          [T0 + i for i in range(N - INJECT_AT)])
    return d


def test_rcd_concatenates_normal_then_anomalous(tmp_path: Path) -> None:
    d = _rcd(tmp_path)
    assert detect_layout(d) == "rcd"
    case, truth = read_rcd(d)
    assert truth == {"root_cause": "orders", "fault": "cpu", "system": "sock-shop"}
    s = case.metrics[("orders", "cpu")]
    assert s.timestamps.size == N
    assert case.alarm.time == T0  # the first anomalous row
    assert float(s.timestamps[INJECT_AT - 1]) == T0 - 1  # normal rows moved up to one step before
    assert np.all(np.diff(s.timestamps) > 0)


# -- MicroIRC -----------------------------------------------------------------------------------

PODS = {"productpage-v1": "productpage-v1-7fb564989f-hm9g2",
        "details-v1": "details-v1-b788479c5-bbg6t", "reviews-v1": "reviews-v1-7b76c4f45d-x9mxc"}


def _microirc(root: Path, faulty: str = "details", n: int = 1, seed: int = 3) -> Path:
    """A Bookinfo case: ingress → productpage → details, reviews; label.txt in UTC+8."""
    rng = np.random.default_rng(seed)
    base = root / "data3"
    d = base / f"{faulty}_cpu_load_{n}"
    app = d / "bookinfo"
    app.mkdir(parents=True)
    start = datetime(2024, 3, 5, 7, 31, 1, tzinfo=UTC).timestamp() + 3600 * n
    times = [datetime.fromtimestamp(start + 5 * i, tz=UTC).strftime("%Y-%m-%d %H:%M:%S") for i in range(N)]
    deploys = list(PODS)
    faulty_deploy = resolve_entity(faulty, set(deploys))
    lat = {f"{e}&p90": _signal(rng, 30, 3 if e == "productpage-v1" else 0) for e in deploys}
    _wide(app / "latency.csv", lat, times)
    # the callers' view of each call (an "unknown" caller is no call of the topology)
    _wide(app / "call.csv", {"productpage-v1_details-v1&p90": _signal(rng, 40, 0),
                             "unknown_details-v1&p90": _signal(rng, 40, 0)}, times)
    _wide(app / "success_rate.csv", {e: [1.0] * N for e in deploys}, times)
    _wide(app / "svc_qps.csv", {e: _signal(rng, 7, 0) for e in deploys}, times)
    with (app / "svc_metric.csv").open("w", newline="") as fh:  # no time column
        w = csv.writer(fh)
        cols = {f"{e}&cpu_usage": _signal(rng, 10, 0) for e in deploys}
        cols["details-v1-edge&cpu_usage"] = [0.0] * N
        w.writerow(list(cols))
        for i in range(N):
            w.writerow([v[i] for v in cols.values()])
    inst = {f"{p}_cpu": _signal(rng, 10, 60 if e == faulty_deploy else 0) for e, p in PODS.items()}
    new_pod = f"{faulty_deploy}-b788479c5-grnsf"  # scaled up during the fault: -1 before
    inst[f"{new_pod}_cpu"] = [-1.0] * 100 + _signal(rng, 10, 0)[100:]
    _wide(app / "instance.csv", inst, times)
    with (app / "graph.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["source", "destination", "timestamp"])
        for t in times[:3]:
            w.writerow(["istio-ingressgateway", "productpage-v1", t])
            w.writerow(["productpage-v1", "details-v1", t])
            w.writerow(["productpage-v1", "reviews-v1", t])
            w.writerow([PODS["details-v1"], "izbp16opgy3xucvexwqp9dz", t])
            w.writerow(["unknown", "details-v1", t])
    local = datetime.fromtimestamp(start + 5 * INJECT_AT + 8 * 3600, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")
    with (base / "label.txt").open("a") as fh:
        fh.write(f"{d.name}\nstresschaos.chaos-mesh.org/cpu created\n{local} start create.\n"
                 f"{local} start delete.\n{local} finish delete.\n\n\n")
    return d


def test_microirc_service_level(tmp_path: Path) -> None:
    d = _microirc(tmp_path)
    assert detect_layout(d) == "microirc"
    case, truth = read_microirc(d)
    assert truth == {"root_cause": "details-v1", "fault": "cpu_load", "system": "bookinfo"}
    t_inject = datetime(2024, 3, 5, 8, 31, 1, tzinfo=UTC).timestamp() + 5 * INJECT_AT
    assert case.alarm.time == t_inject  # label.txt's local time (UTC+8) shifted into the data
    assert case.alarm.entity == "productpage-v1"  # the ingress has no metrics
    assert set(case.topology.successors("productpage-v1")) == {"details-v1", "reviews-v1"}
    assert "izbp16opgy3xucvexwqp9dz" not in case.topology and "unknown" not in case.topology
    # call.csv: each call's latency as its caller saw it, kept on the calls edge
    call = case.topology.edges["productpage-v1", "details-v1"]["latency"]["p90"]
    assert call.timestamps.size == N and float(call.values.mean()) > 30
    assert "latency" not in case.topology.edges["productpage-v1", "reviews-v1"]
    assert ("details-v1", f"cpu@{PODS['details-v1']}") in case.metrics
    assert ("details-v1", "cpu_usage") in case.metrics
    assert not any(e.endswith("-edge") for e in case.entities())
    new = case.metrics[("details-v1", "cpu@details-v1-b788479c5-grnsf")]
    assert new.timestamps.size == N - 100  # -1 is "no such pod"


def test_microirc_pod_level(tmp_path: Path) -> None:
    case, truth = read_microirc(_microirc(tmp_path), level="pod")
    assert truth["root_cause"] == "details-v1"
    assert truth["accept"] == sorted([PODS["details-v1"], "details-v1-b788479c5-grnsf"])
    assert PODS["details-v1"] in case.entities() and "details-v1" not in case.entities()
    assert case.topology.has_edge(PODS["productpage-v1"], PODS["details-v1"])
    assert (PODS["details-v1"], "svc_latency_p90") in case.metrics


# -- spans --------------------------------------------------------------------------------------


def test_span_table_gives_calls_and_per_minute_metrics(tmp_path: Path) -> None:
    p = tmp_path / "spans.csv"
    with p.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["traceID", "spanID", "ParentID", "podName", "startTime", "duration", "statusCode"])
        for i in range(20):
            start_us = (T0 + 60 * (i // 10)) * 1_000_000 + i
            w.writerow([f"t{i}", f"a{i}", "", "front-end-6d8f7c9b5d-x2x9z", start_us, 120_000, "OK"])
            w.writerow([f"t{i}", f"b{i}", f"a{i}", "carts-5c8b9c9f7d-abcde", start_us + 10, 80_000,
                        "ERROR" if i % 2 else "OK"])
            w.writerow([f"t{i}", f"c{i}", f"b{i}", "carts-5c8b9c9f7d-abcde", start_us + 20, 20_000, "OK"])
    g, m = read_spans(p)
    assert set(g.edges()) == {("front-end", "carts")}  # carts -> carts is no call between services
    assert m[("carts", "requests")].values.tolist() == [20.0, 20.0]
    assert m[("carts", "errors")].values.tolist() == [5.0, 5.0]
    assert m[("carts", "error_rate")].values.tolist() == [0.25, 0.25]
    assert m[("front-end", "latency_p50")].values.tolist() == [120.0, 120.0]  # µs -> ms
    assert m[("front-end", "requests")].timestamps.tolist() == [T0 - T0 % 60, T0 - T0 % 60 + 60]
    g_pod, _ = read_spans(p, level="pod")
    assert ("front-end-6d8f7c9b5d-x2x9z", "carts-5c8b9c9f7d-abcde") in g_pod.edges()


def test_spans_beside_data_csv_add_topology(tmp_path: Path) -> None:
    d = _rcaeval(tmp_path)
    with (d / "spans.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["trace_id", "span_id", "parent_span_id", "service", "start_time", "duration_ms", "status"])
        w.writerow(["t", "a", "", "front-end", T0, 5, 200])
        w.writerow(["t", "b", "a", "carts", T0, 3, 503])
    case, _ = read_rcaeval(d)
    assert case.topology.has_edge("front-end", "carts")
    assert case.metrics[("carts", "errors")].values.tolist() == [1.0]
    assert case.alarm.entity == "front-end"  # the only service without callers


# -- reliability --------------------------------------------------------------------------------


def test_reliability_bins_hand_computed() -> None:
    cases = [{"ranks": {"m": 1, "r": 1}, "confidence": {"m": 0.9, "r": None}},
             {"ranks": {"m": 2, "r": 1}, "confidence": {"m": 0.85, "r": None}},
             {"ranks": {"m": 1, "r": 1}, "confidence": {"m": 1.0, "r": None}},
             {"ranks": {"m": None, "r": 1}, "confidence": {"m": 0.1, "r": None}}]
    bins = reliability(cases, "m")
    assert bins is not None and len(bins) == 5
    assert [b["n"] for b in bins] == [1, 0, 0, 0, 3]
    assert bins[4]["mean_confidence"] == pytest.approx((0.9 + 0.85 + 1.0) / 3)
    assert bins[4]["top1_right"] == pytest.approx(2 / 3)
    assert bins[0]["top1_right"] == 0.0
    assert bins[1]["mean_confidence"] is None
    assert reliability(cases, "r") is None
    table = format_reliability({"methods": ["m", "r"], "reliability": {"m": bins, "r": None}})
    assert "r | n/a" in table and "0.8–1.0 | 3 | 0.92 | 0.67" in table


def test_evaluate_groups_by_fault_and_system_and_accepts_any_pod() -> None:
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class R:
        entity: str
        confidence: float | None = None

    def case(name: str) -> Case:
        import networkx as nx
        return Case(name, Alarm("a", "m", 0.0, {}), nx.DiGraph(), {})

    items = [(case("c1"), {"root_cause": "svc", "accept": ["svc-pod-2"], "fault": "cpu", "system": "s1"}),
             (case("c2"), {"root_cause": "x", "fault": "mem", "system": "s1"})]
    res = evaluate(items, lambda c, m: [R("svc-pod-1"), R("svc-pod-2", None), R("x", 0.4)], ["m"])
    assert [c["ranks"]["m"] for c in res["cases"]] == [2, 3]
    assert set(res["by_fault"]) == {"cpu", "mem"} and set(res["by_system"]) == {"s1"}
    assert res["by_fault"]["cpu"]["m"]["ac3"] == 1.0
    assert res["reliability"]["m"] is None  # the top-1 entry stated no confidence


# -- `shipwise rca eval DIR` end to end ---------------------------------------------------------


def _mixed(root: Path) -> None:
    _rcaeval(root / "rcaeval")
    for n, faulty in enumerate(("orders", "carts"), start=1):
        _rcd(root / "rcd", faulty, n, seed=10 + n)
    _microirc(root / "microirc", "details", 1)
    _microirc(root / "microirc", "reviews-v1", 2, seed=7)


def test_find_cases_detects_every_layout(tmp_path: Path) -> None:
    _mixed(tmp_path)
    kinds = [k for _, k in find_cases(tmp_path)]
    assert sorted(kinds) == ["microirc", "microirc", "rcaeval", "rcd", "rcd"]
    assert [k for _, k in find_cases(tmp_path, "rcd")] == ["rcd", "rcd"]


def test_cli_eval_dir_json(tmp_path: Path) -> None:
    _mixed(tmp_path)
    out = tmp_path / "res.json"
    res = CliRunner().invoke(cli, ["rca", "eval", str(tmp_path), "--method", "nsigma",
                                   "--method", "baro", "--method", "investigate",
                                   "--format", "json", "--out", str(out)])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data == json.loads(out.read_text())
    assert data["layouts"] == ["microirc", "rcaeval", "rcd"] and data["skipped"] == []
    assert data["methods"] == ["nsigma", "baro", "investigate"]
    by_name = {c["name"]: c for c in data["cases"]}
    assert set(by_name) == {"RE2-SS/carts_cpu/1", "sock-shop/orders-cpu/1", "sock-shop/carts-cpu/2",
                            "bookinfo/details_cpu_load_1", "bookinfo/reviews-v1_cpu_load_2"}
    assert by_name["bookinfo/details_cpu_load_1"]["truth"] == "details-v1"
    assert by_name["bookinfo/reviews-v1_cpu_load_2"]["truth"] == "reviews-v1"
    assert by_name["sock-shop/orders-cpu/1"]["fault"] == "cpu"
    for c in data["cases"]:
        # a 60 σ CPU jump on one service and nothing else: the baselines must name it first
        assert c["ranks"]["nsigma"] == 1 and c["ranks"]["baro"] == 1, c
        assert set(c["seconds"]) == {"nsigma", "baro", "investigate"}
        assert c["confidence"]["baro"] is None
        conf = c["confidence"]["investigate"]
        assert conf is None or 0.0 <= conf <= 1.0
    assert set(data["by_system"]) == {"RE2-SS", "sock-shop", "bookinfo"}
    assert set(data["by_fault"]) == {"cpu", "cpu_load"}
    assert data["overall"]["baro"]["n"] == 5 and data["overall"]["baro"]["ac1"] == 1.0
    assert data["reliability"]["baro"] is None
    rel = data["reliability"]["investigate"]
    assert rel is None or sum(b["n"] for b in rel) == sum(
        1 for c in data["cases"] if c["confidence"]["investigate"] is not None)


def test_cli_eval_dir_table_and_subcommands_still_route(tmp_path: Path) -> None:
    _rcd(tmp_path)
    runner = CliRunner()
    a = runner.invoke(cli, ["rca", "eval", str(tmp_path), "--method", "baro"])
    b = runner.invoke(cli, ["rca", "eval", "dir", str(tmp_path), "--method", "baro"])
    assert a.exit_code == 0, a.output
    assert "| cpu | baro | 1 | 1.00 |" in a.output and "| sock-shop | baro | 1 |" in a.output
    assert "| baro | n/a |" in a.output
    def scores(out: str) -> list[str]:  # the table rows without the (timing) last column
        return [line.rsplit("|", 2)[0] for line in out.splitlines() if line.startswith("| ")]

    assert b.exit_code == 0 and scores(a.output) == scores(b.output)
    c = runner.invoke(cli, ["rca", "eval", "scenarios", "--help"])
    assert c.exit_code == 0 and "--cases" in c.output
    e = runner.invoke(cli, ["rca", "eval", str(tmp_path / "nothing-here")])
    assert e.exit_code != 0


def test_cli_eval_dir_pod_level(tmp_path: Path) -> None:
    _microirc(tmp_path)
    res = CliRunner().invoke(cli, ["rca", "eval", str(tmp_path), "--level", "pod", "--method", "baro",
                                   "--format", "json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["level"] == "pod" and data["cases"][0]["ranks"]["baro"] == 1
    assert not math.isnan(data["overall"]["baro"]["seconds_per_case"])
