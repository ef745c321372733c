"""The MCP server: shipwise's views as tools for AI assistants (official ``mcp`` SDK ≥ 2).

- :mod:`shipwise.mcp.server` — :func:`build_server`: the tools, thin wrappers over
  the doors of :mod:`shipwise.app`, with typed (structured) outputs: the doors' result models;
- :mod:`shipwise.mcp.stdio` — ``shipwise mcp``: stdio, as the local administrator or the principal
  of ``SHIPWISE_TOKEN``;
- :mod:`shipwise.mcp.http` — mounted at ``/mcp`` in ``shipwise serve`` (streamable HTTP, Bearer
  token per request).

The SDK is imported as the top-level ``mcp`` package (absolute imports), never as this one.
"""
