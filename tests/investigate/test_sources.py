"""Evidence sources: settings checked before querying, files read within the window, failures
recorded without sinking the investigation, sources queried in parallel."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import numpy as np

from shipwise.investigate.case import Alarm
from shipwise.investigate.evidence import Evidence, Scope
from shipwise.investigate.settings import PrometheusSettings
from shipwise.investigate.sources.base import EvidenceSource, gather
from shipwise.investigate.sources.files import (
    EventFiles,
    LogFiles,
    RunbookFiles,
    TraceFiles,
    parse_runbook,
)
from shipwise.investigate.sources.prometheus import PrometheusSource

T0 = 1_700_000_000.0
SCOPE = Scope(Alarm("gateway", "error_rate", T0), T0 - 600, T0 + 60)


def test_log_files_keep_warn_and_error_inside_the_window(tmp_path: Path) -> None:
    lines = [
        {"time": T0 - 700, "entity": "cart", "level": "ERROR", "message": "too early"},
        {"time": T0 - 100, "entity": "cart", "level": "INFO", "message": "fine"},
        {"time": "2023-11-14T22:12:00Z", "entity": "cart", "level": "ERROR", "message": "boom",
         "instance": "i-1", "trace_id": "t1",
         "exception": {"type": "SerializationException", "message": "unknown field", "stack": "at x"}},
        {"time": T0 - 50, "service": "checkout", "level": "warn", "message": "slow"},
    ]
    f = tmp_path / "logs.jsonl"
    f.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    ev = LogFiles([str(f)]).fetch(SCOPE)
    assert [(x.entity, x.level, x.message) for x in ev.logs] == [
        ("cart", "ERROR", "boom"), ("checkout", "WARN", "slow")]
    boom = ev.logs[0]
    assert boom.exc_type == "SerializationException" and boom.instance == "i-1"
    assert boom.time == 1699999920.0 and "logs.jsonl" in boom.ref


def test_events_and_traces_and_runbooks(tmp_path: Path) -> None:
    (tmp_path / "events.jsonl").write_text(
        json.dumps({"id": "ev-1", "time": T0 - 300, "kind": "deployment", "entity": "cart",
                    "summary": "cart 1 → 2", "details": {"version": "2"}}) + "\n"
        + json.dumps({"id": "ev-0", "time": T0 - 9000, "kind": "deployment", "entity": "cart"}) + "\n")
    events = EventFiles([str(tmp_path / "events.jsonl")]).fetch(SCOPE).events
    assert [e.id for e in events] == ["ev-1"] and events[0].ref == "events.jsonl:1"

    doc = {"resourceSpans": [{"resource": {"attributes": [
        {"key": "service.name", "value": {"stringValue": "gateway"}}]}, "scopeSpans": [{"spans": [
            {"traceId": "a", "spanId": "1", "parentSpanId": "", "startTimeUnixNano": str(int((T0 - 10) * 1e9)),
             "status": {"code": 2}, "attributes": [{"key": "customer.id", "value": {"stringValue": "c_1"}}]},
        ]}]}, {"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "cart"}}]},
               "scopeSpans": [{"spans": [{"traceId": "a", "spanId": "2", "parentSpanId": "1",
                                          "startTimeUnixNano": str(int((T0 - 9) * 1e9))}]}]}]}
    (tmp_path / "traces").mkdir()
    (tmp_path / "traces" / "t.json").write_text(json.dumps(doc))
    spans = TraceFiles([str(tmp_path / "traces")]).fetch(SCOPE).spans
    assert len(spans) == 2 and spans.error.tolist() == [True, False]
    assert spans.customer.tolist() == ["c_1", ""]
    merged = Evidence(spans=spans)
    merged.finish()
    assert merged.topology.has_edge("gateway", "cart")  # calls seen in traces

    rb = tmp_path / "rb.md"
    rb.write_text("---\ntitle: Cache errors\nservices: [cart]\nfaults: bad_deploy\n---\n1. Look.\n")
    r = parse_runbook(rb)
    assert (r.title, r.services, r.faults, r.body) == ("Cache errors", ("cart",), ("bad_deploy",), "1. Look.\n")
    assert len(RunbookFiles([str(tmp_path)]).fetch(SCOPE).runbooks) == 1


def test_settings_are_checked_before_any_query(tmp_path: Path) -> None:
    bad = PrometheusSource(PrometheusSettings(url="localhost:9090"))
    assert bad.check() and "not an http" in bad.check()[0]
    assert LogFiles([str(tmp_path / "missing*.jsonl")]).check()
    ev = gather([bad, LogFiles([])], SCOPE)
    assert [(s.name, s.ok) for s in ev.sources] == [("prometheus", False), ("logs", False)]


class _Slow(EvidenceSource):
    def __init__(self, name: str, fail: bool = False) -> None:
        self.name = name
        self.fail = fail
        self.thread = ""

    def check(self) -> list[str]:
        return []

    def fetch(self, scope: Scope) -> Evidence:
        self.thread = threading.current_thread().name
        time.sleep(0.5)
        if self.fail:
            raise ConnectionError("down")
        ev = Evidence()
        from shipwise.investigate.case import Series

        ev.metrics[(self.name, "m")] = Series(np.array([T0]), np.array([1.0]))
        return ev


def test_sources_are_queried_in_parallel_and_a_failure_is_recorded() -> None:
    srcs = [_Slow("a"), _Slow("b"), _Slow("c", fail=True)]
    t0 = time.perf_counter()
    ev = gather(srcs, SCOPE)  # type: ignore[arg-type]
    assert time.perf_counter() - t0 < 1.2  # three 0.5 s sources, not 1.5 s in a row
    assert len({s.thread for s in srcs}) == 3
    assert set(ev.metrics) == {("a", "m"), ("b", "m")}
    failed = [s for s in ev.sources if not s.ok]
    assert [(s.name, s.error) for s in failed] == [("c", "ConnectionError: down")]


def test_prometheus_source_reads_a_real_http_api(tmp_path: Path) -> None:
    """A Prometheus-shaped answer from a real HTTP server on loopback (the real Prometheus is in
    tests/e2e)."""
    import http.server

    body = {"status": "success", "data": {"resultType": "matrix", "result": [
        {"metric": {"__name__": "shop_error_rate", "service": "cart", "kind": "service"},
         "values": [[T0 - 30, "0.01"], [T0 - 15, "NaN"], [T0, "0.2"]]}]}}
    seen: list[str] = []

    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.path)
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *a: object) -> None:
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        src = PrometheusSource(PrometheusSettings(url=f"http://127.0.0.1:{srv.server_port}",
                                                  metric_prefix="shop_", matchers='env="prod"'))
        assert src.check() == []
        ev = src.fetch(SCOPE)
    finally:
        srv.shutdown()
    s = ev.metrics[("cart", "error_rate")]
    assert s.values.tolist() == [0.01, 0.2]  # NaN dropped
    assert "query_range" in seen[0] and "env%3D%22prod%22" in seen[0]
    assert ev.topology.nodes["cart"]["kind"] == "service"
    assert "graph?g0.expr=" in ev.metric_refs[("cart", "error_rate")]


def test_store_source_gives_deployments_with_the_diff_they_shipped(settings, tmp_path: Path) -> None:
    import pygit2

    from shipwise.app.owner import import_paths
    from shipwise.investigate.settings import StoreSourceSettings
    from shipwise.investigate.sources.store import StoreDeployments
    from shipwise.store.duckdb_store import Store, lend
    from tests.conftest import org, write_jsonl

    repo_dir = tmp_path / "cart-repo"
    repo = pygit2.init_repository(str(repo_dir))
    sig = pygit2.Signature("Dev", "dev@example.com", int(T0 - 7200), 0)
    shas = []
    for i, text in enumerate(["field = 'cart'\n", "field = 'cartV2'\n"]):
        (repo_dir / "serialize.py").write_text(text)
        repo.index.add("serialize.py")
        repo.index.write()
        tree = repo.index.write_tree()
        parents = [repo.head.target] if i else []
        shas.append(str(repo.create_commit("HEAD", sig, sig, f"c{i}", tree, parents)))

    def iso(t: float) -> str:
        from datetime import UTC, datetime

        return datetime.fromtimestamp(t, tz=UTC).isoformat().replace("+00:00", "Z")

    recs = [*org([("shop", "cart")])]
    for i, sha in enumerate(shas):
        recs.append({"type": "commit", "sha": sha, "repo": "cart", "author": "dev@example.com",
                     "authored_at": iso(T0 - 7200 + i), "committed_at": iso(T0 - 7200 + i),
                     "additions": 1, "deletions": i})
    for i, (sha, t) in enumerate([(shas[0], T0 - 5000), (shas[1], T0 - 300)]):
        recs.append({"type": "deployment", "id": f"d{i}", "service": "cart", "environment": "production",
                     "started_at": iso(t - 60), "finished_at": iso(t), "status": "success",
                     "commits": [sha], "version": f"1.{i}"})
    import_paths(settings, [write_jsonl(tmp_path / "recs.jsonl", recs)])

    with Store.open(settings.db) as store:
        src = StoreDeployments(lend(store), StoreSourceSettings(repos={"cart": str(repo_dir)}))
        assert src.check() == []
        events = src.fetch(SCOPE).events
        assert StoreDeployments(lend(store), StoreSourceSettings(enabled=False)).check()
    assert [(e.entity, e.summary) for e in events] == [("cart", "cart 1.0 → 1.1")]
    d = events[0].details
    assert d["files"] == ["serialize.py"] and "+field = 'cartV2'" in d["diff"]
    assert d["commits"] == [shas[1]]
