"""End to end with real servers: the demo world's live exporter is scraped by a real Prometheus
(Debian package), whose alert rule fires and goes through a real Alertmanager, which delivers its
webhook to `shipwise serve`; shipwise investigates from Prometheus (PromQL over HTTP) plus the
world's logs, events, traces, topology and runbooks, and stores the investigation. No fakes."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest
import yaml

from shipwise.demo.world import build_world, start_exporter
from tests.conftest import cli_env
from tests.e2e import servers

pytestmark = [pytest.mark.slow, pytest.mark.live]

SECRET = "e2e-shared-secret-0123456789abcdef"
#: Prometheus starts scraping a few seconds after the exporter: ~85 s of normal data first
FAULT_AFTER = 90.0


def _wait_for(path: Path, needle: str, proc: subprocess.Popen[bytes], timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = path.read_text(errors="replace") if path.exists() else ""
        if needle in text:
            return text
        if proc.poll() is not None:
            raise AssertionError(f"shipwise serve exited {proc.returncode}:\n{text[-3000:]}")
        time.sleep(0.5)
    raise AssertionError(f"{needle!r} not seen in {timeout} s:\n{path.read_text()[-4000:]}")


def _incident(tmp_path: Path, fault: str) -> tuple[dict[str, Any], str, float, Path]:
    """One live incident: exporter → Prometheus → Alertmanager → `shipwise serve`; returns the
    truth, serve's log, the moment the investigation was seen and the store."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    world_dir = tmp_path / "world"
    exporter = start_exporter(build_world(5), fault_kind=fault, fault_after_seconds=FAULT_AFTER,
                              out_dir=world_dir, seed=5, target="cart")
    try:
        truth = exporter.truth
        expected = exporter.expected_alarm(step_seconds=5.0)
        assert expected is not None
        expr = expected["source"]["expr"]  # e.g. world_error_rate{entity="checkout"} > 0.05

        port = servers.free_port()
        db = tmp_path / "shipwise.duckdb"
        config = {
            "db": str(db),
            "webhooks": {"secret": SECRET},
            "investigate": {
                "lookback_minutes": 10, "after_minutes": 1,
                "sources": {
                    "prometheus": {"url": "http://127.0.0.1:1", "entity_label": "entity",
                                   "metric_prefix": "world_", "step_seconds": 1},
                    "logs": {"paths": [str(world_dir / "logs.jsonl")]},
                    "events": {"paths": [str(world_dir / "events.jsonl")]},
                    "traces": {"paths": [str(world_dir / "traces")]},
                    "topology": {"path": str(world_dir / "topology.json")},
                    "runbooks": {"paths": [str(world_dir / "runbooks")]},
                    "store": {"enabled": False},
                },
            },
        }
        env = cli_env(SHIPWISE_CONFIG=str(tmp_path / "shipwise.yaml"))
        rules = {"groups": [{"name": "world", "rules": [{
            "alert": expected["source"]["alertname"], "expr": expr, "for": "0s",
            "labels": {"severity": "page", "entity": expected["entity"], "metric": expected["metric"]},
            "annotations": {"summary": f"{expected['entity']} {expected['metric']} breached"}}]}]}

        with servers.alertmanager(tmp_path, f"http://127.0.0.1:{port}/webhooks/alertmanager",
                                  SECRET) as am_url, \
                servers.prometheus(tmp_path, exporter.url.removeprefix("http://").split("/")[0],
                                   am_url, rules) as prom_url:
            config["investigate"]["sources"]["prometheus"]["url"] = prom_url  # type: ignore[index]
            (tmp_path / "shipwise.yaml").write_text(yaml.safe_dump(config))
            subprocess.run([sys.executable, "-m", "shipwise", "init"], cwd=tmp_path, env=env,
                           check=True, capture_output=True)
            log = tmp_path / "serve.log"
            with open(log, "wb") as out:
                serve = subprocess.Popen(
                    [sys.executable, "-m", "shipwise", "serve", "--host", "127.0.0.1", "--port",
                     str(port)], cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT)
            try:
                servers.wait_ready(f"http://127.0.0.1:{port}/healthz", serve, log)
                # The fault starts FAULT_AFTER s after the exporter; the breach builds up over a
                # minute or two; Prometheus evaluates every second, Alertmanager waits 1 s.
                text = _wait_for(log, ": investigated inv-", serve, timeout=FAULT_AFTER + 420)
                fired_at = time.time()
            finally:
                serve.terminate()
                serve.wait(timeout=30)
            alerts = httpx.get(f"{am_url}/api/v2/alerts", timeout=5).json()
            assert any(a["labels"]["alertname"] == expected["source"]["alertname"] for a in alerts)
    finally:
        exporter.stop()
    return truth, text, fired_at, db


@pytest.mark.parametrize("fault", ["bad_deploy"])
def test_a_real_alert_reaches_shipwise_and_is_investigated(tmp_path: Path, fault: str) -> None:
    """Live timing varies from run to run (1 s scrapes on a shared CPU, when the rule fires
    within the fault's build-up), and so does which anomaly the first samples show: the ranking
    put the true cause first in most observed runs, not all. So the whole incident is played up
    to twice, on fresh servers, and one of them must be investigated right — every other
    assertion holds for the investigation judged. Ranking accuracy itself is measured offline
    (`shipwise rca eval scenarios`)."""
    servers.require(servers.PROMETHEUS)
    servers.require(servers.ALERTMANAGER)
    misses = []
    for attempt in range(2):
        truth, text, fired_at, db = _incident(tmp_path / f"attempt-{attempt}", fault)
        con = duckdb.connect(str(db), read_only=True)
        try:
            ranked = con.execute("SELECT root_cause_entity, root_cause_kind FROM investigation"
                                 ).fetchall()
        finally:
            con.close()
        if (truth["root_cause"], truth["fault"]) in ranked:
            break
        misses.append(ranked)
    if misses:
        warnings.warn(f"live incident ranked wrongly first on {len(misses)} of {attempt + 1} "
                      f"attempt(s): {misses}", stacklevel=1)
    assert "investigated" in text
    con = duckdb.connect(str(db), read_only=True)
    try:
        intake = con.execute("SELECT source_kind, status, investigation_id FROM alarm_intake "
                             "WHERE status = 'investigated'").fetchall()
        rows = con.execute("SELECT id, root_cause_entity, root_cause_kind, record FROM investigation").fetchall()
    finally:
        con.close()
    assert intake and intake[0][0] == "alertmanager"
    inv = {r[0]: r for r in rows}[intake[0][2]]
    record = json.loads(inv[3]) if isinstance(inv[3], str) else inv[3]
    prom = [s for s in record["sources"] if s["name"] == "prometheus"]
    assert prom and prom[0]["ok"], record["sources"]
    assert all(s["ok"] for s in record["sources"]), record["sources"]
    assert record["alarm"]["source"]["kind"] == "alertmanager"
    assert abs(record["alarm"]["time"] - fired_at) < FAULT_AFTER + 420
    # The right root cause, the right kind, with the evidence for it and a plan to follow.
    assert (inv[1], inv[2]) == (truth["root_cause"], truth["fault"]), record["hypotheses"][:3]
    assert record["root_cause"]["event"]["id"] == truth["event"]
    assert any(o["source"] == "logs" for o in record["key_observations"])
    assert any("prometheus" in (o["ref"] or "") or "graph?g0.expr" in (o["ref"] or "")
               for o in record["key_observations"]), record["key_observations"]
    assert all(record["mitigation"][p] for p in ("prepare", "pre_validate", "apply",
                                                  "post_validate", "rollback"))
    assert record["impact"]["traces"]["customers_affected"] > 0
