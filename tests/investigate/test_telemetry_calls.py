"""Spans received over OTLP tell time lost on the way from time spent in the callee's work: each
call's latency as its caller saw it (client spans) is kept on the calls edge, beside the
callee's own latency (its server spans), and a call that slowed only on the way names the
callee's network."""

from __future__ import annotations

import networkx as nx

from shipwise.app.context import open_store
from shipwise.config import Settings
from shipwise.investigate.case import Alarm
from shipwise.investigate.evidence import Scope
from shipwise.investigate.hypotheses import generate
from shipwise.investigate.settings import StoreSourceSettings
from shipwise.investigate.sources.telemetry import read_telemetry, telemetry_evidence
from shipwise.investigate.triage import Context
from shipwise.store import telemetry as table

T0 = 1_780_000_000.0  # the fault: from here on the way to `api` costs 2 s
SERVER, CLIENT = 2, 3


def _spans(delay_after: float) -> list[list[object]]:
    """Every 10 s for 40 min: frontend serves a request, calls api and auth (client spans) and
    each serves it (server span, 20 ms); from T0 each call to api waits ``delay_after`` s on the
    way (auth's calls stay fast: frontend's own network is fine)."""
    rows: list[tuple[object, ...]] = []
    t = T0 - 1800
    while t < T0 + 600:
        lost = delay_after if t >= T0 else 0.0
        ns = int(t * 1e9)
        tid = f"{int(t):x}".rjust(32, "0")
        own, call = int(0.02e9), int((0.025 + lost) * 1e9)
        rows.append((tid, "a" + tid[-15:], "", "frontend", "f-1", "GET /", SERVER, ns,
                     ns + call + int(0.01e9), 0, "", ""))
        rows.append((tid, "b" + tid[-15:], "a" + tid[-15:], "frontend", "f-1", "GET api",
                     CLIENT, ns + 1000, ns + 1000 + call, 0, "", ""))
        rows.append((tid, "c" + tid[-15:], "b" + tid[-15:], "api", "api-1", "GET /x", SERVER,
                     ns + 2000 + int(lost * 1e9 / 2), ns + 2000 + int(lost * 1e9 / 2) + own,
                     0, "", ""))
        rows.append((tid, "d" + tid[-15:], "a" + tid[-15:], "frontend", "f-1", "GET auth",
                     CLIENT, ns + 3000, ns + 3000 + int(0.025e9), 0, "", ""))
        rows.append((tid, "e" + tid[-15:], "d" + tid[-15:], "auth", "auth-1", "GET /ok", SERVER,
                     ns + 4000, ns + 4000 + own, 0, "", ""))
        t += 10
    return [list(c) for c in zip(*rows, strict=True)]


def test_calls_as_the_caller_saw_them_are_kept_on_the_edge_and_name_the_network(
        settings: Settings) -> None:
    with open_store(settings) as store:
        table.insert_spans(store, _spans(2.0), int(T0 * 1e6))
        alarm = Alarm("frontend", "latency_p95_ms", T0 + 60)
        scope = Scope(alarm, T0 - 1800, T0 + 600)
        data = read_telemetry(store, StoreSourceSettings(), scope)
    ev = telemetry_evidence(data)
    lat = ev.topology.edges["frontend", "api"]["latency"]
    assert set(lat) == {"p50_ms", "p95_ms"}
    before = lat["p50_ms"].values[lat["p50_ms"].timestamps < T0 - 60]
    after = lat["p50_ms"].values[lat["p50_ms"].timestamps >= T0]
    assert 20 < float(before.mean()) < 30 and float(after.min()) > 2000  # the caller's view
    own = ev.metrics[("api", "latency_p50_ms")].values
    assert float(own.max()) < 30  # api's own work stayed at 20 ms
    ctx = Context(alarm, ev, T0, 60.0, T0 + 600, nx.DiGraph(ev.topology), cut=8.0)
    named = [h for h in generate(ctx) if h.fault == "network_delay"]
    assert [h.entity for h in named] == ["api"]
    assert "frontend → api p50_ms" in named[0].support[0].text


def test_no_call_latency_without_client_spans(settings: Settings) -> None:
    cols = _spans(2.0)
    cols[6] = [SERVER] * len(cols[6])  # every span a server span: no caller's view of the call
    with open_store(settings) as store:
        table.insert_spans(store, cols, int(T0 * 1e6))
        data = read_telemetry(store, StoreSourceSettings(),
                              Scope(Alarm("frontend", "latency_p95_ms", T0), T0 - 1800, T0 + 600))
    assert data["calls"] == []
    assert not any("latency" in d for _, _, d in telemetry_evidence(data).topology.edges(data=True))
