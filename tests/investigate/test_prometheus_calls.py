"""A service mesh's per-call latencies in a real Prometheus (back-filled histograms, as Istio
exports them: ``reporter="source"`` is the caller's view of a call, ``reporter="destination"`` the
callee's own): read with the ``queries`` and ``calls`` settings, the network delay on the way to
one service is named — its own work stayed fast while its callers waited."""

from __future__ import annotations

import time
from pathlib import Path

import networkx as nx
import numpy as np

from shipwise.investigate.case import Alarm
from shipwise.investigate.evidence import Scope
from shipwise.investigate.hypotheses import generate
from shipwise.investigate.settings import PromCallQuery, PrometheusSettings, PromQuery
from shipwise.investigate.sources.prometheus import PrometheusSource
from shipwise.investigate.triage import Context
from tests.e2e import servers

STEP = 15.0
BUCKETS = (5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000)
METRIC = "istio_request_duration_milliseconds"
#: caller -> callee: each call's latency as the caller saw it, ms (before, after the fault)
CALLS = {("frontend", "api"): (20.0, 20.0), ("frontend", "details"): (8.0, 2000.0),
         ("api", "db"): (4.0, 4.0)}
#: each service's own latency, ms (frontend waits on details: it slows too)
OWN = {"frontend": (40.0, 2040.0), "api": (15.0, 15.0), "details": (6.0, 6.0), "db": (3.0, 3.0)}


def _histogram(lines: list[str], labels: str, ts: np.ndarray, ms: np.ndarray) -> None:
    """Cumulative bucket counters for 10 requests a second, each ``ms`` at its instant."""
    rate = 10.0 * STEP
    for le in (*BUCKETS, "+Inf"):
        counts = np.cumsum(np.where(ms <= (np.inf if le == "+Inf" else float(le)), rate, 0.0))
        lines += [f'{METRIC}_bucket{{{labels},le="{le}"}} {c:.1f} {t:.3f}'
                  for t, c in zip(ts, counts, strict=True)]


def _openmetrics(start: float, fault: float, end: float) -> str:
    ts = np.arange(start, end + 1, STEP)
    rng = np.random.default_rng(5)
    lines = [f"# TYPE {METRIC} histogram"]
    for (a, b), (x, y) in sorted(CALLS.items()):
        ms = np.where(ts >= fault, y, x) * (1 + 0.05 * rng.standard_normal(ts.size))
        _histogram(lines, f'reporter="source",source_workload="{a}",destination_workload="{b}"',
                   ts, ms)
    for svc, (x, y) in sorted(OWN.items()):
        ms = np.where(ts >= fault, y, x) * (1 + 0.05 * rng.standard_normal(ts.size))
        _histogram(lines, f'reporter="destination",source_workload="any",destination_workload="{svc}"',
                   ts, ms)
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


def _q(reporter: str, by: str) -> str:
    return (f"histogram_quantile(0.5, sum by (le, {by}) "
            f'(rate({METRIC}_bucket{{reporter="{reporter}"}}[1m])))')


def test_a_mesh_per_call_latency_in_prometheus_names_the_network_delay(tmp_path: Path) -> None:
    now = float(int(time.time() // 60 * 60))
    start, fault = now - 3 * 3600, now - 3600
    end = fault + 20 * 60
    with servers.backfilled_prometheus(tmp_path, _openmetrics(start, fault, end)) as url:
        src = PrometheusSource(PrometheusSettings(
            url=url, entity_label="destination_workload", step_seconds=STEP,
            matchers=f'__name__="{METRIC}_count"',  # the main query: nothing of use here
            queries=[PromQuery(name="latency_p50", expr=_q("destination", "destination_workload"),
                               entity_label="destination_workload")],
            calls=[PromCallQuery(quantile="p50",
                                 expr=_q("source", "source_workload, destination_workload"))]))
        alarm = Alarm("frontend", "latency_p50", fault + 120)
        ev = src.fetch(Scope(alarm, fault - 3600, end))
    lat = ev.topology.edges["frontend", "details"]["latency"]["p50"]
    assert float(np.median(lat.values[lat.timestamps < fault])) < 25  # buckets: 5..10 ms
    assert float(np.median(lat.values[lat.timestamps > fault + 120])) > 1000
    assert set(ev.topology.successors("frontend")) == {"api", "details"}
    assert ev.topology.has_edge("api", "db")
    assert ("details", "latency_p50") in ev.metrics and ("frontend", "latency_p50") in ev.metrics
    assert "graph?g0.expr=" in ev.metric_refs[("details", "latency_p50")]
    ctx = Context(alarm, ev, fault, STEP, end, nx.DiGraph(ev.topology), cut=8.0)
    named = [h for h in generate(ctx) if h.fault == "network_delay"]
    assert [h.entity for h in named] == ["details"]
