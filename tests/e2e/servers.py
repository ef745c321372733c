"""Real Prometheus and Alertmanager (Debian packages) on loopback, for end-to-end tests."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import yaml

PROMETHEUS = "prometheus"
ALERTMANAGER = "prometheus-alertmanager"


def require(binary: str) -> str:
    path = shutil.which(binary)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{binary} is not installed: scripts/test.sh installs it (apt-get)")
        pytest.skip(f"{binary} not installed (scripts/test.sh installs it)")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: process exited {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} not ready after {timeout} s:\n{log.read_text()[-3000:]}")


@contextmanager
def process(args: list[str], log: Path, env: dict[str, str] | None = None) -> Iterator[subprocess.Popen[bytes]]:
    with open(log, "wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@contextmanager
def alertmanager(tmp: Path, webhook_url: str, secret: str) -> Iterator[str]:
    binary = require(ALERTMANAGER)
    port = free_port()
    cfg = {
        "route": {"receiver": "shipwise", "group_by": ["alertname"], "group_wait": "1s",
                  "group_interval": "1s", "repeat_interval": "1h"},
        "receivers": [{"name": "shipwise", "webhook_configs": [{
            "url": webhook_url, "send_resolved": False,
            "http_config": {"authorization": {"type": "Bearer", "credentials": secret}}}]}],
    }
    (tmp / "alertmanager.yml").write_text(yaml.safe_dump(cfg))
    args = [binary, f"--config.file={tmp / 'alertmanager.yml'}", f"--storage.path={tmp / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="]
    url = f"http://127.0.0.1:{port}"
    with process(args, tmp / "alertmanager.log") as proc:
        wait_ready(f"{url}/-/ready", proc, tmp / "alertmanager.log")
        yield url


@contextmanager
def prometheus(tmp: Path, target: str, alertmanager_url: str, rules: dict) -> Iterator[str]:
    binary = require(PROMETHEUS)
    port = free_port()
    (tmp / "rules.yml").write_text(yaml.safe_dump(rules))
    cfg = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(tmp / "rules.yml")],
        "alerting": {"alertmanagers": [{"static_configs": [
            {"targets": [alertmanager_url.removeprefix("http://")]}]}]},
        "scrape_configs": [{"job_name": "world", "static_configs": [{"targets": [target]}]}],
    }
    (tmp / "prometheus.yml").write_text(yaml.safe_dump(cfg))
    args = [binary, f"--config.file={tmp / 'prometheus.yml'}", f"--storage.tsdb.path={tmp / 'prom-data'}",
            f"--web.listen-address=127.0.0.1:{port}"]
    url = f"http://127.0.0.1:{port}"
    with process(args, tmp / "prometheus.log") as proc:
        wait_ready(f"{url}/-/ready", proc, tmp / "prometheus.log")
        yield url


@contextmanager
def backfilled_prometheus(tmp: Path, openmetrics: str) -> Iterator[str]:
    """A real Prometheus serving ``openmetrics`` (text ending in ``# EOF``) back-filled with
    ``promtool tsdb create-blocks-from openmetrics``: past data answers queries (it never fires
    an alert). Retention is long so old samples are not dropped at start."""
    binary = require(PROMETHEUS)
    promtool = require("promtool")
    (tmp / "metrics.om").write_text(openmetrics)
    data = tmp / "prom-data"
    subprocess.run([promtool, "tsdb", "create-blocks-from", "openmetrics", str(tmp / "metrics.om"),
                    str(data)], check=True, capture_output=True)
    (tmp / "prometheus.yml").write_text(yaml.safe_dump({"global": {"scrape_interval": "1m"}}))
    port = free_port()
    args = [binary, f"--config.file={tmp / 'prometheus.yml'}", f"--storage.tsdb.path={data}",
            "--storage.tsdb.retention.time=100y", f"--web.listen-address=127.0.0.1:{port}"]
    url = f"http://127.0.0.1:{port}"
    with process(args, tmp / "prometheus.log") as proc:
        wait_ready(f"{url}/-/ready", proc, tmp / "prometheus.log")
        yield url
