"""MCP over streamable HTTP at /mcp of the real app (uvicorn on loopback): the SDK's client with a
Bearer token lists the tools and calls them; no token or a bad one is a 401 JSON answer."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

import shipwise.app.investigate as engine
from shipwise.app.context import open_store
from shipwise.app.owner import import_paths
from shipwise.app.tokens import create_token
from shipwise.config import Settings
from shipwise.investigate.case import Alarm
from shipwise.server import create_app
from tests.conftest import org, serve_app, write_jsonl


@pytest.fixture
def live(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, str]]:
    """The app on a free loopback port; yields (its /mcp URL, a member token of team payments)."""
    calls: list[str] = []

    def fake(settings: Settings, alarm: Alarm, alarm_id: str, *,
             session: Any = None) -> dict[str, Any]:
        calls.append(alarm.entity)
        return {"id": f"inv-{len(calls)}"}

    monkeypatch.setattr(engine, "investigate_alarm", fake, raising=False)
    settings.server.investigation_workers = 0  # the fake engine lives in this process
    import_paths(settings, [write_jsonl(settings.db.parent / "org.jsonl", org())])
    with open_store(settings) as store:
        token = create_token(store, "assistant", "member", "payments")["token"]
    with serve_app(create_app(settings), timeout=10) as url:
        yield f"{url}/mcp", token


def test_the_sdk_client_with_a_token_lists_tools_and_calls_them(live: tuple[str, str]) -> None:
    url, token = live

    async def main() -> tuple[Any, Any, Any, Any]:
        async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"},
                                      timeout=30) as http, \
                Client(streamable_http_client(url, http_client=http)) as client:
            tools = await client.list_tools()
            teams = await client.call_tool("list_teams", {})
            refused = await client.call_tool("get_cost", {})
            started = await client.call_tool("start_investigation", {"service": "pay-api"})
            return tools, teams, refused, started

    tools, teams, refused, started = anyio.run(main)
    assert "list_teams" in {t.name for t in tools.tools}
    assert not teams.is_error
    assert teams.structured_content["teams"][0]["team"] == "payments"
    assert refused.is_error and "role member may not org cost" in refused.content[0].text
    assert not started.is_error, started.content
    assert started.structured_content["outcome"] == "queued"
    assert started.structured_content["alarm_ids"]


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer sw_nope"},
                                     {"Authorization": "Basic dXNlcjpwdw=="}])
def test_without_a_valid_token_mcp_answers_401_json(live: tuple[str, str],
                                                   headers: dict[str, str]) -> None:
    url, _ = live
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    res = httpx.post(url, json=body, timeout=10, headers={
        "Accept": "application/json, text/event-stream", **headers})
    assert res.status_code == 401
    assert res.headers["www-authenticate"].startswith("Bearer")
    assert json.loads(res.text)["hint"].startswith("send Authorization: Bearer") or \
        "token" in res.json()["error"]
