"""The store with the sample's two teams and services, shared with the PagerDuty tests."""

from tests.connectors.pagerduty.conftest import org

__all__ = ["org"]
