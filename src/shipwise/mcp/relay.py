"""``shipwise mcp`` while ``shipwise serve`` holds the store: the stdio session relayed to the
server's ``/mcp``, tool by tool.

The assistant still starts ``shipwise mcp`` and speaks MCP on its stdin and stdout; each tool
listing and call goes to the server over loopback, as the principal of ``SHIPWISE_TOKEN`` when it
is set, else with the server's local secret (the local administrator, as over stdio). So the same
tools answer the same way whether or not a server runs; investigations are queued by the server
(as over HTTP) instead of run in this process.
"""

from __future__ import annotations

from typing import Any

import anyio
import httpx2
from mcp import Client, types
from mcp.client.streamable_http import streamable_http_client
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server

from shipwise import __version__
from shipwise.http.local import SECRET_HEADER, ServerInfo


def relay_headers(server: ServerInfo, token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {SECRET_HEADER: server.secret}


async def _relay(server: ServerInfo, token: str | None) -> None:
    async with httpx2.AsyncClient(headers=relay_headers(server, token), timeout=None) as http, \
            Client(streamable_http_client(f"{server.url}/mcp", http_client=http)) as upstream:

        async def list_tools(ctx: Any, params: types.PaginatedRequestParams | None
                             ) -> types.ListToolsResult:
            return await upstream.list_tools()

        async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
            return await upstream.call_tool(params.name, params.arguments or {})

        relay = Server("shipwise", version=__version__, on_list_tools=list_tools,
                       on_call_tool=call_tool)
        async with stdio_server() as (read, write):
            await relay.run(read, write, relay.create_initialization_options())


def run_relay(server: ServerInfo, token: str | None) -> None:
    """Serve stdio until the assistant closes it, every request answered by ``server``."""
    anyio.run(_relay, server, token)
