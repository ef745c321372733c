"""The store with the sample's two teams and services, shared with the PagerDuty tests."""

from tests.connectors.pagerduty.test_pagerduty import org

__all__ = ["org"]
