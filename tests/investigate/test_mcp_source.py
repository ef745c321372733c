"""Bring your own sources through MCP: a small MCP server (tests/investigate/
mcp_evidence_server.py, the official SDK's MCPServer) started as a stdio subprocess, its tools
mapped to evidence in the settings, read by the real client and by a whole investigation."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from shipwise.app.caller import local_caller
from shipwise.app.doctor import doctor
from shipwise.config import Settings
from shipwise.investigate.case import Alarm
from shipwise.investigate.engine import alarm_scope, investigate
from shipwise.investigate.settings import InvestigateSettings, McpSourceSettings
from shipwise.investigate.sources import gather, sources_from_settings
from shipwise.investigate.sources.mcp import McpSource

SERVER = str(Path(__file__).with_name("mcp_evidence_server.py"))
TOOLS: list[dict[str, Any]] = [
    {"tool": "latency", "evidence": "metrics",
     "arguments": {"start": "{start}", "end": "{end}"}},
    {"tool": "error_logs", "evidence": "logs",
     "arguments": {"service": "{entity}", "since": "{start_iso}", "until": "{end}"}},
    {"tool": "changes", "evidence": "events", "arguments": {"until": "{end}"}},
    {"tool": "topology", "evidence": "topology"},
]


def settings(tools: list[dict[str, Any]] = TOOLS) -> InvestigateSettings:
    return InvestigateSettings.model_validate({"sources": {
        "store": {"enabled": False},
        "mcp": [{"name": "shop", "command": sys.executable, "args": [SERVER], "tools": tools}]}})


def test_the_tools_answers_become_evidence() -> None:
    alarm = Alarm("db", "latency_p95_ms", time.time() - 600, {})
    scope = alarm_scope(alarm, 7200, 120)
    (source,) = sources_from_settings(settings())
    assert isinstance(source, McpSource) and source.check() == []
    ev = gather([source], scope)
    (status,) = ev.sources
    assert status.ok and status.name == "mcp:shop", status
    assert set(ev.metrics) == {("db", "latency_p95_ms"), ("web", "latency_p95_ms"),
                               ("web", "error_rate")}
    db = ev.metrics[("db", "latency_p95_ms")]
    assert db.timestamps.min() >= scope.start  # the row from a day before is outside the window
    assert ev.metric_refs[("db", "latency_p95_ms")] == \
        "mcp:shop/latency?entity=db&metric=latency_p95_ms"
    # only WARN-and-worse lines inside the window; the entity filled into the arguments
    assert [(x.entity, x.level, x.exc_type) for x in ev.logs] == [("db", "ERROR", "QueryTimeout")]
    assert ev.logs[0].ref == "mcp:shop/error_logs#0"
    assert [(e.id, e.kind, e.entity) for e in ev.events] == [("chg-1", "config_change", "db")]
    assert ev.topology.has_edge("web", "db")
    assert ev.topology.nodes["db"]["kind"] == "database"


def test_an_investigation_on_mcp_evidence_alone_finds_the_change() -> None:
    alarm = Alarm("web", "latency_p95_ms", time.time() - 600, {"kind": "manual"})
    record = investigate(alarm, sources_from_settings(settings()))
    assert {s["name"]: s["ok"] for s in record["sources"]} == {"mcp:shop": True}
    assert record["root_cause"]["entity"] == "db"
    assert "mcp:shop/" in str(record["key_observations"])


def test_a_failing_tool_fails_the_source_not_the_investigation() -> None:
    alarm = Alarm("db", "latency_p95_ms", time.time() - 600, {})
    (source,) = sources_from_settings(settings([*TOOLS, {"tool": "broken", "evidence": "logs"}]))
    ev = gather([source], alarm_scope(alarm, 3600, 120))
    (status,) = ev.sources
    assert not status.ok and "broken" in status.error and "backend unavailable" in status.error


def test_settings_are_checked_before_any_process_starts() -> None:
    source = McpSource(McpSourceSettings(name="x", command="no-such-mcp-server-binary",
                                         tools=[{"tool": "t", "evidence": "logs"}]))
    assert source.check() == ["command 'no-such-mcp-server-binary' not found"]
    remote = McpSource(McpSourceSettings(name="r", url="ftp://x", token_env="NO_SUCH_TOKEN_VAR",
                                         tools=[{"tool": "t", "evidence": "logs"}]))
    assert remote.check() == ["url 'ftp://x' is not an http(s) URL",
                              "environment variable NO_SUCH_TOKEN_VAR (the token) is not set"]
    with pytest.raises(ValidationError, match="either command"):
        McpSourceSettings(name="both", command="x", url="http://x",
                          tools=[{"tool": "t", "evidence": "logs"}])
    with pytest.raises(ValidationError):
        McpSourceSettings(name="k", command="x", tools=[{"tool": "t", "evidence": "tickets"}])


def test_an_answer_of_the_wrong_shape_says_what_is_wrong() -> None:
    alarm = Alarm("db", "latency_p95_ms", time.time() - 600, {})
    (source,) = sources_from_settings(settings([{"tool": "topology", "evidence": "logs"}]))
    (status,) = gather([source], alarm_scope(alarm, 3600, 120)).sources
    assert not status.ok and "mcp:shop/topology" in status.error
    assert "expected a list of logs" in status.error


def test_a_server_over_streamable_http(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, SERVER, "--http", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert time.monotonic() < deadline and proc.poll() is None, "server did not start"
                time.sleep(0.1)
        monkeypatch.setenv("SHOP_MCP_TOKEN", "t0ken")
        source = McpSource(McpSourceSettings(
            name="remote", url=f"http://127.0.0.1:{port}/mcp", token_env="SHOP_MCP_TOKEN",
            tools=[{"tool": "changes", "evidence": "events", "arguments": {"until": "{end}"}},
                   {"tool": "topology", "evidence": "topology"}]))
        assert source.check() == []
        alarm = Alarm("db", "latency_p95_ms", time.time() - 600, {})
        ev = gather([source], alarm_scope(alarm, 7200, 120))
        assert [s.ok for s in ev.sources] == [True], ev.sources
        assert [e.id for e in ev.events] == ["chg-1"] and ev.topology.has_edge("web", "db")
    finally:
        proc.terminate()
        proc.wait(10)


def test_doctor_checks_the_evidence_sources(settings: Settings) -> None:
    """`shipwise doctor` runs every evidence source's cheap check (no process is started)."""
    settings.investigate = InvestigateSettings.model_validate({"sources": {"mcp": [
        {"name": "ok", "command": sys.executable, "args": [SERVER], "tools": TOOLS},
        {"name": "gone", "command": "no-such-mcp-server-binary", "tools": TOOLS}]}})
    with local_caller(settings) as c:
        checks = {ch.area: ch for ch in doctor(c).checks if ch.area.startswith("evidence")}
    assert checks["evidence mcp:ok"].ok
    gone = checks["evidence mcp:gone"]
    assert not gone.ok and "command 'no-such-mcp-server-binary' not found" in (gone.problem or "")
