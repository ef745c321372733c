"""MCP fixtures: a copy of the sample organisation once per module, tokens of each role, and a
client call helper that runs one coroutine against a server through the SDK's in-memory ``Client``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import anyio
import pytest
from mcp import Client
from mcp.server.mcpserver import MCPServer

from shipwise.app.context import open_store
from shipwise.app.tokens import create_token
from shipwise.config import Settings
from shipwise.store import org as org_table
from tests.conftest import SampleOrg

T = TypeVar("T")


def with_client(server: MCPServer, fn: Callable[[Client], Awaitable[T]]) -> T:
    async def main() -> T:
        async with Client(server) as client:
            return await fn(client)

    return anyio.run(main)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, sample_org: SampleOrg) -> Settings:
    """A private copy of the sample organisation (tests/conftest.py) for the module."""
    d: Path = tmp_path_factory.mktemp("mcp-demo")
    return sample_org.copy_to(d)


@pytest.fixture(scope="module")
def tokens(demo: Settings) -> dict[str, Any]:
    """``{"team": a team, "other": another team, role: token}`` for member, exec and admin."""
    with open_store(demo) as store:
        teams = [r["team"] for r in org_table.teams(store)]
        return {"team": teams[0], "other": teams[1],
                "member": create_token(store, "mcp member", "member", teams[0])["token"],
                "exec": create_token(store, "mcp cfo", "exec")["token"],
                "admin": create_token(store, "mcp admin", "admin")["token"]}


def call(settings: Settings, token: str | None, name: str, args: dict[str, Any] | None = None
         ) -> Any:
    """Call one tool on the stdio server of ``token`` (None: the local administrator)."""
    from shipwise.mcp.stdio import stdio_server

    async def go(client: Client) -> Any:
        return await client.call_tool(name, args or {})

    return with_client(stdio_server(settings, token), go)


def error_text(result: Any) -> str:
    assert result.is_error, result
    return str(result.content[0].text)
