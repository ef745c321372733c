"""``shipwise mcp``: the MCP server over stdio, for AI assistants (see docs/mcp.md)."""

from __future__ import annotations

import os

import click

from shipwise.cli.access import runs_as


@click.command("mcp")
@click.pass_context
@runs_as()
def mcp_cmd(ctx: click.Context) -> None:
    """Serve shipwise's tools to an AI assistant over MCP (stdio).

    Tools: list_teams, get_dora, get_cost, explain_metric, list_investigations,
    get_investigation, ask_investigation, start_investigation. Acts as the principal of SHIPWISE_TOKEN when it is
    set, else as the local administrator (whoever can read the store owns it). The store is
    opened for each call only; while `shipwise serve` holds the store, every call is relayed to
    it. Over HTTP the same tools are at /mcp of `shipwise serve`, with a token. See docs/mcp.md."""
    from shipwise.cli.main import settings_from
    from shipwise.errors import StoreError

    settings = settings_from(ctx)
    if not settings.db.exists():
        raise StoreError(f"no shipwise store at {settings.db}", hint="run `shipwise init` first")
    token = os.environ.get("SHIPWISE_TOKEN") or None

    from shipwise.http.local import running_server

    server = running_server(settings.db)
    if server is not None:  # the server holds the store: it answers every call
        from shipwise.mcp.relay import run_relay

        run_relay(server, token)
        return

    from shipwise.mcp.stdio import stdio_server

    stdio_server(settings, token).run("stdio")
