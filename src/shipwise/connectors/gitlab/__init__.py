"""The GitLab connector (gitlab.com and self-managed GitLab, REST v4): see ``docs/gitlab.md``."""

from shipwise.connectors.gitlab.connector import GitLabConnector

__all__ = ["GitLabConnector"]
