"""A small MCP server (stdio) that tests start as a subprocess: the telemetry of a two-service
shop, web → db, whose db slows down 20 minutes before ``end`` after a config change.

Run as ``python3 mcp_evidence_server.py`` (stdio) or ``… --http PORT`` (streamable HTTP); built with the official SDK's ``MCPServer``."""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

server = MCPServer("shop-telemetry")


def _fault_at(end: float) -> float:
    return end - 1200


@server.tool()
def latency(start: float, end: float) -> list[dict[str, Any]]:
    """Per-minute latency (ms) and error rate of web and db between start and end."""
    rows: list[dict[str, Any]] = []
    fault = _fault_at(end)
    t = start - start % 60
    k = 0
    while t <= end:
        broken = t >= fault
        wobble = (k % 5) * 0.4
        rows += [
            {"time": t, "entity": "db", "metric": "latency_p95_ms", "value": (400 if broken else 12) + wobble},
            {"time": t, "entity": "web", "metric": "latency_p95_ms", "value": (450 if broken else 40) + wobble},
            {"time": t, "service": "web", "metric": "error_rate", "value": (0.2 if broken else 0.01)},
        ]
        t += 60
        k += 1
    rows.append({"time": start - 86400, "entity": "db", "metric": "latency_p95_ms", "value": 1})
    return rows


@server.tool()
def error_logs(service: str, since: str, until: float) -> dict[str, Any]:
    """Log lines of a service (wrapped in an object, as some servers answer)."""
    fault = _fault_at(until)
    return {"rows": [
        {"time": fault + 30, "service": service, "level": "ERROR",
         "message": "query timeout after 5000 ms", "exception": {"type": "QueryTimeout"}},
        {"time": fault + 40, "service": service, "level": "INFO", "message": "all good"},
        {"time": fault - 10 * 86400, "service": service, "level": "ERROR", "message": "old"},
    ], "since": since}


@server.tool()
def changes(until: float) -> list[dict[str, Any]]:
    """Config changes."""
    return [{"id": "chg-1", "time": _fault_at(until) - 60, "kind": "config_change",
             "entity": "db", "actor": "ops", "summary": "db max_connections 200 → 20"}]


@server.tool()
def topology() -> dict[str, Any]:
    """Who calls whom."""
    return {"nodes": [{"id": "web", "kind": "service"}, {"id": "db", "kind": "database"}],
            "edges": [{"source": "web", "target": "db", "relation": "calls"}]}


@server.tool()
def broken() -> str:
    """Always fails (a tool error the server reports to the client)."""
    raise ToolError("backend unavailable")


if __name__ == "__main__":
    import sys

    if len(sys.argv) > 2 and sys.argv[1] == "--http":  # streamable HTTP at /mcp on that port
        server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        server.run("stdio")
