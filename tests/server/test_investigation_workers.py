"""Investigations in worker processes (``server.investigation_workers``), with real processes
throughout: a real Prometheus (Debian package) serving a demo-world incident back-filled with
``promtool``, the world's logs, events, traces, topology and runbooks, the real engine in a
``python -m shipwise.http.investigator`` child, and ``kill -9`` of the child and of
``shipwise serve``."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pandas as pd
import pytest
import yaml
from pydantic import SecretStr

import shipwise.app.investigate as engine
from shipwise.app.alarms import intake_id
from shipwise.config import Settings, WebhookSettings
from shipwise.demo.world.scenarios import generate_scenarios
from shipwise.investigate.alarms import alarm_from_dict
from shipwise.investigate.case import load_alarm
from shipwise.investigate.settings import InvestigateSettings
from shipwise.store import Store
from shipwise.store.duckdb_store import lend
from tests.conftest import cli_env
from tests.e2e import servers
from tests.server.conftest import SECRET, Live, serve

pytestmark = [pytest.mark.slow, pytest.mark.live]


@dataclass(frozen=True)
class World:
    case: Path
    prometheus: str
    alarm_time: float
    entities: tuple[str, ...]


def _openmetrics(metrics: pd.DataFrame, path: Path) -> None:
    """The world's long-form metrics as OpenMetrics text (``world_<metric>{entity=...}``)."""
    lines: list[str] = []
    for metric, frame in metrics.groupby("metric", observed=True, sort=True):
        lines.append(f"# TYPE world_{metric} gauge")
        for entity, series in frame.groupby("entity", observed=True, sort=True):
            for t, v in series.sort_values("timestamp")[["timestamp", "value"]].itertuples(
                    index=False):
                lines.append(f'world_{metric}{{entity="{entity}"}} {float(v)!r} {float(t):.3f}')
    lines.append("# EOF")
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One demo-world incident: its files, and its metrics in a real Prometheus (back-filled)."""
    binary = servers.require(servers.PROMETHEUS)
    promtool = servers.require("promtool")
    root = tmp_path_factory.mktemp("world")
    (case,) = generate_scenarios(1, 11, root / "cases")
    metrics = pd.read_parquet(case / "metrics.parquet")
    _openmetrics(metrics, root / "metrics.om")
    data = root / "prom-data"
    subprocess.run([promtool, "tsdb", "create-blocks-from", "openmetrics", str(root / "metrics.om"),
                    str(data)], check=True, capture_output=True)
    (root / "prometheus.yml").write_text(yaml.safe_dump({"global": {"scrape_interval": "1m"}}))
    port = servers.free_port()
    args = [binary, f"--config.file={root / 'prometheus.yml'}", f"--storage.tsdb.path={data}",
            "--storage.tsdb.retention.time=100y", f"--web.listen-address=127.0.0.1:{port}"]
    url = f"http://127.0.0.1:{port}"
    with servers.process(args, root / "prometheus.log") as proc:
        servers.wait_ready(f"{url}/-/ready", proc, root / "prometheus.log")
        yield World(case, url, float(load_alarm(case).time),
                    tuple(sorted(str(e) for e in metrics["entity"].unique())))


def _investigate_config(world: World) -> dict[str, Any]:
    c = world.case
    return {
        "lookback_minutes": 60, "after_minutes": 2,
        "sources": {
            "prometheus": {"url": world.prometheus, "entity_label": "entity",
                           "metric_prefix": "world_", "step_seconds": 30},
            "logs": {"paths": [str(c / "logs.jsonl")]},
            "events": {"paths": [str(c / "events.jsonl")]},
            "traces": {"paths": [str(c / "traces")]},
            "topology": {"path": str(c / "topology.json")},
            "runbooks": {"paths": [str(c / "runbooks")]},
        },
    }


@pytest.fixture
def real(settings: Settings, world: World) -> Settings:
    """The real engine against the world, in one worker process, with the webhook secret."""
    return settings.model_copy(update={
        "webhooks": WebhookSettings(secret=SecretStr(SECRET)),
        "investigate": InvestigateSettings.model_validate(_investigate_config(world))})


def _alarm(world: World, entity: str, n: int) -> bytes:
    return json.dumps({"id": f"t-{entity}-{n}", "entity": entity, "metric": "error_rate",
                       "time": world.alarm_time - 60 * n}).encode()


def _records(db: Path) -> dict[str, list[dict[str, Any]]]:
    """Stored investigations per alarm id."""
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute("SELECT alarm_id, CAST(record AS VARCHAR) FROM investigation").fetchall()
    out: dict[str, list[dict[str, Any]]] = {}
    for alarm_id, record in rows:
        out.setdefault(str(alarm_id), []).append(json.loads(record))
    return out


def _statuses(db: Path) -> dict[str, tuple[str, str | None]]:
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute("SELECT id, status, investigation_id FROM alarm_intake").fetchall()
    return {str(i): (str(s), inv) for i, s, inv in rows}


def _comparable(record: dict[str, Any]) -> dict[str, Any]:
    """A record without its timings, as stored (JSON), and without what the kept topology read:
    the first run kept the edges it saw, so a second run reads them (the only parts two runs
    may differ in)."""
    out: dict[str, Any] = json.loads(json.dumps(record, default=str))
    out.pop("seconds")
    out["sources"] = [s for s in out["sources"] if s["name"] != "kept_topology"]
    out["steps"] = [s for s in out.get("steps", []) if s.get("source") != "kept_topology"]
    for s in out["sources"] + out["steps"]:
        s.pop("seconds", None)
    for step in out["steps"]:
        step["text"] = re.sub(r" in \d+\.\d+ s$", "", step["text"]).replace(", kept_topology", "")
    return out


def _wait(live: Live, timeout: float = 120) -> list[dict[str, Any]]:
    return live.settled(timeout=timeout)


def test_a_worker_process_records_what_the_server_would_have(real: Settings, world: World) -> None:
    """The same alarm investigated in a worker process and in the server's own process gives
    the same record (timings aside), the store's deployments included."""
    at = datetime.fromtimestamp(world.alarm_time - 900, UTC).replace(tzinfo=None)
    with Store.open(real.db) as store:  # deployments in the change window: the slice holds them
        for n, (version, minutes) in enumerate((("v1", 0), ("v2", 30))):
            store.con.execute(
                "INSERT INTO deployment (id, service, environment, started_at, finished_at, status, "
                "version, kind, manual_interventions, row_hash, ingested_at) VALUES "
                "(?, 'checkout', 'production', ?, ?, 'success', ?, 'deploy', 0, 'h', now())",
                [f"d-{n}", at - timedelta(minutes=60 - minutes),
                 at - timedelta(minutes=59 - minutes), version])
    assert real.server.investigation_workers == 1
    with serve(real) as live:
        res = live.post("/webhooks/generic", _alarm(world, "checkout", 0))
        (alarm_id,) = res.json()["accepted"]
        (row,) = _wait(live)
        assert row["status"] == "investigated", row
        assert live.state.worker.pids  # the worker process is alive, started on the first alarm
        pid = live.state.worker.pids[0]
    with pytest.raises(ProcessLookupError):  # stopped with the server
        os.kill(pid, 0)
    (worker_record,) = _records(real.db)[alarm_id]
    assert {s["name"] for s in worker_record["sources"] if s["ok"]} >= {"prometheus", "store", "logs"}
    assert "checkout v1 → v2" in json.dumps(worker_record, ensure_ascii=False)
    with Store.open(real.db) as store:
        with store.transaction():
            stored = store.con.execute("SELECT CAST(alarm AS VARCHAR) FROM alarm_intake WHERE id = ?",
                                       [alarm_id]).fetchone()
        assert stored is not None
        in_process = engine.investigate_alarm(real, alarm_from_dict(json.loads(stored[0])),
                                              alarm_id, session=lend(store))
    assert _comparable(worker_record) == _comparable(in_process)


def test_kill_9_of_the_worker_mid_investigation_investigates_the_alarm_once(
        real: Settings, world: World) -> None:
    entities = world.entities[:4]
    with serve(real) as live:
        accepted = []
        for e in entities:
            accepted += live.post("/webhooks/generic", _alarm(world, e, 1)).json()["accepted"]
        assert len(accepted) == len(entities)
        deadline = time.monotonic() + 60
        killed = None
        (worker,) = live.state.worker.processes
        while killed is None:  # a job in flight: sent to the process, its answer not read yet
            assert time.monotonic() < deadline, live.rows()
            pids = live.state.worker.pids
            if pids and worker.busy:
                killed = pids[0]
                os.kill(killed, signal.SIGKILL)
            time.sleep(0.01)
        rows = _wait(live)
        pool = live.state.worker
        assert pool.lost == 1  # the death was seen mid-job (an idle death is not a loss)
        assert pool.pids and pool.pids[0] != killed  # a fresh process took over
    assert {r["id"]: r["status"] for r in rows} == dict.fromkeys(accepted, "investigated")
    records = _records(real.db)
    assert sorted(records) == sorted(accepted)
    assert all(len(v) == 1 for v in records.values())  # never twice


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def test_kill_9_of_serve_with_alarms_accepted_loses_none_and_leaves_no_orphan(
        tmp_path: Path, world: World) -> None:
    config = {"db": str(tmp_path / "shipwise.duckdb"), "webhooks": {"secret": SECRET},
              "investigate": _investigate_config(world)}
    (tmp_path / "shipwise.yaml").write_text(yaml.safe_dump(config))
    env = cli_env(SHIPWISE_CONFIG=str(tmp_path / "shipwise.yaml"))
    subprocess.run([sys.executable, "-m", "shipwise", "init"], cwd=tmp_path, env=env, check=True,
                   capture_output=True)
    entities = world.entities[:6]
    port = servers.free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "shipwise", "serve", "--port", str(port)]
    log = tmp_path / "serve.log"

    def start() -> subprocess.Popen[bytes]:
        with open(log, "ab") as out:
            proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT)
        servers.wait_ready(f"{url}/readyz", proc, log)
        return proc

    proc = start()
    accepted: list[str] = []
    try:
        for e in entities:
            res = httpx.post(f"{url}/webhooks/generic", content=_alarm(world, e, 2), timeout=10,
                             headers={"Authorization": f"Bearer {SECRET}"})
            assert res.status_code == 202, res.text
            accepted += res.json()["accepted"]
        deadline = time.monotonic() + 60
        while not _children(proc.pid):  # the worker process is at work
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.05)
        worker = _children(proc.pid)[0]
        time.sleep(0.5)  # mid-investigation
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    deadline = time.monotonic() + 5
    while Path(f"/proc/{worker}").exists():  # no orphan goes on
        stat = Path(f"/proc/{worker}/stat").read_text() if Path(f"/proc/{worker}").exists() else ""
        if " Z " in stat:  # a zombie waiting for init is gone already
            break
        assert time.monotonic() < deadline, f"worker {worker} outlived the server"
        time.sleep(0.05)
    assert sorted(accepted) == sorted(intake_id(f"generic:t-{e}-2") for e in entities)
    before = _statuses(tmp_path / "shipwise.duckdb")
    assert set(before) == set(accepted)  # every 202 was stored
    assert any(st in ("accepted", "investigating") for st, _ in before.values()), before

    proc = start()  # resumes what was left
    try:
        deadline = time.monotonic() + 180
        while log.read_text().count(": investigated inv-") < len(entities):
            assert time.monotonic() < deadline, log.read_text()[-4000:]
            assert proc.poll() is None
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(60)
    after = _statuses(tmp_path / "shipwise.duckdb")
    assert {i: st for i, (st, _) in after.items()} == dict.fromkeys(accepted, "investigated")
    records = _records(tmp_path / "shipwise.duckdb")
    assert sorted(records) == sorted(accepted)
    assert all(len(v) == 1 for v in records.values())  # none twice
    assert {i: inv for i, (_, inv) in after.items()} == {a: v[0]["id"] for a, v in records.items()}


def test_a_stop_past_the_drain_leaves_the_rest_pending_and_the_next_start_finishes_it(
        real: Settings, world: World) -> None:
    real.server.drain_seconds = 0
    entities = world.entities[:4]
    with serve(real) as live:
        accepted = []
        for e in entities:
            accepted += live.post("/webhooks/generic", _alarm(world, e, 3)).json()["accepted"]
        deadline = time.monotonic() + 60
        while not live.state.worker.pids:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        pids = live.state.worker.pids
    for pid in pids:  # stopped with the server, its job interrupted
        assert not Path(f"/proc/{pid}").exists() or " Z " in Path(f"/proc/{pid}/stat").read_text()
    left = _statuses(real.db)
    assert any(st in ("accepted", "investigating") for st, _ in left.values()), left
    assert not any(st == "failed" for st, _ in left.values())  # an interruption is not a failure
    real.server.drain_seconds = 60
    with serve(real) as live:
        rows = _wait(live)
    assert {r["id"]: r["status"] for r in rows} == dict.fromkeys(accepted, "investigated")
    assert all(len(v) == 1 for v in _records(real.db).values())
