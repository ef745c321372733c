"""`shipwise serve` as a user runs it: a real process on a free port, stopped with Ctrl-C."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import cli_env
from tests.server.conftest import SECRET, fixture_bytes, serve_process


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


@pytest.mark.slow
def test_serve_listens_receives_and_stops_cleanly(tmp_path: Path) -> None:
    assert _shipwise("init", cwd=tmp_path).returncode == 0
    with serve_process(cwd=tmp_path, env=cli_env(SHIPWISE_WEBHOOK_SECRET=SECRET)) as srv:
        res = httpx.post(srv.url + "/webhooks/cloudwatch", params={"token": SECRET},
                         content=fixture_bytes("cloudwatch_sns_alarm.json"))
        assert res.status_code == 202 and len(res.json()["accepted"]) == 1
        (alarm_id,) = res.json()["accepted"]
    proc, port, out, err = srv.proc, srv.port, srv.out, srv.err
    assert proc.returncode == 0, err
    assert f"on http://127.0.0.1:{port}" in out and "present the shared secret" in out
    # where the dashboard is and how to sign in, printed before anything else a user needs
    assert f"dashboard: http://127.0.0.1:{port}/ — sign in at http://127.0.0.1:{port}/signin" in out
    assert "shipwise token create --name you --role admin" in out
    assert SECRET not in out + err  # not even from ?token= in the access log
    assert "token=***" in out + err  # uvicorn's access log
    # each log record is one line, ours (the MCP server's rich handler on the root logger used
    # to print every one a second time); the investigation, without sources, failed on the stop
    lines = [line for line in err.splitlines() if f"alarm {alarm_id}:" in line]
    assert lines and all(" shipwise.app.alarms: alarm " in line for line in lines), err
    assert len(lines) == len(set(lines)), err


def test_the_banner_says_where_the_dashboard_is_and_why_webhooks_are_off() -> None:
    from shipwise.cli.serve import banner

    lines = banner("shipwise.duckdb", "http://[::]:8000", "http://[::1]:8000", secret=False,
                   insecure=False)
    text = "\n".join(lines)
    assert "dashboard: http://[::1]:8000/ — sign in at http://[::1]:8000/signin" in text
    assert "shipwise token create" in text and "REST API: http://[::1]:8000/api/v1" in text
    assert "off: no shared secret is configured, so webhooks and OTLP are refused" in text
    assert "SHIPWISE_WEBHOOK_SECRET" in text and "dashboard, API and MCP work" in text
    assert all(len(line) <= 100 for line in lines)
    on = "\n".join(banner("s.duckdb", "http://127.0.0.1:1", "http://127.0.0.1:1", secret=True,
                          insecure=False))
    assert "on: senders present the shared secret" in on and "503" not in on
