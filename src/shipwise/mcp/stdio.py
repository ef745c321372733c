"""``shipwise mcp``: the MCP server over stdio, for an assistant started on the user's machine.

The store is opened for each call and closed after it, so ``shipwise serve`` and other commands
can use the file between calls. The caller is the principal of ``SHIPWISE_TOKEN`` when it is set
(checked at start and on every call, so a revoked token stops working), else the local
administrator — whoever can read the store file owns it. Investigations run in this process.
"""

from __future__ import annotations

from collections.abc import Callable

from mcp.server.mcpserver import Context, MCPServer

from shipwise.app.caller import LOCAL_ADMIN, Principal, Store
from shipwise.app.context import open_store
from shipwise.app.investigate import investigate_service
from shipwise.app.results import InvestigationStarted
from shipwise.app.tokens import authenticate_local
from shipwise.config import Settings
from shipwise.mcp.server import build_server


def stdio_server(settings: Settings, token: str | None) -> MCPServer:
    """The server ``shipwise mcp`` runs; raises at once when ``token`` is not a valid token."""
    if token:
        with open_store(settings) as store:
            authenticate_local(store, token, "mcp", touch=False)

    def principal(store: Store, ctx: Context) -> Principal:
        return authenticate_local(store, token, "mcp") if token else LOCAL_ADMIN

    return build_server(lambda: open_store(settings), principal, starter=run_here(settings),
                        settings=settings)


def run_here(settings: Settings) -> Callable[[Principal, str, str, str], InvestigationStarted]:
    """Run an investigation in this process and store its record."""

    def start(principal: Principal, service: str, at: str, metric: str) -> InvestigationStarted:
        record = investigate_service(settings, service, at, metric)
        root = record.get("root_cause") or None
        return InvestigationStarted(
            outcome="completed", service=service, investigation_id=record["id"],
            alarm_ids=[record["alarm_id"]] if record.get("alarm_id") else [],
            status=record.get("status"), root_cause=root, gaps=record.get("gaps") or [],
            message=str((root or {}).get("statement") or "")
            if record.get("status") == "root_cause_found"
            else f"investigation {record['id']} stored, inconclusive: see its gaps (what it "
            "could not see and how to connect it); get_investigation shows it")

    return start
