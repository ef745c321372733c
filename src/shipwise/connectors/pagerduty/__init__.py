"""PagerDuty: incidents and pages (see ``docs/pagerduty.md``)."""

from shipwise.connectors.pagerduty.connector import PagerDutyConnector

__all__ = ["PagerDutyConnector"]
