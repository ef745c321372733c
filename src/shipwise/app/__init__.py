"""The application layer: what the CLI, the API and the MCP server all call."""
