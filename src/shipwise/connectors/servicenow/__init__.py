"""ServiceNow: incidents and the changes that caused them (see ``docs/servicenow.md``)."""

from shipwise.connectors.servicenow.connector import ServiceNowConnector

__all__ = ["ServiceNowConnector"]
