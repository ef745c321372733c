"""Opsgenie: alerts as incidents, pages and on-call shifts (see ``docs/opsgenie.md``)."""

from shipwise.connectors.opsgenie.connector import OpsgenieConnector

__all__ = ["OpsgenieConnector"]
