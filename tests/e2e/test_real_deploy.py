"""Change-aware investigation on a real running system, not the demo world: three small real
services (``tests/e2e/realapp.py``: frontend → backend, and an unrelated reports service), each
running the ``handler.py`` of its own git repository, scraped every second by a real Prometheus.
Two real deployments a few seconds apart — reports ships a harmless change, backend ships a
commit with a bug — are recorded in the store with the commits they shipped. The alarm is on
frontend's error rate; the investigation must name backend's deployment (with the diff it
shipped, read from the git repository), not the unrelated deploy that came first."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.conftest import cli_env, org, write_jsonl
from tests.e2e import servers

pytestmark = [pytest.mark.slow, pytest.mark.live]

APP = Path(__file__).with_name("realapp.py")
V1 = "def handle(i):\n    items = [1, 2, 3, 4, 5]\n    return sum(items)\n"
BACKEND_V2 = ("def load(i):\n    # read the items lazily: only the ones the page shows\n"
              "    return [1, 2, 3, 4, 5][: 2 + i % 4]\n\n\n"
              "def handle(i):\n    items = load(i)\n    return items[4] + sum(items)\n")
REPORTS_V2 = "def handle(i):\n    items = [1, 2, 3, 4, 5, 6]\n    return sum(items)\n"
BASELINE = 75.0


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                          text=True, env=cli_env(GIT_AUTHOR_NAME="dev", GIT_AUTHOR_EMAIL="dev@example.com",
                                                 GIT_COMMITTER_NAME="dev",
                                                 GIT_COMMITTER_EMAIL="dev@example.com")).stdout.strip()


def _repo(path: Path, first: str, second: str, message: str) -> tuple[str, str]:
    path.mkdir(parents=True)
    _git(path, "init", "-q", "-b", "main")
    (path / "handler.py").write_text(first)
    _git(path, "add", "handler.py")
    _git(path, "commit", "-q", "-m", "first version")
    v1 = _git(path, "rev-parse", "HEAD")
    (path / "handler.py").write_text(second)
    _git(path, "commit", "-q", "-am", message)
    v2 = _git(path, "rev-parse", "HEAD")
    _git(path, "checkout", "-q", v1)
    return v1, v2


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


class Fleet:
    """The running services; ``deploy`` checks a commit out and restarts the service on it."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.ports = {s: servers.free_port() for s in ("backend", "frontend", "reports")}
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def start(self, service: str) -> None:
        down = [self.url("backend") + "/"] if service == "frontend" else []
        log = open(self.tmp / f"{service}.log", "ab")  # noqa: SIM115 - lives with the process
        self.procs[service] = subprocess.Popen(
            [sys.executable, str(APP), service, str(self.ports[service]),
             str(self.tmp / ("backend" if service == "frontend" else service)), *down],
            stdout=log, stderr=subprocess.STDOUT)
        servers.wait_ready(self.url(service) + "/metrics", self.procs[service],
                           self.tmp / f"{service}.log")

    def deploy(self, service: str, sha: str) -> tuple[float, float]:
        started = time.time()
        _git(self.tmp / service, "checkout", "-q", sha)
        self.procs[service].terminate()
        self.procs[service].wait(timeout=10)
        self.start(service)
        return started, time.time()

    def stop(self) -> None:
        for p in self.procs.values():
            p.terminate()
            p.wait(timeout=10)


def _load(fleet: Fleet, stop: threading.Event) -> None:
    with httpx.Client(timeout=3) as client:
        while not stop.is_set():
            for service in ("frontend", "frontend", "frontend", "reports"):
                with contextlib.suppress(httpx.HTTPError):
                    client.get(fleet.url(service) + "/")
            time.sleep(0.1)


def test_the_deployment_that_broke_a_real_service_is_named(tmp_path: Path) -> None:
    back_v1, back_v2 = _repo(tmp_path / "backend", V1, BACKEND_V2, "read items lazily")
    rep_v1, rep_v2 = _repo(tmp_path / "reports", V1, REPORTS_V2, "add the sixth item")
    (tmp_path / "frontend").mkdir()
    (tmp_path / "frontend" / "handler.py").write_text("def handle(i):\n    return 'page'\n")

    fleet = Fleet(tmp_path)
    started = time.time()
    for s in ("backend", "frontend", "reports"):
        fleet.start(s)
    stop = threading.Event()
    loader = threading.Thread(target=_load, args=(fleet, stop), daemon=True)
    loader.start()
    prom_port = servers.free_port()
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump({
        "global": {"scrape_interval": "1s"},
        "scrape_configs": [{"job_name": "apps", "static_configs": [
            {"targets": [fleet.url(s).removeprefix("http://") for s in fleet.ports]}]}]}))
    prom_url = f"http://127.0.0.1:{prom_port}"
    try:
        with servers.process([servers.require(servers.PROMETHEUS),
                              f"--config.file={tmp_path / 'prometheus.yml'}",
                              f"--storage.tsdb.path={tmp_path / 'prom-data'}",
                              f"--web.listen-address=127.0.0.1:{prom_port}"],
                             tmp_path / "prometheus.log") as prom:
            servers.wait_ready(f"{prom_url}/-/ready", prom, tmp_path / "prometheus.log")
            time.sleep(BASELINE)
            reports_at = fleet.deploy("reports", rep_v2)  # harmless, and first
            time.sleep(10)
            backend_at = fleet.deploy("backend", back_v2)  # the bug
            time.sleep(45)
            alarm_at = time.time()
            record = _investigate(tmp_path, prom_url, started, reports_at, backend_at,
                                  (rep_v1, rep_v2), (back_v1, back_v2), alarm_at)
    finally:
        stop.set()
        fleet.stop()
    text = json.dumps(record)
    (tmp_path / "record.json").write_text(text)
    root = record["root_cause"]
    assert root["entity"] == "backend", json.dumps(record, indent=1)[:4000]
    assert root["fault"] == "bad_deploy"
    assert (root.get("event") or {}).get("id") == "deployment:deploy-backend-2"
    assert "read items lazily" in text or "items[4]" in text  # the diff it shipped
    ruled = json.dumps(record.get("ruled_out", []))
    assert "deploy-reports-2" in ruled or "reports" in ruled


def _investigate(tmp: Path, prom_url: str, started: float, reports_at: tuple[float, float],
                 backend_at: tuple[float, float], reports: tuple[str, str],
                 backend: tuple[str, str], alarm_at: float) -> dict[str, Any]:
    people = org([("shop", "frontend"), ("shop", "backend"), ("finance", "reports")])
    records: list[dict[str, Any]] = []
    for service, (start, end), (v1, v2) in (("reports", reports_at, reports),
                                              ("backend", backend_at, backend)):
        # what ran before: the first version, deployed when the fleet started
        records.append({"type": "deployment", "id": f"deploy-{service}-1", "service": service,
                        "environment": "production", "started_at": _iso(started - 30),
                        "finished_at": _iso(started), "status": "success", "version": v1[:7],
                        "commits": [v1]})
        records.append({"type": "deployment", "id": f"deploy-{service}-2", "service": service,
                        "environment": "production", "started_at": _iso(start),
                        "finished_at": _iso(end), "status": "success", "version": v2[:7],
                        "commits": [v2]})
    (tmp / "topology.json").write_text(json.dumps({
        "nodes": [{"id": s, "kind": "service"} for s in ("frontend", "backend", "reports")],
        "edges": [{"source": "frontend", "target": "backend", "relation": "calls"}]}))
    config = {"db": str(tmp / "shipwise.duckdb"), "investigate": {
        "lookback_minutes": 5, "after_minutes": 1,
        "sources": {
            "prometheus": {"url": prom_url, "entity_label": "service", "metric_prefix": "app_",
                           "step_seconds": 1},
            "topology": {"path": str(tmp / "topology.json")},
            "store": {"repos": {"backend": str(tmp / "backend"), "reports": str(tmp / "reports")}},
        }}}
    (tmp / "shipwise.yaml").write_text(yaml.safe_dump(config))
    env = cli_env(SHIPWISE_CONFIG=str(tmp / "shipwise.yaml"))

    def run(*args: str) -> str:
        res = subprocess.run([sys.executable, "-m", "shipwise", *args], cwd=tmp, env=env,
                             capture_output=True, text=True)
        assert res.returncode == 0, res.stderr[-3000:] + res.stdout[-3000:]
        return res.stdout

    run("init")
    run("import", str(write_jsonl(tmp / "org.jsonl", people)))
    for repo in ("backend", "reports"):  # the commits the deployments shipped, from git itself
        run("ingest", "git", str(tmp / repo))
    run("import", str(write_jsonl(tmp / "deployments.jsonl", records)))
    return dict(json.loads(run("investigate", "--service", "frontend", "--metric", "error_rate",
                               "--at", _iso(alarm_at), "--no-store", "--format", "json")))
