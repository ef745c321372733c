"""``kill -9`` in the middle of a stream of alarm webhooks, with real processes throughout:
``shipwise serve`` (the short way in, the group commit with its delay) and its investigation
worker process running the real engine on a demo-world incident's files. Whatever was
acknowledged with a 202 is stored exactly once and investigated exactly once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pandas as pd
import pytest
import yaml

from shipwise.app.alarms import intake_id
from shipwise.demo.world.scenarios import generate_scenarios
from shipwise.investigate.case import load_alarm
from tests.conftest import cli_env
from tests.server.conftest import SECRET, free_port

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class World:
    sources: dict[str, Any]
    pairs: list[tuple[str, str]]
    time: float


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    """One demo-world incident's files as the evidence sources (no server needed)."""
    (case,) = generate_scenarios(1, 11, tmp_path_factory.mktemp("world") / "cases")
    alarm = load_alarm(case)
    metrics = pd.read_parquet(case / "metrics.parquet")
    others = sorted({(str(e), str(m)) for e, m in zip(metrics["entity"], metrics["metric"],
                                                       strict=True)} - {(alarm.entity, alarm.metric)})
    return World({"metrics": {"paths": [str(case / "metrics.parquet")]},
                  "logs": {"paths": [str(case / "logs.jsonl")]},
                  "events": {"paths": [str(case / "events.jsonl")]},
                  "traces": {"paths": [str(case / "traces")]},
                  "topology": {"path": str(case / "topology.json")},
                  "runbooks": {"paths": [str(case / "runbooks")]}},
                 [(alarm.entity, str(alarm.metric)), *others[:2]], float(alarm.time))


@dataclass
class Serve:
    home: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def db(self) -> Path:
        return self.home / "shipwise.duckdb"

    def start(self) -> None:
        env = cli_env(SHIPWISE_CONFIG=str(self.home / "shipwise.yaml"))
        with open(self.home / "serve.log", "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "shipwise", "serve", "--port", str(self.port)],
                cwd=self.home, env=env, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            assert self.proc.poll() is None, self.log()
            try:
                if httpx.get(self.url + "/readyz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, self.log()
            time.sleep(0.1)

    def stop(self) -> None:
        """Ctrl-C: the worker drains what is queued (server.drain_seconds), the store closes."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(180)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def worker(self) -> int | None:
        assert self.proc is not None
        out = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True,
                             text=True).stdout.split()
        return int(out[0]) if out else None

    def log(self) -> str:
        return (self.home / "serve.log").read_text(errors="replace")[-4000:]


@pytest.fixture
def serve(tmp_path: Path, world: World) -> Iterator[Serve]:
    config = {"db": str(tmp_path / "shipwise.duckdb"), "webhooks": {"secret": SECRET},
              "server": {"investigation_workers": 1, "drain_seconds": 170, "prewarm": False,
                         "access_log": False, "intake_commit_delay_ms": 5},
              "investigate": {"lookback_minutes": 60, "sources": world.sources}}
    (tmp_path / "shipwise.yaml").write_text(yaml.safe_dump(config))
    subprocess.run([sys.executable, "-m", "shipwise", "init"], cwd=tmp_path, check=True,
                   env=cli_env(SHIPWISE_CONFIG=str(tmp_path / "shipwise.yaml")),
                   capture_output=True)
    server = Serve(tmp_path)
    try:
        yield server
    finally:
        if server.proc is not None and server.proc.poll() is None:
            server.proc.kill()
            server.proc.wait()


class Senders:
    """``n`` concurrent senders, each posting distinct alarms one after the other until told to
    stop or refused a connection; what was acknowledged (202) and what was sent unanswered."""

    def __init__(self, url: str, world: World, n: int, tag: str) -> None:
        self.url, self.world, self.tag = url, world, tag
        self.acked: list[str] = []
        self.unanswered: list[bytes] = []
        self.other: list[int] = []
        self._next = iter(range(10**6))
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._send) for _ in range(n)]

    def body(self, i: int) -> bytes:
        entity, metric = self.world.pairs[i % len(self.world.pairs)]
        return json.dumps({"id": f"{self.tag}-{i}", "entity": entity, "metric": metric,
                           "time": self.world.time - i % 240}).encode()

    def _send(self) -> None:
        with httpx.Client(base_url=self.url, timeout=30, headers={
                "Authorization": f"Bearer {SECRET}"}) as client:
            while not self._stop.is_set():
                with self._lock:
                    i = next(self._next)
                body = self.body(i)
                try:
                    res = client.post("/webhooks/generic", content=body)
                except httpx.TransportError:
                    with self._lock:
                        self.unanswered.append(body)
                    return
                with self._lock:
                    if res.status_code == 202:
                        self.acked.extend(res.json()["accepted"])
                    else:
                        self.other.append(res.status_code)

    def __enter__(self) -> Senders:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(60)

    def wait_for(self, n: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while len(self.acked) < n:
            assert time.monotonic() < deadline, f"{len(self.acked)} acknowledged"
            time.sleep(0.005)


def _stored(db: Path) -> tuple[dict[str, tuple[str, int, str | None]], dict[str, int]]:
    """Intake rows (id -> status, deliveries, investigation id) and investigations per alarm."""
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute("SELECT id, status, deliveries, investigation_id FROM alarm_intake"
                           ).fetchall()
        records = con.execute("SELECT alarm_id, count(*) FROM investigation GROUP BY 1").fetchall()
    return ({str(i): (str(s), int(d), inv) for i, s, d, inv in rows},
            {str(a): int(n) for a, n in records})


def _investigated_once(rows: dict[str, tuple[str, int, str | None]], records: dict[str, int],
                       db: Path, ids: list[str]) -> None:
    with duckdb.connect(str(db), read_only=True) as con:
        known = {str(r[0]) for r in con.execute("SELECT id FROM investigation").fetchall()}
    assert all(n == 1 for n in records.values()), records  # never twice
    for alarm_id in ids:
        status, _, inv = rows[alarm_id]
        assert status == "investigated" and inv in known, (alarm_id, rows[alarm_id])
    # each of the alarm storm's distinct (entity, metric) pairs was investigated, once
    assert 1 <= len(records) <= len(known)


def test_kill_9_of_serve_mid_stream_loses_no_acknowledged_alarm(serve: Serve,
                                                                world: World) -> None:
    serve.start()
    with Senders(serve.url, world, 8, "s") as senders:
        senders.wait_for(150)
        serve.kill()  # mid-stream: requests in flight, a commit possibly half done
    assert not senders.other
    acked = list(senders.acked)
    assert len(set(acked)) == len(acked) >= 150
    rows, _ = _stored(serve.db)
    assert set(acked) <= set(rows)  # every 202 was durable
    assert all(rows[a][1] == 1 for a in acked)
    assert any(rows[a][0] in ("accepted", "investigating") for a in acked)  # work left over

    serve.start()  # resumes; the senders retry what got no answer, as senders do
    with httpx.Client(base_url=serve.url, timeout=30,
                      headers={"Authorization": f"Bearer {SECRET}"}) as client:
        for body in senders.unanswered:
            res = client.post("/webhooks/generic", content=body)
            assert res.status_code == 202, res.text
    serve.stop()
    retried = [intake_id(f"generic:{json.loads(b)['id']}") for b in senders.unanswered]
    rows, records = _stored(serve.db)
    assert set(rows) == set(acked) | set(retried)  # nothing else, nothing lost
    assert all(rows[a][1] == 1 for a in acked)  # stored once: no delivery counted twice
    _investigated_once(rows, records, serve.db, acked + retried)


def test_kill_9_of_the_worker_mid_stream_keeps_intake_going(serve: Serve, world: World) -> None:
    serve.start()
    with Senders(serve.url, world, 8, "w") as senders:
        deadline = time.monotonic() + 60
        while (pid := serve.worker()) is None:  # started on the first alarm
            assert time.monotonic() < deadline, serve.log()
            time.sleep(0.02)
        senders.wait_for(len(senders.acked) + 50)
        os.kill(pid, signal.SIGKILL)  # mid-investigation (each takes about a second)
        senders.wait_for(len(senders.acked) + 150)
    assert not senders.unanswered and not senders.other  # intake never noticed
    acked = list(senders.acked)
    serve.stop()
    assert serve.log().count("investigation worker process") >= 2  # a fresh one took over
    rows, records = _stored(serve.db)
    assert set(rows) == set(acked)
    assert all(rows[a][1] == 1 for a in acked)
    _investigated_once(rows, records, serve.db, acked)
