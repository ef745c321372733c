"""`shipwise serve` as a user runs it: a real process on a free port, stopped with Ctrl-C."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import cli_env
from tests.server.conftest import SECRET, fixture_bytes


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _shipwise(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "shipwise", *args], cwd=cwd, env=cli_env(**env),
                          capture_output=True, text=True, timeout=60)


def test_serve_refuses_without_a_store_or_insecure_on_a_public_host(tmp_path: Path) -> None:
    res = _shipwise("serve", cwd=tmp_path)
    assert res.returncode == 1
    assert res.stderr.strip() == ("Error: no shipwise store at shipwise.duckdb "
                                  "(run `shipwise init` first)")
    assert _shipwise("init", cwd=tmp_path).returncode == 0
    res = _shipwise("serve", "--host", "0.0.0.0", "--insecure-webhooks", cwd=tmp_path)
    assert res.returncode == 1 and "--insecure-webhooks on 0.0.0.0" in res.stderr


def test_serve_listens_receives_and_stops_cleanly(tmp_path: Path) -> None:
    assert _shipwise("init", cwd=tmp_path).returncode == 0
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "shipwise", "serve", "--port", str(port)],
                            cwd=tmp_path, env=cli_env(SHIPWISE_WEBHOOK_SECRET=SECRET),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, proc.communicate()
            try:
                if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "server did not become ready"
            time.sleep(0.1)
        res = httpx.post(url + "/webhooks/cloudwatch", params={"token": SECRET},
                         content=fixture_bytes("cloudwatch_sns_alarm.json"))
        assert res.status_code == 202 and len(res.json()["accepted"]) == 1
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert f"on http://127.0.0.1:{port}" in out and "auth: shared secret" in out
    assert SECRET not in out + err  # not even from ?token= in the access log
    assert "token=***" in out + err  # uvicorn's access log
