"""The Jira connector (Cloud and Data Center): tickets and Jira Service Management incidents."""

from shipwise.connectors.jira.connector import JiraConnector

__all__ = ["JiraConnector"]
