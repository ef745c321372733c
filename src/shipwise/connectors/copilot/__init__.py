"""GitHub Copilot usage metrics (``GET /orgs/{org}/copilot/metrics`` and the team variant) as
canonical ``ai_usage`` records: docs/ai.md."""

from shipwise.connectors.copilot.connector import CopilotConnector

__all__ = ["CopilotConnector"]
