"""The GitHub connector (github.com and GitHub Enterprise Server): pull requests, commits,
deployments, workflow runs and releases. See ``docs/github.md``."""

from shipwise.connectors.github.connector import GitHubConnector

__all__ = ["GitHubConnector"]
